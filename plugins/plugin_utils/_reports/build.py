# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Host and fleet report documents.

A host's input is its port_audit result (``findings``, ``summary``,
``protected``, ...) and, from the port_policy role, an ``outcome``::

    mode          'report' | 'enforce'
    check_mode    bool: enforce ran in check mode (nothing changed)
    backend       firewall backend used, or None
    block         [{port, protocol}] the complete block list for the host
    stop          [{unit, mask}] units stopped (or to stop)
    trial         bool: firewall change left unconfirmed, reverts by itself
    errors        [str] why enforcement did not run on this host

Every finding gets a ``status`` saying what happened to it (blocked,
stopped, protected, reported, would block, not remediated...) and a
``status_reason``, so a report never leaves a finding silently unhandled.
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import listener_text
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.severity import ORDER as SEVERITIES  # critical first
STATUSES = ('blocked', 'stopped', 'would block', 'would stop', 'not remediated', 'protected', 'reported')


class ReportError(ValueError):
    """Input that cannot become a report; the message names host and field."""


def _status(finding, outcome):
    """(status, reason) of one finding given what the role did on the host."""
    rem = finding.get('remediation') or {}
    action = rem.get('action') or 'none'
    listener = finding.get('listener')
    if finding.get('protected'):
        return 'protected', rem.get('reason') or 'management path: never blocked or stopped'
    if action == 'none' or not listener:
        return 'reported', rem.get('reason') or 'the policy asks for no remediation'
    unit = rem.get('unit')
    if action == 'stop' and not unit:
        return 'not remediated', ('no owning systemd unit is known; a process is never killed by PID')
    verb = 'block' if action == 'block' else 'stop'
    what = '%s/%s' % (listener.get('port'), listener.get('protocol')) if verb == 'block' else unit
    if outcome.get('mode', 'report') != 'enforce':
        return 'would ' + verb, 'report mode: enforce would %s %s' % (verb, what)
    if outcome.get('errors'):
        return 'not remediated', '; '.join(outcome['errors'])
    if verb == 'block':
        done = any(b.get('port') == listener.get('port') and b.get('protocol') == listener.get('protocol')
                   for b in outcome.get('block') or ())
    else:
        done = any(s.get('unit') == unit for s in outcome.get('stop') or ())
    if not done:
        return 'not remediated', outcome.get('skipped', {}).get(finding.get('id')) or \
            'left out of the remediation plan (management path or protected unit)'
    if outcome.get('check_mode'):
        return 'would ' + verb, 'check mode: enforce would %s %s' % (verb, what)
    if verb == 'block':
        reason = 'dropped by the %s backend' % (outcome.get('backend') or 'firewall')
        if outcome.get('trial'):
            reason += ' (trial run: reverts by itself after the rollback timeout)'
        return 'blocked', reason
    return 'stopped', 'unit %s stopped and disabled%s' % (
        unit, ' and masked' if any(s.get('mask') for s in outcome.get('stop') or () if s.get('unit') == unit) else '')


def _slim_listener(listener):
    if not listener:
        return None
    keys = ('protocol', 'family', 'address', 'scope', 'port', 'exposure', 'dual_stack', 'services')
    out = {k: listener.get(k) for k in keys}
    out['processes'] = [{k: p.get(k) for k in ('pid', 'name', 'exe', 'user', 'unit')}
                        for p in listener.get('processes') or ()]
    return out


def host_report(host, audit, outcome=None, generated=None):
    """One host's report document from its port_audit result and the role's outcome."""
    outcome = dict(outcome or {})
    if not isinstance(audit, dict):
        raise ReportError('%s: audit result: expected a mapping, got %r' % (host, type(audit).__name__))
    doc = {
        'host': host,
        'generated': generated,
        'mode': outcome.get('mode', 'report'),
        'check_mode': bool(outcome.get('check_mode')),
        'backend': outcome.get('backend'),
        'trial': bool(outcome.get('trial')),
        'errors': list(outcome.get('errors') or ()),
    }
    if not isinstance(audit.get('findings'), list):
        doc.update(audited=False, passed=False, summary=None, findings=[], protected=[],
                   errors=doc['errors'] + [audit.get('msg') or 'no audit result for this host'])
        doc['by_status'] = {}
        return doc
    findings = []
    by_status = {s: 0 for s in STATUSES}
    for i, f in enumerate(audit['findings']):
        if not isinstance(f, dict) or 'severity' not in f or 'kind' not in f:
            raise ReportError('%s: findings[%d]: not a port_audit finding: %r' % (host, i, f))
        status, reason = _status(f, outcome)
        by_status[status] += 1
        findings.append({
            'id': f.get('id'),
            'kind': f['kind'],
            'severity': f['severity'],
            'severity_reasons': list(f.get('severity_reasons') or ()),
            'where': listener_text(f['listener']) if f.get('listener') else _missing_text(f),
            'listener': _slim_listener(f.get('listener')),
            'rule': f.get('rule'),
            'nearest_rule': f.get('nearest_rule'),
            'explanation': f.get('explanation') or '',
            'remediation': f.get('remediation'),
            'protected': bool(f.get('protected')),
            'status': status,
            'status_reason': reason,
        })
    summary = dict(audit.get('summary') or {})
    doc.update(audited=True, passed=bool(summary.get('passed', not findings)), summary=summary,
               findings=findings, protected=list(audit.get('protected') or ()), by_status=by_status)
    return doc


def _missing_text(finding):
    rule = finding.get('rule') or {}
    return 'required: %s' % (rule.get('text') or '?')


def fleet_report(host_reports, generated=None):
    """All hosts in one document, hosts sorted by name."""
    reports = sorted(host_reports, key=lambda r: r['host'])
    by_severity = {s: 0 for s in SEVERITIES}
    by_status = {s: 0 for s in STATUSES}
    for rep in reports:
        for f in rep['findings']:
            by_severity[f['severity']] = by_severity.get(f['severity'], 0) + 1
            by_status[f['status']] += 1
    return {
        'generated': generated,
        'totals': {
            'hosts': len(reports),
            'hosts_passed': sum(1 for r in reports if r['passed']),
            'hosts_failed': sum(1 for r in reports if not r['passed']),
            'hosts_not_audited': sum(1 for r in reports if not r['audited']),
            'findings': sum(len(r['findings']) for r in reports),
            'by_severity': by_severity,
            'by_status': by_status,
        },
        'hosts': reports,
    }
