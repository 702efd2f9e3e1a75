# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host and fleet reports from a recorded port_audit result.

fixtures/port_audit_result.json is the registered result of
hostsec.ports.port_audit (listeners passed in, protect [22], now 2026-06-01)
with findings of every remediation kind. The planner's statuses
(remediation.status, see the remediation plan contract) are added here, since
the reports only put them into words.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import stat
from xml.etree import ElementTree as ET

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema
from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build, drift, files, html, query, render

with open(os.path.join(os.path.dirname(__file__), 'fixtures', 'port_audit_result.json')) as _handle:
    RECORDED = json.load(_handle)

PLAN = {23: ('stop', 'stop telnet.service'), 5353: ('block', 'block 5353/udp'), 22: ('protected', 'management path'),
        8081: ('block', 'block 8081/tcp'), None: ('reported', 'a required listener cannot be remediated')}


def planned(audit=RECORDED):
    audit = copy.deepcopy(audit)
    for f in audit['findings']:
        status, reason = PLAN[(f['listener'] or {}).get('port')]
        f['remediation'] = dict(f['remediation'], status=status, reason=reason)
    return audit


AUDIT = planned()
ENFORCED = {'mode': 'enforce', 'check_mode': False, 'backend': 'nftables', 'trial': False, 'errors': [],
            'applied': True, 'not_effective': None}
HOSTILE = ['<img src=x onerror=alert(1)>', '</script><script>alert(2)</script>', '<!--', '`code` | pipe',
           'bell\x07nul\x00', 'rtl\u202eoverride', 'line\u2028sep', 'bad\udcffbyte', '[link](javascript:x)']


def statuses(report):
    return {(f['kind'], (f['listener'] or {}).get('port')): f['status'] for f in report['findings']}


def test_report_mode_words_the_planned_status():
    rep = build.host_report('web1', AUDIT)
    assert rep['mode'] == 'report' and rep['audited'] and not rep['compliant']
    assert statuses(rep) == {
        ('denied', 23): 'would stop', ('unexpected', 5353): 'would block', ('unexpected', 22): 'protected',
        ('unexpected', 8081): 'would block', ('missing', None): 'reported'}
    prot = next(f for f in rep['findings'] if f['status'] == 'protected')
    assert prot['status_reason'] == 'management path'


def test_enforce_applied_check_mode_trial_errors_not_effective():
    got = statuses(build.host_report('web1', AUDIT, ENFORCED))
    assert got[('denied', 23)] == 'stopped' and got[('unexpected', 8081)] == 'blocked'
    assert statuses(build.host_report('web1', AUDIT, dict(ENFORCED, check_mode=True)))[('unexpected', 8081)] == 'would block'
    rep = build.host_report('web1', AUDIT, dict(ENFORCED, trial=True))
    assert 'reverts by itself' in next(f for f in rep['findings'] if f['status'] == 'blocked')['status_reason']
    rep = build.host_report('web1', AUDIT, dict(ENFORCED, errors=['no usable firewall backend']))
    f = next(f for f in rep['findings'] if f['listener'] and f['listener']['port'] == 8081)
    assert (f['status'], f['status_reason']) == ('not remediated', 'no usable firewall backend')
    rep = build.host_report('web1', AUDIT, dict(ENFORCED, not_effective='Group Policy ignores local rules'))
    assert statuses(rep)[('unexpected', 8081)] == 'not remediated'
    assert statuses(rep)[('unexpected', 22)] == 'protected'  # never turned into a new decision
    assert statuses(build.host_report('web1', AUDIT, dict(ENFORCED, applied=None)))[('denied', 23)] == 'not confirmed'


def test_planner_refusal_is_shown_with_its_reason():
    audit = copy.deepcopy(AUDIT)
    audit['findings'][0]['remediation'].update(status='not remediated', reason='shared service host, exact service unknown')
    f = build.host_report('w', audit, ENFORCED)['findings'][0]
    assert (f['status'], f['status_reason']) == ('not remediated', 'shared service host, exact service unknown')


def test_no_status_is_not_guessed():
    rep = build.host_report('web1', RECORDED, ENFORCED)
    assert set(statuses(rep).values()) == {'no plan'}


