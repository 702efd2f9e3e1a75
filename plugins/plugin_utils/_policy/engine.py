# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Judge listeners against a compiled policy and produce findings.

Rules are indexed per protocol: a dict keyed by port for narrow specs, and
elementary segments (a sorted list of boundaries, each segment holding the
rules that cover it) for wide ranges, plus a short list of rules with no port.
A listener therefore only meets the rules that can match it, and the cost
grows with listeners + rules, not listeners x rules.

Precedence for one listener (docs/policy.md): deny > allow/require >
expired allow > allow_loopback > wrong_exposure > wrong_owner > unexpected.
"""

from __future__ import annotations

import bisect
import datetime

from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import PortSpec, parse_port_specs
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import severity as sev
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import (
    listener_text, make_finding, sort_findings,
)

LISTENER_PROTOCOLS = ('tcp', 'udp')
NARROW = 64  # specs at most this wide go into the per-port dict
DEFAULT_EPHEMERAL = {'linux': (32768, 60999), 'windows': (49152, 65535)}


class RuleIndex:
    """Rules that can match (protocol, port), in policy order."""

    def __init__(self, rules):
        self.ports = {p: {} for p in LISTENER_PROTOCOLS}
        self.anyport = {p: [] for p in LISTENER_PROTOCOLS}
        self.bounds = {p: [] for p in LISTENER_PROTOCOLS}
        self.covers = {p: [] for p in LISTENER_PROTOCOLS}
        wide = {p: [] for p in LISTENER_PROTOCOLS}
        for rule in rules:
            if rule.specs is None:
                for proto in LISTENER_PROTOCOLS:
                    if rule.protos is None or proto in rule.protos:
                        self.anyport[proto].append(rule)
                continue
            for spec in rule.specs:
                protos = [p for p in LISTENER_PROTOCOLS if not spec.protocols or p in spec.protocols]
                for proto in protos:
                    if spec.high - spec.low < NARROW:
                        table = self.ports[proto]
                        for port in range(spec.low, spec.high + 1):
                            bucket = table.setdefault(port, [])
                            if not bucket or bucket[-1] is not rule:
                                bucket.append(rule)
                    else:
                        wide[proto].append((spec.low, spec.high, rule))
        for proto in LISTENER_PROTOCOLS:
            self._segments(proto, wide[proto])
            # Merge once here so that a lookup is one dict access or one bisect.
            anyport = tuple(self.anyport[proto])
            self.anyport[proto] = anyport
            self.covers[proto] = [self._merge(cover, anyport) for cover in self.covers[proto]]
            table = self.ports[proto]
            for port, bucket in table.items():
                table[port] = self._merge(tuple(bucket), self._cover(proto, port))
        # Buckets whose verdict needs no look at the listener: an unconditional allow
        # rule and no deny/require rule. Most listeners of a real fleet land in one.
        self.settled = set()
        for proto in LISTENER_PROTOCOLS:
            for bucket in list(self.ports[proto].values()) + self.covers[proto] + [self.anyport[proto]]:
                if self._settled(bucket):
                    self.settled.add(id(bucket))

    @staticmethod
    def _settled(bucket):
        plain = False
        for rule in bucket:
            if rule.list != 'allow':
                return False
            if (rule.families is None and not rule.has_exposure and not rule.has_who and rule.expires is None):
                plain = True
        return plain

    @staticmethod
    def _merge(first, second):
        if not second:
            return tuple(first)
        if not first:
            return tuple(second)
        return tuple(sorted(set(first) | set(second), key=lambda r: r.seq))

    def _cover(self, proto, port):
        i = bisect.bisect_right(self.bounds[proto], port) - 1
        return self.covers[proto][i] if i >= 0 else self.anyport[proto]

    def _segments(self, proto, ranges):
        """Sweep wide ranges into elementary segments [bounds[i], bounds[i+1])."""
        if not ranges:
            return
        points = sorted({r[0] for r in ranges} | {r[1] + 1 for r in ranges})
        starts = {}
        ends = {}
        for low, high, rule in ranges:
            starts.setdefault(low, []).append(rule)
            ends.setdefault(high + 1, []).append(rule)
        active = {}
        bounds, covers = [], []
        last = None
        for point in points:
            for rule in ends.get(point, ()):
                active[rule] -= 1
                if not active[rule]:
                    del active[rule]
            for rule in starts.get(point, ()):
                active[rule] = active.get(rule, 0) + 1
            cover = tuple(sorted(active, key=lambda r: r.seq))
            if cover != last:
                bounds.append(point)
                covers.append(cover)
                last = cover
        self.bounds[proto] = bounds
        self.covers[proto] = covers

    def lookup(self, proto, port):
        table = self.ports.get(proto)
        if table is None:
            return ()
        bucket = table.get(port)
        if bucket is not None:
            return bucket
        i = bisect.bisect_right(self.bounds[proto], port) - 1
        return self.covers[proto][i] if i >= 0 else self.anyport[proto]


def index_for(policy):
    """The policy's rule index, built once and kept on the policy (a policy judges many listener sets)."""
    index = getattr(policy, '_index', None)
    if index is None:
        index = RuleIndex(policy.rules)
        policy._index = index
    return index


