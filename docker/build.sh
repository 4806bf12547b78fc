#!/usr/bin/env bash
# The container image, built on this machine without a registry or a Docker engine (`make container`):
#
#   docker/build.sh              the runtime stage -> localhost/dromo:latest (DROMO_IMAGE), its size printed
#   docker/build.sh test         the test stage: the runtime stage, then the whole suite as a build step
#   docker/build.sh archive      the runtime stage, then `podman save` to build/dromo-image.tar (docker-archive:
#                                `apptainer build dromo.sif docker-archive://build/dromo-image.tar`)
#
# 1. The base `debian:bookworm`: used when podman has it (pulled or imported earlier), else made here from a
#    bare `debootstrap --variant=minbase bookworm` root (.ci/debian_root.sh: the one .ci/minroot uses, cached in
#    ~/.cache/dromo/minroot) and `podman import`ed as localhost/debian:bookworm.
# 2. `podman build --isolation chroot` (no daemon, no user namespace: what works in an unprivileged build
#    host; `podman run` does not work here, hence a test *stage*), storage driver vfs (PODMAN_STORAGE_DRIVER
#    to change it; it must match the store's existing driver), `--pull=never` so the local base is the base.
#    The host's CA bundle is mounted for the RUN steps only (pip behind a TLS-inspecting proxy) and the
#    host's pip/proxy variables passed as build arguments: neither stays in the image.
# 3. The runtime image is run once by docker/check_image.sh (chroot into a container's root: `podman run` is
#    not permitted here): dromo info at 1 and 2 ranks, gmsh, a 2-rank solve, the UMAT driver's compile.
# Needs root (podman's storage, debootstrap). Installs podman with apt-get when it is missing (~40 MB, 20 s;
# not part of launch/setup.sh: only this target needs it).
set -euo pipefail
checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$checkout"
what=${1:-runtime}
IMAGE=${DROMO_IMAGE:-localhost/dromo:latest}
BASE=debian:bookworm
ARCHIVE=${DROMO_IMAGE_ARCHIVE:-build/dromo-image.tar}
say() { echo "[container] $*"; }

case "$what" in
  runtime | archive) target=runtime ;;
  test) target=test ;;
  *) echo "usage: $0 [runtime|test|archive]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { say "needs root (podman's storage, debootstrap)"; exit 1; }
if ! command -v podman >/dev/null; then
  say "installing podman"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman >/dev/null
fi
PODMAN=(podman --storage-driver "${PODMAN_STORAGE_DRIVER:-vfs}")

SECONDS=0
if ! "${PODMAN[@]}" image exists "$BASE"; then
  . "$checkout/.ci/debian_root.sh"
  work=$(mktemp -d /var/tmp/dromo-base.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  debian_root "$work/root"
  say "podman import -> localhost/$BASE"
  tar -C "$work/root" -c . | "${PODMAN[@]}" import - "localhost/$BASE" >/dev/null
  rm -rf "$work"
fi
say "base $BASE ready in ${SECONDS} s"

args=(build --isolation chroot --pull=never -f docker/Dockerfile --target "$target")
[ "$target" = runtime ] && args+=(-t "$IMAGE")
ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
if [ -f "$ca" ]; then
  args+=(-v "$(readlink -f "$ca"):/etc/host-ca-bundle.crt:ro" --build-arg PIP_CERT=/etc/host-ca-bundle.crt)
fi
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT; do
  [ -n "${!v:-}" ] && args+=(--build-arg "$v=${!v}")
done
SECONDS=0
say "podman ${args[*]} ."
"${PODMAN[@]}" "${args[@]}" .
say "stage $target built in ${SECONDS} s"
if [ "$target" = runtime ]; then
  size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
  say "$IMAGE: $(numfmt --to=iec --suffix=B "$size") ($size bytes)"
fi
if [ "$target" = runtime ] && [ "${DROMO_CHECK_IMAGE:-1}" = 1 ]; then
  bash "$checkout/docker/check_image.sh" "$IMAGE"        # the image run once (chroot); DROMO_CHECK_IMAGE=0 skips
fi
if [ "$what" = archive ]; then
  mkdir -p "$(dirname "$ARCHIVE")"
  rm -f "$ARCHIVE.part"
  "${PODMAN[@]}" save --format docker-archive -o "$ARCHIVE.part" "$IMAGE"
  mv "$ARCHIVE.part" "$ARCHIVE"
  say "docker-archive: $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"
fi
