#!/usr/bin/env bash
# Runs the built runtime image once, where `podman run` is not permitted (no permission to set rlimits):
# a container is created from the image (its own writable layer: the image is untouched), its root mounted
# and entered with chroot in new mount and PID namespaces (as .ci/minroot does), with the image's PATH and
# OpenMPI root consent. Checks what a lean image could have lost: `dromo info` at 1 and 2 ranks, the gmsh
# wheel's system libraries (a built-in case meshed), a 2-rank solve, the UMAT driver compiled with gcc.
#   docker/check_image.sh [IMAGE]            (root; docker/build.sh runs it after the runtime stage)
set -euo pipefail
IMAGE=${1:-${DROMO_IMAGE:-localhost/dromo:latest}}
PODMAN=(podman --storage-driver "${PODMAN_STORAGE_DRIVER:-vfs}")
say() { echo "[check-image] $*"; }

ctr=$("${PODMAN[@]}" create "$IMAGE" true)
trap '"${PODMAN[@]}" rm -f "$ctr" >/dev/null' EXIT
root=$("${PODMAN[@]}" mount "$ctr")
checks='set -euo pipefail
cd /tmp && mkdir -p check && cd check
dromo info | grep -a -E "^(dromo|petsc|mpi world size)"
mpirun -n 2 dromo info | grep -a -q "mpi world size  2"
dromo case write holed_plate hp --size small >/dev/null && test -s hp/case.toml
python - <<PY
import sys
sys.path.insert(0, "/opt/dromo")
from tests.rom import rom_cases as rc
rc.write_mesh(".")
rc.write_case(".", "bar", ux=0.012, end=1.0, dt=0.25)
from dromo.materials.umat import point_loop_driver
assert point_loop_driver() is not None, "the UMAT driver did not compile"
PY
mpirun -n 2 dromo --quiet solve bar.toml -o bar.h5
echo "image checks passed"'
say "$IMAGE in container ${ctr:0:12}, root $root"
timeout -k 10 600 unshare --mount --pid --fork --kill-child bash -c '
  set -e
  root=$1; shift
  mount --rbind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  exec chroot "$root" env -i "$@"
' _ "$root" PATH=/opt/dromo/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 bash -c "$checks"
"${PODMAN[@]}" umount "$ctr" >/dev/null
say "passed"
