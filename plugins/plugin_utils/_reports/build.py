# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Host and fleet report documents.

A host's input is its port_audit result (``findings``, ``summary``,
``listeners``, ``verdicts``, ``ignored_listeners``, ``effective_policy``...)
and, from the port_policy role, an ``outcome`` (see the remediation plan
contract)::

    mode           'report' | 'enforce'
    check_mode     bool: enforce ran in check mode (nothing changed)
    backend        firewall backend used, or None
    trial          bool: firewall change left unconfirmed, reverts by itself
    errors         [str] why enforcement did not run on this host
    applied        bool: the plan was carried out
    not_effective  str or None: why applied rules do not take effect

What happens to a finding is decided once, by the remediation planner, in
``finding.remediation.status`` and ``.reason``. Reports only turn that status
and the outcome into words (``display_status``); they never re-decide it.
"""

from __future__ import annotations

import functools
import hashlib
import json

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import gcpause
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import (
    listener_text, namespace_label, process_names)
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.severity import ORDER as SEVERITIES  # critical first

STATUSES = ('blocked', 'stopped', 'would block', 'would stop', 'not confirmed', 'not remediated', 'protected',
            'reported', 'no plan')
PLAN_STATUSES = ('block', 'stop', 'protected', 'not remediated', 'reported')
DEFAULT_NONCOMPLIANT = ('critical', 'high', 'medium', 'low')


class ReportError(ValueError):
    """Input that cannot become a report; the message names host and field."""


def bulk():
    """Pause the cyclic garbage collector while a fleet's documents are built and rendered.

    The documents are trees of dicts and lists with no reference cycles, so
    reference counting frees them without the collector. At 1,000 hosts they
    are over a million containers, and each full collection triggered while
    they grow walks all of them again: with the collector running, building
    and rendering took about twice the CPU time (benchmarks/report_bench.py).
    The same pause as the policy compiler's (gcpause.paused): the collector's
    state is restored on the way out, whatever happens.
    """
    return gcpause.paused()


def display_status(remediation, outcome):
    """(word, reason) for a finding: the planner's status put in the words of what the role did.

    Display only: block/stop become 'blocked'/'stopped' when the role says it
    applied the plan, 'would ...' in report or check mode, and 'not remediated'
    when enforcement failed or does not take effect on the host.
    """
    rem = remediation if isinstance(remediation, dict) else {}
    status = rem.get('status')
    reason = rem.get('reason') or ''
    if status is None:
        return 'no plan', 'the audit result carries no remediation status (made by a port_audit without the planner)'
    if status not in PLAN_STATUSES:
        return 'no plan', 'unknown remediation status %r' % (status,)
    if status not in ('block', 'stop'):
        return status, reason
    verb = status
    if outcome.get('mode', 'report') != 'enforce':
        return 'would ' + verb, 'report mode: enforce would %s (%s)' % (verb, reason) if reason else 'report mode'
    if outcome.get('errors'):
        return 'not remediated', '; '.join(str(e) for e in outcome['errors'])
    if outcome.get('not_effective'):
        return 'not remediated', str(outcome['not_effective'])
    if outcome.get('check_mode'):
        return 'would ' + verb, 'check mode: enforce would %s (%s)' % (verb, reason) if reason else 'check mode'
    if outcome.get('applied') is None:
        return 'not confirmed', 'the role did not report whether the plan was applied'
    if not outcome.get('applied'):
        return 'not remediated', 'enforcement did not apply the plan on this host'
    word = 'blocked' if verb == 'block' else 'stopped'
    if verb == 'block':
        reason = 'dropped by the %s backend' % (outcome.get('backend') or 'firewall')
        if outcome.get('trial'):
            reason += ' (trial run: reverts by itself after the rollback timeout)'
    return word, reason


_PROCESS_FIELDS = ('pid', 'name', 'exe', 'cmdline', 'user', 'unit')


def _slim_process(proc):
    get = proc.get  # one literal, the fields of _PROCESS_FIELDS: it runs for every process of every host
    return {'pid': get('pid'), 'name': get('name'), 'exe': get('exe'), 'cmdline': get('cmdline'), 'user': get('user'),
            'unit': get('unit')}


def _finding_listener(listener):
    """The socket a finding is about; its owners and command lines are in the host's listeners, once."""
    if not listener:
        return None
    get = listener.get
    return {'protocol': get('protocol'), 'family': get('family'), 'address': get('address'), 'scope': get('scope'),
            'port': get('port'), 'exposure': get('exposure'), 'container': get('container'),
            'processes': [{'name': p.get('name'), 'unit': p.get('unit')} for p in get('processes') or ()]}


