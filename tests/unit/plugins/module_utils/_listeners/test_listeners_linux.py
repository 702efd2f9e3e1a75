# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import socket

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand, validate_listener


@pytest.mark.parametrize('kwargs, message', [
    ({'protocols': ['tcp', 'sctp']}, "protocols: unknown value 'sctp'"),
    ({'protocols': []}, 'protocols: must not be empty'),
    ({'families': ['ipv5']}, "families: unknown value 'ipv5'"),
    ({'collector': 'ss'}, "collector: unknown value 'ss'"),
    ({'include_loopback': 'maybe'}, "include_loopback: expected a boolean, got 'maybe'"),
    ({'namespaces': 'some'}, "namespaces: unknown value 'some' (choose from current, all)"),
    ({'facts': 'yes'}, "facts: expected a boolean, got 'yes'"),
])
def test_bad_options_name_field_and_value(kwargs, message):
    with pytest.raises(linux.GatherError) as info:
        linux.gather(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize('collector', ['auto', 'netlink', 'procfs'])
def test_result_contract(collector):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = linux.gather(collector=collector, facts=True)
    assert set(result) == {'listeners', 'processes', 'collector', 'attribution_complete', 'privileged', 'unattributed',
                           'netns', 'ephemeral_range', 'platform', 'warnings', 'ansible_facts'}
    for lst in result['listeners']:
        assert 'processes' not in lst and 'state' not in lst
        assert all(str(pid) in result['processes'] for pid in lst['pids'])
    assert result['collector'] == ('netlink' if collector == 'auto' else collector)
    assert result['platform'] == 'linux'
    assert result['netns'] == int(os.readlink('/proc/self/ns/net')[5:-1])
    assert result['privileged'] == (os.geteuid() == 0)
    assert result['ephemeral_range'][0] < result['ephemeral_range'][1]
    assert result['attribution_complete'] == (result['unattributed'] == 0)
    full = expand(result)
    for lst in full:
        validate_listener(lst)
    mine = [lst for lst in full if lst['port'] == port and lst['protocol'] == 'tcp']
    assert len(mine) == 1 and [p['pid'] for p in mine[0]['processes']] == [os.getpid()]
    rows = [r for r in result['ansible_facts']['tcp_listen'] if r['port'] == port]
    assert rows and rows[0]['pid'] == os.getpid()


def test_filters():
    with socket.socket() as sock, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        udp.bind(('127.0.0.1', 0))
        no_loop = linux.gather(include_loopback=False)
        tcp4 = linux.gather(protocols=['tcp'], families=['ipv4'])
    assert all(lst['exposure'] != 'loopback' for lst in no_loop['listeners'])
    assert {(lst['protocol'], lst['family']) for lst in tcp4['listeners']} == {('tcp', 'ipv4')}
    assert 'ansible_facts' not in tcp4  # only on request
    assert linux.gather(protocols=['tcp'], families=['ipv4'], facts=True)['ansible_facts']['udp_listen'] == []
