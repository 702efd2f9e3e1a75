#!/usr/bin/env bash
# `make audit` on a bare Debian 12: a podman container from a debootstrap minbase
# image (no python3, no python3-venv, no make) gets this checkout's files (tracked
# and new, unignored ones) and only what README.md tells a user to install first
# (make); `make audit` must install the rest itself and write the reports.
# The container reaches the package registries as this machine does: Debian over
# its mirror, PyPI with this machine's CA bundle and pip configuration.
# Usage: minbase_audit.sh IMAGE
set -euo pipefail
image="$1"
work="$(mktemp -d /var/tmp/hostsec-minbase.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git ls-files --cached --others --exclude-standard | while read -r f; do [ -e "$f" ] && echo "$f"; done \
  | tar -cf - -T - | tar -xf - -C "$work"

mounts=(-v "$work:/src")
envs=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mounts+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro)
  envs+=(-e PIP_CERT=/etc/ssl/host-ca.crt)
fi
[ -f /etc/pip.conf ] && mounts+=(-v /etc/pip.conf:/etc/pip.conf:ro)
[ -f "$HOME/.config/pip/pip.conf" ] && mounts+=(-v "$HOME/.config/pip/pip.conf:/root/.config/pip/pip.conf:ro")
for d in /opt/wheels /opt/pypi /opt/pypi-more; do [ -d "$d" ] && mounts+=(-v "$d:$d:ro"); done
for v in PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT; do
  [ -n "${!v:-}" ] && envs+=(-e "$v=${!v}")
done

podman run --rm "${mounts[@]}" "${envs[@]}" "$image" bash -euc '
  if command -v python3 >/dev/null; then echo "image is not bare: python3 present" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null
  cd /src
  make audit > /src/audit.log 2>&1 || { tail -40 /src/audit.log; exit 1; }
  python3 -c "import ensurepip" && dpkg -s python3-venv >/dev/null
  test -s reports/fleet.json
  ls reports/hosts/*.json >/dev/null
  grep -E "^(localhost|PLAY RECAP)" -A2 /src/audit.log | tail -3
'
echo "make audit on bare Debian 12 minbase: set-up installed python3 and python3-venv, reports written"