def test_verdicts_and_ignored_listeners_are_provenance():
    audit = copy.deepcopy(AUDIT)
    rule = {'list': 'allow', 'index': 0, 'text': '5432/tcp', 'origin': 'group_vars/db', 'expires': None}
    audit['verdicts'] = [{'allowed_by': rule if lst['port'] == 5432 else None, 'ignored_by': None,
                          'finding_ids': [f['id'] for f in audit['findings'] if f['listener'] and f['listener']['port'] == lst['port']]}
                         for lst in audit['listeners']]
    audit['ignored_listeners'] = [{'listener': dict(audit['listeners'][0], port=5355, protocol='udp'),
                                   'ignored_by': 'settings.ephemeral: ignore_udp'}]
    rep = build.host_report('db1', audit)
    pg = next(lst for lst in rep['listeners'] if lst['port'] == 5432)
    assert pg['allowed_by']['origin'] == 'group_vars/db' and pg['owner'] == 'postgresql.service'
    assert rep['ignored_listeners'][0]['ignored_by'] == 'settings.ephemeral: ignore_udp'
    text = render.markdown(build.fleet_report([rep]))
    assert 'ignored by settings.ephemeral: ignore\\_udp' in text
    assert 'allowed by allow[0] 5432/tcp (from group_vars/db)' in html.html(build.fleet_report([rep]))


def test_verdict_names_its_rule_by_key():
    # port_audit's verdicts name the rule ('allow[0]'); its text and origin come from the effective policy.
    audit = copy.deepcopy(AUDIT)
    audit['effective_policy'] = {'allow': [{'rule': '5432/tcp', 'text': '5432/tcp', 'list': 'allow', 'index': 0,
                                            'origin': 'group_vars/db', 'expires': None}], 'deny': [], 'require': []}
    audit['verdicts'] = [{'allowed_by': 'allow#0'} if lst['port'] == 5432 else
                         {'finding_ids': [f['id'] for f in audit['findings']
                                          if f['listener'] and f['listener']['port'] == lst['port']]}
                         for lst in audit['listeners']]
    rep = build.host_report('db1', audit)
    pg = next(lst for lst in rep['listeners'] if lst['port'] == 5432)
    assert pg['allowed_by'] == {'list': 'allow', 'index': 0, 'text': '5432/tcp', 'origin': 'group_vars/db',
                                'expires': None}
    assert build.verdict_text(pg) == 'allowed by allow[0] 5432/tcp (from group_vars/db)'
    # A key the effective policy does not hold fails the report instead of showing an allow nobody can check.
    for bad in ('allow#7', 'deny#0', 'allow#00', 'allow#\u0660', 'allow[0]', 'allow#', 'permit#0', 7, ['allow', 0]):
        broken = copy.deepcopy(audit)
        broken['verdicts'][[lst['port'] for lst in audit['listeners']].index(5432)] = {'allowed_by': bad}
        with pytest.raises(build.ReportError, match=r'db1: verdicts\[\d+\]\.allowed_by: .* is not an allow or require'):
            build.host_report('db1', broken)
    # Allowed and a finding at once: the report fails rather than hide the finding behind the allow.
    both = copy.deepcopy(audit)
    both['verdicts'][0] = {'allowed_by': 'allow#0', 'finding_ids': ['x']}
    with pytest.raises(build.ReportError, match=r'verdicts\[0\]: says allowed_by and finding_ids at once'):
        build.host_report('db1', both)
    # A verdict that says nothing is shown as unknown, not as "no finding".
    silent = copy.deepcopy(audit)
    silent['verdicts'] = [{} for _lst in audit['listeners']]
    rep = build.host_report('db1', silent)
    assert {build.verdict_text(lst) for lst in rep['listeners']} == {
        'no finding (the audit did not say which rule allowed it)'}


def test_unknown_kind_renders_generically():
    audit = copy.deepcopy(AUDIT)
    audit['findings'][0]['kind'] = 'identity_mismatch'
    fleet = build.fleet_report([build.host_report('h', audit)])
    assert any(g['kind'] == 'identity_mismatch' for g in fleet['groups'])
    render.markdown(fleet), render.junit_xml(fleet), html.html(fleet), render.fleet_summary(fleet)


