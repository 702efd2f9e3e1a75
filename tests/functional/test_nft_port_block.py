# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nft_port_block against real nftables, in a network namespace made per test module.

Each run calls the real module through ``ansible`` inside ``ip netns exec``,
so the kernel ruleset, the persistence files and real TCP connects are what
the assertions look at. A second, routable address on ``lo`` (10.250.0.1)
stands for the host's own address: a connect to it from inside the namespace
passes the input hook with that destination, like a remote client's would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

NFT = shutil.which('nft')
IP = shutil.which('ip')
ROOT = os.geteuid() == 0
pytestmark = pytest.mark.skipif(not (NFT and IP and ROOT), reason='needs root, nft and ip')

BIN = os.path.dirname(sys.executable)
# The working tree, not an installed copy in ~/.ansible that may be stale.
COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '.build', 'collections')
ADDR = '10.250.0.1'
USER_TABLE = '''table inet user_table {
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\ttcp dport 9999 drop
\t}
}
'''


def sh(ns, *args, check=True, data=None, env=None):
    return subprocess.run([IP, 'netns', 'exec', ns] + list(args), input=data, capture_output=True,
                          text=True, check=check, env=env)


@pytest.fixture(scope='module')
def ns():
    name = 'h5a-nft-%s' % uuid.uuid4().hex[:8]
    subprocess.run([IP, 'netns', 'add', name], check=True)
    try:
        sh(name, IP, 'link', 'set', 'lo', 'up')
        sh(name, IP, 'addr', 'add', ADDR + '/32', 'dev', 'lo')
        sh(name, NFT, '-f', '-', data=USER_TABLE)
        yield name
    finally:
        subprocess.run([IP, 'netns', 'del', name], check=False)


@pytest.fixture(scope='module')
def paths(tmp_path_factory):
    base = tmp_path_factory.mktemp('nftpersist')
    return {'persist_path': str(base / 'etc' / 'nftables.nft'),
            'unit_path': str(base / 'systemd' / 'hostsec-ports-nftables.service')}


