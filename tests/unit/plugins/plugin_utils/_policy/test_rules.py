# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rule parsing (errors name rule, field and value) and the three match stages."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import PolicyError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.rules import compile_rule, compile_settings


def errors_of(policy, kb=None):
    with pytest.raises(PolicyError) as info:
        build_policy(policy=policy, kb=kb)
    return info.value.errors


@pytest.mark.parametrize('rule, expected', [
    ({'port': 70000}, 'allow[0] {port: 70000} (task): port: port 70000 is outside 0-65535'),
    ('70000/tcp', "allow[0] 70000/tcp (task): port: port 70000 in '70000/tcp' is outside 0-65535"),
    ({'port': '90-80'}, "allow[0] {port: 90-80} (task): port: range '90-80' is reversed (90 > 80)"),
    ({'port': 22, 'proto': 'tpc'}, "proto: unknown protocol 'tpc'"),
    ({'port': '22/tcp', 'proto': 'udp'}, "proto: 'udp' conflicts with port '22/tcp'"),
    ({'port': 22, 'family': 'ipv5'}, "family: 'ipv5' is not ipv4, ipv6 or any"),
    ({'port': 22, 'exposure': 'lopback'}, "exposure: 'lopback' is not loopback, link_local, specific, wildcard, any, "
                                          "an address or a CIDR (did you mean: loopback?)"),
    ({'port': 22, 'exposure': '10.0.0.0/33'}, "exposure: '10.0.0.0/33'"),
    ({'port': 22, 'process': '~ngin(x'}, "process: '~ngin(x' is not a valid regular expression"),
    ({'port': 22, 'expires': '2026-13-01'}, "expires: '2026-13-01' is not a date (expected YYYY-MM-DD)"),
    ({'port': 22, 'action': 'kill'}, "action: 'kill' is not one of block, stop, none"),
    ({'port': 22, 'severity': 'urgent'}, "severity: 'urgent' is not one of info, low, medium, high, critical"),
    ({'prot': 22}, 'prot: unknown field (did you mean: proto, port, ports?)'),
    ({'port': 22, 'name': 'ssh'}, 'port, name: use only one of port, ports, name, profile'),
    ({'port': 22, 'unit': 'a', 'service': 'b'}, 'unit, service: use only one'),
    ({}, 'rule: an empty mapping matches everything'),
    (None, 'allow[0] null (task): rule: None is not a port spec'),
    (True, 'rule: True is not a port spec'),
    ({'port': [22, 'x']}, "port[1]: 'x' is not a port spec"),
])
def test_rule_errors_name_rule_field_and_value(rule, expected, kb):
    errors = errors_of({'allow': [rule]}, kb)
    assert len(errors) == 1
    assert errors[0].startswith('allow[0] ')
    assert expected in errors[0]


def test_every_error_is_reported_at_once_with_its_place(kb):
    errors = errors_of({'allow': ['22/tcp', {'port': 70000}], 'deny': ['ftpp'],
                        'settings': {'ephemeral': 'ignore', 'colour': 'red'}}, kb)
    assert errors[0].startswith('allow[1] {port: 70000} (task): port:')
    assert errors[1].startswith('deny[0] ftpp (task): name: unknown profile or IANA service name')
    assert "settings: ephemeral: 'ignore' is not one of ignore_udp, report, allow (did you mean: ignore_udp?)" in errors
    assert any(e.startswith('settings: colour: unknown setting') for e in errors)


def test_misspelt_service_suggests_close_names(kb):
    [error] = errors_of({'allow': ['sshh']}, kb)
    assert 'closest: ssh' in error
    [error] = errors_of({'allow': [{'profile': 'citrix-gslbb'}]}, kb)
    assert "profile: unknown profile or IANA service name 'citrix-gslbb'" in error and 'citrix-gslb' in error


def test_names_need_the_kb():
    [error] = errors_of({'allow': ['ssh']}, None)
    assert "name: 'ssh' needs the knowledge base" in error


def test_expires_only_on_allow(kb):
    [error] = errors_of({'deny': [{'port': 23, 'expires': '2030-01-01'}]}, kb)
    assert 'expires: only allow rules expire' in error


def test_require_needs_something_to_look_for(kb):
    [error] = errors_of({'require': [{'proto': 'tcp'}]}, kb)
    assert 'require[0] {proto: tcp} (task): rule: a require rule needs a port' in error


def test_policy_option_keys_checked():
    [error] = errors_of({'alow': []})
    assert error == 'policy: alow: unknown key (did you mean: allow?) (keys: allow, deny, require, settings)'


def test_settings_types():
    with pytest.raises(PolicyError) as info:
        compile_settings({'allow_loopback': 'yes', 'expiry_warning_days': -1})
    assert info.value.errors == ["settings: allow_loopback: 'yes' is not true or false",
                                 'settings: expiry_warning_days: -1 is not a whole number >= 0']


def rule(raw, kb=None, list_name='allow'):
    return compile_rule(raw, list_name, 0, 'task', kb=kb)