def test_host_without_audit_is_not_audited():
    rep = build.host_report('db1', {'msg': 'unreachable'})
    assert not rep['audited'] and not rep['compliant'] and rep['errors'] == ['unreachable']
    assert render.text_table(rep) == ['db1: NOT AUDITED (report): unreachable']


def test_bad_finding_names_host_and_index():
    with pytest.raises(build.ReportError, match=r"web1: findings\[0\]: not a port_audit finding"):
        build.host_report('web1', {'findings': [{'kind': 'x'}]})


def fleet():
    return build.fleet_report([build.host_report('web2', AUDIT, ENFORCED, groups=['web']),
                               build.host_report('web1', AUDIT, groups=['web']),
                               build.host_report('db1', {'msg': 'unreachable'})], generated='2026-06-01T00:00:00+00:00')


def test_fleet_totals_order_and_grouping():
    doc = fleet()
    assert [h['host'] for h in doc['hosts']] == ['db1', 'web1', 'web2']
    t = doc['totals']
    assert (t['hosts'], t['hosts_compliant'], t['hosts_noncompliant'], t['hosts_not_audited'], t['findings']) == (3, 0, 2, 1, 10)
    assert t['by_severity']['critical'] == 4 and t['by_status']['protected'] == 2
    assert len(doc['groups']) == 5 and all(g['hosts'] == ['web1', 'web2'] for g in doc['groups'])
    telnet = next(g for g in doc['groups'] if g['port'] == 23)
    assert telnet['title'] == 'denied 23/tcp (in.telnetd)' and telnet['by_status'] == {'stopped': 1, 'would stop': 1}
    assert len(doc['policies']) == 1  # one copy of the identical policy
    json.loads(render.to_json(doc))


def test_markdown_groups_findings_across_hosts():
    text = render.markdown(fleet())
    assert '3 host(s): 0 compliant, 2 non-compliant, 1 not audited; 10 finding(s)' in text
    assert text.count('denied 23/tcp \\(in.telnetd\\)') == 0 and text.count('denied 23/tcp (in.telnetd)') == 2
    assert '| denied 23/tcp (in.telnetd) | critical | 2 | stopped: 1, would stop: 1 | web1, web2 |' in text
    assert '| web2 | web | enforce | NON-COMPLIANT | 5 | 0 | 5 | 2 | 2 | 1 | 0 | 0 |' in text
    assert 'Protected (never blocked or stopped): 22 (listed in protect)' in text
    assert 'port\\_policy\\_fail\\_on is empty' in text


def test_summary_is_one_line_per_host_then_groups():
    lines = render.fleet_summary(fleet())
    assert lines[0].startswith('3 host(s)') and len(lines) == 1 + 3 + 1 + 5
    assert lines[1] == '  db1   not audited   unreachable'
    assert lines[5] == '  critical denied 23/tcp (in.telnetd) on 2 host(s)'


def test_junit_one_case_per_host_and_finding():
    root = ET.fromstring(render.junit_xml(fleet()))
    assert (root.get('tests'), root.get('failures'), root.get('errors')) == ('11', '10', '1')
    suites = {s.get('name'): s for s in root.findall('testsuite')}
    assert suites['db1'].find('testcase/error').get('message') == 'unreachable'
    assert all(c.get('classname') == 'web1' for c in suites['web1'].findall('testcase'))


def test_junit_by_host_and_fail_on():
    root = ET.fromstring(render.junit_xml(fleet(), fail_on=('critical',), by='host'))
    case = root.find("testsuite[@name='web1']/testcase")
    assert case.find('failure').get('message') == '2 finding(s) at a failing severity'
    with pytest.raises(ValueError, match="junit_fail_on: unknown severity 'severe'"):
        render.junit_xml(fleet(), fail_on=('severe',))


def hostile_fleet():
    audit = copy.deepcopy(AUDIT)
    for i, f in enumerate(audit['findings']):
        name = HOSTILE[i % len(HOSTILE)]
        f['explanation'] = ' '.join(HOSTILE)
        if f['listener']:
            f['listener']['processes'] = [{'name': name, 'cmdline': ' '.join(HOSTILE), 'unit': name, 'user': name}]
    for lst in audit['listeners']:
        lst['processes'] = [{'name': HOSTILE[0], 'cmdline': ' '.join(HOSTILE), 'unit': HOSTILE[1]}]
    return build.fleet_report([build.host_report(h, audit, groups=[h]) for h in HOSTILE])


