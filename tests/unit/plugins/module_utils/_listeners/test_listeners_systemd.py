# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import systemd

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_parse_with_types():
    units = systemd.parse_list_sockets(fixture('systemctl_list_sockets_types.txt'))
    assert units == {
        ('tcp', '::', 7777): ['hostsec-echo.socket'],
        ('udp', '0.0.0.0', 5000): ['hostsec-syslog.socket'],
        ('tcp', '127.0.0.1', 5000): ['hostsec-api.socket'],
        ('tcp', 'fe80::1', 8080): ['hostsec-ll.socket'],
    }


def test_parse_without_types():
    units = systemd.parse_list_sockets(fixture('systemctl_list_sockets_plain.txt'))
    assert units == {(None, '::', 7777): ['hostsec-echo.socket'], (None, '0.0.0.0', 22): ['ssh.socket']}


def test_lookup_protocol_and_wildcards():
    units = systemd.parse_list_sockets(fixture('systemctl_list_sockets_types.txt'))
    assert systemd.lookup(units, 'tcp', '::', 7777) == ['hostsec-echo.socket']
    assert systemd.lookup(units, 'udp', '::', 7777) == []
    # Same port, other protocol: the datagram unit does not own the stream socket.
    assert systemd.lookup(units, 'tcp', '127.0.0.1', 5000) == ['hostsec-api.socket']
    assert systemd.lookup(units, 'udp', '0.0.0.0', 5000) == ['hostsec-syslog.socket']
    # systemd shows a dual-stack bind as [::]; an IPv4 wildcard of the same unit still matches.
    assert systemd.lookup(units, 'tcp', '0.0.0.0', 7777) == ['hostsec-echo.socket']
    plain = systemd.parse_list_sockets(fixture('systemctl_list_sockets_plain.txt'))
    assert systemd.lookup(plain, 'tcp', '0.0.0.0', 22) == ['ssh.socket']


def test_split_listen():
    assert systemd.split_listen('[::1]:53') == ('::1', 53)
    assert systemd.split_listen('/run/foo.sock') is None
    assert systemd.split_listen('@abstract') is None
    assert systemd.split_listen('route') is None
    assert systemd.split_listen('[fe80::1%eth0]:80') == ('fe80::1', 80)


def test_runner_failure_is_reported_not_raised():
    units, error = systemd.list_sockets(runner=lambda argv: (1, '', 'Failed to connect to bus'))
    if systemd.find_systemctl() is None:
        assert (units, error) == ({}, None)
    else:
        assert units == {} and 'Failed to connect to bus' in error


def test_runner_gets_one_call_with_types():
    calls = []

    def runner(argv):
        calls.append(argv)
        return 0, fixture('systemctl_list_sockets_types.txt'), ''
    units, error = systemd.list_sockets(runner=runner)
    if systemd.find_systemctl() is not None:
        assert error is None and len(calls) == 1 and '--show-types' in calls[0]
        # Only active units: an inactive or failed unit listing the same address must not be named.
        assert '--state=active' in calls[0] and '--all' not in calls[0]
        assert ('tcp', '::', 7777) in units


def test_active_listing_names_the_active_unit():
    # Recorded on Debian 12 (systemd 252): a-inact.socket (inactive) and b-act.socket (active)
    # both list 127.0.0.1:7001. With --all both appear (in an order that is no ranking);
    # with --state=active only the one holding the socket does.
    every = systemd.parse_list_sockets(fixture('systemctl_list_sockets_all_inactive.txt'))
    assert sorted(systemd.lookup(every, 'tcp', '127.0.0.1', 7001)) == ['a-inact.socket', 'b-act.socket']
    active = systemd.parse_list_sockets(fixture('systemctl_list_sockets_active.txt'))
    assert systemd.lookup(active, 'tcp', '127.0.0.1', 7001) == ['b-act.socket']
