# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Process identity, JMESPath `match:`, `container:`, owner-aware severity, fail-closed KB, verdicts, templating."""

from __future__ import annotations

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import KBEvaluationError, PolicyError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.identity import exe_fits_name
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy, template_policy_vars


def kinds(policy, listeners, kb=None, **kw):
    return [(f['kind'], f['listener']['port'] if f['listener'] else None)
            for f in evaluate(build_policy(policy=policy, kb=kb), listeners, kb=kb, **kw)['findings']]


@pytest.mark.parametrize('name, exe, fits', [
    ('sshd', '/usr/sbin/sshd', True),
    ('python3', '/usr/bin/python3.11', True),            # a versioned executable of the same program
    ('sshd', '/usr/bin/python3.11', False),              # the spoof
    ('prometheus-node', '/usr/bin/prometheus-node-exporter', True),  # comm cut to 15 bytes
    ('svchost', 'C:\\Windows\\System32\\svchost.exe', True),
    ('nginx', '/usr/sbin/nginx (deleted)', True),
    ('sshd', None, None),                                # unknown: proves nothing either way
    ('ssh', '/usr/sbin/sshd', False),
])
def test_exe_fits_name(name, exe, fits):
    assert exe_fits_name(name, exe) is fits


def test_name_alone_never_satisfies_a_process_rule(mk, kb):
    real = mk.lst('tcp', '0.0.0.0', 22, mk.proc(600, 'sshd', exe='/usr/sbin/sshd'))
    spoof = mk.lst('tcp', '0.0.0.0', 2222, mk.proc(4242, 'sshd', exe='/usr/bin/python3.11', user='nobody', uid=65534))
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_process
    unknown = mk.lst('tcp', '0.0.0.0', 2223, make_process(4243, 'sshd', exe=None, user='root', uid=0))
    allow = {'allow': [{'process': 'sshd'}]}
    assert kinds(allow, [real, spoof, unknown], kb) == [('identity_mismatch', 2222), ('unexpected', 2223)]
    res = evaluate(build_policy(policy=allow), [spoof], kb=kb)
    finding = res['findings'][0]
    assert finding['severity'] == 'high' and finding['rule']['text'] == '{process: sshd}'
    assert 'process name sshd does not match its executable /usr/bin/python3.11' in finding['severity_reasons']
    # with the port in the rule it is still an impostor, not a mere wrong owner
    assert kinds({'allow': [{'port': 2222, 'process': 'sshd'}]}, [spoof], kb) == [('identity_mismatch', 2222)]
    # exe pinned: the name is not checked against it, the exe is the identity
    assert kinds({'allow': [{'process': 'sshd', 'exe': '/usr/bin/python3.11'}]}, [spoof], kb) == []
    # a deny rule believes the claim
    assert kinds({'allow': [{'exposure': 'any'}], 'deny': [{'process': 'sshd'}]}, [spoof], kb) == [('denied', 2222)]
    # a rule severity above high wins; below high does not lower an impostor
    crit = evaluate(build_policy(policy={'allow': [{'process': 'sshd', 'severity': 'critical'}]}), [spoof], kb=kb)
    low = evaluate(build_policy(policy={'allow': [{'process': 'sshd', 'severity': 'low'}]}), [spoof], kb=kb)
    assert crit['findings'][0]['severity'] == 'critical' and low['findings'][0]['severity'] == 'high'


def test_jmespath_match_rules(mk, kb):
    pg = mk.lst('tcp', '127.0.0.1', 5432, mk.proc(700, 'postgres', user='postgres', uid=105))
    other = mk.lst('tcp', '127.0.0.1', 5432, mk.proc(701, 'postgres', user='mallory', uid=1001))
    rule = {'port': 5432, 'match': "processes[?user=='postgres'] | length(@) > `0`"}
    policy = {'allow': [rule], 'settings': {'allow_loopback': False}}
    assert kinds(policy, [pg], kb) == []
    assert kinds(policy, [other], kb) == [('wrong_owner', 5432)]
    assert kinds({'allow': [{'match': "exposure == 'loopback' && port > `1023`"}],
                  'settings': {'allow_loopback': False}}, [pg], kb) == []
    with pytest.raises(PolicyError, match=r"allow\[0\] .* \(task\): match: .* is not a valid JMESPath expression"):
        build_policy(policy={'allow': [{'match': "processes[?user=='postgres'"}]})
    # a type error at run time fails the audit; it is never a silent non-match
    with pytest.raises(PolicyError, match='match:'):
        evaluate(build_policy(policy={'allow': [{'match': 'length(port) > `1`'}]}), [pg], kb=kb)