def test_every_format_escapes_every_hostile_name():
    doc = hostile_fleet()
    md = render.markdown(doc)
    for bad in ('<img', '<script', '<!--', '\x07', '\x00', '\u202e', '\u2028', '\udcff', '[link](javascript'):
        assert bad not in md, bad
    assert '\\`code\\` \\| pipe' in md and '\\u202e' in md
    root = ET.fromstring(render.junit_xml(doc).encode('utf-8'))  # valid XML for any byte
    assert any('<img src=x onerror=alert(1)>' == s.get('name') for s in root.findall('testsuite'))
    page = html.html(doc)
    body = page.split('<script type="application/json" id="data">')[1].split('</script>')[0]
    assert '<' not in body and '>' not in body and json.loads(body)['S']
    for line in render.fleet_summary(doc) + render.text_table(doc['hosts'][0]):
        assert '\x07' not in line and '\u202e' not in line
    json.loads(render.to_json(doc))
    for rep in doc['hosts']:
        host_md = render.host_markdown(rep)
        for bad in ('<img', '<script', '<!--', '\x07', '\x00', '\u202e', '\u2028', '\udcff', '[link](javascript'):
            assert bad not in host_md, bad
    rows = list(csv.reader(io.StringIO(render.fleet_csv(doc))))
    for row in rows:
        for cell in row:
            assert not cell.startswith(('=', '+', '-', '@')), cell
            assert '\x07' not in cell and '\x00' not in cell and '\u202e' not in cell and '\n' not in cell


def test_containers_are_named_grouped_and_drifted_apart_from_the_host():
    audit = copy.deepcopy(AUDIT)
    web = next(f for f in audit['findings'] if f['listener'] and f['listener']['port'] == 8081)
    in_container = copy.deepcopy(web)
    in_container['listener']['container'] = {'runtime': 'podman', 'id': 'c' * 64, 'name': 'web', 'image': 'nginx:1.25',
                                             'pod': 'shop'}
    in_container['id'] = 'container-8081'
    audit['findings'].append(in_container)
    audit['listeners'].append(in_container['listener'])
    audit.pop('verdicts', None)
    rep = build.host_report('web1', audit)
    texts = [f['where'] for f in rep['findings'] if f['listener'] and f['listener']['port'] == 8081]
    assert texts == ['0.0.0.0:8081/tcp (python3)', '0.0.0.0:8081/tcp (python3) in podman web (pod shop)']
    groups = build.fleet_report([rep])['groups']
    titles = sorted(g['title'] for g in groups if g['port'] == 8081)
    assert titles == ['unexpected 8081/tcp (python3 in podman nginx:1.25)', 'unexpected 8081/tcp (python3)']
    ids = {drift._listener_id(lst) for lst in rep['listeners']}
    assert ('tcp', '0.0.0.0', 8081) in ids and ('tcp', '0.0.0.0', 8081, 'podman web') in ids


def test_a_compact_audit_reports_the_same_as_a_full_one():
    # port_audit returns its listeners compact (owners once, by pid); older results and given ones are full.
    full = {k: v for k, v in AUDIT.items() if k != 'processes'}
    compact = dict(full, **schema.compact(full['listeners']))
    assert all('pids' in lst for lst in compact['listeners'])
    assert build.host_report('web1', compact) == build.host_report('web1', full)
    broken = dict(compact, processes={})
    with pytest.raises(build.ReportError, match=r"web1: listeners\[0\]\.pids: pid 400 is not in the processes table"):
        build.host_report('web1', broken)
    # A table of the wrong shape, or a record filed under another pid, is an error, never a wrong owner.
    for table, match in (([], 'processes: expected a mapping'),
                         ({'400': {'pid': 700, 'name': 'x'}}, r'processes\[400\]: expected the record of process 400'),
                         ({'400': 'sshd'}, r'processes\[400\]')):
        with pytest.raises(build.ReportError, match=match):
            build.host_report('web1', dict(compact, processes=dict(compact['processes'], **table)
                                           if isinstance(table, dict) else table))


