#!/usr/bin/env bash
# Build a podman image from Debian's archive with debootstrap (no registry can be
# reached here), unless it exists. Used by the packaging checks in the Makefile:
#   build_image.sh IMAGE SUITE [INCLUDE]
#     IMAGE    podman image name, e.g. localhost/hostsec-ports-bullseye-python:latest
#     SUITE    Debian suite debootstrap installs (bookworm, bullseye)
#     INCLUDE  comma-separated extra packages; empty for a bare minbase
# Set FORCE=1 to rebuild an existing image.
set -euo pipefail

IMAGE="$1"
SUITE="$2"
INCLUDE="${3:-}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [[ "${FORCE:-0}" != 1 ]] && podman image exists "$IMAGE"; then
  echo "image $IMAGE present"
  exit 0
fi

root="$(mktemp -d /var/tmp/hostsec-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase ${INCLUDE:+--include="$INCLUDE"} "$SUITE" "$root" "$MIRROR" >/dev/null
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --quiet --change 'CMD ["/bin/sleep", "infinity"]' - "$IMAGE" >/dev/null
echo "built $IMAGE ($SUITE minbase${INCLUDE:+ + $INCLUDE})"