def classify(lst, cands, today, allow_loopback):
    """(kind or None, rule, other_rule, require_hits) for one listener and its candidate rules."""
    deny = allowed = expired = wrong_exp = wrong_own = None
    hits = None
    for rule in cands:
        if not rule.match_where(lst):
            continue
        if rule.list == 'deny':
            if deny is None and rule.match_exposure(lst) and rule.match_who(lst):
                deny = rule
            continue
        exp_ok = rule.match_exposure(lst)
        who_ok = rule.match_who(lst)
        if exp_ok and who_ok:
            if rule.list == 'require':
                hits = (hits or []) + [rule]
            if rule.expires is not None and today > rule.expires:
                if expired is None:
                    expired = rule
            elif allowed is None:
                allowed = rule
        elif who_ok:
            # Only a rule that identifies the listener (by port or owner) can say "wrong exposure".
            if wrong_exp is None and (rule.specs is not None or rule.has_who):
                wrong_exp = rule
        elif exp_ok:
            if wrong_own is None and rule.specs is not None:
                wrong_own = rule
    if deny is not None:
        return 'denied', deny, allowed, hits
    if allowed is not None:
        return None, allowed, None, hits
    if expired is not None:
        return 'expired', expired, None, hits
    if allow_loopback and lst['exposure'] == 'loopback':
        return None, None, None, hits
    if wrong_exp is not None:
        return 'wrong_exposure', wrong_exp, None, hits
    if wrong_own is not None:
        return 'wrong_owner', wrong_own, None, hits
    return 'unexpected', None, None, hits


def _exposure_text(rule):
    parts = []
    if rule.ceiling is not None:
        parts.append({0: 'loopback', 1: 'link-local or loopback addresses', 2: 'specific addresses',
                      3: 'any address'}[rule.ceiling])
    if rule.nets is not None:
        parts.append(', '.join(str(c) for c in rule.nets.iter_cidrs()))
    return ' or '.join(parts)


def _who_text(rule):
    parts = []
    for key in ('process', 'exe', 'user', 'unit'):
        who = getattr(rule, key)
        if who is not None:
            parts.append('%s %s' % (key, who.text))
    return ', '.join(parts)


def _owner_text(lst):
    procs = lst.get('processes') or ()
    if not procs:
        return 'an unknown process'
    out = []
    for proc in procs:
        facts = ['pid %s' % proc.get('pid')]
        user = proc.get('user') if proc.get('user') is not None else proc.get('uid')
        if user is not None:
            facts.append('user %s' % user)
        if proc.get('unit'):
            facts.append('unit %s' % proc['unit'])
        out.append('%s (%s)' % (proc.get('name') or '?', ', '.join(facts)))
    return ', '.join(out)