def test_host_markdown_spells_out_findings_and_listeners():
    text = render.host_markdown(fleet()['hosts'][2])
    assert text.startswith('# Listening ports on web2\n') and 'Result: **NON-COMPLIANT**, mode enforce' in text
    assert '| critical | denied | \\[::\\]:23/tcp (in.telnetd) | stopped: stop telnet.service | deny\\[0\\]' in text
    listeners = text.split('## Listeners', 1)[1].split('## Effective policy')[0]
    assert listeners.count('\n| ') - 1 == len(AUDIT['listeners'])
    assert '| 0.0.0.0:8081/tcp (python3) | web8081.service | python3, pid 500, user root' in listeners
    assert '## Effective policy' in text
    assert 'Not audited' in render.host_markdown(fleet()['hosts'][0])


def test_csv_defuses_formulas_behind_invisible_characters():
    for bad in ('=1+1', ' =1+1', '\t=cmd', '\u00a0=1', '\u2060=1', '\u3000+1', '\uff1d1', '@SUM(A1)', '-2+3'):
        assert render._csv_cell(bad).startswith("'"), repr(bad)
    # Zero-width and direction characters are written as visible escapes, which no spreadsheet evaluates.
    assert render._csv_cell('\u200b=1') == '\\u200b=1' and render._csv_cell('\ufeff+1') == '\\ufeff+1'
    assert render._csv_cell('web1') == 'web1' and render._csv_cell(None) == '' and render._csv_cell('a=b') == 'a=b'


def test_html_string_table_keeps_equal_keys_of_different_text_apart():
    table = html._Strings()
    assert [table.table[table[v]] for v in (1, True, 1.0, '1', False, 0)] == ['1', 'True', '1.0', '1', 'False', '0']
    assert table[None] == -1


def test_csv_has_one_row_per_finding_and_defuses_formulas():
    doc = fleet()
    doc['hosts'][1]['findings'][0]['explanation'] = '=HYPERLINK("http://x","y")'
    rows = list(csv.DictReader(io.StringIO(render.fleet_csv(doc))))
    assert [r['host'] for r in rows].count('web1') == 5 and [r['host'] for r in rows].count('db1') == 1
    assert rows[0]['result'] == 'not audited' and rows[0]['status_reason'] == 'unreachable'
    first = next(r for r in rows if r['host'] == 'web1')
    assert first['explanation'] == '\'=HYPERLINK("http://x","y")' and first['severity'] in build.SEVERITIES
    assert tuple(rows[0]) == render.CSV_COLUMNS


def test_html_is_self_contained_with_a_strict_policy():
    page = html.html(fleet())
    head = page.split('<script type="application/json"', maxsplit=1)[0]
    assert "default-src 'none'" in head and "require-trusted-types-for 'script'" in head
    assert 'src=' not in head and '<link' not in head and 'innerHTML' not in page


def test_host_file_names_are_unique_and_reversible():
    names = ['web/1', 'web_1', 'web:1', 'web%2F1', '.hidden', '..', 'ünï', 'a' * 300, 'bad\udcff']
    encoded = [files.host_file_name(n) for n in names]
    assert len(set(encoded)) == len(names)
    assert all('/' not in e and not e.startswith('.') and len(e) <= files.MAX_NAME for e in encoded)
    assert [files.host_from_file_name(e) for e in encoded[:-2]] == names[:-2]
    assert encoded[:3] == ['web%2F1', 'web_1', 'web%3A1']


def test_host_file_names_differ_on_a_case_insensitive_file_system():
    names = ['web', 'WEB', 'Web', 'web%57', 'Ünï', 'ünï', 'con', 'NUL', 'lpt1', 'console', 'db-01.example.com',
             'con.example', 'aux.tar', 'a~b']
    encoded = [files.host_file_name(n) for n in names]
    assert len({e.lower() for e in encoded}) == len(names)
    assert [files.host_from_file_name(e) for e in encoded] == names
    assert encoded[1] == '%57%45%42' and encoded[6] == '%63on' and encoded[10] == 'db-01.example.com'
    assert encoded[11] == '%63on.example' and encoded[12] == '%61ux.tar' and encoded[13] == 'a%7Eb'


