# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thin module: arguments in, gather() result out, typed errors as fail_json."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
MODULE = 'ansible_collections.hostsec.ports.plugins.modules.listening_ports_info'


def run_module(tmp_path, args):
    path = tmp_path / 'args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    proc = subprocess.run([sys.executable, '-m', MODULE, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, universal_newlines=True, timeout=60, check=False)
    assert 'Traceback' not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.returncode


def test_check_mode_lists_and_changes_nothing(tmp_path):
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(('::1', 0))
        port = sock.getsockname()[1]
        result, rc = run_module(tmp_path, {'protocols': ['udp'], 'families': ['ipv6'], '_ansible_check_mode': True})
        with_facts = run_module(tmp_path, {'protocols': ['udp'], 'facts': True})[0]
    assert rc == 0 and result['changed'] is False
    mine = [lst for lst in result['listeners'] if lst['port'] == port]
    # Compact: owners by pid, each process once in the table.
    assert mine and mine[0]['exposure'] == 'loopback' and mine[0]['pids'] == [os.getpid()]
    assert result['processes'][str(os.getpid())]['pid'] == os.getpid()
    assert {lst['protocol'] for lst in result['listeners']} == {'udp'}
    assert 'ansible_facts' not in result  # only with facts: true
    assert with_facts['ansible_facts']['tcp_listen'] == []
    assert any(r['port'] == port for r in with_facts['ansible_facts']['udp_listen'])
    assert 'warnings' not in result or isinstance(result['warnings'], list)


def test_include_loopback_false(tmp_path):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        result, rc = run_module(tmp_path, {'include_loopback': False, 'collector': 'procfs'})
    assert rc == 0 and result['collector'] == 'procfs'
    assert all(lst['exposure'] != 'loopback' for lst in result['listeners'])


def test_argument_choices_are_enforced(tmp_path):
    result, rc = run_module(tmp_path, {'families': ['ipv7']})
    assert rc == 1 and result['failed'] and 'ipv7' in result['msg']


def test_gather_error_becomes_fail_json(tmp_path):
    result, rc = run_module(tmp_path, {'protocols': []})
    assert rc == 1 and result['failed']
    assert result['msg'] == 'protocols: must not be empty (choose from tcp, udp)'