def listener_owner(listener, processes=None):
    """Stable owner identity of a listener: its unit, else executable, else process name (never a PID).

    ``processes`` as in ``listener_text``: the owners when the record does not hold them.
    """
    if processes is None:
        processes = listener.get('processes') or ()
    if len(processes) == 1:  # most listeners (reports call this for every one)
        unit = processes[0].get('unit')
        units = [unit] if unit else []
    else:
        units = [p.get('unit') for p in processes if p.get('unit')]
    services = listener.get('services')
    if services:
        units += services  # as list(services): something that is not a list of units fails here
    owner_service = listener.get('owner_service')
    if owner_service:
        return str(owner_service)
    if units:
        # Through a set: a unit that is not text (a list, a mapping) fails here instead of becoming an owner.
        return str(min(set(units)))
    exes = sorted({p.get('exe') or p.get('name') or '?' for p in processes})
    return ', '.join(exes) or 'unknown process'


def _rule_ref(rule):
    if not rule:
        return None
    return {k: rule.get(k) for k in ('list', 'index', 'text', 'origin', 'expires') if k in rule}


def _owners(audit, host):
    """listener -> its slim process records; each process of a compact audit is made slim once.

    port_audit returns its listeners compact (``pids`` into a ``processes``
    table), read through the schema module like every other consumer; the
    table's records are shared, so their slim copies are too.
    """
    try:
        lookup = schema.owner_lookup(audit)
    except schema.SchemaError as exc:
        raise ReportError('%s: %s' % (host, exc))
    slim = {}  # id(record) -> (record, slim copy); the record is kept so its id stays its own

    def owners(index, lst):
        try:
            procs = lookup(index, lst)
        except schema.SchemaError as exc:
            raise ReportError('%s: %s' % (host, exc))
        out = []
        for proc in procs:
            known = slim.get(id(proc))
            if known is None:
                known = slim[id(proc)] = (proc, _slim_process(proc))
            out.append(known[1])
        return out
    return owners


def _allowing_rules(audit, host):
    """A verdict's ``allowed_by`` -> the rule as reports show it.

    port_audit names the rule by its place in the effective policy
    ('allow#3' is ``effective_policy.allow[3]``, which holds its text, origin
    and expiry). Only allow and require rules allow a listener. Older audits
    held a copy of the rule instead. A key the effective policy does not hold
    fails the report: a listener is never shown as allowed by a rule nobody
    can see. Each key is resolved once per host.
    """
    policy = audit.get('effective_policy')
    policy = policy if isinstance(policy, dict) else {}
    resolved = {}

    def find(key):
        name, sep, digits = key.partition('#')
        if (not sep or name not in ('allow', 'require') or not digits.isascii() or not digits.isdigit()
                or str(int(digits)) != digits):
            return None  # exactly the form port_audit writes: no other digits, no leading zeros
        rules = policy.get(name)
        position = int(digits)
        if not isinstance(rules, list) or position >= len(rules):
            return None
        rule = rules[position]
        if not isinstance(rule, dict) or rule.get('list', name) != name:
            return None
        return _rule_ref(rule)

    def resolve(where, allowed):
        if isinstance(allowed, dict):
            return _rule_ref(allowed)
        rule = None
        if isinstance(allowed, str):
            rule = resolved.get(allowed)
            if rule is None:
                rule = resolved[allowed] = find(allowed)
        if rule is None:
            raise ReportError('%s: verdicts[%d].allowed_by: %r is not an allow or require rule of the effective '
                              'policy' % (host, where, allowed))
        return rule
    return resolve