def test_a_name_forged_to_look_cut_to_length_gets_its_own_file():
    long_name = 'a' * 300
    forged = files.host_file_name(long_name)  # 'aaa...~<digest>', as if it were a host name
    assert '~' in forged and files.host_file_name(forged) != forged


def test_files_are_private_by_default(tmp_path):
    mode, dir_mode = files.parse_mode(files.DEFAULT_MODE)
    assert (mode, dir_mode) == (0o600, 0o700) and files.parse_mode('0640') == (0o640, 0o750)
    target = tmp_path / 'new' / 'hosts' / 'x.json'
    files.write(str(target), '{}', mode, dir_mode)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / 'new').stat().st_mode) == 0o700
    for bad in ('644x', '0200', 'rw', True):
        with pytest.raises(ValueError, match='mode'):
            files.parse_mode(bad)


def _with_new_listener(audit):
    audit = copy.deepcopy(audit)
    extra = dict(copy.deepcopy(audit['listeners'][0]), port=9090, address='0.0.0.0')
    extra['processes'][0].update(name='nc', unit=None, services=[], exe='/usr/bin/nc')
    extra['services'] = []
    audit['listeners'].append(extra)
    finding = dict(copy.deepcopy(audit['findings'][3]), id='new9090', listener=extra)
    audit['findings'].append(finding)
    return audit


def test_drift_new_gone_changed_appeared_vanished():
    first = build.fleet_report([build.host_report('web1', AUDIT), build.host_report('old', AUDIT),
                                build.host_report('db1', AUDIT)], generated='run1')
    assert drift.drift(None, first)['state'] == 'baseline created'
    changed_owner = copy.deepcopy(AUDIT)
    pg = next(lst for lst in changed_owner['listeners'] if lst['port'] == 5432)
    pg['processes'][0].update(unit='evil.service', pid=4242)
    pg['services'] = ['evil.service']
    restarted = copy.deepcopy(AUDIT)
    for lst in restarted['listeners']:
        for p in lst['processes']:
            p['pid'] += 1000  # a restart is no change
    second = build.fleet_report([build.host_report('web1', _with_new_listener(restarted)),
                                 build.host_report('db1', changed_owner), build.host_report('new', AUDIT)],
                                generated='run2')
    d = drift.drift(json.loads(render.to_json(first)), second, baseline_name='fleet.json')
    assert d['state'] == 'changed' and d['baseline'] == {'name': 'fleet.json', 'generated': 'run1'}
    assert d['hosts']['web1']['listeners_new'] == ['0.0.0.0:9090/tcp (nc)']
    assert d['hosts']['web1']['findings_new'] == ['high unexpected 0.0.0.0:9090/tcp (nc)']
    assert 'listeners_gone' not in d['hosts']['web1']
    assert d['hosts']['db1']['listeners_changed'] == [
        '127.0.0.1:5432/tcp (postgres): owner postgresql.service -> evil.service']
    assert d['hosts']['old'] == {'state': 'vanished', 'was': 'non-compliant'}
    assert d['hosts']['new']['state'] == 'appeared'
    t = d['totals']
    assert (t['hosts_appeared'], t['hosts_vanished'], t['hosts_changed'], t['listeners_new']) == (1, 1, 2, 1)
    second['drift'] = d
    assert '- web1: changed' in render.markdown(second)
    assert '  - new listener: 0.0.0.0:9090/tcp (nc)' in render.markdown(second)
    root = ET.fromstring(render.junit_xml(second, drift_fails=True))
    case = root.find("testsuite[@name='drift']/testcase")
    # web1's new finding plus the five of the host that appeared
    assert case.find('failure').get('message') == '6 new finding(s) since the baseline'
    assert ET.fromstring(render.junit_xml(second)).find("testsuite[@name='drift']/testcase/failure") is None
    assert 'run1' in html.html(second)


