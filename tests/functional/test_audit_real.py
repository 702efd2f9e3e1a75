# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""port_audit against real sockets on this machine, through ansible-playbook and the real gatherer and KB.

A python child opens real listeners (loopback and wildcard TCP, wildcard UDP)
on free ports the kernel picks; the audit must find exactly the problems the
policy describes on those ports. Other listeners on the machine are ignored
by the assertions, since other tests may run at the same time.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent

CHILD = r'''
import json, socket, sys
socks, ports = [], {}
for name, kind, addr in (('loop', socket.SOCK_STREAM, '127.0.0.1'), ('wild', socket.SOCK_STREAM, '0.0.0.0'),
                         ('udp', socket.SOCK_DGRAM, '0.0.0.0'), ('deny', socket.SOCK_STREAM, '0.0.0.0'),
                         ('owner', socket.SOCK_STREAM, '127.0.0.1')):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((addr, 0))
    if kind == socket.SOCK_STREAM:
        s.listen()
    socks.append(s)
    ports[name] = s.getsockname()[1]
print(json.dumps(ports), flush=True)
sys.stdin.read()
'''


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, '-c', CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ports = json.loads(proc.stdout.readline())
        yield proc.pid, ports
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_audit_real_listeners(tmp_path, child):
    pid, ports = child
    missing = free_port()
    policy = {
        'allow': [
            {'port': ports['loop'], 'proto': 'tcp', 'exposure': 'loopback', 'process': '~^python',
             'exe': '~python', 'reason': 'test child on loopback'},
            {'port': ports['wild'], 'proto': 'tcp', 'exposure': 'loopback'},
            {'port': ports['owner'], 'proto': 'tcp', 'process': 'nginx'},
        ],
        'deny': [{'port': ports['deny'], 'proto': 'tcp', 'reason': 'test deny'}],
        'require': ['%d/tcp' % missing],
        'settings': {'allow_loopback': False, 'ephemeral': 'report'},
    }
    play = textwrap.dedent('''\
        - hosts: localhost
          gather_facts: false
          vars:
            ansible_python_interpreter: "{{ ansible_playbook_python }}"
          tasks:
            - name: audit
              hostsec.ports.port_audit:
                policy: %s
              register: audit
        ''') % json.dumps(policy)
    (tmp_path / 'play.yml').write_text(play)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH='%s:%s' % (ROOT / '.build' / 'collections',
                                            ROOT / '.venv' / 'lib' / 'python3.11' / 'site-packages'),
        ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0',
    )
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', 'play.yml'],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout[proc.stdout.index('{'):])
    audit = data['plays'][0]['tasks'][0]['hosts']['localhost']
    assert audit['changed'] is False and not audit.get('failed'), audit

    ours = set(ports.values())
    seen = {(lst['protocol'], lst['port']) for lst in audit['listeners'] if lst['port'] in ours}
    assert seen == {('tcp', ports['loop']), ('tcp', ports['wild']), ('udp', ports['udp']),
                    ('tcp', ports['deny']), ('tcp', ports['owner'])}
    for lst in audit['listeners']:  # compact, as the gatherer returns them: owners by pid in the processes table
        if lst['port'] in ours:
            assert lst['pids'] == [pid] and 'processes' not in lst
            assert audit['processes'][str(pid)]['pid'] == pid

    found = {}
    for f in audit['findings']:
        if f['kind'] == 'missing':
            found[('missing', f['rule']['text'])] = f
        elif f['listener']['port'] in ours:
            found[(f['listener']['protocol'], f['listener']['port'])] = f
    assert {k: f['kind'] for k, f in found.items()} == {
        ('tcp', ports['wild']): 'wrong_exposure',
        ('udp', ports['udp']): 'unexpected',
        ('tcp', ports['deny']): 'denied',
        ('tcp', ports['owner']): 'wrong_owner',
        ('missing', '%d/tcp' % missing): 'missing',
    }
    wrong = found[('tcp', ports['wild'])]
    assert wrong['rule']['index'] == 1 and wrong['rule']['origin'] == 'task'
    assert 'allows it only on loopback, but it listens on 0.0.0.0 (wildcard)' in wrong['explanation']
    assert wrong['remediation']['action'] == 'block'
    udp = found[('udp', ports['udp'])]
    assert 'port is in the ephemeral range' in ' '.join(udp['severity_reasons'])
    assert 'No allow rule matches 0.0.0.0:%d/udp' % ports['udp'] in udp['explanation']
    assert found[('tcp', ports['deny'])]['severity'] in ('high', 'critical')
    assert 'owned by python' in found[('tcp', ports['owner'])]['explanation']
    summary = audit['summary']
    assert summary['collector'] in ('netlink', 'procfs') and summary['platform'] == 'linux'
    assert summary['by_kind']['missing'] == 1 and summary['passed'] is False