def test_unit_patterns_never_take_a_unit_a_user_named_under_their_manager(mk, kb):
    # Under user@UID.service its user names cgroups freely; the gatherer writes such a unit 'NAME (user@UID)'.
    owner = mk.proc(4000, 'python3', user='mallory', uid=1000, unit=None, services=['nginx.service (user@1000)'])
    mine = mk.lst('tcp', '0.0.0.0', 8088, owner)
    for rule in ({'port': 8088, 'unit': '~^nginx'}, {'port': 8088, 'unit': '~nginx\\.service'},
                 {'port': 8088, 'unit': 'nginx'}, {'port': 8088, 'unit': 'nginx.service'}):
        assert kinds({'allow': [rule]}, [mine], kb) == [('wrong_owner', 8088)], rule
    # A pattern that says user@ means user units, and the whole written name is exact.
    assert kinds({'allow': [{'port': 8088, 'unit': '~^nginx.* \\(user@1000\\)$'}]}, [mine], kb) == []
    assert kinds({'allow': [{'port': 8088, 'unit': 'nginx.service (user@1000)'}]}, [mine], kb) == []


def test_container_rules(mk, kb):
    web = mk.lst('tcp', '0.0.0.0', 8080, mk.proc(900, 'conmon'))
    web['container'] = {'runtime': 'podman', 'id': 'abc', 'name': 'web-1', 'image': 'docker.io/library/nginx:1.25',
                        'pod': None}
    host = mk.lst('tcp', '0.0.0.0', 8080, mk.proc(901, 'nginx'))
    assert kinds({'allow': [{'port': 8080, 'container': 'web-*'}]}, [web, host], kb) == [('wrong_owner', 8080)]
    assert kinds({'allow': [{'container': 'docker.io/library/nginx:*'}]}, [web], kb) == []
    assert kinds({'allow': [{'container': '~^web-[0-9]+$'}]}, [web], kb) == []
    assert kinds({'allow': [{'container': 'db-*'}]}, [web], kb) == [('unexpected', 8080)]


def test_severity_from_what_listens():
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
    kb = get_kb()
    python3 = make_process(5, 'python3', exe='/usr/bin/python3.11', user='app', uid=1000)
    agent = make_process(6, 'snmpd', exe='/usr/sbin/snmpd', user='Debian-snmp', uid=110)
    py = make_listener('udp', 'ipv4', '0.0.0.0', 161, [python3])
    snmpd = make_listener('udp', 'ipv4', '0.0.0.0', 161, [agent])
    policy = build_policy(policy={'allow': []}, kb=kb)
    [stranger] = evaluate(policy, [py], kb=kb)['findings']
    [agent] = evaluate(policy, [snmpd], kb=kb)['findings']
    assert 'plaintext protocol' not in stranger['severity_reasons']
    assert any(r.startswith('raised: port is usually SNMP, but python3 (exe /usr/bin/python3.11, user app) is not a '
                            'known SNMP server') and 'plaintext' in r for r in stranger['severity_reasons'])
    assert 'is usually SNMP, but this owner, python3' in stranger['explanation']
    assert 'plaintext protocol' in agent['severity_reasons'] and 'usually SNMP' not in agent['explanation']


class BrokenKB:
    """Injected failure: the shipped data is not touched."""

    def resolve(self, name):
        return []

    def explain(self, listener):
        raise KeyError('curated entry vanished')

    def security_flags(self, port, protocol=None):
        raise KeyError('curated entry vanished')

    def port(self, port, protocol=None, ephemeral_range=None):
        raise KeyError('curated entry vanished')