def test_query_selects_findings_and_listeners():
    doc = fleet()
    expr = query.compile_query("findings[?severity=='critical'].[host, where]")
    assert sorted(map(tuple, query.run(expr, doc)))[0] == ('web1', '0.0.0.0:5353/udp (unknown process)')
    assert query.run(query.compile_query("listeners[?port==`5432`].host"), doc) == ['web1', 'web2']
    with pytest.raises(ValueError, match="query: 'findings\\[' is not a JMESPath expression"):
        query.compile_query('findings[')


def test_fleet_json_is_slim_and_host_files_keep_the_detail():
    doc = fleet()
    slim = json.loads(render.fleet_json(doc))
    web1 = next(h for h in slim['hosts'] if h['host'] == 'web1')
    assert all('processes' not in lst and lst['text'] for lst in web1['listeners'])
    telnet = next(f for f in web1['findings'] if f['listener'] and f['listener']['port'] == 23)
    group = next(g for g in slim['groups'] if g['id'] == telnet['group'])
    assert group['title'] == 'denied 23/tcp (in.telnetd)' and 'explanation' not in telnet  # said once, in the group
    assert 'policy' not in web1 and web1['policy_id'] in slim['policies']
    # The host reports the fleet was built from are not changed: the per-host file keeps everything.
    full = json.loads(render.to_json(next(h for h in doc['hosts'] if h['host'] == 'web1')))
    assert full['policy'] == slim['policies'][full['policy_id']]
    assert full['listeners'][0]['processes'] and full['findings'][0]['explanation']
    # Drift reads the slim file of the previous run.
    assert drift.drift(slim, doc)['state'] == 'unchanged'
    # A slim listener keeps every optional field that has a value and leaves out those that are null.
    listeners = [lst for rep in slim['hosts'] for lst in rep['listeners']]
    for lst in listeners:
        assert all(lst[key] is not None for key in build._FLEET_LISTENER_OPTIONAL if key in lst)
    web1_full = next(h for h in doc['hosts'] if h['host'] == 'web1')
    rich = dict(web1_full['listeners'][0], allowed_by={'list': 'allow', 'index': 0}, ignored_by='ephemeral',
                owner_service='x.service', container={'runtime': 'podman', 'name': 'c'}, verdict_known=False)
    assert set(build._FLEET_LISTENER_OPTIONAL) <= set(build._fleet_listener(rich))


def test_bulk_restores_the_garbage_collector():
    import gc
    assert gc.isenabled()
    with pytest.raises(build.ReportError):
        with build.bulk():
            assert not gc.isenabled()
            raise build.ReportError('x')
    assert gc.isenabled()


def test_an_outcome_left_by_an_earlier_run_of_another_mode_is_not_this_run_s():
    from ansible_collections.hostsec.ports.plugins.action import port_report as action
    report_run = {'plan': {'mode': 'report'}, 'check_mode': True}
    stale = dict(ENFORCED, errors=['old failure'])
    assert action._outcome(report_run, stale) == {'mode': 'report', 'check_mode': True}
    assert action._outcome(report_run, None) == {'mode': 'report', 'check_mode': True}
    assert action._outcome({'plan': {'mode': 'enforce'}}, stale) is stale
    assert action._outcome('not an audit', None) == {}


def test_owner_and_names_that_are_not_text_fail_instead_of_becoming_text():
    # A unit or process name of the wrong type is a broken result: the report stops, it never shows it as an owner.
    from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import process_names
    with pytest.raises(TypeError):
        build.listener_owner({'processes': [{'name': 'x', 'unit': ['evil.service']}]})
    with pytest.raises(TypeError):
        build.listener_owner({'owner_service': 'x.service', 'services': 5, 'processes': []})
    with pytest.raises(TypeError):
        process_names([{'name': 5}])
    assert process_names([{'name': 'nginx'}]) == 'nginx' and process_names([]) == 'unknown process'
    assert process_names([{'name': 'b'}, {'name': 'a'}, {'name': 'b'}]) == 'a, b'


