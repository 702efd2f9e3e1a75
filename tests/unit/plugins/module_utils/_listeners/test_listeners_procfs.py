# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import socket
import sys

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import procfs

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')

# The /proc hex form is host byte order; these recorded lines come from x86_64.
pytestmark = pytest.mark.skipif(sys.byteorder != 'little', reason='fixtures recorded on a little-endian host')


def table(name, family, protocol):
    with open(os.path.join(FIXTURES, name), 'rb') as handle:
        records = procfs.parse_table(handle.read(), family, protocol)
    af = socket.AF_INET if family == 'ipv4' else socket.AF_INET6
    return [(socket.inet_ntop(af, rec[1]), rec[2], rec[4], rec[5], rec[6]) for rec in records]


def test_tcp_listeners_only():
    # Row 3 is an ESTABLISHED ssh session: not a listener.
    assert table('proc_net_tcp', 'ipv4', 'tcp') == [
        ('0.0.0.0', 22, 0, 23456, None),
        ('127.0.0.1', 3306, 108, 24001, None),
        ('127.0.0.53', 53, 101, 19980, None),
        ('127.0.0.1', 65535, 1000, 0, None),
    ]


def test_tcp6_wildcard_loopback_mapped_and_link_local():
    assert table('proc_net_tcp6', 'ipv6', 'tcp') == [
        ('::', 22, 0, 23458, None),
        ('::1', 631, 0, 20011, None),
        ('::ffff:127.0.0.1', 65535, 0, 376130, None),
        ('fe80::1', 8080, 1000, 376140, None),  # /proc/net shows no scope
    ]


def test_udp_unconnected_is_listener_connected_is_not():
    assert table('proc_net_udp', 'ipv4', 'udp') == [
        ('127.0.0.53', 53, 101, 19979, None),
        ('0.0.0.0', 106, 0, 20500, None),
    ]
    assert table('proc_net_udp6', 'ipv6', 'udp') == [('::1', 5353, 0, 376131, None), ('::', 547, 0, 376135, None)]


@pytest.mark.parametrize('state', ['01', '02', '03', '04', '05', '06', '08', '09', '0A', '0B', '0C'])
def test_udp_states_other_than_unconnected_are_skipped(state):
    line = b'  1: 00000000:0035 00000000:0000 %s 00000000:00000000 00:00000000 00000000     0        0 77 2 0 0\n' % state.encode()
    assert procfs.parse_table(b'header\n' + line, 'ipv4', 'udp') == []


def test_tcp_only_listen_state():
    lines = b'header\n'
    for state in range(1, 13):
        lines += b'  1: 00000000:0035 00000000:0000 %02X 0:0 0:0 0 0 0 %d 1 0\n' % (state, state)
    assert [rec[5] for rec in procfs.parse_table(lines, 'ipv4', 'tcp')] == [10]


def test_hex_address_round_trip():
    assert socket.inet_ntop(socket.AF_INET, procfs.hex_address('0100007F')) == '127.0.0.1'
    assert socket.inet_ntop(socket.AF_INET6, procfs.hex_address(b'00000000000000000000000001000000')) == '::1'


def test_bad_line_names_the_line():
    with pytest.raises(procfs.ProcfsError, match='unexpected line'):
        procfs.parse_table(b'header\n  0: 0100ZZ7F:0016 00000000:0000 0A 0:0 0:0 0 0 0 1 1\n', 'ipv4', 'tcp')
    with pytest.raises(ValueError, match='local_address'):
        procfs.hex_address('0100')


def test_read_range_and_int(tmp_path):
    path = tmp_path / 'range'
    path.write_text('32768\t60999\n')
    assert procfs.read_range(str(path)) == [32768, 60999]
    assert procfs.read_range(str(tmp_path / 'missing')) is None
    (tmp_path / 'v6').write_text('1\n')
    assert procfs.read_int(str(tmp_path / 'v6')) == 1
    assert procfs.read_int(str(tmp_path / 'nope'), 0) == 0
