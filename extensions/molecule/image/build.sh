#!/usr/bin/env bash
# Build the Debian 12 systemd image the molecule scenarios run in, unless it exists.
# There is no registry here, so the image is made from Debian's packages with
# debootstrap and imported into podman. Usage: build.sh [--force]
set -euo pipefail

IMAGE="${HOSTSEC_TEST_IMAGE:-localhost/hostsec-ports-debian12:latest}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Firewall backends are all installed so one image serves every scenario;
# each scenario's prepare step enables the one it tests.
BASE=python3,systemd,systemd-sysv,dbus,openssh-server,iproute2,procps,nftables,iptables,sudo,netcat-openbsd,ca-certificates
# Installed in a second step, with /proc mounted: polkitd (a firewalld
# dependency) cannot be configured by debootstrap's first stage.
EXTRA=(firewalld ufw)

if [[ "${1:-}" != "--force" ]] && podman image exists "$IMAGE"; then
  echo "image $IMAGE present"
  exit 0
fi

root="$(mktemp -d /var/tmp/hostsec-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include="$BASE" bookworm "$root" "$MIRROR"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"  # start no service while building
chmod +x "$root/usr/sbin/policy-rc.d"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${EXTRA[@]}"
rm -f "$root/usr/sbin/policy-rc.d"
umount "$root/proc"

# Keep the firewalls off until a scenario asks for one: firewalld would
# otherwise install its default zone in every container at boot.
chroot "$root" systemctl disable firewalld.service ufw.service >/dev/null 2>&1 || true
chroot "$root" systemctl mask systemd-networkd-wait-online.service getty@tty1.service >/dev/null 2>&1 || true
# An unprivileged user for the non-root gathering tests.
chroot "$root" useradd --create-home --shell /bin/bash probe
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" ssh-keygen -A >/dev/null
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' - "$IMAGE"
echo "built $IMAGE"
