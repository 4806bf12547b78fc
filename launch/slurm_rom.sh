#!/usr/bin/env bash
# SLURM job for the reduced-model stages; submit it as it is (or a copy with your SITE settings below):
#   sbatch -n 16 /path/to/dromo/launch/slurm_rom.sh offline train.toml rom.h5
#        the training runs (solved by `dromo solve` on the job's tasks when their result is missing), POD,
#        ECM, Gappy-POD and reduced loads -> rom.h5;
#   sbatch -n 2 --dependency=afterok:$OFFLINE /path/to/dromo/launch/slurm_rom.sh online rom.h5 case.toml out.h5 [--reconstruct U p]
#   sbatch -n 2 --dependency=afterok:$OFFLINE /path/to/dromo/launch/slurm_rom.sh adapt rom.h5 case.toml out.h5 --field S p --tol 0.003 0.03
#        the reduced model on a new loading (`adapt`: with HF enrichment where its error estimate says so);
#        anything after the three paths goes to the command.
# launch/slurm_rom_chain.sh submits offline and online (or adapt) chained with --dependency=afterok.
# Paths are relative to the folder SLURM gives the job (where sbatch ran, or `sbatch -D DIR`); the rank count
# is the allocation's (`-n P`); the launcher is chosen as launch/slurm_launch.sh says; log dromo-rom-JOBID.log.
#
# Time limit (as slurm_solve.sh): SIGUSR1 120 s before it; `adapt` then checkpoints into OUT.restart.h5 and
# stops with status 75, and the job requeues itself and continues with --restart OUT.restart.h5; `online`
# stops with 75 and, requeued, runs again from the start (it is cheap). `offline` has no checkpoint: give
# it the time of its training solves (a requeued offline reuses the training results already written).
#SBATCH --job-name=dromo-rom
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=dromo-rom-%j.log
# ---- SITE settings: edit them in your copy ----------------------------------------------------------------
# SLURM reads #SBATCH lines before the script runs: remove one '#' to use these.
##SBATCH --partition=compute
##SBATCH --account=my-project
# Modules loaded before dromo starts (launch/slurm_launch.sh), e.g. "petsc/3.18 slepc/3.18 hdf5/1.12-mpi openmpi/4.1".
DROMO_MODULES=${DROMO_MODULES:-}
# ------------------------------------------------------------------------------------------------------------
set -uo pipefail
# Where dromo is: DROMO_HOME, else the checkout holding this script. sbatch runs a copy of the script from
# SLURM's spool folder: the original path is the job's Command (scontrol). Same lines in slurm_job.sh.
script=${BASH_SOURCE[0]}
if [ ! -f "$(dirname "$script")/slurm_launch.sh" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  script=$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p')
fi
DROMO_HOME=${DROMO_HOME:-$(cd "$(dirname "$script")/.." && pwd)}
usage="usage: slurm_rom.sh offline TRAIN.toml ROM.h5 | slurm_rom.sh online|adapt ROM.h5 CASE.toml OUT.h5 [OPTIONS...]"
stage=${1:-}
case "$stage" in
  offline) [ $# -eq 3 ] || { echo "$usage" >&2; exit 2; } ;;
  online | adapt) [ $# -ge 4 ] || { echo "$usage" >&2; exit 2; } ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
. "$DROMO_HOME/launch/slurm_launch.sh"
export OMPI_MCA_odls_base_sigkill_timeout="${OMPI_MCA_odls_base_sigkill_timeout:-10}"

status=0
if [ "$stage" = offline ]; then
  "${LAUNCH[@]}" "$DROMO" offline "$2" -o "$3" || status=$?
  exit "$status"
fi
ROM=$2 CASE=$3 OUT=$4
shift 4
RESTART=()
if [ "$stage" = adapt ] && [ -f "$OUT.restart.h5" ]; then
  RESTART=(--restart "$OUT.restart.h5")        # a requeued adapt continues from its checkpoint
fi
run_requeueable "${LAUNCH[@]}" "$DROMO" "$stage" "$ROM" "$CASE" -o "$OUT" "$@" "${RESTART[@]}" || status=$?
exit "$status"
