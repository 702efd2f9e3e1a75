# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Baseline round trip on this machine: the shipped playbook proposes a policy, the audit applies it.

A python child holds real listeners; playbooks/baseline.yml writes host_vars
into a fresh inventory directory; an audit with that inventory then reports no
`unexpected` finding for anything the baseline saw (review items excepted),
and exactly one finding for a listener started afterwards. Listeners of other
tests running at the same time come and go, so assertions look at ours and
at listeners present in both runs.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand
from ansible_collections.hostsec.ports.plugins.plugin_utils._baseline import propose, write
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
CHILD = r'''
import json, socket, sys
# Ports the KB flags (malware, unauthorized use...) go to the baseline's review section on purpose:
# the kernel's pick is random, so keep re-binding until it lands on an unflagged port.
flagged = set(json.loads(sys.argv[1]))
socks, ports = [], {}
for name, kind, addr in (('loop', socket.SOCK_STREAM, '127.0.0.1'), ('wild', socket.SOCK_STREAM, '0.0.0.0'),
                         ('udp', socket.SOCK_DGRAM, '0.0.0.0')):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((addr, 0))
    while s.getsockname()[1] in flagged:
        s.close()
        s = socket.socket(socket.AF_INET, kind)
        s.bind((addr, 0))
    if kind == socket.SOCK_STREAM:
        s.listen()
    socks.append(s)
    ports[name] = s.getsockname()[1]
print(json.dumps(ports), flush=True)
sys.stdin.read()
'''
AUDIT = '''\
- hosts: all
  gather_facts: false
  tasks:
    - name: audit with the generated inventory policy
      hostsec.ports.port_audit:
      register: audit
'''


class Child:
    def __init__(self):
        kb = get_kb()
        flagged = sorted(port for port in range(1024, 65536)
                         if kb.security_flags(port, 'tcp') or kb.security_flags(port, 'udp'))
        self.proc = subprocess.Popen([sys.executable, '-c', CHILD, json.dumps(flagged)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.ports = json.loads(self.proc.stdout.readline())

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def child():
    kid = Child()
    yield kid
    kid.stop()


def playbook(cwd, inventory, play, *extra):
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH='%s:%s' % (ROOT / '.build' / 'collections',
                                            ROOT / '.venv' / 'lib' / 'python3.11' / 'site-packages'),
        ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0',
    )
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inventory), play] + list(extra),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    data = json.loads(proc.stdout[proc.stdout.index('{'):]) if '{' in proc.stdout else None
    return proc, data


def task_result(data, name):
    for task in data['plays'][0]['tasks']:
        if task['task']['name'] == name:
            return task['hosts']['localhost']
    raise AssertionError('no task %r' % name)


def key(lst):
    return (lst['protocol'], lst['address'], lst['port'])


