# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""goss port entries -> policy: the rules, their errors, and what the engine then decides."""

from __future__ import annotations

import datetime

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.hostsec.ports.plugins.filter.goss_ports import goss_ports
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
from ansible_collections.hostsec.ports.plugins.plugin_utils._goss import GossError, convert
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy

TODAY = datetime.date(2030, 6, 1)

# The port section of a goss.yaml as `goss add port` writes it, plus hand edits.
GOSS_YAML = """
port:
  tcp:22:
    listening: true
    ip:
    - 0.0.0.0
  tcp6:22:
    listening: true
    ip:
    - '::'
  tcp:5432:
    listening: true
    ip:
    - 127.0.0.1
  tcp:23:
    listening: false
  udp:161:
    listening: false
    title: no SNMP
  tcp:8080:
    listening: true
    skip: true
"""


def test_rules_keep_family_exposure_and_origin():
    policy = convert(yaml.safe_load(GOSS_YAML))
    assert policy['allow'] == []
    assert policy['require'] == [
        {'port': 22, 'proto': 'tcp', 'family': 'ipv4', 'exposure': 'wildcard', 'reason': 'from goss (goss tcp:22)'},
        {'port': 22, 'proto': 'tcp', 'family': 'ipv6', 'exposure': 'wildcard', 'reason': 'from goss (goss tcp6:22)'},
        {'port': 5432, 'proto': 'tcp', 'family': 'ipv4', 'exposure': '127.0.0.1',
         'reason': 'from goss (goss tcp:5432)'},
    ]
    assert policy['deny'] == [
        {'port': 23, 'proto': 'tcp', 'family': 'ipv4', 'reason': 'from goss (goss tcp:23)'},
        {'port': 161, 'proto': 'udp', 'family': 'ipv4', 'reason': 'from goss (goss udp:161)'},
    ]


def test_port_mapping_alone_and_several_addresses():
    policy = convert({'udp6:53': {'listening': True, 'ip': ['::1', 'fe80::1', '::1']}}, reason='dns role')
    assert policy['require'] == [
        {'port': 53, 'proto': 'udp', 'family': 'ipv6', 'exposure': ['::1', 'fe80::1'], 'reason': 'dns role (goss udp6:53)'},
    ]


def run(policy, listeners):
    kb = get_kb()
    return evaluate(build_policy(policy=policy, kb=kb, today=TODAY), listeners, kb=kb, today=TODAY)


def sshd(pid=100):
    return make_process(pid, 'sshd', exe='/usr/sbin/sshd', cmdline='sshd', user='root', uid=0,
                        start_time='2026-01-01T00:00:00Z', unit='ssh.service')


def test_engine_accepts_the_policy_and_catches_what_goss_cannot():
    listeners = [
        make_listener('tcp', 'ipv4', '0.0.0.0', 22, processes=[sshd()]),
        make_listener('tcp', 'ipv6', '::', 22, processes=[sshd()], v6only=True),
        make_listener('tcp', 'ipv4', '0.0.0.0', 5432, processes=[]),       # goss said 127.0.0.1
        make_listener('tcp', 'ipv4', '0.0.0.0', 23, processes=[]),         # goss said not listening
        make_listener('tcp', 'ipv4', '0.0.0.0', 9000, processes=[]),       # goss never mentioned it
    ]
    result = run(convert(yaml.safe_load(GOSS_YAML)), listeners)
    kinds = sorted((f['kind'], (f['listener'] or {}).get('port')) for f in result['findings'])
    # 5432 on every address: too exposed, and so the required loopback listener is missing, as in goss.
    assert kinds == [('denied', 23), ('missing', None), ('unexpected', 9000), ('wrong_exposure', 5432)]


def test_missing_listener_is_a_finding_like_a_failed_goss_check():
    result = run(convert({'tcp:22': {'listening': True}, 'tcp6:22': {'listening': True}}),
                 [make_listener('tcp', 'ipv4', '0.0.0.0', 22, processes=[sshd()])])
    missing = [f for f in result['findings'] if f['kind'] == 'missing']
    assert len(missing) == 1 and 'ipv6' in missing[0]['rule']['text']


@pytest.mark.parametrize('document, message', [
    ({'port': {'tcp:ssh': {'listening': True}}}, "port tcp:ssh: 'ssh' is not a port spec"),
    ({'port': {'tcp:70000': {'listening': True}}}, 'port tcp:70000: port 70000'),
    ({'port': {'tcp:22-23': {'listening': True}}}, 'port tcp:22-23: expected one port number'),
    ({'port': {'sctp:22': {'listening': True}}}, 'port sctp:22: expected a key like tcp:22'),
    ({'port': {'tcp:22': {'listening': 'yes'}}}, "port tcp:22: listening must be true or false, got 'yes'"),
    ({'port': {'tcp:22': {'listening': True, 'ip': {'contain-element': '0.0.0.0'}}}},
     'port tcp:22: ip must be a non-empty list of addresses'),
    ({'port': {'tcp:22': {'listening': True, 'ip': []}}}, 'port tcp:22: ip must be a non-empty list'),
    ({'port': {'tcp:23': {'listening': False, 'ip': ['0.0.0.0']}}}, 'port tcp:23: ip with listening: false'),
    ({'port': {'tcp:22': {'listening': True, 'timeout': 500}}}, 'port tcp:22: unknown attribute(s) timeout'),
    ({'port': {'tcp:22': True}}, 'port tcp:22: expected a mapping with listening, got True'),
    ({'port': ['tcp:22']}, 'port: expected a mapping'),
    ({'service': {'sshd': {'running': True}}}, 'no port: section, and service is not goss port keys'),
    ('tcp:22', 'expected a goss document'),
])
def test_errors_name_the_entry(document, message):
    with pytest.raises(GossError) as exc:
        convert(document)
    assert message in str(exc.value)


def test_all_errors_at_once_and_nothing_dropped():
    with pytest.raises(GossError) as exc:
        convert({'tcp:22': {'listening': 'yes'}, 'tcp:25': {'listening': True}, 'udp:x': {'listening': False}})
    assert 'tcp:22' in str(exc.value) and 'udp:x' in str(exc.value) and 'tcp:25' not in str(exc.value)


def test_filter_names_itself_in_errors():
    assert goss_ports({'tcp:22': {'listening': True}})['require'][0]['port'] == 22
    with pytest.raises(AnsibleFilterError, match=r'^hostsec.ports.goss_ports: port tcp:0x16'):
        goss_ports({'tcp:0x16': {'listening': True}})