def _listeners(audit, findings, host):
    """Every listener with what the policy said about it (allowed_by / findings / ignored_by)."""
    listeners = audit.get('listeners') or []
    verdicts = audit.get('verdicts')
    allowing = _allowing_rules(audit, host)
    if not isinstance(verdicts, list) or len(verdicts) != len(listeners):
        verdicts = None  # older port_audit: findings are matched to listeners by socket instead
        by_listener = {}
        for f in findings:
            if isinstance(f, dict) and f.get('listener'):
                by_listener.setdefault(listener_key(f['listener']), []).append(f.get('id'))
    owners = _owners(audit, host)
    out = []
    append = out.append
    for i, lst in enumerate(listeners):
        if not isinstance(lst, dict):
            continue
        procs = owners(i, lst)
        get = lst.get
        # A report listener: the socket, its units and container, its (slim) owners; one literal, since this
        # runs 60,000 times for 1,000 hosts.
        entry = {'protocol': get('protocol'), 'family': get('family'), 'address': get('address'),
                 'scope': get('scope'), 'port': get('port'), 'exposure': get('exposure'),
                 'dual_stack': get('dual_stack'), 'services': get('services'), 'owner_service': get('owner_service'),
                 'container': get('container'), 'processes': procs,
                 'text': listener_text(lst, procs), 'owner': listener_owner(lst, procs)}
        if verdicts is None:
            ids = by_listener.get(listener_key(lst), [])
            entry['finding_ids'], entry['allowed_by'], entry['ignored_by'] = ids, None, None
            if not ids:
                entry['verdict_known'] = False
        else:
            verdict = verdicts[i]
            if not isinstance(verdict, dict):
                verdict = {}
            vget = verdict.get
            allowed, ignored, finding_ids = vget('allowed_by'), vget('ignored_by'), vget('finding_ids')
            said = bool(allowed) + bool(ignored) + bool(finding_ids)
            if said > 1:  # allowed and a finding at once: neither can be shown as the verdict
                raise ReportError('%s: verdicts[%d]: says %s at once; port_audit says exactly one'
                                  % (host, i, ' and '.join(key for key in ('allowed_by', 'ignored_by', 'finding_ids')
                                                           if vget(key))))
            if not said:
                entry['verdict_known'] = False  # port_audit says one of the three for every listener
            entry['finding_ids'] = list(finding_ids) if finding_ids else []
            entry['allowed_by'] = allowing(i, allowed) if allowed else None
            entry['ignored_by'] = ignored
        append(entry)
    return out


def rule_text(rule):
    """'allow[3] 8080/tcp (from group_vars/web)': a rule as every report names it."""
    if not rule:
        return None
    text = '%s[%s] %s (from %s)' % (rule.get('list'), rule.get('index'), rule.get('text'), rule.get('origin'))
    if rule.get('expires'):
        text += ', expires %s' % rule['expires']
    return text


def processes_text(lst):
    """A listener's owners in one line: name, pid, user and command line of each."""
    procs = []
    for p in lst.get('processes') or ():
        bits = [str(p.get('name') or '?')]
        if p.get('pid') is not None:
            bits.append('pid %s' % p['pid'])
        if p.get('user') is not None:
            bits.append('user %s' % p['user'])
        if p.get('cmdline'):
            bits.append('cmdline %s' % p['cmdline'])
        procs.append(', '.join(bits))
    return '; '.join(procs) or 'unknown process'


def verdict_text(lst):
    """What the policy said about a report listener: the rule that allowed it, a finding, or the setting that ignored it."""
    if lst.get('allowed_by'):
        return 'allowed by ' + rule_text(lst['allowed_by'])
    if lst.get('finding_ids'):
        return 'finding'
    if lst.get('ignored_by'):
        return 'ignored by ' + str(lst['ignored_by'])
    if lst.get('verdict_known') is False:
        return 'no finding (the audit did not say which rule allowed it)'
    return 'no finding'


def listener_key(listener):
    """The socket a listener is, wherever it listens: findings of an older audit are matched to listeners by it."""
    return (listener.get('protocol'), listener.get('family'), listener.get('address'), listener.get('port'),
            namespace_label(listener))


def policy_id(policy):
    """Short digest of an effective policy, so a fleet stores each distinct policy once."""
    text = json.dumps(policy, sort_keys=True, default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]


