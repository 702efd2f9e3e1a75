# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding kinds, precedence, severity, expiry, protect, ephemeral handling, remediation; index == naive."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import KBEvaluationError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy

TODAY = datetime.date(2030, 6, 1)
WEB_POLICY = {
    'allow': [
        'ssh',
        {'port': 80, 'proto': 'tcp', 'process': 'nginx'},
        {'port': 5432, 'proto': 'tcp', 'exposure': 'loopback'},
        {'port': 6379, 'proto': 'tcp', 'exposure': 'loopback', 'reason': 'cache, local only'},
        {'port': 8080, 'proto': 'tcp', 'expires': '2030-05-31', 'ticket': 'OPS-1', 'action': 'stop'},
        {'port': 9100, 'proto': 'tcp', 'process': 'node_exporter', 'exposure': 'link_local'},
    ],
    'deny': [{'port': 23, 'reason': 'telnet is plaintext'}],
    'require': ['443/tcp', {'port': 80, 'proto': 'tcp'}],
    'settings': {'allow_loopback': True},
}


def run(policy, listeners, kb, **kw):
    kw.setdefault('today', TODAY)
    return evaluate(build_policy(policy=policy, kb=kb, today=TODAY), listeners, kb=kb, **kw)


def by_port(result):
    return {(f['listener'] or {}).get('port', f['rule']['text'] if f['rule'] else None): f for f in result['findings']}


def test_each_kind_on_a_realistic_host(host, kb):
    found = by_port(run(WEB_POLICY, host, kb))
    kinds = {k: f['kind'] for k, f in found.items()}
    assert kinds == {
        23: 'denied',
        6379: 'wrong_exposure',
        8080: 'expired',
        5353: 'unexpected',
        '443/tcp': 'missing',
    }
    # 22 (ssh), 80 (nginx), 5432 (loopback), 53 (loopback), 9100 (link-local, node_exporter) are allowed.


def test_finding_fields_are_complete(host, kb):
    for f in run(WEB_POLICY, host, kb)['findings']:
        assert set(f) == {'id', 'kind', 'severity', 'severity_reasons', 'listener', 'rule', 'nearest_rule',
                          'explanation', 'remediation', 'protected'}
        assert set(f['remediation']) == {'action', 'unit', 'reason'}
        assert f['severity'] in ('critical', 'high', 'medium', 'low', 'info')
        assert f['severity_reasons'] and f['explanation']
        assert len(f['id']) == 16


def test_denied_socket_activated_unit_and_rule(host, kb):
    f = by_port(run(WEB_POLICY, host, kb))[23]
    assert f['rule'] == {'list': 'deny', 'index': 0, 'text': '{port: 23, reason: telnet is plaintext}', 'origin': 'task'}
    # The unit is the planner's to find (tests/unit/plugins/plugin_utils/_remediation).
    assert f['remediation'] == {'action': 'block', 'unit': None, 'reason': 'a deny rule matches'}
    assert f['severity'] == 'critical'  # wildcard + plaintext (KB) + root, floor high
    assert 'plaintext protocol' in f['severity_reasons']
    assert f['explanation'].startswith('KB says 23/tcp. Denied by deny[0]')


def test_deny_beats_allow(mk, kb):
    policy = {'allow': ['23/tcp'], 'deny': ['23/tcp']}
    [f] = run(policy, [mk.lst('tcp', '0.0.0.0', 23, mk.proc(5, 'inetd'))], kb)['findings']
    assert f['kind'] == 'denied'
    assert f['nearest_rule']['list'] == 'allow'
    assert 'would allow it, but deny wins' in f['explanation']


def test_wrong_exposure_and_wrong_owner(mk, kb):
    policy = {'allow': [{'port': 80, 'proto': 'tcp', 'process': 'nginx', 'exposure': 'loopback'}]}
    [f] = run(policy, [mk.lst('tcp', '0.0.0.0', 80, mk.proc(9, 'nginx', unit='nginx.service'))], kb)['findings']
    assert f['kind'] == 'wrong_exposure'
    assert 'allows it only on loopback, but it listens on 0.0.0.0 (wildcard)' in f['explanation']
    assert f['remediation']['action'] == 'block'
    strict = dict(policy, settings={'allow_loopback': False})
    [f] = run(strict, [mk.lst('tcp', '127.0.0.1', 80, mk.proc(9, 'apache2'))], kb)['findings']
    assert f['kind'] == 'wrong_owner'
    assert 'allows this port for process nginx, but it is owned by apache2 (pid 9, user root)' in f['explanation']
    assert f['remediation']['action'] == 'none'


def test_cidr_exposure(mk, kb):
    policy = {'allow': [{'port': 9100, 'exposure': '10.0.0.0/8'}]}
    ok = mk.lst('tcp', '10.2.3.4', 9100)
    bad = mk.lst('tcp', '192.168.0.1', 9100)
    wild = mk.lst('tcp', '0.0.0.0', 9100)
    kinds = [f['kind'] for f in run(policy, [ok, bad, wild], kb)['findings']]
    assert kinds == ['wrong_exposure', 'wrong_exposure']


