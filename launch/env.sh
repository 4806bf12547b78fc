# Environment for running dromo on these machines; sourced by launch/mpirun.sh and the Makefile.
# PETSc/SLEPc of Debian (overridable: on a cluster, the site's modules set these).
: "${PETSC_DIR:=/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real}"
: "${SLEPC_DIR:=/usr/lib/slepcdir/slepc3.18/x86_64-linux-gnu-real}"
export PETSC_DIR SLEPC_DIR
# One BLAS thread per MPI rank unless the user says otherwise.
: "${OMP_NUM_THREADS:=1}"; : "${OPENBLAS_NUM_THREADS:=$OMP_NUM_THREADS}"
export OMP_NUM_THREADS OPENBLAS_NUM_THREADS
# OpenMPI as root (containers, CI) needs explicit consent.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Quiet OpenMPI's transport probing on machines without high-speed networks.
# Reproducible reductions: OpenMPI's default ("tuned") MPI_Allreduce choice gives round-off-level
# differences between two identical runs at 3 ranks; reduce+broadcast (algorithm 2) sums in a fixed
# order, so a rerun or a restart at the same rank count is identical bit for bit.
export OMPI_MCA_coll_tuned_use_dynamic_rules="${OMPI_MCA_coll_tuned_use_dynamic_rules:-1}"
export OMPI_MCA_coll_tuned_allreduce_algorithm="${OMPI_MCA_coll_tuned_allreduce_algorithm:-2}"
# One PT-Scotch thread: reproducible partitions (dromo/_env.py sets the same when unset).
export SCOTCH_PTHREAD_NUMBER="${SCOTCH_PTHREAD_NUMBER:-1}"
export OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader,tcp}"
export OMPI_MCA_btl_vader_single_copy_mechanism="${OMPI_MCA_btl_vader_single_copy_mechanism:-none}"