def test_baseline_round_trip(tmp_path, child):
    inv = tmp_path / 'inventory'
    inv.mkdir()
    (inv / 'hosts.ini').write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    proc, data = playbook(tmp_path, inv / 'hosts.ini', 'hostsec.ports.baseline',
                          '-e', 'port_baseline_dest=%s' % inv)
    first = task_result(data, 'Audit the listeners (an allow-all task policy; inventory policy variables are not read)')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # port_audit's listeners are compact (owners by pid in its processes table): the schema reads them.
    seen = {key(lst) for lst in expand(first)}
    written = task_result(data, 'Write the proposed group_vars and host_vars')
    assert written['changed'] is True and list(written['files']) == ['host_vars/localhost.yml']
    text = (inv / 'host_vars' / 'localhost.yml').read_text()
    policy = yaml.safe_load(text)['port_policy_allow__host_localhost']
    ours = {r['port']: r for r in policy if r.get('port') in (child.ports['loop'], child.ports['wild'])}
    exe = os.path.realpath(sys.executable)
    for port, exposure in ((child.ports['loop'], {'exposure': 'loopback'}), (child.ports['wild'], {})):
        rule = dict(ours[port])
        who = {k: rule.pop(k) for k in ('unit', 'user') if k in rule}
        assert rule == dict({'port': port, 'proto': 'tcp', 'exe': exe}, **exposure)
        assert who.get('user') == 'root' or who.get('unit', '').endswith('.service')  # pytest may run in a unit
    assert all('process' not in r for r in policy), 'a claimed name must never be the identity'
    assert '# Proposed by hostsec.ports.port_baseline' in text and 'On 1 of 1 hosts (localhost).' in text
    assert 'port: %d,' % child.ports['udp'] not in text  # an ephemeral-range UDP socket is a client socket
    review = {(r['protocol'], r['port']) for r in written['review']}

    # Never over an existing file without force: nothing is written, the message names the file.
    proc, data = playbook(tmp_path, inv / 'hosts.ini', 'hostsec.ports.baseline',
                          '-e', 'port_baseline_dest=%s' % inv)
    again = task_result(data, 'Write the proposed group_vars and host_vars')
    # Unchanged listeners give the same text, which is no change; a changed set must be refused.
    assert again.get('failed') or again['changed'] is False, again
    if again.get('failed'):
        assert 'force is false' in again['msg'] and 'host_vars/localhost.yml' in again['msg']

    # Apply it, with one listener that the baseline has never seen.
    newcomer = Child()
    try:
        (tmp_path / 'audit.yml').write_text(AUDIT)
        proc, data = playbook(tmp_path, inv / 'hosts.ini', 'audit.yml')
        assert proc.returncode == 0, proc.stdout + proc.stderr
        audit = task_result(data, 'audit with the generated inventory policy')
    finally:
        newcomer.stop()
    unexpected = [f for f in audit['findings'] if f['kind'] == 'unexpected']
    stale = [f for f in unexpected if key(f['listener']) in seen
             and (f['listener']['protocol'], f['listener']['port']) not in review]
    assert stale == [], 'the baseline allowed what it saw, yet: %s' % [f['explanation'] for f in stale]
    mine = sorted((f['kind'], f['listener']['port']) for f in audit['findings']
                  if f['listener'] and f['listener']['port'] in newcomer.ports.values())
    expected = [('unexpected', newcomer.ports['wild'])]
    if not audit['effective_policy']['settings']['allow_loopback']:
        expected.append(('unexpected', newcomer.ports['loop']))
    assert mine == sorted(expected)
    assert not [f for f in audit['findings'] if f['listener'] and f['listener']['port'] in
                (child.ports['loop'], child.ports['wild'])]


def test_baseline_direct_round_trip(tmp_path, child):
    """The generator and the engine alone, on the real gatherer: propose, write, read back, judge."""
    kb = get_kb()
    gathered = linux.gather()
    before = expand(gathered)
    proposal = propose.propose({'this': {'listeners': before, 'ephemeral_range': gathered.get('ephemeral_range')}},
                               {'all': ['this']}, kb=kb)
    write.apply_writes(write.plan_writes(str(tmp_path), proposal['files']))
    with pytest.raises(write.BaselineWriteError, match='force is false'):
        write.plan_writes(str(tmp_path), {'host_vars/this.yml': '--- {}\n'})
    policy_vars = yaml.safe_load((tmp_path / 'host_vars' / 'this.yml').read_text())
    review = {(r['protocol'], r['port']) for r in proposal['review']}
    newcomer = Child()
    try:
        after = expand(linux.gather())
    finally:
        newcomer.stop()
    result = evaluate(build_policy(policy_vars, kb=kb), after, kb=kb, ephemeral_range=gathered.get('ephemeral_range'))
    seen = {key(lst) for lst in before}
    stale = [f for f in result['findings'] if f['kind'] == 'unexpected' and key(f['listener']) in seen
             and (f['listener']['protocol'], f['listener']['port']) not in review]
    assert stale == [], [f['explanation'] for f in stale]
    mine = {f['listener']['port']: f['kind'] for f in result['findings']
            if f['listener'] and f['listener']['port'] in newcomer.ports.values()}
    assert mine == {newcomer.ports['wild']: 'unexpected'}  # loopback is allowed by default, UDP is ephemeral
    assert not [f for f in result['findings'] if f['listener'] and f['listener']['port'] in
                (child.ports['loop'], child.ports['wild'])]
