#!/usr/bin/env bash
# SLURM job for a long `dromo solve` that outlives its time limit: copy, adapt, `sbatch slurm_solve.sh`.
#
# The habit: ask SLURM for a warning signal before the limit (--signal), let dromo stop cleanly on it
# (it finishes the current increment on all ranks, writes a checkpoint into $OUT, closes it validly and
# exits with status 75), then requeue the job, which continues with --restart $OUT.
#   * B:USR1@120 sends SIGUSR1 to this batch script about 120 s before the limit (SLURM may send it up
#     to 60 s earlier); the trap below passes it to the launcher, and mpirun / srun pass it to the ranks.
#     Make the margin larger than one increment plus one checkpoint of your run.
#   * At the limit itself SLURM sends SIGTERM to every process of the job, then SIGKILL after KillWait
#     (30 s by default). dromo stops on SIGTERM as on SIGUSR1, but mpirun, on its own SIGTERM, kills the
#     ranks odls_base_sigkill_timeout seconds later (1 s by default; 10 s below), so rely on the warning.
#   * Exit status: 0 done, 75 stopped on a signal with a checkpoint (requeued here), 74 the output cannot
#     be written (full disk, quota, read-only folder: fix and resubmit), 1 an error (see the log).
#SBATCH --job-name=dromo-solve
#SBATCH --ntasks=4
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=dromo-solve-%j.log
set -uo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
# On a cluster, load the site's modules here instead (PETSc, SLEPc, parallel HDF5, MPI).
. launch/env.sh
export OMPI_MCA_odls_base_sigkill_timeout="${OMPI_MCA_odls_base_sigkill_timeout:-10}"
DROMO=${DROMO:-.venv/bin/dromo}
CASE=${CASE:-case.toml}
OUT=${OUT:-result.h5}

if command -v srun >/dev/null 2>&1 && [ -n "${SLURM_JOB_ID:-}" ] && [ "${DROMO_USE_MPIRUN:-0}" != 1 ]; then
  LAUNCH=(srun)
else
  LAUNCH=(mpirun --oversubscribe -n "${SLURM_NTASKS:-2}")
fi
# A requeued job (or a resubmission after a failure) continues from the checkpoint in $OUT.
RESTART=()
if [ -f "$OUT" ]; then
  RESTART=(--restart "$OUT")
fi

"${LAUNCH[@]}" "$DROMO" solve "$CASE" -o "$OUT" "${RESTART[@]}" &
pid=$!
trap 'echo "[job] SIGUSR1: time limit near, asking dromo to checkpoint and stop"; kill -USR1 "$pid"' USR1
trap 'kill -TERM "$pid"' TERM
# `wait` returns early (status > 128) when a trapped signal arrives: wait until the launcher is gone.
status=0
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid"
  status=$?
done
if [ "$status" -eq 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  echo "[job] checkpoint written in $OUT: requeueing job $SLURM_JOB_ID"
  scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