def test_unexpected_with_nearest_rule(mk, kb):
    policy = {'allow': ['8080/udp', {'process': 'java', 'port': 9000}]}
    found = run(policy, [mk.lst('tcp', '0.0.0.0', 8080), mk.lst('tcp', '0.0.0.0', 7000, mk.proc(3, 'java'))], kb)
    near = {f['listener']['port']: f['nearest_rule']['text'] for f in found['findings']}
    assert near == {8080: '8080/udp', 7000: '{process: java, port: 9000}'}
    assert all(f['rule'] is None for f in found['findings'])


def test_expired_turns_into_finding_after_the_date(mk, kb):
    policy = {'allow': [{'port': 8080, 'expires': '2030-05-31', 'ticket': 'OPS-1'}], 'settings': {'allow_loopback': False}}
    listener = [mk.lst('tcp', '0.0.0.0', 8080, mk.proc(4, 'java', user='app', uid=1000))]
    assert run(policy, listener, kb, today=datetime.date(2030, 5, 31))['findings'] == []
    [f] = run(policy, listener, kb, today=datetime.date(2030, 6, 1))['findings']
    assert f['kind'] == 'expired'
    assert 'allowed it until 2030-05-31; the exception has expired (ticket OPS-1)' in f['explanation']
    # A still-valid rule wins over an expired one.
    policy['allow'].append('8080/tcp')
    assert run(policy, listener, kb, today=datetime.date(2031, 1, 1))['findings'] == []


def test_missing_only_when_nothing_satisfies(mk, kb):
    policy = {'require': [{'port': 443, 'proto': 'tcp', 'exposure': 'loopback'}], 'allow': []}
    found = run(policy, [mk.lst('tcp', '0.0.0.0', 443, mk.proc(2, 'nginx'))], kb)['findings']
    assert [x['kind'] for x in found] == ['wrong_exposure', 'missing']  # require rules also allow
    f = found[1]
    assert f['kind'] == 'missing' and f['listener'] is None
    assert 'On these ports: 0.0.0.0:443/tcp (nginx)' in f['explanation']
    assert f['severity'] == 'medium' and f['remediation']['action'] == 'none'
    assert run(policy, [mk.lst('tcp', '127.0.0.1', 443, mk.proc(2, 'nginx'))], kb)['findings'] == []


def test_ephemeral_modes(mk, kb):
    listeners = [mk.lst('udp', '0.0.0.0', 45000), mk.lst('tcp', '0.0.0.0', 45001), mk.lst('udp', '0.0.0.0', 5000)]

    def ports(mode):
        res = run({'allow': [], 'settings': {'ephemeral': mode}}, listeners, kb, ephemeral_range=(32768, 60999))
        return sorted(f['listener']['port'] for f in res['findings']), res['ignored']
    assert ports('ignore_udp') == ([5000, 45001], 1)
    assert ports('allow') == ([5000], 2)
    assert ports('report') == ([5000, 45000, 45001], 0)


def test_unexpected_ignore_setting(mk, kb):
    res = run({'allow': [], 'deny': ['23'], 'settings': {'unexpected': 'ignore'}},
              [mk.lst('tcp', '0.0.0.0', 23), mk.lst('tcp', '0.0.0.0', 24)], kb)
    assert [f['kind'] for f in res['findings']] == ['denied'] and res['ignored'] == 1


def test_severity_from_exposure_kb_and_process_facts(mk, kb):
    policy = {'allow': [], 'settings': {'allow_loopback': False}}
    cases = [
        (mk.lst('tcp', '127.0.0.1', 7000, mk.proc(2, 'x', user='app', uid=1000)), 'low', ['listens on loopback only']),
        (mk.lst('tcp', 'fe80::1%eth0', 7000, mk.proc(2, 'x', user='app', uid=1000)), 'low', None),
        (mk.lst('tcp', '0.0.0.0', 7000, mk.proc(2, 'x', user='app', uid=1000)), 'medium', None),
        (mk.lst('tcp', '0.0.0.0', 7001, mk.proc(2, 'x')), 'high', 'runs as root'),
        (mk.lst('tcp', '0.0.0.0', 7002), 'high', 'no owner known'),
        (mk.lst('tcp', '0.0.0.0', 7003, mk.proc(2, 'x', exe='/tmp/.x/miner', user='app', uid=1000)), 'critical',
         'executable /tmp/.x/miner runs from a world-writable directory'),
        (mk.lst('tcp', '127.0.0.1', 7004, mk.proc(2, 'x', exe='/usr/bin/x (deleted)', user='app', uid=1000)), 'high',
         'executable /usr/bin/x was deleted while running'),
        (mk.lst('tcp', '0.0.0.0', 31337, mk.proc(2, 'x', user='app', uid=1000)), 'critical', 'port known for malware use'),
        (mk.lst('tcp', '127.0.0.1', 31337, mk.proc(2, 'x', user='app', uid=1000)), 'high', None),
    ]
    res = run(policy, [c[0] for c in cases], kb)
    got = {(f['listener']['address'], f['listener']['port']): f for f in res['findings']}
    for listener, severity, reason in cases:
        f = got[(listener['address'], listener['port'])]
        assert f['severity'] == severity, (listener['port'], f['severity_reasons'])
        if isinstance(reason, str):
            assert reason in f['severity_reasons']
        elif reason:
            assert f['severity_reasons'][:len(reason)] == reason
    # The floor of the kind (unexpected_severity: low) lifts loopback info to low, and says so.
    assert 'unexpected findings are at least low' in got[('127.0.0.1', 7000)]['severity_reasons']


