#!/usr/bin/env bash
# Run tests/packaging/report_container.yml with one ansible-core against a fresh
# podman container of IMAGE, connected with containers.podman.podman.
# Usage: report_container.sh ANSIBLE_BIN IMAGE NAME EXPECT_CORE EXPECT_PYTHON [init]
#   init: start the container with systemd as PID 1 (images that have /sbin/init)
set -euo pipefail
bin="$1"; image="$2"; name="hostsec-pkg-$3"; expect_core="$4"; expect_python="$5"; init="${6:-}"
work="$(mktemp -d /tmp/hostsec-pkg-report.XXXXXX)"
trap 'podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
if [ "$init" = init ]; then
  podman run -d --name "$name" --systemd=always "$image" /sbin/init >/dev/null
else
  podman run -d --name "$name" "$image" sleep infinity >/dev/null
fi
for port in 8081 8082; do
  podman exec -d "$name" python3 -m http.server "$port" --bind 0.0.0.0 >/dev/null
done
# Both listeners up before the audit gathers.
for _ in $(seq 50); do
  podman exec "$name" python3 -c "
import socket
for p in (8081, 8082):
    socket.create_connection(('127.0.0.1', p), 1).close()" 2>/dev/null && break
  sleep 0.2
done
printf 'localhost ansible_connection=local ansible_python_interpreter=%s\n' "$bin/python" > "$work/inventory"
printf '[targets]\n%s ansible_connection=containers.podman.podman ansible_python_interpreter=/usr/bin/python3\n' "$name" >> "$work/inventory"
"$bin/ansible-playbook" -i "$work/inventory" tests/packaging/report_container.yml \
  -e report_dir="$work/reports" -e expect_core="$expect_core" -e expect_python="$expect_python" > "$work/log" 2>&1 \
  || { cat "$work/log"; exit 1; }
core="$("$bin/python" -c "import ansible.release as r; print('ansible-core', r.__version__)")"
py="$(podman exec "$name" python3 --version)"
echo "report-mode playbook passed: $core, managed host $image ($py)"
