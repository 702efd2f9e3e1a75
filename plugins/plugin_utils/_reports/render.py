# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Report documents as text: play-output table, JSON, JUnit XML, Markdown, CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
import unicodedata
from xml.etree import ElementTree as ET

from ansible_collections.hostsec.ports.plugins.plugin_utils._reports.build import (
    SEVERITIES, fleet_document, processes_text, rule_text, verdict_text)

EXPLANATION_WIDTH = 100
JUNIT_GROUPING = ('finding', 'host')


def _cut(text, width):
    """One line of at most width characters (JUnit failure messages are one-liners)."""
    text = ' '.join(str(text).split())
    return text if len(text) <= width else text[:width - 3] + '...'


def text_table(report):
    """Lines for the play output: a header line, then per finding a row and its explanation.

    The explanation is the point of a finding, so it is wrapped in full under
    its row rather than cut to fit a column.
    """
    mode = report['mode'] + (' (check mode)' if report['check_mode'] else '')
    if not report['audited']:
        return ['%s: NOT AUDITED (%s): %s' % (_oneline(report['host']), mode, _oneline('; '.join(report['errors'])))]
    summary = report['summary'] or {}
    head = '%s: %s listener(s), %d finding(s)%s, %s - mode %s' % (
        _oneline(report['host']), summary.get('listeners', '?'), len(report['findings']),
        ', highest %s' % summary['highest_severity'] if summary.get('highest_severity') else '',
        'compliant' if report['compliant'] else 'NON-COMPLIANT', mode)
    lines = [head]
    if not report['findings']:
        return lines + ['  no findings: every listener is allowed by the policy']
    rows = [('SEVERITY', 'KIND', 'LISTENER', 'STATUS')]
    for f in report['findings']:
        rows.append((f['severity'], _oneline(f['kind']), _oneline(f['where']), f['status']))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines.append('  ' + '  '.join(c.ljust(w) for c, w in zip(rows[0], widths)).rstrip())
    for row, finding in zip(rows[1:], report['findings']):
        lines.append('  ' + '  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        lines.extend(textwrap.wrap(_oneline(finding['explanation']), EXPLANATION_WIDTH,
                                   initial_indent='      ', subsequent_indent='      ',
                                   break_on_hyphens=False, break_long_words=False))
    for err in report['errors']:
        lines.append('  error: %s' % _oneline(err))
    return lines


def to_json(doc):
    # One line, compact separators, keys in the order the documents are built (already stable): the C
    # encoder then does no sorting and no indenting, which matters at 1,000 hosts. The documents are trees
    # (see build.bulk), so the encoder need not keep a table of every container to detect cycles.
    return json.dumps(doc, separators=(',', ':'), default=str, check_circular=False) + '\n'


def fleet_json(fleet):
    """fleet.json: the slim fleet document (the per-host files hold the full detail)."""
    return to_json(fleet_document(fleet))


# Characters XML 1.0 cannot carry (process names and cmdlines can hold any byte;
# undecodable bytes arrive as lone surrogates), shown as visible escapes.
_XML_BAD = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]')


def _x(text):
    """Text that is always valid XML 1.0 character data."""
    return _XML_BAD.sub(lambda m: '\\x%02x' % ord(m.group()) if ord(m.group()) < 0x100 else '\\u%04x' % ord(m.group()),
                        str(text))


def _finding_text(f):
    lines = ['%s %s finding on %s' % (f['severity'], f['kind'], f['where']),
             'status: %s (%s)' % (f['status'], f['status_reason']),
             'explanation: %s' % f['explanation']]
    if f['severity_reasons']:
        lines.append('severity reasons: %s' % '; '.join(f['severity_reasons']))
    rule = f.get('rule') or f.get('nearest_rule')
    if rule:
        lines.append('%s: %s (%s)' % ('rule' if f.get('rule') else 'nearest rule', rule.get('text'), rule.get('origin')))
    return _x('\n'.join(lines))


def _drift_case(root, drift, fail):
    """One testsuite 'drift' with a testcase that fails on new findings when the user asks for it."""
    suite = ET.SubElement(root, 'testsuite', name='drift', tests='1', failures='0', errors='0')
    case = ET.SubElement(suite, 'testcase', classname='drift', name='no new findings since the baseline')
    new = [(host, text) for host, entry in sorted(drift.get('hosts', {}).items())
           for text in entry.get('findings_new') or ()]
    lines = [drift['text']] + ['%s: new finding %s' % item for item in new]
    lines += ['warning: %s' % w for w in drift.get('warnings') or ()]
    body = _x('\n'.join(lines))
    if new and fail:
        suite.set('failures', '1')
        ET.SubElement(case, 'failure', type='drift', message=_x('%d new finding(s) since the baseline' % len(new))).text = body
        return 1
    ET.SubElement(case, 'system-out').text = body
    return 0