def test_kb_errors_fail_closed_by_default(mk):
    lst = mk.lst('tcp', '0.0.0.0', 8080, mk.proc(1, 'java'))
    policy = build_policy(policy={'allow': []})
    with pytest.raises(KBEvaluationError) as info:
        evaluate(policy, [lst], kb=BrokenKB())
    assert '0.0.0.0:8080/tcp (java)' in str(info.value) and 'curated entry vanished' in str(info.value)
    assert 'kb_errors: tolerate' in str(info.value)
    with pytest.raises(ValueError, match='kb_errors'):
        evaluate(policy, [lst], kb=BrokenKB(), kb_errors='ignore')


def test_kb_errors_tolerate_takes_the_highest_severity_the_rule_allows(mk):
    lst = mk.lst('tcp', '0.0.0.0', 8080, mk.proc(1, 'java'))
    res = evaluate(build_policy(policy={'allow': []}), [lst], kb=BrokenKB(), kb_errors='tolerate')
    finding = res['findings'][0]
    assert finding['severity'] == 'critical'
    assert any('knowledge base failed on this port' in r and 'kb_errors: tolerate' in r
               for r in finding['severity_reasons'])
    assert any('knowledge base failed on 8080/tcp' in w for w in res['warnings'])
    pinned = evaluate(build_policy(policy={'deny': [{'port': 8080, 'severity': 'medium'}]}), [lst], kb=BrokenKB(),
                      kb_errors='tolerate')
    assert pinned['findings'][0]['severity'] == 'medium'


def test_verdicts_align_with_listeners(mk, kb):
    ssh = mk.lst('tcp', '0.0.0.0', 22, mk.proc(600, 'sshd'))
    web = mk.lst('tcp', '0.0.0.0', 80, mk.proc(700, 'nginx'))
    loop = mk.lst('tcp', '127.0.0.1', 6379, mk.proc(800, 'redis-server'))
    udp = mk.lst('udp', '0.0.0.0', 40000, mk.proc(900, 'dig'))
    odd = mk.lst('tcp', '0.0.0.0', 9999, mk.proc(901, 'nc'))
    policy = build_policy(policy={'allow': ['22/tcp', {'port': 80, 'process': 'nginx'}]})
    for naive in (False, True):
        res = evaluate(policy, [ssh, web, loop, udp, odd], kb=kb, naive=naive)
        verdicts = res['verdicts']
        # Each verdict says exactly one thing: the rule's key (its text is in effective_policy), the setting
        # that ignored the listener, or its finding.
        assert verdicts == [{'allowed_by': 'allow#0'}, {'allowed_by': 'allow#1'},
                            {'ignored_by': 'settings.allow_loopback: true'},
                            {'ignored_by': 'settings.ephemeral: ignore_udp'},
                            {'finding_ids': [res['findings'][0]['id']]}]
        effective = policy.effective()
        expected = [('allow', 0, '22/tcp'), ('allow', 1, '{port: 80, process: nginx}')]
        assert [(r['list'], r['index'], r['text']) for r in effective['allow']] == expected
    ignore = build_policy(policy={'allow': [], 'settings': {'unexpected': 'ignore'}})
    assert evaluate(ignore, [odd], kb=kb)['verdicts'][0] == {'ignored_by': 'settings.unexpected: ignore'}


def test_verdict_keys_are_unique_across_layers(mk, kb):
    # Each layer's rules count from 0 (allow[0] of group_vars/all and allow[0] of group_vars/web), so a
    # verdict names the rule by its place in effective_policy instead, and a report shows the right one.
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build
    ssh = mk.lst('tcp', '0.0.0.0', 22, mk.proc(600, 'sshd'))
    web = mk.lst('tcp', '0.0.0.0', 80, mk.proc(700, 'nginx'))
    policy = build_policy({'port_policy_allow__base': ['22/tcp'],
                           'port_policy_allow__web': [{'port': 80, 'process': 'nginx'}]})
    effective = policy.effective()
    assert [(r['index'], r['origin']) for r in effective['allow']] == [(0, 'port_policy_allow__base'),
                                                                       (0, 'port_policy_allow__web')]
    for naive in (False, True):
        res = evaluate(policy, [ssh, web], kb=kb, naive=naive)
        assert res['verdicts'] == [{'allowed_by': 'allow#0'}, {'allowed_by': 'allow#1'}]
    audit = {'findings': [], 'listeners': [ssh, web], 'verdicts': res['verdicts'], 'effective_policy': effective}
    rep = build.host_report('web1', audit)
    assert [build.verdict_text(lst) for lst in rep['listeners']] == [
        'allowed by allow[0] 22/tcp (from port_policy_allow__base)',
        'allowed by allow[0] {port: 80, process: nginx} (from port_policy_allow__web)']