def test_forms_compile_to_port_specs(kb):
    assert [str(s) for s in rule('22/tcp').specs] == ['22/tcp']
    assert [str(s) for s in rule(22).specs] == ['22']
    assert [str(s) for s in rule('8000-8100/udp').specs] == ['8000-8100/udp']
    assert [str(s) for s in rule('ssh', kb).specs] == ['22/tcp']
    assert [str(s) for s in rule({'profile': 'citrix-gslb'}, kb).specs] == ['3008/tcp', '3009-3011/tcp']
    assert [str(s) for s in rule({'ports': [80, '443/tcp'], 'proto': 'tcp'}).specs] == ['80/tcp', '443/tcp']
    assert [str(s) for s in rule({'name': 'https', 'proto': 'tcp'}, kb).specs] == ['443/tcp']
    assert rule({'process': 'sshd'}).specs is None


def test_where_ports_ranges_proto_family(mk):
    r = rule({'port': '8000-8100', 'proto': 'tcp', 'family': 'ipv4'})
    assert r.match_where(mk.lst('tcp', '0.0.0.0', 8000))
    assert r.match_where(mk.lst('tcp', '0.0.0.0', 8100))
    assert not r.match_where(mk.lst('tcp', '0.0.0.0', 8101))
    assert not r.match_where(mk.lst('udp', '0.0.0.0', 8050))
    assert not r.match_where(mk.lst('tcp', '::', 8050))
    both = rule('53/tcp+udp')
    assert both.match_where(mk.lst('udp', '::1', 53)) and both.match_where(mk.lst('tcp', '::1', 53))
    proto_only = rule({'proto': 'udp', 'process': 'chronyd'})
    assert proto_only.match_where(mk.lst('udp', '0.0.0.0', 123))
    assert not proto_only.match_where(mk.lst('tcp', '0.0.0.0', 123))


@pytest.mark.parametrize('exposure, address, ok', [
    ('loopback', '127.0.0.1', True),
    ('loopback', '::1', True),
    ('loopback', '0.0.0.0', False),
    ('loopback', '::ffff:127.0.0.1', True),
    ('link_local', 'fe80::1', True),
    ('link_local', '10.1.2.3', False),
    ('specific', '10.1.2.3', True),
    ('specific', '127.0.0.1', True),  # a ceiling: less exposed is fine
    ('specific', '::', False),
    ('wildcard', '::', True),
    ('10.0.0.0/8', '10.1.2.3', True),
    ('10.0.0.0/8', '::ffff:10.1.2.3', True),
    ('10.0.0.0/8', '192.168.1.1', False),
    ('10.0.0.0/8', '0.0.0.0', False),
    ('192.0.2.7', '192.0.2.7', True),
    ('2001:db8::/32', '2001:db8::5', True),
    (['loopback', '192.0.2.0/24'], '192.0.2.9', True),
    (['loopback', '192.0.2.0/24'], '127.0.0.1', True),
    (['loopback', '192.0.2.0/24'], '198.51.100.1', False),
])
def test_exposure_keywords_and_cidrs(exposure, address, ok, mk):
    assert rule({'port': 80, 'exposure': exposure}).match_exposure(mk.lst('tcp', address, 80)) is ok


def test_who_process_exe_user_unit(mk):
    nginx = mk.lst('tcp', '0.0.0.0', 80, mk.proc(901, 'nginx', unit='nginx.service'),
                   mk.proc(902, 'nginx', user='www-data', uid=33, unit='nginx.service'))
    assert rule({'process': 'nginx'}).match_who(nginx)
    assert not rule({'process': 'ngin'}).match_who(nginx)
    assert rule({'process': '~^ngi'}).match_who(nginx)
    assert rule({'exe': '/usr/sbin/nginx'}).match_who(nginx)
    assert rule({'exe': '~^/usr/s?bin/'}).match_who(nginx)
    assert not rule({'exe': '/usr/bin/nginx'}).match_who(nginx)
    assert rule({'user': 'www-data'}).match_who(nginx)
    assert rule({'user': 33}).match_who(nginx)
    assert rule({'user': '33'}).match_who(nginx)
    assert not rule({'user': 'nobody'}).match_who(nginx)
    assert rule({'unit': 'nginx'}).match_who(nginx)
    assert rule({'service': 'nginx.service'}).match_who(nginx)
    assert rule({'unit': 'NGINX.service'}).match_who(nginx)
    assert not rule({'unit': 'nginx.timer'}).match_who(nginx)
    # All owner fields must hold for one process.
    assert rule({'process': 'nginx', 'user': 'www-data'}).match_who(nginx)
    assert not rule({'process': 'nginx', 'user': 'nobody'}).match_who(nginx)


def test_who_on_socket_activated_and_unowned(mk):
    pid1 = mk.proc(1, 'systemd', unit='init.scope', services=['init.scope', 'telnet.socket'])
    telnet = mk.lst('tcp', '0.0.0.0', 23, pid1)
    assert rule({'unit': 'telnet.socket'}).match_who(telnet)
    assert rule({'unit': 'telnet'}).match_who(telnet)
    unowned = mk.lst('tcp', '0.0.0.0', 9999)
    assert not rule({'process': 'x'}).match_who(unowned)
    unowned['uid'] = 1000
    assert rule({'user': 1000}).match_who(unowned)
    assert not rule({'user': 'app'}).match_who(unowned)


def test_expiry_dates():
    r = rule({'port': 22, 'expires': datetime.date(2030, 1, 31)})
    assert not r.expired(datetime.date(2030, 1, 31))
    assert r.expired(datetime.date(2030, 2, 1))
    assert rule({'port': 22, 'expires': '2030-01-31'}).expires == datetime.date(2030, 1, 31)