def junit_xml(fleet, fail_on=('critical', 'high', 'medium', 'low'), by='finding', drift_fails=False):
    """JUnit XML: one suite per host; a testcase per finding (or per host), plus a drift suite.

    Findings at a ``fail_on`` severity are failures, the rest pass and carry
    their text in system-out; a host that could not be audited is an error.
    The host is the classname, which is what CI tools display.
    """
    if by not in JUNIT_GROUPING:
        raise ValueError('junit_by: unknown value %r (expected finding or host)' % (by,))
    unknown = [s for s in fail_on if s not in SEVERITIES]
    if unknown:
        raise ValueError('junit_fail_on: unknown severity %r (expected some of %s)' % (unknown[0], ', '.join(SEVERITIES)))
    root = ET.Element('testsuites', name='hostsec.ports', tests='0', failures='0', errors='0')
    totals = {'tests': 0, 'failures': 0, 'errors': 0}
    for rep in fleet['hosts']:
        host = rep['host']
        suite = ET.SubElement(root, 'testsuite', name=_x(host))
        counts = {'tests': 0, 'failures': 0, 'errors': 0}
        if not rep['audited']:
            case = ET.SubElement(suite, 'testcase', classname=_x(host), name='port audit')
            ET.SubElement(case, 'error', message=_x('; '.join(rep['errors'])), type='not audited')
            counts['tests'] += 1
            counts['errors'] += 1
        elif by == 'host':
            failing = [f for f in rep['findings'] if f['severity'] in fail_on]
            case = ET.SubElement(suite, 'testcase', classname=_x(host), name='listening ports')
            counts['tests'] += 1
            if failing:
                counts['failures'] += 1
                fail = ET.SubElement(case, 'failure', type='port policy',
                                     message=_x('%d finding(s) at a failing severity' % len(failing)))
                fail.text = '\n\n'.join(_finding_text(f) for f in failing)
            others = [f for f in rep['findings'] if f['severity'] not in fail_on]
            if others:
                ET.SubElement(case, 'system-out').text = '\n\n'.join(_finding_text(f) for f in others)
        else:
            if not rep['findings']:
                ET.SubElement(suite, 'testcase', classname=_x(host), name='no findings')
                counts['tests'] += 1
            for f in rep['findings']:
                case = ET.SubElement(suite, 'testcase', classname=_x(host),
                                     name=_x('%s %s %s' % (f['kind'], f['where'], f['id'] or '')))
                counts['tests'] += 1
                if f['severity'] in fail_on:
                    counts['failures'] += 1
                    fail = ET.SubElement(case, 'failure', type=_x(f['kind']),
                                         message=_x('%s: %s' % (f['severity'], _cut(f['explanation'], 200))))
                    fail.text = _finding_text(f)
                else:
                    ET.SubElement(case, 'system-out').text = _finding_text(f)
        for key, val in counts.items():
            suite.set(key, str(val))
            totals[key] += val
    if fleet.get('drift'):
        totals['tests'] += 1
        totals['failures'] += _drift_case(root, fleet['drift'], drift_fails)
    for key, val in totals.items():
        root.set(key, str(val))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding='unicode') + '\n'


# Markdown renderers differ, so hostile text is made inert for all of them:
# HTML metacharacters become entities, Markdown punctuation that could open a
# link, emphasis, code span, strike-through or table cell is backslash-escaped, and control or
# bidi-override characters are shown as visible escapes.
_MD_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff'
                         '\ud800-\udfff]')
_MD_PUNCT = re.compile(r'([\\`*_\[\]|~])')


