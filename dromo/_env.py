"""Defaults for the environment PETSc/SLEPc/h5py/MPI need, set before petsc4py/slepc4py/mpi4py are first
imported.

On Debian, petsc4py/slepc4py live under ``$PETSC_DIR/lib/python3/dist-packages`` (and SLEPc's alike), a
directory Debian's ``petsc4py.pth`` adds to ``sys.path`` when the interpreter starts, and only if
``PETSC_DIR`` is set then (or the ``libpetsc-real-dev`` alternative ``/usr/lib/petsc`` exists). So that a
venv's ``python`` and ``dromo`` work from any shell, under ``mpirun``, from cron or a batch job with a clean
environment, ``launch/setup.sh`` calls :func:`write_venv_hook`, which writes into the venv a ``.pth`` hook
with the directories resolved at set-up time; this module repeats the same defaults as a fallback for an
interpreter without the hook. A cluster's modules set ``PETSC_DIR``/``SLEPC_DIR`` themselves, and a value
already present is never overridden.
"""
import glob
import os
import sys

# (variable, Debian's default, glob of the installed builds, python package inside)
_DEBIAN = (
    ("PETSC_DIR", "/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real",
     "/usr/lib/petscdir/petsc*/*-linux-gnu-real", "petsc4py"),
    ("SLEPC_DIR", "/usr/lib/slepcdir/slepc3.18/x86_64-linux-gnu-real",
     "/usr/lib/slepcdir/slepc*/*-linux-gnu-real", "slepc4py"),
)
HOOK_NAME = "_dromo_platform"


def _python_dir(prefix):
    return os.path.join(prefix, "lib", "python3", "dist-packages")


def debian_dirs():
    """``{variable: directory}`` of the Debian PETSc/SLEPc builds whose python package is installed."""
    found = {}
    for name, default, pattern, package in _DEBIAN:
        candidates = [default] + sorted(glob.glob(pattern), reverse=True)
        for d in candidates:
            if os.path.isdir(os.path.join(_python_dir(d), package)):
                found[name] = d
                break
    return found


def apply(dirs):
    """Set each unset variable of ``dirs`` and put its python directory on ``sys.path``."""
    for name, d in dirs.items():
        if os.environ.get(name):
            continue
        os.environ[name] = d
        p = _python_dir(d)
        if os.path.isdir(p) and p not in sys.path:
            sys.path.append(p)


def mpi_thread_defaults(environ=os.environ):
    """One BLAS/OpenMP thread per rank when running under an MPI launcher with several ranks (what
    ``launch/env.sh`` sets; ranks × threads would oversubscribe the cores), unless the user set a count."""
    size = 1
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        try:
            size = max(size, int(environ.get(var, "1")))
        except ValueError:
            pass
    if size > 1 and not any(environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")):
        environ["OMP_NUM_THREADS"] = environ["OPENBLAS_NUM_THREADS"] = "1"


_HOOK = '''\
"""Written by dromo's launch/setup.sh (dromo._env.write_venv_hook), loaded by {pth} at interpreter start.

Makes Debian's petsc4py/slepc4py importable without ``PETSC_DIR``/``SLEPC_DIR`` in the environment (cron,
batch jobs, mpirun, a fresh shell): each unset variable gets the directory found at set-up time, and its
python directory goes on ``sys.path``. A variable already set (a cluster's modules) is left alone. Under
an MPI launcher, one BLAS thread per rank unless a count is set (before numpy loads its BLAS).
"""
import os
import sys

for _name, _dir in {dirs!r}.items():
    if not os.environ.get(_name):
        os.environ[_name] = _dir
        _p = os.path.join(_dir, "lib", "python3", "dist-packages")
        if os.path.isdir(_p) and _p not in sys.path:
            sys.path.append(_p)


{threads}


mpi_thread_defaults()
os.environ.setdefault("SCOTCH_PTHREAD_NUMBER", "1")      # reproducible partitions (dromo._env)
'''


def write_venv_hook(site_dir=None):
    """Write ``_dromo_platform.py`` and its ``.pth`` into the venv's site-packages (``site_dir``, by default
    this interpreter's purelib). Returns the directories written, or ``{}`` when no Debian PETSc/SLEPc is
    installed (nothing is written then: a cluster's modules set the variables)."""
    import sysconfig
    site_dir = site_dir or sysconfig.get_paths()["purelib"]
    dirs = debian_dirs()
    if not dirs:
        return {}
    pth = HOOK_NAME + ".pth"
    import inspect
    threads = inspect.getsource(mpi_thread_defaults).rstrip()
    for name, text in ((HOOK_NAME + ".py", _HOOK.format(pth=pth, dirs=dirs, threads=threads)),
                       (pth, f"import {HOOK_NAME}\n")):
        tmp = os.path.join(site_dir, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(site_dir, name))
    return dirs


apply(debian_dirs())
mpi_thread_defaults()

# PT-Scotch 7 (dromo's partitioner, and an ordering MUMPS may pick) runs threads whose timing changes its
# result: one thread makes a partition depend on the mesh and the rank count only (measured: 3 of 15
# partitions of a 256-cell mesh at 2 ranks differed without it, none of 24 with it).
os.environ.setdefault("SCOTCH_PTHREAD_NUMBER", "1")

# Debian ships a serial and an MPI build of h5py and picks the MPI one only under mpirun; dromo always
# wants the MPI build (a singleton run is a 1-rank MPI job), so archives are written the same way.
os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")

# Reproducible reductions under OpenMPI (read at MPI_Init, which comes after this): the default ("tuned")
# MPI_Allreduce choice gives round-off-level differences between two identical runs at 3+ ranks;
# reduce + broadcast (algorithm 2) sums in a fixed order. launch/env.sh sets the same; a value already
# present is never overridden. Other MPIs ignore these variables.
os.environ.setdefault("OMPI_MCA_coll_tuned_use_dynamic_rules", "1")
os.environ.setdefault("OMPI_MCA_coll_tuned_allreduce_algorithm", "2")