def test_template_errors_name_the_variable():
    template = pytest.importorskip('ansible.template')
    if not hasattr(template, 'trust_as_template'):
        pytest.skip('ansible-core before 2.19 templates untrusted strings the old way')
    from ansible.parsing.dataloader import DataLoader
    trust = template.trust_as_template
    task_vars = {
        'port_policy_allow': [trust('{{ web_port }}')],
        'port_policy_allow__loop': trust('{{ port_policy_allow__loop }}'),
        'port_policy_allow__ok': [trust('{{ ssh_port }}')], 'ssh_port': 22,
    }
    templar = template.Templar(loader=DataLoader(), variables=task_vars)
    with pytest.raises(PolicyError) as info:
        template_policy_vars(templar, task_vars)
    assert info.value.errors[0] == "port_policy_allow: cannot be templated: 'web_port' is undefined"
    assert info.value.errors[1].startswith('port_policy_allow__loop: cannot be templated: Recursive loop')
    good = {k: v for k, v in task_vars.items() if k in ('port_policy_allow__ok', 'ssh_port')}
    assert template_policy_vars(template.Templar(loader=DataLoader(), variables=good), good) == {
        'port_policy_allow__ok': [22]}


# Property: with impostors, match and container rules, the index still gives exactly the naive result
# (findings and verdicts).
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import (  # noqa: E402
    make_listener as _make_listener, make_process as _make_process,
)

_OWNERS = [('sshd', '/usr/sbin/sshd'), ('sshd', '/usr/bin/python3.11'), ('nginx', '/usr/sbin/nginx'),
           ('nginx', None), ('python3', '/usr/bin/python3.11')]
_ports = st.integers(min_value=0, max_value=300)


@st.composite
def _listeners(draw):
    owners = draw(st.lists(st.sampled_from(_OWNERS), max_size=2))
    lst = _make_listener(draw(st.sampled_from(['tcp', 'udp'])), 'ipv4',
                         draw(st.sampled_from(['0.0.0.0', '127.0.0.1', '10.1.2.3'])), draw(_ports),
                         processes=[_make_process(i + 10, n, exe=e, user='u%d' % i, uid=i) for i, (n, e) in enumerate(owners)])
    if draw(st.booleans()):
        lst['container'] = {'runtime': 'podman', 'id': 'x', 'name': draw(st.sampled_from(['web-1', 'db-1'])),
                            'image': 'nginx:1', 'pod': None}
    return lst


@st.composite
def _rules(draw):
    rule = {}
    low = draw(_ports)
    kind = draw(st.sampled_from(['single', 'wide', 'none']))
    if kind == 'single':
        rule['port'] = low
    elif kind == 'wide':
        rule['port'] = '%d-%d' % (low, low + draw(st.integers(64, 200)))
    extra = draw(st.sampled_from(['process', 'exe', 'container', 'match', 'none']))
    if extra == 'process' or kind == 'none':
        rule['process'] = draw(st.sampled_from(['sshd', 'nginx', 'python3']))
    elif extra == 'exe':
        rule['exe'] = draw(st.sampled_from(['/usr/sbin/sshd', '/usr/bin/python3.11']))
    elif extra == 'container':
        rule['container'] = draw(st.sampled_from(['web-*', '~^db']))
    elif extra == 'match':
        rule['match'] = draw(st.sampled_from(["exposure == 'loopback'", 'length(processes) > `1`']))
    return rule


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_listeners(), max_size=20), st.lists(_rules(), max_size=12), st.lists(_rules(), max_size=4),
       st.booleans())
def test_index_equals_naive_with_identity_rules(lsts, allow, deny, loopback):
    policy = build_policy(policy={'allow': allow, 'deny': deny, 'settings': {'allow_loopback': loopback}})
    assert evaluate(policy, lsts) == evaluate(policy, lsts, naive=True)
