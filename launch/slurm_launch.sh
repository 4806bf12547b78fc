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
#
# Site modules: DROMO_MODULES (set in the job script's SITE block or the environment), e.g.
# "petsc/3.18 slepc/3.18 hdf5/1.12-mpi openmpi/4.1", are loaded here first (`module load`).
# run_requeueable CMD...: runs CMD (a launcher + dromo command that stops cleanly on SIGUSR1/SIGTERM with exit
# status 75, see slurm_solve.sh) and requeues the job when it stopped so; its status is the job's.
if [ -n "${DROMO_MODULES:-}" ]; then
  command -v module >/dev/null 2>&1 || { [ -f /etc/profile.d/modules.sh ] && . /etc/profile.d/modules.sh; }
  # shellcheck disable=SC2086  # a list of module names
  module load $DROMO_MODULES
fi
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

run_requeueable() {
  "$@" &
  local pid=$! status=0
  trap 'echo "[job] SIGUSR1: time limit near, asking dromo to checkpoint and stop"; kill -USR1 '"$pid" USR1
  trap 'kill -TERM '"$pid" TERM
  # `wait` returns early (status > 128) when a trapped signal arrives: wait until the launcher is gone.
  while kill -0 "$pid" 2>/dev/null; do
    wait "$pid"
    status=$?
  done
  trap - USR1 TERM
  if [ "$status" -eq 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "[job] stopped with a checkpoint: requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
  fi
  return "$status"
}