def test_rule_severity_and_action_override(mk, kb):
    policy = {'deny': [{'port': 3389, 'severity': 'critical', 'action': 'stop'}]}
    [f] = run(policy, [mk.lst('tcp', '0.0.0.0', 3389, mk.proc(8, 'xrdp', unit='xrdp.service'))], kb)['findings']
    assert f['severity'] == 'critical'
    assert f['remediation']['action'] == 'stop'


def test_ids_are_stable_and_distinct(host, kb):
    first = [f['id'] for f in run(WEB_POLICY, host, kb)['findings']]
    again = [f['id'] for f in run(WEB_POLICY, list(reversed(host)), kb)['findings']]
    assert first == again and len(set(first)) == len(first)


def test_failing_kb_fails_closed_unless_tolerated(mk):
    """Issue 9: a KB that raises fails the audit; kb_errors='tolerate' keeps the highest severity (more in test_kb_errors.py)."""
    class Broken:
        def resolve(self, name):
            return []

        def explain(self, listener):
            raise RuntimeError('boom')

        def security_flags(self, port, protocol=None):
            raise RuntimeError('boom')

    policy = build_policy(policy={'allow': []})
    with pytest.raises(KBEvaluationError, match=r'0\.0\.0\.0:1/tcp .*RuntimeError: boom'):
        evaluate(policy, [mk.lst('tcp', '0.0.0.0', 1)], kb=Broken())
    res = evaluate(policy, [mk.lst('tcp', '0.0.0.0', 1)], kb=Broken(), kb_errors='tolerate')
    assert res['findings'][0]['severity'] == 'critical'
    assert res['findings'][0]['explanation'].startswith('an unknown process listens on TCP port 1.')


# Property: the indexed engine gives exactly the naive listeners x rules result.
PROCS = ['nginx', 'sshd', 'java', 'redis-server']
ADDRS = {'ipv4': ['0.0.0.0', '127.0.0.1', '10.1.2.3', '192.168.5.5'], 'ipv6': ['::', '::1', 'fe80::1', '2001:db8::9']}
ports = st.integers(min_value=0, max_value=700)


@st.composite
def listeners(draw):
    family = draw(st.sampled_from(['ipv4', 'ipv6']))
    procs = draw(st.lists(st.sampled_from(PROCS), max_size=2, unique=True))
    return make_listener(draw(st.sampled_from(['tcp', 'udp'])), family, draw(st.sampled_from(ADDRS[family])),
                         draw(ports), processes=[make_process(i + 10, n, user='u%d' % i, uid=i, unit=n + '.service')
                                                 for i, n in enumerate(procs)])


@st.composite
def rules(draw):
    rule = {}
    kind = draw(st.sampled_from(['single', 'narrow', 'wide', 'none']))
    low = draw(ports)
    if kind == 'single':
        rule['port'] = low
    elif kind == 'narrow':
        rule['port'] = '%d-%d' % (low, low + draw(st.integers(0, 63)))
    elif kind == 'wide':
        rule['port'] = '%d-%d' % (low, low + draw(st.integers(64, 400)))
    if draw(st.booleans()):
        rule['proto'] = draw(st.sampled_from(['tcp', 'udp', 'tcp+udp']))
    if draw(st.integers(0, 4)) == 0:
        rule['family'] = draw(st.sampled_from(['ipv4', 'ipv6']))
    if draw(st.integers(0, 3)) == 0:
        rule['exposure'] = draw(st.sampled_from(['loopback', 'link_local', 'specific', '10.0.0.0/8', '2001:db8::/32']))
    if draw(st.integers(0, 3)) == 0 or kind == 'none':
        rule['process'] = draw(st.sampled_from(PROCS + ['~^(ngi|ja)']))
    if draw(st.integers(0, 6)) == 0:
        rule['expires'] = draw(st.sampled_from(['2030-01-01', '2031-01-01']))
    return rule


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(listeners(), max_size=30), st.lists(rules(), max_size=25), st.lists(rules(), max_size=6),
       st.lists(rules(), max_size=4), st.booleans(), st.sampled_from(['ignore_udp', 'report', 'allow']))
def test_index_equals_naive(lsts, allow, deny, require, loopback, ephemeral):
    for r in deny + require:
        r.pop('expires', None)
    policy = build_policy(policy={'allow': allow, 'deny': deny, 'require': require,
                                  'settings': {'allow_loopback': loopback, 'ephemeral': ephemeral}})
    kw = dict(today=datetime.date(2030, 6, 1), ephemeral_range=(300, 600))
    fast = evaluate(policy, lsts, **kw)
    slow = evaluate(policy, lsts, naive=True, **kw)
    assert fast == slow
