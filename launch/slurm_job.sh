#!/usr/bin/env bash
# Template SLURM job for dromo: copy, adapt the #SBATCH lines and the command, then `sbatch slurm_job.sh`.
# For a long `dromo solve` that may reach its time limit, use slurm_solve.sh (early warning signal,
# clean checkpoint, requeue).
#SBATCH --job-name=dromo
#SBATCH --ntasks=4
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
#SBATCH --output=dromo-%j.log
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
# On a cluster, load the site's modules here instead (PETSc, SLEPc, parallel HDF5, MPI), e.g.
#   module load petsc slepc hdf5-mpi openmpi
. launch/env.sh
DROMO=${DROMO:-.venv/bin/dromo}
# srun where the MPI is built with SLURM support; mpirun otherwise.
if command -v srun >/dev/null 2>&1 && [ -n "${SLURM_JOB_ID:-}" ] && [ "${DROMO_USE_MPIRUN:-0}" != 1 ]; then
  LAUNCH=(srun)
else
  LAUNCH=(mpirun --oversubscribe -n "${SLURM_NTASKS:-2}")
fi
"${LAUNCH[@]}" "$DROMO" info
"${LAUNCH[@]}" "$DROMO" demo --out "demo-${SLURM_JOB_ID:-local}"