@pytest.fixture(scope='module')
def listeners(ns):
    """Real TCP listeners on 8081 and 8082 inside the namespace."""
    code = ('import socket,time\n'
            'ss=[]\n'
            'for p in (8081, 8082):\n'
            '    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
            '    s.bind(("0.0.0.0", p)); s.listen(16); ss.append(s)\n'
            'print("up", flush=True)\n'
            'time.sleep(600)\n')
    proc = subprocess.Popen([IP, 'netns', 'exec', ns, sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'up'
    yield
    proc.kill()
    proc.wait()


def module(ns, args, check=False, diff=False, expect_fail=False):
    cmd = [os.path.join(BIN, 'ansible'), 'all', '-i', 'localhost,', '-c', 'local',
           '-e', 'ansible_python_interpreter=%s' % sys.executable,
           '-m', 'hostsec.ports.nft_port_block', '-a', json.dumps(args)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(
        p for p in (COLLECTIONS, os.environ.get('ANSIBLE_COLLECTIONS_PATH')) if p))
    out = sh(ns, *cmd, check=False, data='', env=env)
    # The ad-hoc output is "localhost | CHANGED => {...}", after any diff.
    diff, body = out.stdout.split('localhost | ', 1)
    result = json.loads(body.split('=>', 1)[1])
    result['diff_text'] = diff
    result['failed'] = body.startswith('FAILED')
    assert bool(result.get('failed')) == expect_fail, result
    return result


def can_connect(ns, addr, port, local_port=0):
    code = ('import socket,sys\n'
            's=socket.socket(); s.settimeout(0.5)\n'
            's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
            's.bind((%r, %d))\n'
            'sys.exit(0 if s.connect_ex((%r, %d)) == 0 else 1)\n' % (addr, local_port, addr, port))
    return sh(ns, sys.executable, '-c', code, check=False).returncode == 0


def udp_round_trip(ns, addr, port, local_port):
    """Send from local_port to an echo server on port; True when the reply arrives."""
    code = ('import socket,sys,threading\n'
            'srv=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind((%r, %d))\n'
            'def echo():\n'
            '    data, peer = srv.recvfrom(64); srv.sendto(data, peer)\n'
            'threading.Thread(target=echo, daemon=True).start()\n'
            'c=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(0.5); c.bind((%r, %d))\n'
            'c.sendto(b"ping", (%r, %d))\n'
            'try:\n'
            '    sys.exit(0 if c.recv(64) == b"ping" else 1)\n'
            'except socket.timeout:\n'
            '    sys.exit(1)\n' % (addr, port, addr, local_port, addr, port))
    return sh(ns, sys.executable, '-c', code, check=False).returncode == 0


def owned(ns):
    res = sh(ns, NFT, '-s', 'list', 'table', 'inet', 'hostsec_ports', check=False)
    return res.stdout if res.returncode == 0 else None


def user_table(ns):
    return sh(ns, NFT, 'list', 'table', 'inet', 'user_table').stdout


def test_block_drops_routable_and_keeps_loopback(ns, paths, listeners):
    assert can_connect(ns, ADDR, 8081) and can_connect(ns, ADDR, 8082)
    res = module(ns, dict(paths, ports=[{'port': 8081}, {'port': 5353, 'protocol': 'udp'}]))
    assert res['changed'] and res['rules_changed'] and res['persist_changed']
    assert res['added'] == [{'port': 5353, 'protocol': 'udp'}, {'port': 8081, 'protocol': 'tcp'}]
    table = owned(ns)
    assert 'elements = { 8081 }' in table and 'elements = { 5353 }' in table
    assert not can_connect(ns, ADDR, 8081)
    assert can_connect(ns, ADDR, 8082)
    assert can_connect(ns, '127.0.0.1', 8081)  # loopback clients keep working
    assert user_table(ns) == USER_TABLE


def test_second_run_changes_nothing(ns, paths, listeners):
    res = module(ns, dict(paths, ports=[{'port': 5353, 'protocol': 'udp'}, {'port': 8081}]))
    assert not res['changed'], res


def test_check_mode_and_diff_change_nothing(ns, paths, listeners):
    before = owned(ns)
    res = module(ns, dict(paths, ports=[{'port': 8082}]), check=True, diff=True)
    assert res['changed'] and res['added'] == [{'port': 8082, 'protocol': 'tcp'}]
    assert {'port': 8081, 'protocol': 'tcp'} in res['removed']
    assert '-\t\telements = { 8081 }' in res['diff_text'] and '+\t\telements = { 8082 }' in res['diff_text']
    assert owned(ns) == before
    assert not can_connect(ns, ADDR, 8081)


def test_persistence_file_recreates_the_table(ns, paths):
    with open(paths['persist_path']) as handle:
        script = handle.read()
    with open(paths['unit_path']) as handle:
        unit = handle.read()
    assert 'ExecStart=%s -f %s' % (NFT, paths['persist_path']) in unit
    fresh = 'h5a-nft-fresh-%s' % uuid.uuid4().hex[:6]
    subprocess.run([IP, 'netns', 'add', fresh], check=True)
    try:
        sh(fresh, NFT, '-f', paths['persist_path'])
        assert owned(fresh) == owned(ns)
        sh(fresh, NFT, '-f', paths['persist_path'])  # loading twice is fine (boot + restart)
        assert owned(fresh) == owned(ns)
    finally:
        subprocess.run([IP, 'netns', 'del', fresh], check=False)
    assert script.startswith('#!/usr/sbin/nft -f')


def test_tampered_table_is_rewritten(ns, paths, listeners):
    sh(ns, NFT, 'add', 'rule', 'inet', 'hostsec_ports', 'input', 'tcp', 'dport', '8082', 'drop')
    assert not can_connect(ns, ADDR, 8082)
    res = module(ns, dict(paths, ports=[{'port': 8081}, {'port': 5353, 'protocol': 'udp'}]), diff=True)
    assert res['rules_changed'] and not res['persist_changed']
    assert '-\t\ttcp dport 8082 drop' in res['diff_text']
    assert can_connect(ns, ADDR, 8082) and not can_connect(ns, ADDR, 8081)


def test_removed_port_loses_its_rule(ns, paths, listeners):
    res = module(ns, dict(paths, ports=[{'port': 8082}]))
    assert res['removed'] == [{'port': 5353, 'protocol': 'udp'}, {'port': 8081, 'protocol': 'tcp'}]
    assert can_connect(ns, ADDR, 8081) and not can_connect(ns, ADDR, 8082)
    with open(paths['persist_path']) as handle:
        assert 'elements = { 8082 }' in handle.read()
    assert user_table(ns) == USER_TABLE


def test_replies_to_own_outgoing_traffic_pass(ns, paths, listeners):
    # The host's own connections whose local port is blocked (ntpd from 123,
    # an ephemeral TCP port) still get their replies: only new flows drop.
    res = module(ns, dict(paths, ports=[{'port': 8081}, {'port': 40123}, {'port': 40124, 'protocol': 'udp'}]))
    assert res['rules_changed']
    assert 'ct state new tcp dport @tcp_ports counter drop' in owned(ns)
    assert can_connect(ns, ADDR, 8082, local_port=40123)
    assert udp_round_trip(ns, ADDR, 40125, local_port=40124)
    assert not can_connect(ns, ADDR, 8081)
    assert not udp_round_trip(ns, ADDR, 40124, local_port=40126)


def test_old_shape_table_is_rewritten(ns, paths, listeners):
    # A table written before the drops carried ct state new cut those replies.
    old = owned(ns).replace('ct state new ', '')
    sh(ns, NFT, '-f', '-', data='table inet hostsec_ports\ndelete table inet hostsec_ports\n' + old)
    assert not can_connect(ns, ADDR, 8082, local_port=40123)
    res = module(ns, dict(paths, ports=[{'port': 8081}, {'port': 40123}, {'port': 40124, 'protocol': 'udp'}]))
    assert res['rules_changed'] and res['added'] == [] and res['removed'] == []
    assert can_connect(ns, ADDR, 8082, local_port=40123)
    assert not module(ns, dict(paths, ports=[{'port': 8081}, {'port': 40123}, {'port': 40124, 'protocol': 'udp'}]))['changed']


def test_absent_removes_table_and_persistence(ns, paths, listeners):
    res = module(ns, dict(paths, state='absent'))
    assert res['changed'] and owned(ns) is None
    assert not os.path.exists(paths['persist_path']) and not os.path.exists(paths['unit_path'])
    assert can_connect(ns, ADDR, 8082)
    assert not module(ns, dict(paths, state='absent'))['changed']
    assert user_table(ns) == USER_TABLE


def test_bad_port_is_a_clear_error(ns, paths):
    res = module(ns, dict(paths, ports=[{'port': 70000}]), expect_fail=True)
    assert 'ports[0].port' in res['msg'] and '70000' in res['msg']
    assert 'Traceback' not in json.dumps(res)
    res = module(ns, dict(paths, ports=[{'port': 22, 'protocol': 'icmp'}]), expect_fail=True)
    assert 'protocol' in res['msg'] and 'icmp' in res['msg']
