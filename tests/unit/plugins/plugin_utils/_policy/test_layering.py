# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Layering: which variables count, their order, origins, settings merge, the default policy, warnings."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import PolicyError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy, collect, default_policy

HOSTVARS = {
    'inventory_hostname': 'web1',
    'port_policy_allow': ['22/tcp'],
    'port_policy_allow__webservers': [{'port': 443, 'proto': 'tcp', 'process': 'nginx'}, '80/tcp'],
    'port_policy_allow__all': [{'port': 9100, 'proto': 'tcp', 'exposure': '10.0.0.0/8'}],
    'port_policy_deny__baseline': ['23/tcp'],
    'port_policy_require__webservers': ['443/tcp'],
    'port_policy_settings': {'unexpected_severity': 'medium', 'ephemeral': 'report'},
    'port_policy_settings__zz_host': {'ephemeral': 'allow'},
    'port_policy_report_dir': '/tmp/reports',  # a role variable, not part of the policy
}


def test_rules_layer_in_sorted_name_order_with_origins():
    policy = build_policy(HOSTVARS)
    eff = policy.effective()
    assert [(r['text'], r['origin'], r['index']) for r in eff['allow']] == [
        ('22/tcp', 'port_policy_allow', 0),
        ('{port: 9100, proto: tcp, exposure: 10.0.0.0/8}', 'port_policy_allow__all', 0),
        ('{port: 443, proto: tcp, process: nginx}', 'port_policy_allow__webservers', 0),
        ('80/tcp', 'port_policy_allow__webservers', 1),
    ]
    assert [(r['text'], r['origin']) for r in eff['deny']] == [('23/tcp', 'port_policy_deny__baseline')]
    assert [(r['text'], r['origin']) for r in eff['require']] == [('443/tcp', 'port_policy_require__webservers')]
    assert eff['source'] == 'inventory'


def test_settings_merge_later_names_win_and_keep_origin():
    eff = build_policy(HOSTVARS).effective()
    assert eff['settings']['ephemeral'] == 'allow'
    assert eff['settings_origin']['ephemeral'] == 'port_policy_settings__zz_host'
    assert eff['settings']['unexpected_severity'] == 'medium'
    assert eff['settings_origin']['unexpected_severity'] == 'port_policy_settings'
    assert eff['settings_origin']['action'] == 'built-in'


def test_task_policy_comes_last_with_origin_task():
    policy = build_policy(HOSTVARS, policy={'allow': ['8443/tcp'], 'settings': {'ephemeral': 'ignore_udp'}})
    eff = policy.effective()
    assert eff['allow'][-1]['origin'] == 'task'
    assert eff['settings']['ephemeral'] == 'ignore_udp'
    assert eff['settings_origin']['ephemeral'] == 'task'
    assert eff['source'] == 'inventory + task'


def test_custom_prefix():
    policy = build_policy({'fw_allow__x': ['1/tcp'], 'port_policy_allow': ['2/tcp']}, prefix='fw')
    assert [r.text for r in policy.rules] == ['1/tcp']


def test_default_policy_when_nothing_is_defined():
    policy = build_policy({'inventory_hostname': 'h'})
    eff = policy.effective()
    assert eff['source'] == 'default'
    assert [(r['text'], r['origin']) for r in eff['allow']] == [
        ('{port: 22, proto: tcp, reason: SSH, the management path of most hosts, owner: hostsec.ports default policy}',
         'default')]
    assert eff['settings']['allow_loopback'] is True
    assert eff['settings_origin']['allow_loopback'] == 'default'
    assert default_policy()['allow'][0]['port'] == 22


def test_settings_alone_keep_the_default_rules():
    eff = build_policy({'port_policy_settings': {'unexpected_severity': 'high'}}).effective()
    assert eff['source'] == 'default + inventory'
    assert eff['allow'][0]['origin'] == 'default'
    assert eff['settings']['unexpected_severity'] == 'high'
    assert eff['settings_origin']['unexpected_severity'] == 'port_policy_settings'


def test_an_empty_list_is_a_definition():
    eff = build_policy({'port_policy_allow': []}).effective()
    assert eff['allow'] == [] and eff['source'] == 'inventory'


def test_variable_shape_errors_name_the_variable():
    with pytest.raises(PolicyError) as info:
        collect({'port_policy_allow__web': '80/tcp', 'port_policy_settings': ['x']})
    assert info.value.errors == [
        'port_policy_allow__web: expected a list of allow rules, got 80/tcp',
        'port_policy_settings: expected a mapping of settings, got [x]',
    ]


def test_rule_errors_name_origin_variable():
    with pytest.raises(PolicyError) as info:
        build_policy({'port_policy_allow__web': ['80/tcp', {'port': 70000}]})
    assert str(info.value) == ('allow[1] {port: 70000} (port_policy_allow__web): port: port 70000 is outside 0-65535')


def test_warnings_duplicates_overlaps_expiry_and_misnamed_variables():
    policy = build_policy({
        'port_policy_allow': ['80/tcp', {'port': 8000, 'expires': '2030-01-10'}, {'port': 8001, 'expires': '2029-01-01'},
                              '20-30/tcp'],
        'port_policy_allow__web': ['80/tcp'],
        'port_policy_deny': ['23/tcp', {'port': 25, 'process': 'exim4'}],
        'port_policy_allow_web': ['443/tcp'],
    }, today=datetime.date(2030, 1, 1))
    text = '\n'.join(policy.warnings)
    assert 'variable port_policy_allow_web is not part of the port policy' in text
    assert 'allow[0] 80/tcp (port_policy_allow__web) duplicates allow[0] 80/tcp (port_policy_allow)' in text
    assert 'allow[1] {port: 8000, expires: 2030-01-10} (port_policy_allow) expires on 2030-01-10 (in 9 days)' in text
    assert 'allow[2] {port: 8001, expires: 2029-01-01} (port_policy_allow) expired on 2029-01-01' in text
    assert 'deny[0] 23/tcp (port_policy_deny) overlaps allow[3] 20-30/tcp (port_policy_allow): deny wins' in text
    # A deny rule for one process on an allowed port is deliberate, not an overlap.
    assert 'deny[1]' not in text


def test_effective_policy_is_json_safe():
    policy = build_policy({'port_policy_allow': [{'port': 8080, 'expires': datetime.date(2030, 1, 10)}]},
                          today=datetime.date(2029, 1, 1))
    [rule] = policy.effective()['allow']
    assert rule['rule'] == {'port': 8080, 'expires': '2030-01-10'} and rule['expires'] == '2030-01-10'


def test_allowing_a_port_the_kb_marks_dangerous_warns():
    """The real KB: telnet allowed by number warns; the docker profile means 2376/tcp (TLS) and does not."""
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
    policy = build_policy(policy={'allow': ['23/tcp', 'docker', 'ssh', '0-65535']}, kb=get_kb())
    dangerous = [w for w in policy.warnings if 'dangerous' in w]
    assert dangerous[0].startswith('allow[0] 23/tcp (task) allows a dangerous port: 23/tcp is marked dangerous')
    assert not any(w.startswith(('allow[1]', 'allow[2]')) for w in dangerous)
    # A wide range is one line, not dozens.
    [wide] = [w for w in dangerous if w.startswith('allow[3]')]
    assert 'ports the port knowledge base marks dangerous (23/tcp' in wide
