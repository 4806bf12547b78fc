#!/usr/bin/env bash
# SLURM job for a long `dromo solve` that outlives its time limit; no copy or edit needed:
#   sbatch -n 8 /path/to/dromo/launch/slurm_solve.sh case.toml result.h5     (default: case.toml result.h5)
# from any folder: paths are relative to the folder SLURM gives the job (where sbatch ran, or `-D DIR`).
# The rank count is the allocation's (`-n P`); the launcher is chosen as launch/slurm_launch.sh says.
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
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=dromo-solve-%j.log
set -uo pipefail
# On a cluster, the site's modules (PETSc, SLEPc, parallel HDF5, MPI): DROMO_MODULES, as in slurm_job.sh.
# Where dromo is: DROMO_HOME, else the checkout holding this script. sbatch runs a copy of the script from
# SLURM's spool folder: the original path is the job's Command (scontrol). Same lines in slurm_job.sh.
script=${BASH_SOURCE[0]}
if [ ! -f "$(dirname "$script")/slurm_launch.sh" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  script=$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p')
fi
DROMO_HOME=${DROMO_HOME:-$(cd "$(dirname "$script")/.." && pwd)}
. "$DROMO_HOME/launch/slurm_launch.sh"
export OMPI_MCA_odls_base_sigkill_timeout="${OMPI_MCA_odls_base_sigkill_timeout:-10}"
CASE=${1:-${CASE:-case.toml}}
OUT=${2:-${OUT:-result.h5}}
# A requeued job (or a resubmission after a failure) continues from the checkpoint in $OUT.
RESTART=()
if [ -f "$OUT" ]; then
  RESTART=(--restart "$OUT")
fi

status=0
run_requeueable "${LAUNCH[@]}" "$DROMO" solve "$CASE" -o "$OUT" "${RESTART[@]}" || status=$?
exit "$status"