def host_report(host, audit, outcome=None, generated=None, noncompliant_on=DEFAULT_NONCOMPLIANT, groups=()):
    """One host's report document from its port_audit result and the role's outcome.

    This is the full detail (the per-host file): every listener with its
    processes and command lines, each finding with its explanation and
    remediation, the effective policy. The fleet file keeps a slim copy
    (``fleet_document``).
    """
    outcome = dict(outcome or {})
    if not isinstance(audit, dict):
        raise ReportError('%s: audit result: expected a mapping, got %r' % (host, type(audit).__name__))
    doc = {
        'host': host,
        'groups': sorted(str(g) for g in groups or ()),
        'generated': generated,
        'mode': outcome.get('mode', 'report'),
        'check_mode': bool(outcome.get('check_mode')),
        'backend': outcome.get('backend'),
        'trial': bool(outcome.get('trial')),
        'applied': outcome.get('applied'),
        'not_effective': outcome.get('not_effective'),
        'errors': [str(e) for e in outcome.get('errors') or ()],
    }
    if not isinstance(audit.get('findings'), list):
        doc.update(audited=False, passed=False, compliant=False, summary=None, findings=[], listeners=[],
                   ignored_listeners=[], protected=[], policy=None, policy_id=None, by_status={},
                   errors=doc['errors'] + [str(audit.get('msg') or 'no audit result for this host')])
        return doc
    listeners = _listeners(audit, audit['findings'], host)
    # The verdicts say which listener each finding is about: its text is made once, for the listener.
    text_by_finding = {fid: lst['text'] for lst in listeners for fid in lst['finding_ids']}
    findings = []
    by_status = {s: 0 for s in STATUSES}
    # The outcome is the host's: each (status, reason) of the plan is worded once.
    worded = {}
    for i, f in enumerate(audit['findings']):
        if not isinstance(f, dict) or 'severity' not in f or 'kind' not in f:
            raise ReportError('%s: findings[%d]: not a port_audit finding: %r' % (host, i, f))
        get = f.get
        rem = get('remediation')
        key = (rem.get('status'), rem.get('reason')) if isinstance(rem, dict) else (None, None)
        words = worded.get(key)
        if words is None:
            words = worded[key] = display_status(rem, outcome)
        status, reason = words
        by_status[status] += 1
        lst = get('listener')
        reasons = get('severity_reasons')
        finding = {
            'id': get('id'),
            'kind': str(f['kind']),
            'severity': f['severity'],
            'severity_reasons': [str(r) for r in reasons] if reasons else [],
            'where': (text_by_finding.get(get('id')) or listener_text(lst)) if lst else _missing_text(f),
            'listener': _finding_listener(lst),
            'rule': _rule_ref(get('rule')),
            'nearest_rule': _rule_ref(get('nearest_rule')),
            'explanation': str(get('explanation') or ''),
            'remediation': rem,
            'protected': bool(get('protected')),
            'status': status,
            'status_reason': reason,
        }
        finding['group'] = group_id(group_key(finding))
        findings.append(finding)
    ignored = []
    for item in audit.get('ignored_listeners') or ():
        if isinstance(item, dict) and isinstance(item.get('listener'), dict):
            ignored.append({'listener': listener_text(item['listener']), 'owner': listener_owner(item['listener']),
                            'ignored_by': item.get('ignored_by')})
    summary = dict(audit.get('summary') or {})
    failing = [f for f in findings if f['severity'] in noncompliant_on]
    policy = audit.get('effective_policy')
    doc.update(audited=True, passed=bool(summary.get('passed', not findings)), compliant=not failing,
               summary=summary, findings=findings, listeners=listeners,
               ignored_listeners=ignored, protected=list(audit.get('protected') or ()), by_status=by_status,
               policy=policy, policy_id=policy_id(policy) if policy is not None else None)
    return doc


def _missing_text(finding):
    rule = finding.get('rule') or {}
    return 'required: %s' % (rule.get('text') or '?')


def group_key(finding):
    """The same problem on many hosts: kind, port, protocol and process names (or the required rule)."""
    lst = finding.get('listener')
    if lst:
        names = process_names(lst.get('processes') or ())
        container = lst.get('container')
        if container:
            # The same image on many hosts is one problem; the same port in different images is not.
            names += ' in %s %s' % (container.get('runtime') or 'netns',
                                    container.get('image') or container.get('name') or 'namespace')
        return (finding['kind'], lst.get('port'), lst.get('protocol'), names)
    return (finding['kind'], None, None, finding['where'])