class Evaluator:
    """Evaluate listeners against one compiled policy; ``naive`` skips the index (for tests)."""

    def __init__(self, policy, kb=None, protect=(), today=None, ephemeral_range=None, platform='linux', naive=False):
        self.policy = policy
        self.kb = kb
        self.settings = policy.settings
        self.today = today or datetime.date.today()
        self.protect = [p if isinstance(p, tuple) else (p, 'listed in protect') for p in protect]
        low_high = ephemeral_range or DEFAULT_EPHEMERAL.get(platform, DEFAULT_EPHEMERAL['linux'])
        self.eph_low, self.eph_high = int(low_high[0]), int(low_high[1])
        self.naive = naive
        self.index = None if naive else index_for(policy)
        self.allow_rules = [r for r in policy.rules if r.list != 'deny']
        self._flags = {}
        self._by_process = None
        self.warnings = []

    # KB access never breaks an audit: a failing lookup degrades to a generic sentence.
    def _kb_flags(self, port, proto):
        key = (port, proto)
        if key not in self._flags:
            flags = None
            if self.kb is not None and hasattr(self.kb, 'security_flags'):
                try:
                    flags = self.kb.security_flags(port, proto)
                    if 1024 <= port <= 49151 and hasattr(self.kb, 'port'):
                        if self.kb.port(port, proto).get('iana_status') in ('unassigned', 'no record'):
                            hint = getattr(flags, 'severity', None)
                            flags = set(flags or ()) | {'unassigned'}
                            if hint:
                                flags.add('severity:%s' % hint)
                except Exception as exc:  # pylint: disable=broad-except
                    self._kb_warning(exc)
            self._flags[key] = flags
        return self._flags[key]

    def _kb_explain(self, lst):
        if self.kb is not None:
            try:
                text = self.kb.explain(lst)
                if text:
                    return str(text).strip()
            except Exception as exc:  # pylint: disable=broad-except
                self._kb_warning(exc)
        return '%s listens on %s port %d.' % (_owner_text(lst), lst['protocol'].upper(), lst['port'])

    def _kb_warning(self, exc):
        msg = 'knowledge base lookup failed: %s' % exc
        if msg not in self.warnings:
            self.warnings.append(msg)

    def candidates(self, lst):
        if self.naive:
            return self.policy.rules
        return self.index.lookup(lst['protocol'], lst['port'])

    def nearest(self, lst):
        """Nearest allow/require rule for an unexpected listener: same port (own protocol first), then same process."""
        port = lst['port']
        for proto in sorted(LISTENER_PROTOCOLS, key=lambda p: p != lst['protocol']):
            if self.naive:
                rules = [r for r in self.policy.rules if r.specs is not None and any(
                    s.low <= port <= s.high and (not s.protocols or proto in s.protocols) for s in r.specs)]
            else:
                rules = self.index.lookup(proto, port)
            for rule in rules:
                if rule.list != 'deny' and rule.specs is not None:
                    return rule
        if self._by_process is None:
            self._by_process = {}
            for rule in self.allow_rules:
                if rule.process is not None and rule.process.exact is not None:
                    self._by_process.setdefault(rule.process.exact, rule)
        for proc in lst.get('processes') or ():
            rule = self._by_process.get(proc.get('name'))
            if rule is not None:
                return rule
        return None

    def protected(self, lst):
        for spec, why in self.protect:
            if spec.matches(lst['port'], lst['protocol']):
                return 'port %d/%s is protected (%s): the management path is never blocked or stopped' % (
                    lst['port'], lst['protocol'], why)
        return None

    def run(self, listeners):
        settings = self.settings
        allow_loopback = settings['allow_loopback']
        ephemeral = settings['ephemeral']
        report_unexpected = settings['unexpected'] == 'report'
        today = self.today
        satisfied = set()
        findings = []
        ignored = 0
        lookup = self.index.lookup if self.index is not None else None
        settled = self.index.settled if self.index is not None else ()
        rules = self.policy.rules
        for lst in listeners:
            if lookup is None:
                cands = rules
            else:
                cands = lookup(lst['protocol'], lst['port'])
                if id(cands) in settled:
                    continue
            kind, rule, other, hits = classify(lst, cands, today, allow_loopback)
            if hits:
                satisfied.update(hits)
            if kind is None:
                continue
            if kind == 'unexpected':
                if not report_unexpected:
                    ignored += 1
                    continue
                if ephemeral != 'report' and self.eph_low <= lst['port'] <= self.eph_high and (
                        ephemeral == 'allow' or lst['protocol'] == 'udp'):
                    ignored += 1
                    continue
            findings.append(self.finding(kind, lst, rule, other))
        for rule in self.policy.by_list['require']:
            if rule not in satisfied:
                findings.append(self.missing(rule, listeners))
        return {'findings': sort_findings(findings), 'ignored': ignored, 'listeners': len(listeners)}

    def finding(self, kind, lst, rule, other):
        settings = self.settings
        explanation = self._kb_explain(lst)
        nearest = other
        where = listener_text(lst)
        if kind == 'denied':
            floor = rule.severity or settings['deny_severity']
            action = rule.action or settings['action']
            policy_text = 'Denied by %s%s.' % (rule.label(), ': ' + rule.reason if rule.reason else '')
            if other is not None:
                policy_text += ' %s would allow it, but deny wins.' % other.label()
        elif kind == 'unexpected':
            floor = settings['unexpected_severity']
            action = settings['action']
            nearest = self.nearest(lst)
            policy_text = 'No allow rule matches %s.' % where
            if nearest is not None:
                policy_text += ' Nearest rule: %s.' % nearest.label()
        elif kind == 'wrong_exposure':
            floor = rule.severity or 'medium'
            action = rule.action or settings['action']
            policy_text = '%s allows it only on %s, but it listens on %s (%s).' % (
                rule.label(), _exposure_text(rule) or 'other addresses', lst['address'], lst['exposure'])
        elif kind == 'wrong_owner':
            floor = rule.severity or 'medium'
            action = rule.action or 'none'
            policy_text = '%s allows this port for %s, but it is owned by %s.' % (
                rule.label(), _who_text(rule), _owner_text(lst))
        else:  # expired
            floor = rule.severity or 'low'
            action = rule.action or settings['action']
            policy_text = '%s allowed it until %s; the exception has expired%s.' % (
                rule.label(), rule.expires.isoformat(),
                ' (ticket %s)' % rule.ticket if rule.ticket else '')
        severity, reasons = sev.assess(kind, lst, floor, self._kb_flags(lst['port'], lst['protocol']))
        if self.eph_low <= lst['port'] <= self.eph_high:
            reasons.append('port is in the ephemeral range %d-%d' % (self.eph_low, self.eph_high))
        why_protected = self.protected(lst)
        if why_protected:
            action, action_reason = 'none', why_protected
        else:
            if kind == 'expired':
                action_reason = 'the exception expired on %s' % rule.expires.isoformat()
            else:
                action_reason = {
                    'denied': 'a deny rule matches',
                    'unexpected': 'no allow rule matches (settings.action: %s)' % settings['action'],
                    'wrong_exposure': 'listening beyond the exposure its rule allows',
                    'wrong_owner': 'the allowed port is held by another owner',
                }[kind]
            if rule is not None and rule.action:
                action_reason += ' (action from %s)' % rule.label()
            if action == 'none':
                action_reason += '; no automatic remediation'
        return make_finding(kind, severity, reasons, lst, rule=rule if kind != 'unexpected' else None,
                            nearest=nearest, explanation='%s %s' % (explanation, policy_text),
                            action=action, action_reason=action_reason, protected=bool(why_protected))

    def missing(self, rule, listeners):
        floor = rule.severity or self.settings['missing_severity']
        near = [lst for lst in listeners if rule.match_where(lst)] if rule.specs is not None else []
        text = '%s requires a listener%s, but none matches.' % (
            rule.label(), ': ' + rule.reason if rule.reason else '')
        if near:
            text += ' On these ports: %s.' % ', '.join(listener_text(lst) for lst in near[:5])
        severity, reasons = sev.assess('missing', None, floor)
        return make_finding('missing', severity, reasons, None, rule=rule, explanation=text, action='none',
                            action_reason='a missing listener is started by its owner, not by this collection',
                            missing_key='%s|%s|%s' % (rule.origin, rule.index, rule.text))


def evaluate(policy, listeners, kb=None, protect=(), today=None, ephemeral_range=None, platform='linux', naive=False):
    """Findings for ``listeners`` under ``policy``: {'findings', 'ignored', 'listeners', 'warnings'}."""
    evaluator = Evaluator(policy, kb=kb, protect=protect, today=today, ephemeral_range=ephemeral_range,
                          platform=platform, naive=naive)
    result = evaluator.run(listeners)
    result['warnings'] = evaluator.warnings
    return result


def protect_specs(values, why='listed in protect'):
    """Port specs for the ``protect`` option: [(PortSpec, reason)]."""
    out = []
    for i, value in enumerate(values or ()):
        if isinstance(value, PortSpec):
            out.append((value, why))
            continue
        out.extend((spec, why) for spec in parse_port_specs(value, 'protect[%d]' % i))
    return out
