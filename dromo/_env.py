"""Defaults for the environment PETSc/SLEPc/h5py/MPI need, set before petsc4py/slepc4py/mpi4py are first
imported.

On Debian, petsc4py/slepc4py locate the libraries through PETSC_DIR/SLEPC_DIR; a cluster's modules set
these themselves, and a value already present is never overridden.
"""
import os

_DEFAULTS = {
    "PETSC_DIR": "/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real",
    "SLEPC_DIR": "/usr/lib/slepcdir/slepc3.18/x86_64-linux-gnu-real",
}
for _name, _path in _DEFAULTS.items():
    if _name not in os.environ and os.path.isdir(_path):
        os.environ[_name] = _path

# Debian ships a serial and an MPI build of h5py and picks the MPI one only under mpirun; dromo always
# wants the MPI build (a singleton run is a 1-rank MPI job), so archives are written the same way.
os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")

# Reproducible reductions under OpenMPI (read at MPI_Init, which comes after this): the default ("tuned")
# MPI_Allreduce choice gives round-off-level differences between two identical runs at 3+ ranks;
# reduce + broadcast (algorithm 2) sums in a fixed order. launch/env.sh sets the same; a value already
# present is never overridden. Other MPIs ignore these variables.
os.environ.setdefault("OMPI_MCA_coll_tuned_use_dynamic_rules", "1")
os.environ.setdefault("OMPI_MCA_coll_tuned_allreduce_algorithm", "2")