@functools.lru_cache(maxsize=8192)
def group_id(key):
    """Stable id of a finding group (the same key gives the same id in every run)."""
    return hashlib.sha256(repr(key).encode('utf-8', 'surrogatepass')).hexdigest()[:12]


def group_title(key):
    kind, port, protocol, names = key
    if port is None:
        return '%s %s' % (kind, names)
    return '%s %s/%s (%s)' % (kind, port, protocol, names)


def group_findings(reports):
    """Findings grouped across hosts, most hosts first: "unexpected 8080/tcp (java) on 37 hosts".

    Each group is built once, from its first finding; the host findings refer
    to it by ``finding.group`` (its id).
    """
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    groups = {}
    for rep in reports:
        host = rep['host']
        for f in rep['findings']:
            gid = f.get('group') or group_id(group_key(f))
            grp = groups.get(gid)
            if grp is None:
                key = group_key(f)
                grp = groups[gid] = {
                    'id': gid, 'title': group_title(key), 'kind': f['kind'], 'port': key[1], 'protocol': key[2],
                    'severity': f['severity'], 'explanation': f['explanation'], 'hosts': [],
                    'by_severity': {}, 'by_status': {}}
            if rank.get(f['severity'], 99) < rank.get(grp['severity'], 99):
                grp['severity'] = f['severity']
            hosts = grp['hosts']
            if not hosts or hosts[-1] != host:
                hosts.append(host)
            by_sev, by_status = grp['by_severity'], grp['by_status']
            by_sev[f['severity']] = by_sev.get(f['severity'], 0) + 1
            by_status[f['status']] = by_status.get(f['status'], 0) + 1
    out = sorted(groups.values(), key=lambda g: (-len(g['hosts']), rank.get(g['severity'], 99), g['title']))
    for grp in out:
        grp['host_count'] = len(grp['hosts'])
    return out


def fleet_report(host_reports, generated=None, provenance=None, noncompliant_on=DEFAULT_NONCOMPLIANT,
                 play_fail_on=()):
    """All hosts in one document, hosts sorted by name, findings grouped, each distinct policy once.

    ``hosts`` are the host reports themselves (shared, not copied, not
    changed): the renderers read their full detail. ``fleet_document`` is the
    slim form written to fleet.json.
    """
    reports = sorted(host_reports, key=lambda r: r['host'])
    by_severity = {s: 0 for s in SEVERITIES}
    by_status = {s: 0 for s in STATUSES}
    policies = {}
    for rep in reports:
        for f in rep['findings']:
            by_severity[f['severity']] = by_severity.get(f['severity'], 0) + 1
            by_status[f['status']] += 1
        if rep.get('policy_id') is not None and rep['policy_id'] not in policies:
            policies[rep['policy_id']] = rep['policy']
    audited = [r for r in reports if r['audited']]
    return {
        'generated': generated,
        'provenance': dict(provenance or {}),
        'compliance': compliance_words(noncompliant_on, play_fail_on),
        'totals': {
            'hosts': len(reports),
            'hosts_audited': len(audited),
            'hosts_compliant': sum(1 for r in audited if r['compliant']),
            'hosts_noncompliant': sum(1 for r in audited if not r['compliant']),
            'hosts_passed': sum(1 for r in reports if r['passed']),
            'hosts_failed': sum(1 for r in reports if not r['passed']),
            'hosts_not_audited': len(reports) - len(audited),
            'findings': sum(len(r['findings']) for r in reports),
            'listeners': sum(len(r['listeners']) for r in reports),
            'ignored_listeners': sum(len(r['ignored_listeners']) for r in reports),
            'by_severity': by_severity,
            'by_status': by_status,
        },
        'groups': group_findings(reports),
        'policies': policies,
        'hosts': reports,
    }


