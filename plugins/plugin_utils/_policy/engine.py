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
expired allow > identity_mismatch > allow_loopback > wrong_exposure >
wrong_owner > unexpected.

The knowledge base is consulted for every finding. When it raises, the audit
fails closed (KBEvaluationError naming the listener) unless the caller passes
``kb_errors='tolerate'``; then the finding takes the highest severity its rule
allows and says why.
"""

from __future__ import annotations

import bisect
import datetime

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import gcpause, identity, owners, severity as sev
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import KBEvaluationError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import (
    listener_text, make_finding, sort_findings,
)

LISTENER_PROTOCOLS = ('tcp', 'udp')
NARROW = 64  # specs at most this wide go into the per-port dict
DEFAULT_EPHEMERAL = {'linux': (32768, 60999), 'windows': (49152, 65535)}
KB_ERRORS = ('fail', 'tolerate')


class RuleIndex:
    """Rules that can match (protocol, port), in policy order.

    Building is one pass over the rules plus a segment tree over the wide
    ranges (O(rules log rules)); the candidate list of a port is merged on its
    first lookup and kept, so no work is spent on ports no listener uses.
    """

    def __init__(self, rules):
        self.narrow = {p: {} for p in LISTENER_PROTOCOLS}
        anyport = {p: [] for p in LISTENER_PROTOCOLS}
        wide = {p: [] for p in LISTENER_PROTOCOLS}
        for rule in rules:
            if rule.specs is None:
                for proto in LISTENER_PROTOCOLS:
                    if rule.protos is None or proto in rule.protos:
                        anyport[proto].append(rule)
                continue
            for spec in rule.specs:
                for proto in LISTENER_PROTOCOLS:
                    if spec.protocols and proto not in spec.protocols:
                        continue
                    if spec.high - spec.low < NARROW:
                        # Buckets are tuples, shared by every port a rule alone covers: a 64-port
                        # range costs one tuple, not 64 lists (memory, not steps, made 10x the
                        # rules cost more than 10x the time).
                        table = self.narrow[proto]
                        alone = (rule,)
                        for port in range(spec.low, spec.high + 1):
                            bucket = table.get(port)
                            if bucket is None:
                                table[port] = alone
                            elif bucket[-1] is not rule:
                                table[port] = bucket + alone
                    else:
                        wide[proto].append((spec.low, spec.high, rule))
        self.anyport = {p: tuple(anyport[p]) for p in LISTENER_PROTOCOLS}
        self.bounds = {}
        self.tree = {}
        self.tree_size = {}
        for proto in LISTENER_PROTOCOLS:
            self._build_tree(proto, wide[proto])
        self.merged = {p: {} for p in LISTENER_PROTOCOLS}  # port -> candidates (filled on lookup)
        self.segments = {p: {} for p in LISTENER_PROTOCOLS}  # segment -> wide + anyport candidates
        # Buckets whose verdict needs no look at the listener: an unconditional allow
        # rule and no deny/require rule. Most listeners of a real fleet land in one.
        self.settled = set()

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

    def _build_tree(self, proto, ranges):
        """Elementary segments [bounds[i], bounds[i+1]) and a segment tree holding each range in O(log n) nodes."""
        points = sorted({r[0] for r in ranges} | {r[1] + 1 for r in ranges})
        size = max(len(points) - 1, 0)
        self.bounds[proto] = points
        self.tree_size[proto] = size
        nodes = [[] for _node in range(2 * size)] if size else []
        position = {point: i for i, point in enumerate(points)}
        for low, high, rule in ranges:
            left, right = position[low] + size, position[high + 1] + size
            while left < right:
                if left & 1:
                    nodes[left].append(rule)
                    left += 1
                if right & 1:
                    right -= 1
                    nodes[right].append(rule)
                left >>= 1
                right >>= 1
        self.tree[proto] = nodes

    def _segment(self, proto, port):
        """Wide-range and any-port candidates of ``port`` (cached per elementary segment)."""
        bounds = self.bounds[proto]
        i = bisect.bisect_right(bounds, port) - 1
        if i < 0 or i >= self.tree_size[proto]:
            return self.anyport[proto]
        cache = self.segments[proto]
        cover = cache.get(i)
        if cover is None:
            nodes = self.tree[proto]
            found = set()
            node = i + self.tree_size[proto]
            while node >= 1:
                found.update(nodes[node])
                node >>= 1
            found.update(self.anyport[proto])
            cover = tuple(sorted(found, key=lambda r: r.seq))
            cache[i] = cover
        return cover

    def lookup(self, proto, port):
        cache = self.merged.get(proto)
        if cache is None:
            return ()
        bucket = cache.get(port)
        if bucket is None:
            narrow = self.narrow[proto].get(port)
            cover = self._segment(proto, port)
            bucket = self._merge(narrow, cover) if narrow else cover
            cache[port] = bucket
            if self._settled(bucket):
                self.settled.add(id(bucket))
        return bucket


def index_for(policy):
    """The policy's rule index, built once and kept on the policy (a policy judges many listener sets)."""
    index = getattr(policy, '_index', None)
    if index is None:
        with gcpause.paused():
            index = RuleIndex(policy.rules)
        policy._index = index
    return index


