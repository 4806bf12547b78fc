#!/usr/bin/env bash
# Submits the reduced-model chain (run it where you run sbatch, from the folder of your files):
#   /path/to/dromo/launch/slurm_rom_chain.sh train.toml case.toml                     offline, then online
#   /path/to/dromo/launch/slurm_rom_chain.sh train.toml case.toml online --reconstruct U p
#   /path/to/dromo/launch/slurm_rom_chain.sh train.toml case.toml adapt --field S p --tol 0.003 0.03
# 1. `dromo offline train.toml -o $ROM` on $OFFLINE_TASKS tasks (launch/slurm_rom.sh offline);
# 2. `dromo online|adapt $ROM case.toml -o $RESULT [OPTIONS...]` on $ROM_TASKS tasks, submitted with
#    --dependency=afterok on job 1: it starts only when the offline job ended with status 0. If the offline
#    job fails, job 2 stays pending (Reason=DependencyNeverSatisfied) until you `scancel` it, unless the site
#    sets SchedulerParameters=kill_invalid_depend.
# Prints one line per job, then the two job ids on the last line (`read offline rom < <(... | tail -1)`).
# Every job runs in this folder (sbatch's default); logs dromo-rom-JOBID.log.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# ---- SITE settings: environment variables, or edit them in your copy ------------------------------------
OFFLINE_TASKS=${OFFLINE_TASKS:-16}            # tasks of the offline job (training solves, POD, ECM)
ROM_TASKS=${ROM_TASKS:-2}                      # tasks of the online/adapt job (reduced model: few)
ROM=${ROM:-rom.h5}                             # the ROM archive the chain writes, then reads
RESULT=${RESULT:-rom-result.h5}                # the online/adapt result
# Extra sbatch options of both jobs, e.g. "--partition=compute --account=my-project --time=02:00:00".
read -r -a SBATCH_OPTIONS <<< "${DROMO_SBATCH_OPTIONS:-}"
# -----------------------------------------------------------------------------------------------------------
if [ $# -lt 2 ]; then
  echo "usage: slurm_rom_chain.sh TRAIN.toml CASE.toml [online|adapt] [OPTIONS...]" >&2
  exit 2
fi
train=$1 case=$2 stage=${3:-online}
shift $(($# < 3 ? 2 : 3))
case "$stage" in online | adapt) ;; *) echo "slurm_rom_chain.sh: stage must be online or adapt, not $stage" >&2; exit 2 ;; esac
for f in "$train" "$case"; do
  [ -f "$f" ] || { echo "slurm_rom_chain.sh: no file $f (in $PWD)" >&2; exit 2; }
done

offline=$(sbatch --parsable "${SBATCH_OPTIONS[@]}" -n "$OFFLINE_TASKS" "$here/slurm_rom.sh" offline "$train" "$ROM")
offline=${offline%%;*}
echo "offline: job $offline (dromo offline $train -o $ROM, $OFFLINE_TASKS tasks)"
rom=$(sbatch --parsable "${SBATCH_OPTIONS[@]}" -n "$ROM_TASKS" --dependency=afterok:"$offline" \
      "$here/slurm_rom.sh" "$stage" "$ROM" "$case" "$RESULT" "$@")
rom=${rom%%;*}
echo "$stage: job $rom (dromo $stage $ROM $case -o $RESULT $*, $ROM_TASKS tasks, after job $offline succeeds)"
echo "$offline $rom"
