# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The iptables backend under core.run() against real iptables and ip6tables, in a network namespace.

Each step runs core.run() in a child Python inside ``ip netns exec`` (so the
kernel ruleset is the namespace's own) with boot files under a temporary
directory and systemd left out. A user chain and an ACCEPT rule in INPUT stand
for the user's own rules, which must come out byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

IPT = shutil.which('iptables')
IP = shutil.which('ip')
ROOT = os.geteuid() == 0
pytestmark = pytest.mark.skipif(not (IPT and IP and ROOT), reason='needs root, iptables and ip')

COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '.build', 'collections')
CHILD = '''
import json, shutil, subprocess, sys
from ansible_collections.hostsec.ports.plugins.module_utils._firewall import core, iptables
args = json.loads(sys.argv[1])
def run(argv, data):
    p = subprocess.run(argv, input=data, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr
host = core.Host(run, shutil.which, booted=False)
backend = iptables.Backend(host, state_dir=args['dir'], unit_dir=args['dir'])
try:
    print(json.dumps(core.run(backend, args['ports'], args.get('protected'), args.get('state', 'present'), args.get('check', False))))
except core.FirewallError as exc:
    print(json.dumps({'failed': True, 'msg': str(exc)}))
'''


def sh(ns, *args, check=True, data=None):
    return subprocess.run([IP, 'netns', 'exec', ns] + list(args), input=data, capture_output=True, text=True, check=check)


@pytest.fixture(scope='module')
def ns():
    name = 'h5a-ipt-%s' % uuid.uuid4().hex[:8]
    subprocess.run([IP, 'netns', 'add', name], check=True)
    try:
        for cmd in ('iptables', 'ip6tables'):
            sh(name, cmd, '-N', 'USER_RULES')
            sh(name, cmd, '-A', 'USER_RULES', '-p', 'tcp', '--dport', '9999', '-j', 'DROP')
            sh(name, cmd, '-A', 'INPUT', '-j', 'USER_RULES')
            sh(name, cmd, '-A', 'INPUT', '-p', 'tcp', '--dport', '8081', '-j', 'ACCEPT')
        yield name
    finally:
        subprocess.run([IP, 'netns', 'del', name], check=False)


def converge(ns, tmp_path, ports, **kw):
    args = dict(kw, ports=ports, dir=str(tmp_path))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    out = subprocess.run([IP, 'netns', 'exec', ns, sys.executable, '-c', CHILD, json.dumps(args)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def user_rules(ns):
    return [line for cmd in ('iptables', 'ip6tables') for line in sh(ns, cmd, '-S').stdout.splitlines()
            if 'HOSTSEC_PORTS' not in line]


def test_block_check_idempotence_drift_and_removal(ns, tmp_path):
    before = user_rules(ns)
    res = converge(ns, tmp_path, [{'port': 8081}], check=True)
    assert res['changed'] and sh(ns, 'iptables', '-S', 'HOSTSEC_PORTS', check=False).returncode != 0
    assert not os.path.exists(tmp_path / 'iptables.rules')

    res = converge(ns, tmp_path, [{'port': 8081}, {'port': 5353, 'protocol': 'udp'}])
    assert res['changed'] and res['rules_changed'] and res['persist_changed']
    for cmd in ('iptables', 'ip6tables'):
        assert sh(ns, cmd, '-S', 'INPUT').stdout.splitlines()[1] == '-A INPUT ! -i lo -j HOSTSEC_PORTS'
    assert '-A HOSTSEC_PORTS -p udp -m udp --dport 5353 -m conntrack --ctstate NEW -j REJECT --reject-with icmp6-port-unreachable' \
        in sh(ns, 'ip6tables', '-S', 'HOSTSEC_PORTS').stdout
    assert user_rules(ns) == before

    assert not converge(ns, tmp_path, [{'port': 5353, 'protocol': 'udp'}, {'port': 8081}])['changed']

    # Boot-file drift is repaired although the live rules are right.
    (tmp_path / 'ip6tables.rules').write_text('# edited\n')
    res = converge(ns, tmp_path, [{'port': 5353, 'protocol': 'udp'}, {'port': 8081}])
    assert res['operations'] == ['write %s' % (tmp_path / 'ip6tables.rules')]
    # The boot file loads the chain back by itself.
    sh(ns, 'iptables', '-F', 'HOSTSEC_PORTS')
    sh(ns, 'iptables-restore', '--noflush', str(tmp_path / 'iptables.rules'))
    assert len(sh(ns, 'iptables', '-S', 'HOSTSEC_PORTS').stdout.splitlines()) == 3

    # The rollback script puts a removed chain back.
    res = converge(ns, tmp_path, [], state='absent')
    assert res['removed'] and sh(ns, 'iptables', '-S', 'HOSTSEC_PORTS', check=False).returncode != 0
    assert not os.path.exists(tmp_path / 'iptables.rules') and user_rules(ns) == before
    sh(ns, '/bin/sh', '-c', 'rc=0\n' + res['restore_script'] + 'exit $rc')
    assert len(sh(ns, 'ip6tables', '-S', 'HOSTSEC_PORTS').stdout.splitlines()) == 3
    assert os.path.exists(tmp_path / 'iptables.rules')
    assert not converge(ns, tmp_path, [{'port': 5353, 'protocol': 'udp'}, {'port': 8081}])['changed']
    converge(ns, tmp_path, [], state='absent')
    assert user_rules(ns) == before


def test_protected_port_fails_before_any_change(ns, tmp_path):
    res = converge(ns, tmp_path, [{'port': 22}], protected=[{'port': 22, 'protocol': 'tcp', 'reason': 'SSH_CONNECTION'}])
    assert res['failed'] and '22/tcp' in res['msg'] and 'SSH_CONNECTION' in res['msg']
    assert sh(ns, 'iptables', '-S', 'HOSTSEC_PORTS', check=False).returncode != 0
