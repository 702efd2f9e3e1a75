# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host and fleet reports from a recorded port_audit result.

fixtures/port_audit_result.json is the registered result of
hostsec.ports.port_audit (listeners passed in, protect [22], now 2026-06-01)
with findings of every remediation kind: stop (telnet, denied), block with
and without a unit, protected (22), and a missing required listener.
"""

from __future__ import annotations

import copy
import json
import os
from xml.etree import ElementTree as ET

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build, render

with open(os.path.join(os.path.dirname(__file__), 'fixtures', 'port_audit_result.json')) as _handle:
    AUDIT = json.load(_handle)

ENFORCED = {
    'mode': 'enforce', 'check_mode': False, 'backend': 'nftables', 'trial': False, 'errors': [],
    'block': [{'port': 5353, 'protocol': 'udp'}, {'port': 8081, 'protocol': 'tcp'}],
    'stop': [{'unit': 'telnet.service', 'mask': True}],
}


def statuses(report):
    return {(f['kind'], (f['listener'] or {}).get('port')): f['status'] for f in report['findings']}


def test_report_mode_says_what_enforce_would_do():
    rep = build.host_report('web1', AUDIT)
    assert rep['mode'] == 'report' and rep['audited'] and not rep['passed']
    assert statuses(rep) == {
        ('denied', 23): 'would stop', ('unexpected', 5353): 'would block', ('unexpected', 22): 'protected',
        ('unexpected', 8081): 'would block', ('missing', None): 'reported'}
    by_id = {f['status']: f for f in rep['findings']}
    assert 'never blocked or stopped' in by_id['protected']['status_reason']
    assert rep['findings'][0]['where'] == '[::]:23/tcp (in.telnetd)'


def test_enforce_mode_statuses_follow_the_outcome():
    rep = build.host_report('web1', AUDIT, ENFORCED)
    got = statuses(rep)
    assert got[('denied', 23)] == 'stopped' and got[('unexpected', 8081)] == 'blocked'
    stop = next(f for f in rep['findings'] if f['kind'] == 'denied')
    assert stop['status_reason'] == 'unit telnet.service stopped and disabled and masked'
    assert rep['by_status']['blocked'] == 2


def test_check_mode_and_trial_are_said():
    rep = build.host_report('web1', AUDIT, dict(ENFORCED, check_mode=True))
    assert statuses(rep)[('unexpected', 8081)] == 'would block'
    rep = build.host_report('web1', AUDIT, dict(ENFORCED, trial=True))
    blocked = next(f for f in rep['findings'] if f['status'] == 'blocked')
    assert 'reverts by itself' in blocked['status_reason']


def test_left_out_of_plan_says_why():
    outcome = dict(ENFORCED, block=[{'port': 5353, 'protocol': 'udp'}])
    fid = next(f['id'] for f in AUDIT['findings'] if (f['listener'] or {}).get('port') == 8081)
    outcome['skipped'] = {fid: 'action block is not in port_policy_actions'}
    rep = build.host_report('web1', AUDIT, outcome)
    f = next(f for f in rep['findings'] if f['id'] == fid)
    assert (f['status'], f['status_reason']) == ('not remediated', 'action block is not in port_policy_actions')


def test_stop_without_unit_is_not_remediated_and_says_why():
    audit = copy.deepcopy(AUDIT)
    telnet = next(f for f in audit['findings'] if f['kind'] == 'denied')
    telnet['remediation']['unit'] = None
    rep = build.host_report('web1', audit, ENFORCED)
    f = next(f for f in rep['findings'] if f['kind'] == 'denied')
    assert f['status'] == 'not remediated' and 'never killed by PID' in f['status_reason']


def test_enforcement_error_marks_findings():
    rep = build.host_report('web1', AUDIT, dict(ENFORCED, errors=['no usable firewall backend']))
    assert statuses(rep)[('unexpected', 8081)] == 'not remediated'


def test_host_without_audit_is_not_audited():
    rep = build.host_report('db1', {'msg': 'unreachable'})
    assert not rep['audited'] and not rep['passed'] and rep['errors'] == ['unreachable']
    assert render.text_table(rep) == ['db1: NOT AUDITED (report): unreachable']


def test_bad_finding_names_host_and_index():
    with pytest.raises(build.ReportError, match=r"web1: findings\[0\]: not a port_audit finding"):
        build.host_report('web1', {'findings': [{'kind': 'x'}]})


def fleet():
    return build.fleet_report([build.host_report('web2', AUDIT, ENFORCED), build.host_report('web1', AUDIT),
                               build.host_report('db1', {'msg': 'unreachable'})], generated='2026-06-01T00:00:00+00:00')


def test_fleet_totals_and_order():
    doc = fleet()
    assert [h['host'] for h in doc['hosts']] == ['db1', 'web1', 'web2']
    t = doc['totals']
    assert (t['hosts'], t['hosts_passed'], t['hosts_failed'], t['hosts_not_audited'], t['findings']) == (3, 0, 3, 1, 10)
    assert t['by_severity']['critical'] == 4 and t['by_status']['protected'] == 2
    json.loads(render.to_json(doc))


def test_junit_one_case_per_host_and_finding():
    root = ET.fromstring(render.junit_xml(fleet()))
    assert (root.get('tests'), root.get('failures'), root.get('errors')) == ('11', '10', '1')
    suites = {s.get('name'): s for s in root.findall('testsuite')}
    assert suites['db1'].find('testcase/error').get('message') == 'unreachable'
    web1 = suites['web1'].findall('testcase')
    assert len(web1) == 5
    failing = [c for c in web1 if c.find('failure') is not None]
    assert len(failing) == 5  # protected findings are still policy violations
    assert all(c.get('classname') == 'web1' for c in web1)


def test_junit_by_host_and_fail_on():
    root = ET.fromstring(render.junit_xml(fleet(), fail_on=('critical',), by='host'))
    case = root.find("testsuite[@name='web1']/testcase")
    assert case.find('failure').get('message') == '2 finding(s) at a failing severity'
    assert 'high unexpected finding' in case.find('system-out').text
    with pytest.raises(ValueError, match="junit_fail_on: unknown severity 'severe'"):
        render.junit_xml(fleet(), fail_on=('severe',))


def test_junit_survives_control_characters():
    audit = copy.deepcopy(AUDIT)
    audit['findings'][0]['explanation'] = 'bad \x01 byte'
    ET.fromstring(render.junit_xml(build.fleet_report([build.host_report('h', audit)])))


def test_markdown_lists_every_host_and_finding():
    text = render.markdown(fleet())
    assert '3 host(s): 0 passed, 3 failed (1 not audited); 10 finding(s).' in text
    assert '| web2 | enforce | FAILED | 5 | 5 | 2 | 2 | 1 | 0 | 0 |' in text
    assert '| db1 | report | not audited | - | 0 |' in text
    assert text.count('`[::]:23/tcp (in.telnetd)`') == 2
    assert 'Protected (never blocked or stopped): 22 (listed in protect)' in text


def test_text_table_is_aligned():
    lines = render.text_table(build.host_report('web1', AUDIT))
    assert lines[0] == 'web1: 5 listener(s), 5 finding(s), highest critical, FAILED - mode report'
    header = lines[1]
    assert header.split() == ['SEVERITY', 'KIND', 'LISTENER', 'STATUS']
    col = header.index('STATUS')
    rows = [line for line in lines[2:] if not line.startswith('      ')]
    assert len(rows) == 5
    assert all(line[col - 2:col] == '  ' for line in rows)


def test_text_table_shows_each_explanation_in_full():
    rep = build.host_report('web1', AUDIT)
    text = ' '.join(' '.join(line.split()) for line in render.text_table(rep))
    for finding in rep['findings']:
        assert ' '.join(finding['explanation'].split()) in text