def classify(lst, cands, today, allow_loopback):
    """(kind or None, rule, other_rule, require_hits) for one listener and its candidate rules."""
    deny = allowed = expired = wrong_exp = wrong_own = impostor = None
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
            if impostor is None and rule.process is not None and rule.impostor(lst) is not None:
                impostor = rule
            elif wrong_own is None and rule.specs is not None:
                wrong_own = rule
    if deny is not None:
        return 'denied', deny, allowed, hits
    if allowed is not None:
        return None, allowed, None, hits
    if expired is not None:
        return 'expired', expired, None, hits
    if impostor is not None:
        return 'identity_mismatch', impostor, None, hits
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
    for key in ('process', 'exe', 'user', 'unit', 'container', 'match'):
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

    def __init__(self, policy, kb=None, today=None, ephemeral_range=None, platform='linux', naive=False,
                 kb_errors='fail'):
        if kb_errors not in KB_ERRORS:
            raise ValueError('kb_errors: %r is not one of %s' % (kb_errors, ', '.join(KB_ERRORS)))
        self.kb_errors = kb_errors
        self.kb_failed = {}  # (port, protocol) -> error text, when kb_errors is 'tolerate'
        self.policy = policy
        self.kb = kb
        self.settings = policy.settings
        self.today = today or datetime.date.today()
        low_high = ephemeral_range or DEFAULT_EPHEMERAL.get(platform, DEFAULT_EPHEMERAL['linux'])
        self.eph_low, self.eph_high = int(low_high[0]), int(low_high[1])
        self.naive = naive
        self.index = None if naive else index_for(policy)
        self.allow_rules = [r for r in policy.rules if r.list != 'deny']
        self._flags = {}
        self._by_process = None
        self.warnings = []

    # KB failures fail closed: an audit that cannot read the knowledge base would
    # under-rate what it finds, so it stops unless the caller chose to tolerate that.
    def _kb_failure(self, lst, exc):
        text = '%s: %s' % (type(exc).__name__, exc)
        if self.kb_errors == 'fail':
            raise KBEvaluationError('knowledge base failed while judging %s: %s (set kb_errors: tolerate to keep '
                                    'going with the highest severity each rule allows)' % (listener_text(lst), text))
        self.kb_failed[(lst['port'], lst['protocol'])] = text
        msg = 'knowledge base failed on %d/%s (%s): findings there take the highest severity their rule allows' % (
            lst['port'], lst['protocol'], text)
        if msg not in self.warnings:
            self.warnings.append(msg)

    def _kb_flags(self, lst):
        port, proto = lst['port'], lst['protocol']
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
                    self._kb_failure(lst, exc)  # raises unless kb_errors is tolerate
            self._flags[key] = flags
        return self._flags[key]

    def _kb_explain(self, lst):
        if self.kb is not None:
            try:
                text = self.kb.explain(lst)
                if text:
                    return str(text).strip()
            except Exception as exc:  # pylint: disable=broad-except
                self._kb_failure(lst, exc)  # raises unless kb_errors is tolerate
        return '%s listens on %s port %d.' % (_owner_text(lst), lst['protocol'].upper(), lst['port'])

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

    def run(self, listeners):
        settings = self.settings
        allow_loopback = settings['allow_loopback']
        ephemeral = settings['ephemeral']
        report_unexpected = settings['unexpected'] == 'report'
        today = self.today
        satisfied = set()
        findings = []
        verdicts = []
        ignored = 0
        lookup = self.index.lookup if self.index is not None else None
        settled = self.index.settled if self.index is not None else ()
        rules = self.policy.rules
        for lst in listeners:
            # Only what was said: most listeners get {'allowed_by': 'allow#3'} and nothing else. At 6,000
            # listeners the verdicts were a third of port_audit's result when each held a copy of its rule.
            verdict = {}
            verdicts.append(verdict)
            if lookup is None:
                cands = rules
            else:
                cands = lookup(lst['protocol'], lst['port'])
                if id(cands) in settled:
                    verdict['allowed_by'] = _first_allow(cands, lst, today).key()
                    continue
            kind, rule, other, hits = classify(lst, cands, today, allow_loopback)
            if hits:
                satisfied.update(hits)
            if kind is None:
                if rule is not None:
                    verdict['allowed_by'] = rule.key()
                else:
                    verdict['ignored_by'] = 'settings.allow_loopback: true'
                continue
            if kind == 'unexpected':
                if not report_unexpected:
                    ignored += 1
                    verdict['ignored_by'] = 'settings.unexpected: ignore'
                    continue
                if ephemeral != 'report' and self.eph_low <= lst['port'] <= self.eph_high and (
                        ephemeral == 'allow' or lst['protocol'] == 'udp'):
                    ignored += 1
                    verdict['ignored_by'] = 'settings.ephemeral: %s' % ephemeral
                    continue
            finding = self.finding(kind, lst, rule, other)
            verdict['finding_ids'] = [finding['id']]
            findings.append(finding)
        for rule in self.policy.by_list['require']:
            if rule not in satisfied:
                findings.append(self.missing(rule, listeners))
        return {'findings': sort_findings(findings), 'ignored': ignored, 'listeners': len(listeners),
                'verdicts': verdicts}

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
        elif kind == 'identity_mismatch':
            floor = sev.highest([rule.severity or 'high', 'high'])
            action = rule.action or settings['action']
            proc = rule.impostor(lst)
            policy_text = ('%s trusts the process name %s, but the process %s runs an executable that is not %s: '
                           'a name is claimed by the program itself, its executable is not.' % (
                               rule.label(), rule.process.text, identity.describe(proc), rule.process.text))
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
        stranger = owners.stranger(lst)
        if stranger is not None:
            service, programs, proc = stranger
            explanation += ' Port %d/%s is usually %s, but this owner, %s, is not a known %s server (%s).' % (
                lst['port'], lst['protocol'], service, identity.describe(proc), service, ', '.join(programs))
        severity, reasons = sev.assess(kind, lst, floor, self._kb_flags(lst), stranger)
        if kind == 'identity_mismatch':
            reasons.append('process name %s does not match its executable %s' % (
                proc.get('name'), proc.get('exe') or '(unknown)'))
        kb_failed = self.kb_failed.get((lst['port'], lst['protocol']))
        if kb_failed is not None:
            severity = rule.severity if rule is not None and rule.severity else 'critical'
            reasons.append('knowledge base failed on this port (%s): severity set to %s, the highest its rule allows '
                           '(kb_errors: tolerate)' % (kb_failed, severity))
        if self.eph_low <= lst['port'] <= self.eph_high:
            reasons.append('port is in the ephemeral range %d-%d' % (self.eph_low, self.eph_high))
        # Protection (management path, protected units) is the remediation planner's to decide.
        if kind == 'expired':
            action_reason = 'the exception expired on %s' % rule.expires.isoformat()
        else:
            action_reason = {
                'denied': 'a deny rule matches',
                'unexpected': 'no allow rule matches (settings.action: %s)' % settings['action'],
                'wrong_exposure': 'listening beyond the exposure its rule allows',
                'wrong_owner': 'the allowed port is held by another owner',
                'identity_mismatch': 'the process name claims an identity its executable does not have',
            }[kind]
        if rule is not None and rule.action:
            action_reason += ' (action from %s)' % rule.label()
        if action == 'none':
            action_reason += '; no automatic remediation'
        return make_finding(kind, severity, reasons, lst, rule=rule if kind != 'unexpected' else None,
                            nearest=nearest, explanation='%s %s' % (explanation, policy_text),
                            action=action, action_reason=action_reason)

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


def _first_allow(bucket, lst, today):
    """The rule classify() would name for a listener in a settled bucket (the first that fully matches)."""
    for rule in bucket:
        if rule.matches(lst) and not rule.expired(today):
            return rule
    return None


def evaluate(policy, listeners, kb=None, today=None, ephemeral_range=None, platform='linux', naive=False,
             kb_errors='fail'):
    """Judge ``listeners``: {'findings', 'ignored', 'listeners', 'warnings', 'verdicts'}.

    ``verdicts`` is aligned with ``listeners``, each with only what applies:
    ``allowed_by`` (the rule's place in effective_policy, 'allow#3'),
    ``ignored_by`` (the setting's text) or ``finding_ids`` ([id]): exactly one
    of them. ``kb_errors``:
    'fail' (default) raises KBEvaluationError when the knowledge base raises;
    'tolerate' keeps going with the highest severity each rule allows.
    """
    evaluator = Evaluator(policy, kb=kb, today=today, ephemeral_range=ephemeral_range,
                          platform=platform, naive=naive, kb_errors=kb_errors)
    result = evaluator.run(listeners)
    result['warnings'] = evaluator.warnings
    return result
