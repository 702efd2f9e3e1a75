# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""port_info through Ansible's own plugin loader, on the shipped knowledge base."""

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader


@pytest.fixture(scope='module')
def lookup():
    plugin = lookup_loader.get('hostsec.ports.port_info')
    assert plugin is not None
    return plugin


def test_port_with_protocol(lookup):
    [rec] = lookup.run(['3011/tcp'], variables={})
    assert rec['port'] == 3011 and rec['protocol'] == 'tcp' and rec['iana_status'] == 'assigned'
    assert [e['service'] for e in rec['iana']] == ['trusted-web']
    json.dumps(rec)  # plain data, safe to template and to register


def test_bare_port_gives_tcp_and_udp_and_iana_extras(lookup):
    assert [(r['port'], r['protocol']) for r in lookup.run([3011], variables={})] == [(3011, 'tcp'), (3011, 'udp')]
    assert [r['protocol'] for r in lookup.run(['22'], variables={})] == ['sctp', 'tcp', 'udp']


def test_service_and_profile_names(lookup):
    assert {(r['port'], r['protocol']) for r in lookup.run(['https'], variables={})} == \
        {(443, 'tcp'), (443, 'udp'), (443, 'sctp')}
    recs = lookup.run(['citrix-gslb'], variables={})
    assert {(r['port'], r['protocol']) for r in recs} >= {(3009, 'tcp'), (3011, 'tcp')}
    assert all('citrix-gslb' in r['profiles'] for r in recs)


def test_ephemeral_range_option(lookup):
    [rec] = lookup.run(['50000/udp'], variables={}, ephemeral_range=[32768, 60999])
    assert rec['in_ephemeral_range'] is True and rec['range_class'] == 'dynamic'
    [rec] = lookup.run(['50000/udp'], variables={}, ephemeral_range='60000-61000')
    assert rec['in_ephemeral_range'] is False


def test_small_range_and_cap(lookup):
    assert len(lookup.run(['3009-3011/tcp'], variables={})) == 3
    with pytest.raises(AnsibleLookupError, match=r"'1-65535/tcp' expands to more than 256 port records"):
        lookup.run(['1-65535/tcp'], variables={})
    assert len(lookup.run(['1-300/tcp'], variables={}, max_ports=300)) == 300


@pytest.mark.parametrize('term, message', [
    ('htps', r"unknown profile or IANA service name 'htps'; closest: https"),
    ('70000', 'outside 0-65535'),
    ('30-20/tcp', 'reversed'),
    ('22/icmp', "unknown protocol 'icmp'"),
    ('/tcp', r"name: '/tcp' is not a port spec"),
    ('kubernets', r"closest: kubernetes, .*kubernetes-control-plane"),
])
def test_errors_are_lookup_errors(lookup, term, message):
    with pytest.raises(AnsibleLookupError, match=message):
        lookup.run([term], variables={})


def test_bad_ephemeral_range(lookup):
    with pytest.raises(AnsibleLookupError, match='ephemeral_range'):
        lookup.run(['22/tcp'], variables={}, ephemeral_range='soon')


def test_profile_names_win_over_iana(lookup):
    # IANA's docker is the plaintext 2375/tcp; the docker profile is the TLS API
    assert [(r['port'], r['protocol']) for r in lookup.run(['docker'], variables={})] == [(2376, 'tcp')]
    assert [(r['port'], r['protocol']) for r in lookup.run(['ssh'], variables={})] == [(22, 'tcp')]
    assert {r['port'] for r in lookup.run(['nomad'], variables={})} == {4646, 4647, 4648}


def test_plaintext_is_per_port(lookup):
    [plain] = lookup.run(['1883/tcp'], variables={})
    [tls] = lookup.run(['8883/tcp'], variables={})
    use = [u for u in plain['uses'] if u['id'] == 'mqtt-broker'][0]
    assert use['plaintext'] is True and use['plaintext_ports'] == ['1883/tcp']
    assert [u for u in tls['uses'] if u['id'] == 'mqtt-broker'][0]['plaintext'] is False
