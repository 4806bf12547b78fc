# Sourced by slurm_job.sh and slurm_solve.sh (with DROMO_HOME set): defines DROMO, the dromo command, and
# LAUNCH, how this job starts its MPI ranks. Needs no environment file: .venv/bin/dromo finds Debian's
# PETSc/SLEPc itself, and on a cluster the site's modules (loaded in the job script) set PETSC_DIR/SLEPC_DIR.
#
# The launcher, first match wins (the job log says which and why):
#   1. DROMO_USE_MPIRUN=1, or no SLURM job: `mpirun -n $SLURM_NTASKS` (OpenMPI's mpirun reads the allocation
#      from SLURM's environment and starts the ranks through slurmd itself).
#   2. SLURM_MPI_TYPE set (by the user or the site): plain `srun`, which uses it.
#   3. SLURM has its PMIx plugin (`srun --mpi=list` names pmix): `srun --mpi=pmix`. OpenMPI 4 (Debian's, and
#      most sites') needs PMIx from srun; SLURM's default `MpiDefault=none` starts none, and OpenMPI then
#      aborts with "OMPI was not built with SLURM's PMI support" (misleading: it has PMIx, srun gave none).
#   4. Otherwise `mpirun` as in 1.
# An MPI that speaks only PMI2 (some MPICH builds): set SLURM_MPI_TYPE=pmi2, or DROMO_USE_MPIRUN=1.
DROMO=${DROMO:-$DROMO_HOME/.venv/bin/dromo}
NTASKS=${SLURM_NTASKS:-1}       # the allocation's task count (`sbatch -n P`); 1 when none was asked for

if [ "${DROMO_USE_MPIRUN:-0}" = 1 ] || [ -z "${SLURM_JOB_ID:-}" ] || ! command -v srun >/dev/null 2>&1; then
  LAUNCH=(mpirun -n "$NTASKS")
  why="DROMO_USE_MPIRUN=${DROMO_USE_MPIRUN:-0}, SLURM job ${SLURM_JOB_ID:-none}"
elif [ -n "${SLURM_MPI_TYPE:-}" ]; then
  LAUNCH=(srun)
  why="SLURM_MPI_TYPE=$SLURM_MPI_TYPE"
elif srun --mpi=list 2>&1 | grep -qw pmix; then
  LAUNCH=(srun --mpi=pmix)
  why="SLURM has its PMIx plugin"
else
  LAUNCH=(mpirun -n "$NTASKS")
  why="SLURM has no PMIx plugin"
fi
# OpenMPI's mpirun refuses to run as root without consent (containers, test clusters).
if [ "${LAUNCH[0]}" = mpirun ] && [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
echo "[job] $NTASKS tasks; dromo: $DROMO; launcher: ${LAUNCH[*]} ($why); working directory: $PWD"
