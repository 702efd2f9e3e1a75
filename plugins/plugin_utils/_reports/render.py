# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Report documents as text: play-output table, JSON, JUnit XML, Markdown."""

from __future__ import annotations

import json
import re
import textwrap
from xml.etree import ElementTree as ET

from ansible_collections.hostsec.ports.plugins.plugin_utils._reports.build import SEVERITIES

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
        return ['%s: NOT AUDITED (%s): %s' % (report['host'], mode, '; '.join(report['errors']))]
    summary = report['summary'] or {}
    head = '%s: %s listener(s), %d finding(s)%s, %s - mode %s' % (
        report['host'], summary.get('listeners', '?'), len(report['findings']),
        ', highest %s' % summary['highest_severity'] if summary.get('highest_severity') else '',
        'PASSED' if report['passed'] else 'FAILED', mode)
    lines = [head]
    if not report['findings']:
        return lines + ['  no findings: every listener is allowed by the policy']
    rows = [('SEVERITY', 'KIND', 'LISTENER', 'STATUS')]
    for f in report['findings']:
        rows.append((f['severity'], f['kind'], f['where'], f['status']))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines.append('  ' + '  '.join(c.ljust(w) for c, w in zip(rows[0], widths)).rstrip())
    for row, finding in zip(rows[1:], report['findings']):
        lines.append('  ' + '  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        lines.extend(textwrap.wrap(' '.join(str(finding['explanation']).split()), EXPLANATION_WIDTH,
                                   initial_indent='      ', subsequent_indent='      ',
                                   break_on_hyphens=False, break_long_words=False))
    for err in report['errors']:
        lines.append('  error: %s' % err)
    return lines


def to_json(doc):
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + '\n'


_XML_BAD = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f]')


def _x(text):
    """XML 1.0 cannot carry control characters (process cmdlines can)."""
    return _XML_BAD.sub('?', str(text))


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


def junit_xml(fleet, fail_on=('critical', 'high', 'medium', 'low'), by='finding'):
    """JUnit XML: one suite per host; a testcase per finding (or per host).

    Findings at a ``fail_on`` severity are failures, the rest pass and carry
    their text in system-out; a host that could not be audited is an error.
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
                    fail = ET.SubElement(case, 'failure', type=f['kind'],
                                         message=_x('%s: %s' % (f['severity'], _cut(f['explanation'], 200))))
                    fail.text = _finding_text(f)
                else:
                    ET.SubElement(case, 'system-out').text = _finding_text(f)
        for key, val in counts.items():
            suite.set(key, str(val))
            totals[key] += val
    for key, val in totals.items():
        root.set(key, str(val))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding='unicode') + '\n'


def _md(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def markdown(fleet):
    """A fleet report people read: totals, one row per host, then each host's findings."""
    t = fleet['totals']
    out = ['# Listening-port report', '']
    if fleet.get('generated'):
        out += ['Generated %s by hostsec.ports.' % fleet['generated'], '']
    out += ['%d host(s): %d passed, %d failed (%d not audited); %d finding(s).' % (
        t['hosts'], t['hosts_passed'], t['hosts_failed'], t['hosts_not_audited'], t['findings']), '']
    out += ['| host | mode | result | listeners | findings | ' + ' | '.join(SEVERITIES) + ' |',
            '|---|---|---|---:|---:|' + '---:|' * len(SEVERITIES)]
    for rep in fleet['hosts']:
        sev = {s: 0 for s in SEVERITIES}
        for f in rep['findings']:
            sev[f['severity']] += 1
        result = 'not audited' if not rep['audited'] else ('passed' if rep['passed'] else 'FAILED')
        out.append('| %s | %s | %s | %s | %d | %s |' % (
            _md(rep['host']), rep['mode'] + (' (check)' if rep['check_mode'] else ''), result,
            (rep['summary'] or {}).get('listeners', '-'), len(rep['findings']),
            ' | '.join(str(sev[s]) for s in SEVERITIES)))
    for rep in fleet['hosts']:
        out += ['', '## %s' % _md(rep['host']), '']
        for err in rep['errors']:
            out.append('- error: %s' % _md(err))
        if not rep['audited']:
            continue
        if not rep['findings']:
            out.append('No findings: every listener is allowed by the policy.')
            continue
        out += ['| severity | kind | listener | status | explanation |', '|---|---|---|---|---|']
        for f in rep['findings']:
            out.append('| %s | %s | `%s` | %s | %s |' % (
                f['severity'], f['kind'], _md(f['where']), _md(f['status']), _md(f['explanation'])))
        if rep['protected']:
            out += ['', 'Protected (never blocked or stopped): ' + ', '.join(
                '%s (%s)' % (_md(p.get('spec')), _md(p.get('reason'))) for p in rep['protected'])]
    return '\n'.join(out) + '\n'