# What fleet.json keeps of a host, a listener and a finding. The per-host files
# (hosts/<host>.json) keep everything; fleet.json is read by people scanning
# the fleet, by jq/JMESPath and by the next run's drift, none of which needs
# 60,000 command lines again.
_FLEET_HOST_FIELDS = ('host', 'groups', 'generated', 'mode', 'check_mode', 'backend', 'trial', 'applied',
                      'not_effective', 'errors', 'audited', 'passed', 'compliant', 'summary', 'by_status',
                      'policy_id', 'protected', 'ignored_listeners')
# Left out of fleet.json when null or empty (most listeners and findings have none of them).
_FLEET_LISTENER_OPTIONAL = ('allowed_by', 'ignored_by', 'owner_service', 'container', 'verdict_known')
_FLEET_FINDING_OPTIONAL = ('rule', 'nearest_rule')


def _fleet_listener(lst):
    # Always: text, owner, protocol, address, port, exposure, finding_ids. The entries are the host report's
    # own (see _listeners), so every field is there and no .get() is needed.
    out = {'text': lst['text'], 'owner': lst['owner'], 'protocol': lst['protocol'], 'address': lst['address'],
           'port': lst['port'], 'exposure': lst['exposure'], 'finding_ids': lst['finding_ids']}
    # _FLEET_LISTENER_OPTIONAL one by one: this runs for every listener of the fleet.
    if lst['allowed_by'] is not None:
        out['allowed_by'] = lst['allowed_by']
    if lst['ignored_by'] is not None:
        out['ignored_by'] = lst['ignored_by']
    if lst['owner_service'] is not None:
        out['owner_service'] = lst['owner_service']
    if lst['container'] is not None:
        out['container'] = lst['container']
    if 'verdict_known' in lst:
        out['verdict_known'] = lst['verdict_known']
    return out


def _fleet_finding(f, explanations):
    lst = f['listener']
    out = {'id': f['id'], 'group': f.get('group'), 'kind': f['kind'], 'severity': f['severity'],
           'status': f['status'], 'status_reason': f['status_reason'], 'where': f['where']}
    if lst:
        out['listener'] = {'protocol': lst.get('protocol'), 'address': lst.get('address'), 'port': lst.get('port')}
    for key in _FLEET_FINDING_OPTIONAL:
        if f.get(key):
            out[key] = f[key]
    if f['explanation'] != explanations.get(f.get('group')):
        out['explanation'] = f['explanation']  # the group's explanation otherwise: said once, in groups
    return out


def fleet_document(fleet):
    """fleet.json: the fleet report with slim hosts (listeners without processes, findings by group).

    A finding's explanation is in its group (``groups[].explanation``) and
    repeated on the finding only when it differs; processes, command lines and
    remediation records, severity reasons and address families are in
    hosts/<host>.json. Optional fields that are
    null or empty (allowed_by, ignored_by, rule, nearest_rule, a finding's
    listener...) are left out.
    """
    explanations = {g['id']: g['explanation'] for g in fleet.get('groups') or ()}
    hosts = []
    for rep in fleet['hosts']:
        entry = {k: rep.get(k) for k in _FLEET_HOST_FIELDS}
        entry['listeners'] = [_fleet_listener(lst) for lst in rep['listeners']]
        entry['findings'] = [_fleet_finding(f, explanations) for f in rep['findings']]
        hosts.append(entry)
    return dict(fleet, hosts=hosts)


def compliance_words(noncompliant_on, play_fail_on):
    """What "non-compliant" means in this report, and how it relates to the play's own failures."""
    noncompliant_on = [s for s in SEVERITIES if s in noncompliant_on]
    play_fail_on = [s for s in SEVERITIES if s in play_fail_on]
    text = ('A host is non-compliant when it has a finding at %s severity (port_policy_junit_fail_on; '
            'the JUnit report fails the same findings). ' % (', '.join(noncompliant_on) or 'no'))
    if not play_fail_on:
        text += ('The play does not fail hosts on findings (port_policy_fail_on is empty), '
                 'so a non-compliant host still shows ok in the play recap.')
    elif play_fail_on == noncompliant_on:
        text += 'The play fails a host on the same severities (port_policy_fail_on).'
    else:
        text += ('The play fails a host only at %s severity (port_policy_fail_on), so the recap and this '
                 'report can disagree.' % ', '.join(play_fail_on))
    return {'noncompliant_on': noncompliant_on, 'play_fail_on': play_fail_on, 'text': text}
