# Sourced by .ci/minroot and docker/build.sh: a bare minimal Debian 12 root (`debootstrap --variant=minbase
# bookworm`, the host's mirror), cached as a tarball so that it is downloaded once.
#
#   . .ci/debian_root.sh
#   debian_root DIR          fills the empty folder DIR with the root (from the cache, else debootstrap)
#
# Cache: ${DROMO_CACHE:-~/.cache/dromo}/minroot/base-bookworm-KEY.tar, KEY from the suite and the mirror (the
# same folder as minroot's root-after-set-up tarball). MINROOT_FRESH=1 ignores it. Needs root and debootstrap
# (installed with apt-get when missing). The root gets the host's apt sources when they are bookworm's (the
# release's updates and security sources, as a fresh Debian 12 has).
DEBIAN_SUITE=bookworm
DEBIAN_CACHE=${DROMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dromo}/minroot

# The Debian mirror the host's apt uses (deb822 or one-line sources), unless DEBIAN_MIRROR says otherwise.
debian_mirror() {
  local uri
  uri=$(grep -hs -m1 '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}')
  [ -n "$uri" ] || uri=$(grep -hs -m1 '^deb ' /etc/apt/sources.list | awk '{print $2}')
  echo "${DEBIAN_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

# debootstrap, installed with apt-get when missing; status 1 when it cannot be.
debian_have_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  echo "[debian-root] installing debootstrap"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap; } \
    >/dev/null 2>&1
}

debian_root() {
  local root=$1 mirror key tarball
  mirror=$(debian_mirror)
  key=$(echo "$DEBIAN_SUITE $mirror" | sha256sum | cut -c1-16)
  tarball=$DEBIAN_CACHE/base-$DEBIAN_SUITE-$key.tar
  mkdir -p "$DEBIAN_CACHE" "$root"
  if [ -f "$tarball" ] && [ "${MINROOT_FRESH:-0}" != 1 ]; then
    echo "[debian-root] bare root from the cache: $tarball"
    tar -C "$root" -xf "$tarball"
    return 0
  fi
  debian_have_debootstrap || { echo "[debian-root] debootstrap is missing and apt-get cannot install it"; return 1; }
  echo "[debian-root] debootstrap --variant=minbase $DEBIAN_SUITE from $mirror"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$mirror" > "$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log"; echo "[debian-root] FAILED: debootstrap"; return 1; }
  rm -f "$root.debootstrap.log"
  if grep -qs "$DEBIAN_SUITE" /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; then
    cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
    [ -s /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
  fi
  rm -f "$root"/var/cache/apt/archives/*.deb
  rm -f "$DEBIAN_CACHE"/base-"$DEBIAN_SUITE"-*.tar
  tar -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  echo "[debian-root] cached the bare root: $tarball ($(du -h "$tarball" | cut -f1))"
}