@pytest.mark.parametrize('hosts, named', [
    ([1], 'hosts[0]'),
    ([{'host': None}], 'hosts[0]'),
    ([{'host': 'a', 'audited': True, 'listeners': 'x'}], 'hosts[0].listeners'),
    ([{'host': 'a', 'audited': True, 'listeners': [None]}], 'hosts[0].listeners[0]'),
    ([{'host': 'a', 'audited': True, 'findings': [{'id': ['not', 'hashable']}]}], 'hosts[0].findings[0]'),
    ([{'host': 'a', 'audited': True, 'listeners': [{'protocol': 'tcp', 'address': '::', 'port': [1]}]}],
     'hosts[0].listeners[0]'),
    ([{'host': 'a', 'audited': True, 'listeners': [{'protocol': 'tcp', 'port': 1, 'container': 'not a mapping'}]}],
     'hosts[0].listeners[0]'),
    ([{'host': 'a', 'audited': True, 'findings': [{'id': 'f'}, ['not', 'a', 'mapping']]}], 'hosts[0].findings[1]'),
])
def test_a_hostile_baseline_is_an_error_naming_its_entry_never_no_drift(tmp_path, hosts, named):
    path = tmp_path / 'fleet.json'
    path.write_text(json.dumps({'hosts': hosts}))
    with pytest.raises(drift.DriftError, match=re.escape(named)) as caught:
        drift.read_previous(str(path), 'baseline')
    assert isinstance(caught.value, build.ReportError)  # port_report reports it as bad input, before writing
    assert str(path) in str(caught.value)


def test_the_fast_and_the_checked_reading_of_a_run_agree():
    # drift reads each host's records in one loop and falls back to the checked one only for a bad record:
    # both must give the same identities, texts and attributes (containers, findings without an id included).
    listeners = [{'protocol': 'tcp', 'address': '0.0.0.0', 'port': 80, 'text': 'a', 'owner': 'o', 'exposure': 'wildcard'},
                 {'protocol': 'tcp', 'address': '0.0.0.0', 'port': 80, 'text': 'b', 'owner': 'p', 'exposure': 'wildcard',
                  'container': {'runtime': 'podman', 'name': 'web'}},
                 {'protocol': 'udp', 'address': '::', 'port': 53, 'text': 'c'},
                 {'protocol': 'tcp', 'address': '0.0.0.0', 'port': 80, 'text': 'dup', 'owner': 'q'}]
    findings = [{'id': 'x', 'kind': 'unexpected', 'severity': 'high', 'where': 'w', 'status': 'reported'},
                {'kind': 'missing', 'severity': 'medium', 'where': 'required: 443/tcp'},
                {'id': '', 'kind': 'denied', 'where': 'v'}]
    rep = {'listeners': listeners, 'findings': findings}
    for what in (drift._LISTENERS, drift._FINDINGS):
        fast = drift._items(rep, what, 'here')
        assert fast == drift._checked_items(rep[what[0]], what, 'here')
    assert len(drift._items(rep, drift._LISTENERS, 'here')) == 3  # the later duplicate wins


def test_baseline_file_errors_name_the_file(tmp_path):
    missing = tmp_path / 'nope.json'
    with pytest.raises(drift.DriftError, match='baseline: cannot read'):
        drift.read_previous(str(missing), 'baseline')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"hosts": [')
    with pytest.raises(drift.DriftError, match='invalid JSON'):
        drift.read_previous(str(bad), 'previous run')
    bad.write_text('[]')
    with pytest.raises(drift.DriftError, match='no hosts list'):
        drift.read_previous(str(bad), 'previous run')
    fifo = tmp_path / 'fifo.json'
    os.mkfifo(fifo)  # no writer: reading it would block the task for ever
    with pytest.raises(drift.DriftError, match='baseline: .*fifo.json is not a regular file'):
        drift.read_previous(str(fifo), 'baseline')
    with pytest.raises(drift.DriftError, match='is not a regular file'):
        drift.read_previous(str(tmp_path), 'baseline')


def test_one_previous_state_compares_with_two_runs_alike():
    first = build.fleet_report([build.host_report('web1', AUDIT)], generated='run1')
    second = build.fleet_report([build.host_report('web1', _with_new_listener(copy.deepcopy(AUDIT)))], generated='run2')
    state = drift.previous_state(json.loads(render.to_json(first)))
    assert drift.compare(state, second) == drift.compare(state, second)  # the state is not consumed
    assert drift.compare(state, second)['totals']['listeners_new'] == 1
