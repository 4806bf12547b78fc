#!/usr/bin/env bash
# SLURM job running one dromo command on the job's tasks; no copy or edit needed:
#   sbatch -n 8 /path/to/dromo/launch/slurm_job.sh pod result.h5 --field U --tol 1e-6 -o basis.h5
#   sbatch -n 2 /path/to/dromo/launch/slurm_job.sh          # no command: `dromo info`, then the demo
# from any folder: the job runs in the folder SLURM gives it (where sbatch ran, or `sbatch -D DIR`), so
# relative paths and the log (dromo-JOBID.log) are there. The rank count is the allocation's (`-n P`,
# 1 if none is asked for). For a long `dromo solve` that may reach its time limit, use slurm_solve.sh.
# The lines below are defaults: sbatch options override them.
#SBATCH --job-name=dromo
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
#SBATCH --output=dromo-%j.log
set -euo pipefail
# On a cluster, the site's modules (PETSc, SLEPc, parallel HDF5, MPI): DROMO_MODULES="petsc slepc hdf5-mpi openmpi"
# in the environment (or set here), loaded by launch/slurm_launch.sh; or `module load ...` here.
# Where dromo is: DROMO_HOME, else the checkout holding this script. sbatch runs a copy of the script from
# SLURM's spool folder: the original path is the job's Command (scontrol). Same lines in slurm_solve.sh.
script=${BASH_SOURCE[0]}
if [ ! -f "$(dirname "$script")/slurm_launch.sh" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  script=$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p')
fi
DROMO_HOME=${DROMO_HOME:-$(cd "$(dirname "$script")/.." && pwd)}
. "$DROMO_HOME/launch/slurm_launch.sh"

if [ $# -gt 0 ]; then
  "${LAUNCH[@]}" "$DROMO" "$@"
else
  "${LAUNCH[@]}" "$DROMO" info
  "${LAUNCH[@]}" "$DROMO" demo --out "demo-${SLURM_JOB_ID:-local}"
fi
