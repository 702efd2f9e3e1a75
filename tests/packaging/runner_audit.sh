#!/usr/bin/env bash
# The audit as AWX/AAP runs it: ansible-runner with a private data directory,
# here inside the execution environment image (process isolation with podman),
# against a podman test container reached over SSH. The EE joins the test
# container's network namespace, so SSH goes to 127.0.0.1 there and nowhere else.
# Checks runner's artifacts: status, rc, and the fleet summary that the role
# publishes as custom stats (as set_stats does) under `hostsec_ports` (AWX shows it as job artifacts).
# Usage: runner_audit.sh VENV_BIN TEST_IMAGE EE_IMAGE
set -euo pipefail
bin="$1"; test_image="$2"; ee_image="$3"
name=hostsec-pkg-runner
pdd="$(mktemp -d /tmp/hostsec-runner.XXXXXX)"
trap 'podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; rm -rf "$pdd"' EXIT
podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
podman run -d --name "$name" --systemd=always "$test_image" /sbin/init >/dev/null
podman exec -d "$name" python3 -m http.server 8081 --bind 0.0.0.0 >/dev/null

mkdir -p "$pdd/project" "$pdd/inventory" "$pdd/env"
ssh-keygen -q -t ed25519 -N '' -f "$pdd/env/ssh_key" -C hostsec-runner
podman exec -i "$name" sh -c 'mkdir -p -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys' < "$pdd/env/ssh_key.pub"
rm "$pdd/env/ssh_key.pub"
for _ in $(seq 50); do podman exec "$name" systemctl is-active -q ssh.service && break; sleep 0.2; done
cat > "$pdd/project/audit.yml" <<'YAML'
---
- name: The collection's audit playbook, as a job template would run it
  ansible.builtin.import_playbook: hostsec.ports.audit
YAML
printf 'target ansible_host=127.0.0.1 ansible_user=root ansible_python_interpreter=/usr/bin/python3\n' > "$pdd/inventory/hosts"
printf -- '---\nport_policy_allow: [22/tcp]\nport_policy_report_dir: /runner/reports\n' > "$pdd/env/extravars"
printf -- '---\nANSIBLE_HOST_KEY_CHECKING: "False"\nANSIBLE_NOCOLOR: "1"\n' > "$pdd/env/envvars"
# The EE's runner must not reuse this machine's settings.
env -u ANSIBLE_COLLECTIONS_PATH -u PYTHONPATH "$bin/ansible-runner" run "$pdd" -p audit.yml --ident audit \
  --process-isolation --process-isolation-executable podman --container-image "$ee_image" \
  --container-option="--network=container:$name" --container-option=--user=0 > "$pdd/runner.out" 2>&1 || true

art="$pdd/artifacts/audit"
"$bin/python" - "$art" "$pdd/reports" <<'PY' || { tail -30 "$pdd/runner.out"; exit 1; }
import glob, json, os, sys
art, reports = sys.argv[1:3]
status = open(os.path.join(art, 'status')).read().strip()
rc = open(os.path.join(art, 'rc')).read().strip()
assert status == 'successful' and rc == '0', 'runner status %s rc %s' % (status, rc)
events = [json.load(open(p)) for p in glob.glob(os.path.join(art, 'job_events', '*.json'))]
stats = [e for e in events if e.get('event') == 'playbook_on_stats']
assert stats, 'no playbook_on_stats event in the artifacts'
data = stats[0]['event_data'].get('artifact_data') or {}
assert 'hostsec_ports' in data, 'set_stats key hostsec_ports missing; artifact_data has %s' % sorted(data)
summary = data['hostsec_ports']
assert summary['hosts'] == 1 and summary['noncompliant'] == 1, summary
assert summary['noncompliant_hosts'] == ['target'], summary
assert summary['findings'] >= 1, summary
assert os.path.isfile(os.path.join(reports, 'fleet.json')), 'no fleet.json in the private data dir'
print('ansible-runner in %s: status successful, artifact hostsec_ports: %d host(s), %d finding(s), by severity %s'
      % (os.environ.get('EE', 'the EE'), summary['hosts'], summary['findings'], summary['by_severity']))
PY
