# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""port_profile and port_explain through Ansible's plugin loader and a real templar."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates every string; make test-compat runs 2.17 and 2.18
    def trust_as_template(template):
        return template

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process


@pytest.fixture(scope='module')
def filters():
    return {name: filter_loader.get('hostsec.ports.' + name).j2_function for name in ('port_profile', 'port_explain')}


def render(template, **variables):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template))


def test_port_profile_specs_and_services(filters):
    profile = filters['port_profile']
    assert profile(['https', '8443/tcp', 22, '53/tcp+udp']) == \
        ['22', '53/tcp', '53/udp', '443/sctp', '443/tcp', '443/udp', '8443/tcp']
    assert profile('8000-8100/udp') == ['8000-8100/udp']
    assert profile(['443/tcp', 'https']) == ['443/sctp', '443/tcp', '443/udp']


def test_port_profile_expands_profiles(filters):
    assert {'3009/tcp', '3011/tcp'} <= set(filters['port_profile']('citrix-gslb'))


def test_port_profile_in_a_template():
    assert render("{{ ['https'] | hostsec.ports.port_profile }}") == ['443/sctp', '443/tcp', '443/udp']


@pytest.mark.parametrize('value, message', [
    ('htps', r"port_profile: name: unknown profile or IANA service name 'htps'; closest: https"),
    (['abc-def'], "closest"),
    ('70000/tcp', 'port 70000 .* is outside 0-65535'),
    ('9-2', 'reversed'),
    ('22/icmp', "unknown protocol 'icmp'"),
    ({'a': 1}, 'expected a name, a port spec or a list'),
])
def test_port_profile_errors(filters, value, message):
    with pytest.raises(AnsibleError, match=message):
        filters['port_profile'](value)


def test_port_explain_3011_and_11500(filters):
    explain = filters['port_explain']
    listener = make_listener('tcp', 'ipv4', '0.0.0.0', 3011, processes=[make_process(42, 'nsnetsvc')])
    text = explain(listener)
    assert text.startswith('3011/tcp (process nsnetsvc) is assigned by IANA to trusted-web')
    assert 'Citrix' in text and 'plaintext' in text and 'secure alternative 3009/tcp' in text
    text = explain(make_listener('tcp', 'ipv6', '::', 11500))
    assert text.startswith('11500/tcp is not assigned by IANA (registered range 1024\u201349151).')
    assert 'Nokia' in text and '5620 SAM' in text


def test_port_explain_in_a_template():
    text = render("{{ l | hostsec.ports.port_explain(ephemeral_range=[32768, 60999]) }}",
                  l={'port': 50000, 'protocol': 'udp', 'processes': [{'name': 'chronyd'}]})
    assert text.startswith('50000/udp (process chronyd) is not assigned by IANA (dynamic range')
    assert 'ephemeral' in text


@pytest.mark.parametrize('value, message', [
    ({'port': 70000, 'protocol': 'tcp'}, 'port: 70000 is outside 0-65535'),
    ({'port': 22}, 'listener: expected a mapping with port and protocol'),
    ('22/tcp', 'listener: expected a mapping'),
    ({'port': 22, 'protocol': 'icmp'}, "unknown protocol 'icmp'"),
])
def test_port_explain_errors(filters, value, message):
    with pytest.raises(AnsibleError, match=message):
        filters['port_explain'](value)


def test_port_profile_documented_examples_are_true(filters):
    # the EXAMPLES of port_profile.yml
    assert filters['port_profile'](['ssh', 'citrix-gslb', '8443/tcp']) == ['22/tcp', '3009/tcp', '3011/tcp', '8443/tcp']
    assert filters['port_profile']('docker') == ['2376/tcp']


def test_port_explain_never_offers_a_port_as_its_own_alternative(filters):
    for port, proto in ((8883, 'tcp'), (8729, 'tcp'), (5684, 'udp')):
        text = filters['port_explain']({'port': port, 'protocol': proto})
        assert 'secure alternative %d/%s' % (port, proto) not in text and '(plaintext' not in text, text
    assert '(plaintext; secure alternative 8883/tcp)' in filters['port_explain']({'port': 1883, 'protocol': 'tcp'})
