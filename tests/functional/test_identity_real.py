# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Process identity on real processes: an unprivileged python renamed to sshd must not pass as sshd.

The child runs as user nobody (setpriv), renames itself with prctl(PR_SET_NAME)
and listens on a wildcard TCP port. The real gatherer sees comm 'sshd' and exe
/usr/bin/python3.11; the policy engine must report identity_mismatch, high.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy

SYSTEM_PYTHON = '/usr/bin/python3'  # readable by nobody (the venv python lives under root's 0700 home)
SPOOF = r'''
import ctypes, json, socket, sys
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(b"sshd"), 0, 0, 0)  # PR_SET_NAME: comm becomes "sshd"
s = socket.socket()
s.bind(("0.0.0.0", 0))
s.listen()
print(json.dumps({"port": s.getsockname()[1]}), flush=True)
sys.stdin.read()
'''

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('setpriv') or not os.path.exists(SYSTEM_PYTHON),
                                reason='needs root, setpriv and /usr/bin/python3 to run a child as nobody')


@pytest.fixture
def impostor():
    proc = subprocess.Popen(['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', SYSTEM_PYTHON, '-c', SPOOF],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd='/')
    try:
        yield proc.pid, json.loads(proc.stdout.readline())['port']
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def ours(port):
    listeners = [lst for lst in expand(linux.gather()) if lst['port'] == port and lst['protocol'] == 'tcp']
    assert len(listeners) == 1, listeners
    return listeners


def test_spoofed_sshd_is_an_identity_mismatch(impostor):
    pid, port = impostor
    listeners = ours(port)
    proc = listeners[0]['processes'][0]
    assert (proc['pid'], proc['name'], proc['user']) == (pid, 'sshd', 'nobody')
    assert os.path.basename(proc['exe']).startswith('python3')
    policy = build_policy(policy={'allow': [{'process': 'sshd', 'reason': 'what docs used to recommend'}]}, kb=get_kb())
    result = evaluate(policy, listeners, kb=get_kb())
    [finding] = result['findings']
    assert finding['kind'] == 'identity_mismatch'
    assert finding['severity'] in ('high', 'critical')
    assert 'process name sshd does not match its executable %s' % proc['exe'] in finding['severity_reasons']
    assert 'python3' in finding['explanation'] and 'nobody' in finding['explanation']
    assert result['verdicts'][0] == {'finding_ids': [finding['id']]}


def test_pinned_identity_rules(impostor):
    _pid, port = impostor
    listeners = ours(port)
    exe = listeners[0]['processes'][0]['exe']
    kb = get_kb()
    # Pinned to the real sshd: the impostor is a wrong owner on that port, never allowed.
    pinned = build_policy(policy={'allow': [{'port': port, 'proto': 'tcp', 'process': 'sshd', 'exe': '/usr/sbin/sshd'}]},
                          kb=kb)
    assert [f['kind'] for f in evaluate(pinned, listeners, kb=kb)['findings']] == ['wrong_owner']
    # Pinned to what it really is (trusted facts only): allowed, and the verdict says by which rule.
    honest = build_policy(policy={'allow': [{'port': port, 'exe': exe, 'user': 'nobody'}]}, kb=kb)
    result = evaluate(honest, listeners, kb=kb)
    assert result['findings'] == [] and result['verdicts'][0] == {'allowed_by': 'allow#0'}
    # A deny rule takes the claimed name at its word: claiming to be sshd is enough to be denied.
    deny = build_policy(policy={'allow': [{'exposure': 'any'}], 'deny': [{'process': 'sshd'}]}, kb=kb)
    assert [f['kind'] for f in evaluate(deny, listeners, kb=kb)['findings']] == ['denied']


def _cgroup_mount(fstype, option=None):
    with open('/proc/self/mountinfo') as handle:
        for line in handle:
            fields = line.split()
            tail = fields[fields.index('-') + 1:]
            if tail[0] == fstype and (option is None or option in tail[2].split(',')):
                return fields[4]
    return None


@pytest.mark.parametrize('fstype, option', [('cgroup2', None), ('cgroup', 'name=systemd')])
def test_a_cgroup_name_that_plants_a_line_claims_no_unit(impostor, fstype, option):
    # The kernel lets a cgroup's name hold \r; /proc/PID/cgroup then reads '0::/.../x\r0::nginx.service', which
    # str.splitlines() would read as a line of its own naming nginx.service. A user with a delegated subtree
    # (every systemd login) can make such a cgroup; root makes it here, for the nobody child.
    mount = _cgroup_mount(fstype, option)
    if mount is None:
        pytest.skip('no %s hierarchy%s is mounted here' % (fstype, ' with ' + option if option else ''))
    pid, port = impostor
    parent = os.path.join(mount, 'hostsec-t-%d' % os.getpid())
    planted = os.path.join(parent, 'x\r0::nginx.service')
    os.makedirs(planted)
    try:
        with open(os.path.join(planted, 'cgroup.procs'), 'w') as procs:
            procs.write(str(pid))
        with open('/proc/%d/cgroup' % pid, 'rb') as handle:  # bytes: text mode would turn the \r into \n
            assert b'\r0::nginx.service' in handle.read()
        (lst,) = ours(port)
        assert lst['processes'][0]['unit'] != 'nginx.service'
        assert 'nginx.service' not in lst['services'] and 'nginx.service' not in lst['processes'][0]['services']
        findings = evaluate(build_policy(policy={'allow': [{'port': port, 'unit': 'nginx.service'}]}), [lst])['findings']
        assert [f['kind'] for f in findings] == ['wrong_owner']
    finally:
        with open(os.path.join(mount, 'cgroup.procs'), 'w') as procs:  # back to the root cgroup, then remove
            procs.write(str(pid))
        os.rmdir(planted)
        os.rmdir(parent)