def md_escape(text):
    text = str(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    text = _MD_PUNCT.sub(r'\\\1', text)
    return _MD_CONTROL.sub(lambda m: '\\u%04x' % ord(m.group()), text)


def _md_list(items, limit=20):
    items = list(items)
    text = ', '.join(md_escape(i) for i in items[:limit])
    return text + (' and %d more' % (len(items) - limit) if len(items) > limit else '')


def _host_result(rep):
    if not rep['audited']:
        return 'not audited'
    return 'compliant' if rep['compliant'] else 'NON-COMPLIANT'


def provenance_lines(fleet):
    prov = fleet.get('provenance') or {}
    kb = prov.get('kb') or {}
    out = ['- Collection: hostsec.ports %s' % md_escape(prov.get('collection_version') or 'unknown'),
           '- Knowledge base: %s' % md_escape(kb.get('text') or 'unknown')]
    if prov.get('query'):
        out.append('- Query: %s' % md_escape(prov['query']))
    return out


def policy_lines(fleet):
    """Each distinct effective policy once, every rule with its origin, and the hosts under it."""
    by_policy = {}
    for rep in fleet['hosts']:
        by_policy.setdefault(rep.get('policy_id'), []).append(rep['host'])
    out = []
    for pid, policy in sorted((fleet.get('policies') or {}).items()):
        out += ['', '### Policy %s (%d host(s): %s)' % (pid, len(by_policy.get(pid, ())), _md_list(by_policy.get(pid, ()), 10)), '']
        for lst in ('allow', 'deny', 'require'):
            for rule in policy.get(lst) or ():
                expires = ', expires %s' % rule['expires'] if rule.get('expires') else ''
                out.append('- %s[%s] %s (from %s%s)' % (lst, rule.get('index'), md_escape(rule.get('text')),
                                                        md_escape(rule.get('origin')), expires))
        origins = policy.get('settings_origin') or {}
        settings = ', '.join('%s: %s (%s)' % (md_escape(k), md_escape(v), md_escape(origins.get(k, '?')))
                             for k, v in sorted((policy.get('settings') or {}).items()))
        if settings:
            out.append('- settings: %s' % settings)
    return out


def drift_lines(drift):
    if not drift:
        return []
    out = ['', '## Changes since the last run', '', md_escape(drift['text']), '']
    for warning in drift.get('warnings') or ():
        out.append('- warning: %s' % md_escape(warning))
    labels = (('listeners_new', 'new listener'), ('listeners_gone', 'gone listener'),
              ('listeners_changed', 'changed listener'), ('findings_new', 'new finding'),
              ('findings_gone', 'gone finding'), ('findings_changed', 'changed finding'))
    for host, entry in sorted(drift.get('hosts', {}).items()):
        state = entry['state'] + (' (%s -> %s)' % (entry['was'], entry['result'])
                                  if entry.get('was') and entry.get('result') and entry['was'] != entry['result'] else '')
        out.append('- %s: %s' % (md_escape(host), state))
        for key, label in labels:
            for text in entry.get(key) or ():
                out.append('  - %s: %s' % (label, md_escape(text)))
    return out


def markdown(fleet):
    """A fleet report people read: totals, provenance, drift, grouped findings, one line per host."""
    t = fleet['totals']
    out = ['# Listening-port report', '']
    if fleet.get('generated'):
        out += ['Generated %s by hostsec.ports.' % md_escape(fleet['generated']), '']
    out += ['%d host(s): %d compliant, %d non-compliant, %d not audited; %d finding(s) on %d listener(s), '
            '%d listener(s) ignored by settings.' % (
                t['hosts'], t['hosts_compliant'], t['hosts_noncompliant'], t['hosts_not_audited'], t['findings'],
                t['listeners'], t['ignored_listeners']), '']
    if fleet.get('compliance'):
        out += [md_escape(fleet['compliance']['text']), '']
    out += provenance_lines(fleet)
    out += drift_lines(fleet.get('drift'))
    out += ['', '## Findings across hosts', '']
    if not fleet.get('groups'):
        out.append('No findings on any host.')
    else:
        out += ['| finding | severity | hosts | status | hosts affected |', '|---|---|---:|---|---|']
        for grp in fleet['groups']:
            out.append('| %s | %s | %d | %s | %s |' % (
                md_escape(grp['title']), grp['severity'], grp['host_count'],
                md_escape(', '.join('%s: %d' % kv for kv in sorted(grp['by_status'].items()))),
                _md_list(grp['hosts'])))
        out += ['', '### What the findings mean', '']
        for grp in fleet['groups']:
            out.append('- **%s** (%s, %d host(s)): %s' % (
                md_escape(grp['title']), grp['severity'], grp['host_count'], md_escape(grp['explanation'])))
    out += ['', '## Hosts', '', 'Per-host detail (every listener, its owner, the rule that allowed it or the finding) '
            'is in hosts/<host>.json and in fleet.html.', '']
    out += ['| host | groups | mode | result | listeners | ignored | findings | ' + ' | '.join(SEVERITIES) + ' |',
            '|---|---|---|---|---:|---:|---:|' + '---:|' * len(SEVERITIES)]
    for rep in fleet['hosts']:
        sev = {s: 0 for s in SEVERITIES}
        for f in rep['findings']:
            sev[f['severity']] = sev.get(f['severity'], 0) + 1
        out.append('| %s | %s | %s | %s | %s | %d | %d | %s |' % (
            md_escape(rep['host']), _md_list(rep.get('groups') or (), 5),
            rep['mode'] + (' (check)' if rep['check_mode'] else ''), _host_result(rep),
            len(rep['listeners']) if rep['audited'] else '-', len(rep['ignored_listeners']), len(rep['findings']),
            ' | '.join(str(sev[s]) for s in SEVERITIES)))
    errors = [(rep['host'], err) for rep in fleet['hosts'] for err in rep['errors']]
    if errors:
        out += ['', '### Errors', '']
        out += ['- %s: %s' % (md_escape(h), md_escape(e)) for h, e in errors]
    ignored = [(rep['host'], i) for rep in fleet['hosts'] for i in rep['ignored_listeners']]
    if ignored:
        out += ['', '### Ignored listeners (not judged)', '']
        out += ['- %s: %s, owner %s, ignored by %s' % (md_escape(h), md_escape(i['listener']), md_escape(i['owner']),
                                                       md_escape(i['ignored_by'])) for h, i in ignored]
    protected = sorted({(p.get('spec'), p.get('reason')) for rep in fleet['hosts'] for p in rep['protected']},
                       key=str)
    if protected:
        out += ['', 'Protected (never blocked or stopped): ' + ', '.join(
            '%s (%s)' % (md_escape(s), md_escape(r)) for s, r in protected)]
    if fleet.get('policies'):
        out += ['', '## Effective policies'] + policy_lines(fleet)
    return '\n'.join(out) + '\n'


def _md_cell(text):
    """A Markdown table cell: escaped, on one line."""
    return md_escape(' '.join(str(text).split()))


def host_markdown(report):
    """hosts/<host>.md: one host in full, for the reviewer who opens one host's file.

    The fleet Markdown groups findings across hosts; this is where each
    finding's explanation and status, and every listener with its owners and
    the rule that allowed it, are spelt out for the host.
    """
    host = md_escape(report['host'])
    out = ['# Listening ports on %s' % host, '']
    if report.get('generated'):
        out += ['Generated %s by hostsec.ports.' % md_escape(report['generated']), '']
    mode = report['mode'] + (' (check mode)' if report['check_mode'] else '')
    if not report['audited']:
        out += ['**Not audited** (mode %s): %s' % (md_escape(mode), md_escape('; '.join(report['errors']))), '']
        return '\n'.join(out) + '\n'
    summary = report.get('summary') or {}
    out += ['Result: **%s**, mode %s; %s listener(s), %d finding(s)%s.' % (
        _host_result(report), md_escape(mode), summary.get('listeners', len(report['listeners'])),
        len(report['findings']), ', highest %s' % summary['highest_severity'] if summary.get('highest_severity') else ''), '']
    if report.get('groups'):
        out += ['Groups: %s' % _md_list(report['groups'], 50), '']
    out += ['## Findings', '']
    if not report['findings']:
        out.append('No findings: every listener is allowed by the policy.')
    else:
        out += ['| severity | kind | listener | status | rule |', '|---|---|---|---|---|']
        for f in report['findings']:
            rule = rule_text(f.get('rule')) or ('nearest: ' + rule_text(f['nearest_rule']) if f.get('nearest_rule') else '')
            status = _md_cell('%s: %s' % (f['status'], f['status_reason']))
            out.append('| %s | %s | %s | %s | %s |' % (
                f['severity'], _md_cell(f['kind']), _md_cell(f['where']), status, _md_cell(rule)))
        out += ['', '### What the findings mean', '']
        for f in report['findings']:
            reasons = ' Severity: %s.' % md_escape('; '.join(f['severity_reasons'])) if f['severity_reasons'] else ''
            out.append('- **%s** (%s %s): %s%s' % (
                _md_cell(f['where']), f['severity'], _md_cell(f['kind']), md_escape(f['explanation']), reasons))
    out += ['', '## Listeners', '', '| listener | owner | processes | verdict |', '|---|---|---|---|']
    for lst in report['listeners']:
        out.append('| %s | %s | %s | %s |' % (_md_cell(lst.get('text')), _md_cell(lst.get('owner')),
                                              _md_cell(processes_text(lst)), _md_cell(verdict_text(lst))))
    if report['ignored_listeners']:
        out += ['', '## Ignored listeners (not judged)', '']
        out += ['- %s, owner %s, ignored by %s' % (md_escape(i['listener']), md_escape(i['owner']),
                                                   md_escape(i['ignored_by'])) for i in report['ignored_listeners']]
    if report['errors']:
        out += ['', '## Errors', ''] + ['- %s' % md_escape(e) for e in report['errors']]
    if report.get('policy'):
        out += ['', '## Effective policy'] + policy_lines({'hosts': [report], 'policies': {report['policy_id']: report['policy']}})
    return '\n'.join(out) + '\n'


CSV_COLUMNS = ('host', 'groups', 'result', 'severity', 'kind', 'listener', 'owner', 'status', 'status_reason',
               'rule', 'explanation', 'group')
# A cell whose first visible character is one of these is a formula to Excel, LibreOffice or Google Sheets
# (fullwidth forms included, which some of them fold); a process name such as '=HYPERLINK(...)' must stay text.
_CSV_FORMULA = frozenset('=+-@\uff1d\uff0b\uff0d\uff20')


def _csv_cell(value):
    text = _MD_CONTROL.sub(lambda m: '\\u%04x' % ord(m.group()), ' '.join(str('' if value is None else value).split()))
    # Invisible characters (format and space categories) do not hide a formula from a spreadsheet's eyes.
    visible = next((c for c in text if unicodedata.category(c) not in ('Cf', 'Zs', 'Zl', 'Zp')), '')
    return "'" + text if visible in _CSV_FORMULA else text


def fleet_csv(fleet):
    """fleet.csv: one row per finding (and one per host without findings), for spreadsheets and ticketing imports."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\r\n')
    writer.writerow(CSV_COLUMNS)
    for rep in fleet['hosts']:
        head = [rep['host'], ' '.join(rep.get('groups') or ()), _host_result(rep)]
        if not rep['findings']:
            detail = '; '.join(rep['errors']) if not rep['audited'] else 'no findings'
            writer.writerow([_csv_cell(v) for v in head + ['', '', '', '', '', detail, '', '', '']])
            continue
        owners = {fid: lst.get('owner') for lst in rep['listeners'] for fid in lst.get('finding_ids') or ()}
        for f in rep['findings']:
            rule = rule_text(f.get('rule')) or ('nearest: ' + rule_text(f['nearest_rule']) if f.get('nearest_rule') else '')
            writer.writerow([_csv_cell(v) for v in head + [
                f['severity'], f['kind'], f['where'], owners.get(f.get('id'), ''), f['status'], f['status_reason'],
                rule, f['explanation'], f.get('group')]])
    return buf.getvalue()


def fleet_summary(fleet, top=15):
    """Short end-of-play lines for hundreds of hosts: one line per host, then the grouped findings."""
    t = fleet['totals']
    lines = ['%d host(s): %d compliant, %d non-compliant, %d not audited; %d finding(s)' % (
        t['hosts'], t['hosts_compliant'], t['hosts_noncompliant'], t['hosts_not_audited'], t['findings'])]
    width = min(40, max([len(r['host']) for r in fleet['hosts']] + [4]))
    for rep in fleet['hosts']:
        sev = {}
        for f in rep['findings']:
            sev[f['severity']] = sev.get(f['severity'], 0) + 1
        counts = ' '.join('%s:%d' % (s, sev[s]) for s in SEVERITIES if sev.get(s))
        detail = '; '.join(rep['errors']) if not rep['audited'] else (counts or 'no findings')
        lines.append('  %s  %-13s %s' % (_oneline(rep['host']).ljust(width), _host_result(rep), _oneline(detail)))
    if fleet.get('groups'):
        lines.append('Findings across hosts (most hosts first):')
        for grp in fleet['groups'][:top]:
            lines.append('  %-8s %s on %d host(s)' % (grp['severity'], _oneline(grp['title']), grp['host_count']))
        if len(fleet['groups']) > top:
            lines.append('  ... and %d more finding group(s): see the fleet report' % (len(fleet['groups']) - top))
    if fleet.get('drift'):
        lines.append('Drift: %s' % _oneline(fleet['drift']['text']))
    return lines


def _oneline(text):
    """Play output is a terminal: no control characters from hosts."""
    return _MD_CONTROL.sub(lambda m: '\\u%04x' % ord(m.group()), ' '.join(str(text).split()))
