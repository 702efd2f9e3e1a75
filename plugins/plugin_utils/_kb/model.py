# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The knowledge-base model: IANA registry rows plus curated uses, security
notes and profiles, indexed by port.

Rules the answers follow (also in docs/knowledge-base.md):

Range class (RFC 6335): ``system`` 0-1023, ``user`` 1024-49151 (the
"registered" range), ``dynamic`` 49152-65535. ``in_ephemeral_range`` is None
unless the caller passes the host's range.

IANA status of (port, protocol), first rule that applies:

1. ``assigned``: a record for this port and protocol (or a legacy record with
   no protocol, which covers every protocol) assigns it;
2. ``reserved``: such a record says Reserved (0, and 2-3 since 2025-02-13);
3. ``unassigned``: such a record says Unassigned, De-registered, Removed,
   Deprecated or (De-)Commissioned, or the port is in the dynamic range (IANA
   never assigns there);
4. ``no record``: IANA has nothing for this protocol on this port, though it
   may for another (716/tcp: IANA lists 716/udp only).

Names: :meth:`KnowledgeBase.resolve` looks a name up as a curated profile
first, then as an IANA service name (case-insensitive, RFC 6335). A service
resolves to every protocol IANA assigns it (``https`` -> 443/tcp, 443/udp,
443/sctp), leaving out rows IANA marks de-registered or reserved unless the
name has nothing else (``sua`` -> 14001/tcp and 14001/sctp, not the freed
14001/udp). Resolving a profile gives its ``ports`` and its ``optional`` ports:
everything it allows.

Records returned by :meth:`KnowledgeBase.port` are fresh dicts with fresh
lists, but the entries inside them are shared: treat them as read-only.
"""

from __future__ import annotations

import bisect
import difflib
import re
from bisect import bisect_right

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.errors import KBError
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.iana import KINDS, SOURCE_URL
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import (
    PROTOCOLS, PortSpec, PortSpecError, looks_like_port_spec, parse_port_spec, parse_protocols,
)

SEVERITIES = ('info', 'low', 'medium', 'high', 'critical')
SECURITY_KINDS = ('plaintext', 'commonly_scanned', 'malware', 'unauthorized_use', 'default_credentials',
                  'amplification', 'exposure', 'legacy')
CONFIDENCES = ('vendor-doc', 'third-party', 'community')
# Order of uses on a port: ``common`` (the generic, most widespread use) first, then uses
# without a prevalence, then ``niche`` ones; ties keep curated file order (files by name).
PREVALENCES = ('common', 'niche')
_PREV_RANK = {'common': 0, None: 1, 'niche': 2}
RANGES = (('system', 0, 1023), ('user', 1024, 49151), ('dynamic', 49152, 65535))
RANGE_WORDS = {'system': 'system range 0\u20131023', 'user': 'registered range 1024\u201349151',
               'dynamic': 'dynamic range 49152\u201365535'}
# A high note of these kinds is about the protocol itself, so allowing the port is the risk; high
# 'exposure', 'amplification' or 'commonly_scanned' notes are about where a port is reachable from,
# which an allow rule states deliberately. Critical notes always count.
DANGEROUS_KINDS = ('plaintext', 'malware', 'default_credentials', 'legacy')
_RANK = {'a': 3, 'r': 2, 'u': 1}
_STATUS = {3: 'assigned', 2: 'reserved', 1: 'unassigned'}
_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def range_class(port):
    return 'system' if port < 1024 else 'user' if port < 49152 else 'dynamic'


def split_specs(specs):
    """One PortSpec per protocol, sorted and without duplicates."""
    out = set()
    for spec in specs:
        for proto in spec.protocols or (None,):
            out.add(PortSpec(spec.low, spec.high, (proto,) if proto else ()))
    return sorted(out)


def parse_ephemeral(value):
    """[low, high], (low, high) or 'low-high' / 'low high' (ip_local_port_range) -> (low, high)."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = re.split(r'[\s\-:]+', value.strip())
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    try:
        if len(parts) != 2 or any(isinstance(p, bool) for p in parts):
            raise ValueError
        low, high = int(parts[0]), int(parts[1])
    except (TypeError, ValueError):
        raise KBError('ephemeral_range: %r is not a port range (expected [low, high] or "low-high")' % (value,))
    if not 0 <= low <= high <= 65535:
        raise KBError('ephemeral_range: %r is outside 0-65535 or reversed' % (value,))
    return low, high


class SecurityFlags(frozenset):
    """The security kinds on a port (a frozenset) plus ``severity``: the highest curated hint or None."""

    severity = None

    def __new__(cls, kinds=(), severity=None):
        self = super().__new__(cls, kinds)
        self.severity = severity
        return self


class _SpanIndex:
    """Values by port: a dict for single ports, sweep-line segments for ranges."""

    def __init__(self):
        self._single = {}
        self._ranges = []
        self._bounds = []
        self._segments = []

    def add(self, low, high, value):
        if low == high:
            self._single.setdefault(low, []).append(value)
        else:
            self._ranges.append((low, high, value))

    def freeze(self):
        self._single = {k: tuple(v) for k, v in self._single.items()}
        bounds = sorted({r[0] for r in self._ranges} | {r[1] + 1 for r in self._ranges})
        by_low = sorted(range(len(self._ranges)), key=lambda i: self._ranges[i][0])
        active, nxt, segments = [], 0, []
        for bound in bounds:
            while nxt < len(by_low) and self._ranges[by_low[nxt]][0] <= bound:
                active.append(by_low[nxt])
                nxt += 1
            active = [i for i in active if self._ranges[i][1] >= bound]
            segments.append(tuple(self._ranges[i][2] for i in sorted(active)))
        self._bounds, self._segments = bounds, segments
        return self

    def groups(self):
        """(group of each port 0-65535, values of each group): ports in one group share their values.

        Ports inside the same range segment with no single-port values share a
        group, so derived answers can be cached per group rather than per port.
        """
        group = [0] * 65536
        values = [()]
        for pos, bound in enumerate(self._bounds):
            end = self._bounds[pos + 1] if pos + 1 < len(self._bounds) else 65536
            if self._segments[pos]:
                values.append(self._segments[pos])
                group[bound:end] = [len(values) - 1] * (end - bound)
        for port, single in sorted(self._single.items()):
            values.append(single + values[group[port]])
            group[port] = len(values) - 1
        return group, values

    def get(self, port):
        single = self._single.get(port, ())
        pos = bisect_right(self._bounds, port) - 1
        spans = self._segments[pos] if pos >= 0 else ()
        if single and spans:
            return single + spans
        return single or spans


class KnowledgeBase:
    """IANA rows (``iana``: the shipped iana.json dict) and curated entries (already checked by the loader)."""

    def __init__(self, iana, uses=(), security=(), profiles=(), data_dir=None):
        self.source = dict(iana.get('source') or {})
        self.data_dir = data_dir
        self._rows = iana['records']
        self._width = len(iana.get('fields') or ())
        self.uses = list(uses)
        self.security = list(security)
        self._profiles = {p['name']: p for p in profiles}
        self._entries = {}
        self._unauth = {}
        self._group = None
        self._group_rows = None
        self._by_group = {}
        self._services = None
        self._curated = None
        self._expanded = {}
        self._related = {}
        self._dangerous = None
        self._dangerous_ports = None

    # indexes, built on first use so that loading stays cheap
    def _iana(self):
        if self._group is None:
            index = _SpanIndex()
            for i, row in enumerate(self._rows):
                if row[3] is not None:
                    index.add(row[3], row[4], i)
            self._group, self._group_rows = index.freeze().groups()
            self._curated_index()
        return self._group

    def _service_index(self):
        if self._services is None:
            services = {}
            for i, row in enumerate(self._rows):
                if row[0]:
                    services.setdefault(row[0].lower(), []).append(i)
            self._services = services
        return self._services

    def _curated_index(self):
        """Curated uses, notes and profile ports grouped by port like the IANA rows."""
        if self._curated is None:
            index = _SpanIndex()
            for use in self.uses:
                own = [parse_port_spec(p) for p in use['ports']]
                related = set()
                for item in list(use.get('related') or ()) + [use.get('secure_alternative')]:
                    for spec in split_specs([parse_port_spec(item)]) if item else ():
                        # a use never lists its own port as related to itself
                        if not any(o.low <= spec.low and spec.high <= o.high and
                                   (not o.protocols or not spec.protocols or spec.protocols[0] in o.protocols)
                                   for o in own):
                            related.add(str(spec))
                self._related[use['id']] = related
                plain = use.get('plaintext')
                for spec in own:
                    item = use
                    if isinstance(plain, list):
                        # plaintext is a property of each port (1883 MQTT, 8883 MQTT over TLS): the record
                        # of a port carries the use with plaintext decided for that port
                        item = dict(use, plaintext=any(spec_covers(parse_port_spec(p), spec) for p in plain),
                                    plaintext_ports=list(plain))
                    index.add(spec.low, spec.high, ('u', item, spec.protocols))
            for note in self.security:
                for spec in (parse_port_spec(p) for p in note['ports']):
                    index.add(spec.low, spec.high, ('s', note, spec.protocols))
            for name in self._profiles:
                try:
                    expanded = self._expand(name)
                except KBError:
                    continue  # the validator reports it; one broken profile must not break port()
                for spec in expanded['_all']:
                    index.add(spec.low, spec.high, ('p', name, spec.protocols))
            self._curated = index.freeze().groups()
        return self._curated

    def _entry(self, i):
        entry = self._entries.get(i)
        if entry is None:
            row = list(self._rows[i]) + [None] * (self._width - len(self._rows[i]))
            entry = {
                'service': row[0], 'description': row[2], 'protocol': row[1],
                'low': row[3], 'high': row[4], 'status': KINDS[row[5]],
                'references': list(row[6] or ()), 'note': row[7], 'unauthorized_use': row[8],
                'assignee': '; '.join(row[9]) if row[9] else None,
                'contact': '; '.join(row[10]) if row[10] else None,
                'registered': row[11], 'updated': row[12],
            }
            self._entries[i] = entry
        return entry

    def _unauthorized_note(self, i, protocol):
        key = (i, protocol)
        note = self._unauth.get(key)
        if note is None:
            row = self._rows[i]
            port = str(row[3]) if row[3] == row[4] else '%d-%d' % (row[3], row[4])
            note = {
                'id': 'iana-unauthorized-%s-%s' % (row[0] or port, protocol),
                'ports': ['%s/%s' % (port, protocol)],
                'kind': 'unauthorized_use',
                'text': 'IANA registry note on %s (%s/%s): %s' % (row[0] or 'this port', port, protocol, row[8]),
                'severity': None,
                'sources': [{'title': 'IANA %s (%s)' % (self.source.get('title') or 'port registry',
                                                        self.source.get('updated') or 'undated'),
                             'url': self.source.get('url') or SOURCE_URL}],
                'confidence': 'registry',
            }
            self._unauth[key] = note
        return note

    # input checks
    @staticmethod
    def _check(port, protocol):
        try:
            if isinstance(port, bool) or not isinstance(port, int):
                spec = parse_port_spec(port, 'port')
                if spec.low != spec.high:
                    raise KBError('port: %r is a range; one port is expected here' % (port,))
                port = spec.low
                if protocol is None and len(spec.protocols) == 1:
                    protocol = spec.protocols[0]
            elif not 0 <= port <= 65535:
                raise KBError('port: %r is outside 0-65535' % (port,))
            protos = parse_protocols(protocol, 'protocol')
        except PortSpecError as exc:
            raise KBError(str(exc))
        if len(protos) != 1:
            raise KBError('protocol: %r must name one of %s' % (protocol, ', '.join(PROTOCOLS)))
        return port, protos[0]

    # the API
    def port(self, port, protocol=None, ephemeral_range=None):
        """The KB record for one (port, protocol); see the module docstring for the rules."""
        if isinstance(port, bool) or not isinstance(port, int) or protocol not in PROTOCOLS or not 0 <= port <= 65535:
            port, protocol = self._check(port, protocol)
        group = self._group or self._iana()
        key = (group[port], self._curated[0][port], protocol)
        base = self._by_group.get(key) or self._derive(key)
        status, entries, others, uses, security, related, profiles = base
        if status is None:
            status = 'unassigned' if port > 49151 else 'no record'
        if ephemeral_range is None:
            in_eph = None
        else:
            low, high = parse_ephemeral(ephemeral_range)
            in_eph = low <= port <= high
        return {
            'port': port,
            'protocol': protocol,
            'range_class': 'system' if port < 1024 else 'user' if port < 49152 else 'dynamic',
            'in_ephemeral_range': in_eph,
            'iana_status': status,
            'iana': list(entries),
            'iana_other_protocols': list(others),
            'uses': list(uses),
            'security': list(security),
            'related': list(related),
            'profiles': list(profiles),
        }

    def _derive(self, key):
        """The protocol-specific parts of a record, cached per (IANA group, curated group, protocol)."""
        group, cgroup, protocol = key
        iana_idx = self._group_rows[group]
        curated = self._curated[1][cgroup]
        rows = self._rows
        entries, others, rank, unauthorized = [], (), 0, ()
        for i in iana_idx:
            row = rows[i]
            proto = row[1]
            if proto is not None and proto != protocol:
                if proto not in others:
                    others = tuple(sorted(others + (proto,)))
                continue
            entries.append(self._entries.get(i) or self._entry(i))
            r = _RANK[row[5]]
            if r > rank:
                rank = r
            if len(row) > 8 and row[8]:
                unauthorized += (self._unauthorized_note(i, protocol),)
        status = _STATUS.get(rank)  # None: decided per port in port(), groups span ranges
        uses = security = related = profiles = ()
        if curated:
            seen, rel, notes, names = set(), set(), {}, set()
            for tag, item, protos in curated:
                if protos and protocol not in protos:
                    continue
                if tag == 'u':
                    if item['id'] not in seen:
                        seen.add(item['id'])
                        uses += (item,)
                        rel.update(self._related[item['id']])
                elif tag == 's':
                    notes[item['id']] = item
                else:
                    names.add(item)
            uses = tuple(sorted(uses, key=lambda u: _PREV_RANK.get(u.get('prevalence'), 1)))
            security = tuple(notes.values())
            related = tuple(sorted(rel, key=_spec_sort))
            profiles = tuple(sorted(names))
        base = (status, tuple(entries), others, uses, security + unauthorized, related, profiles)
        self._by_group[key] = base
        return base

    def security_flags(self, port, protocol=None):
        """Security kinds on (port, protocol) as a :class:`SecurityFlags` (``.severity``: highest curated hint)."""
        rec = self.port(port, protocol)
        kinds, best = set(), None
        for note in rec['security']:
            kinds.add(note['kind'])
            sev = note.get('severity')
            if sev and (best is None or _SEV_RANK[sev] > _SEV_RANK[best]):
                best = sev
        if any(use.get('plaintext') for use in rec['uses']):
            kinds.add('plaintext')
        return SecurityFlags(kinds, best)

    def dangerous_notes(self):
        """[(PortSpec, note)] for every note that makes its port dangerous to allow (see :data:`DANGEROUS_KINDS`)."""
        if self._dangerous is None:
            out = []
            for note in self.security:
                sev = note.get('severity')
                if sev == 'critical' or sev == 'high' and note['kind'] in DANGEROUS_KINDS:
                    out.extend((spec, note) for spec in split_specs([parse_port_spec(p) for p in note['ports']]))
            self._dangerous = out
        return self._dangerous

    def allow_warnings(self, spec):
        """Plain warnings, one per port the KB marks dangerous that PortSpec ``spec`` allows.

        Dangerous means a curated security note of severity critical on that port and protocol
        (2375/tcp: the unauthenticated Docker Engine API), or of severity high about the protocol
        itself (clear-text logins, malware, default credentials, obsolete protocols: DANGEROUS_KINDS). Each warning names the port,
        the worst note's severity and the first sentence of its text, so an allow rule that
        permits such a port (for example through an IANA service name) never passes silently.
        """
        if not isinstance(spec, PortSpec):
            raise KBError('spec: expected a PortSpec, got %r' % (spec,))
        # A policy may hold thousands of rules and most touch no dangerous port: one bisect skips them.
        if self._dangerous_ports is None:
            self._dangerous_ports = sorted({port for dangerous, _note in self.dangerous_notes()
                                            for port in range(dangerous.low, dangerous.high + 1)})
        ports = self._dangerous_ports
        at = bisect.bisect_left(ports, spec.low)
        if at == len(ports) or ports[at] > spec.high:
            return []
        worst = {}
        for dangerous, note in self.dangerous_notes():
            if not specs_overlap(spec, dangerous):
                continue
            low, high = max(spec.low, dangerous.low), min(spec.high, dangerous.high)
            protos = [p for p in dangerous.protocols or spec.protocols or ('tcp', 'udp')
                      if not spec.protocols or p in spec.protocols]
            for port in range(low, high + 1):
                for proto in protos:
                    key = (port, proto)
                    prev = worst.get(key)
                    if prev is None or _SEV_RANK[note['severity']] > _SEV_RANK[prev['severity']]:
                        worst[key] = note
        return ['%d/%s is marked dangerous by the port knowledge base (%s, %s): %s' % (
            port, proto, note['severity'], note['kind'], _end(_first_sentence(note['text'], 200)))
            for (port, proto), note in sorted(worst.items())]

    # names
    def services(self, name):
        """IANA entries for a service name (case-insensitive), with or without a port number."""
        return [self._entry(i) for i in self._service_index().get(str(name).strip().lower(), ())]

    def service_specs(self, name):
        """Every (port range, protocol) IANA assigns to a service name, as PortSpecs."""
        rows = [self._rows[i] for i in self._service_index().get(str(name).strip().lower(), ())]
        # a name keeps its de-registered rows (sua: 14001/udp) in the registry; those ports are free
        # again, so they count only when the name has nothing else with a number
        live = [row for row in rows if row[3] is not None and row[5] == 'a']
        specs = []
        for row in live or rows:
            if row[3] is None:
                continue
            protos = (row[1],) if row[1] else ('tcp', 'udp')
            specs.extend(PortSpec(row[3], row[4], (p,)) for p in protos)
        if rows and not specs:
            raise KBError('name: IANA service %r has no port number (DNS-SD only)' % (name,))
        return sorted(set(specs))

    def profiles(self):
        return sorted(self._profiles)

    def names(self):
        """Every name resolve() knows: profiles and IANA service names."""
        return sorted(set(self._profiles) | set(self._service_index()))

    def _suggest(self, name):
        close = difflib.get_close_matches(name, self.profiles(), n=3, cutoff=0.6)
        # a misspelt family name (kubernets) should also offer the profiles that start with it
        # (kubernetes-control-plane), which whole-name similarity misses
        lowered = str(name).strip().lower()
        heads = {}
        for prof in self.profiles():
            parts = prof.split('-')
            for size in range(1, len(parts)):
                heads.setdefault('-'.join(parts[:size]), []).append(prof)
        for head in difflib.get_close_matches(lowered, list(heads), n=2, cutoff=0.8):
            close += [p for p in heads[head] if p not in close][:3]
        close += [n for n in difflib.get_close_matches(name, list(self._service_index()), n=5, cutoff=0.6)
                  if n not in close]
        return close[:6]

    def _unknown(self, name, what='profile or IANA service name'):
        close = self._suggest(name)
        hint = '; closest: %s' % ', '.join(close) if close else '; no close match'
        return KBError('name: unknown %s %r%s' % (what, name, hint))

    def _expand(self, name, stack=()):
        done = self._expanded.get(name)
        if done is not None:
            return done
        if name in stack:
            raise KBError('profile %r: include cycle %s' % (stack[0], ' -> '.join(stack + (name,))))
        prof = self._profiles.get(name)
        if prof is None:
            raise self._unknown(name, 'profile')
        stack = stack + (name,)
        ports, optional, includes = [], [], []

        def take(items, into, field):
            for item in items:
                if looks_like_port_spec(item):
                    try:
                        into.append(parse_port_spec(item, 'profile %r: %s' % (name, field)))
                    except PortSpecError as exc:
                        raise KBError(str(exc))
                elif item in self._profiles and item != name:
                    sub = self._expand(item, stack)
                    into.extend(sub['_ports'])
                    optional.extend(sub['_optional'])
                    includes.extend([item] + sub['all_includes'])
                else:
                    if not self._service_index().get(str(item).strip().lower()):
                        raise KBError('profile %r: %s: %s' % (name, field, self._unknown(str(item))))
                    try:
                        into.extend(self.service_specs(item))
                    except KBError as exc:
                        raise KBError('profile %r: %s: %s' % (name, field, exc))

        take(prof.get('ports') or (), ports, 'ports')
        take(prof.get('optional') or (), optional, 'optional')
        for inc in prof.get('includes') or ():
            if inc not in self._profiles:
                raise KBError('profile %r: includes: %s' % (name, self._unknown(inc, 'profile')))
            sub = self._expand(inc, stack)
            ports.extend(sub['_ports'])
            optional.extend(sub['_optional'])
            includes.extend([inc] + sub['all_includes'])
        ports = split_specs(ports)
        required = set(ports)
        optional = [s for s in split_specs(optional) if s not in required]
        done = {
            'name': name,
            'description': prof.get('description'),
            'shadows_iana': prof.get('shadows_iana'),
            'deny_suggested': list(prof.get('deny_suggested') or ()),
            'ports': [str(s) for s in ports],
            'optional': [str(s) for s in optional],
            'includes': list(prof.get('includes') or ()),
            'all_includes': sorted(set(includes)),
            'sources': list(prof.get('sources') or ()),
            '_ports': ports, '_optional': optional, '_all': sorted(set(ports) | set(optional)),
        }
        self._expanded[name] = done
        return done

    def profile(self, name):
        """A profile expanded: ports and optional as 'N/proto' strings, includes resolved recursively."""
        name = str(name).strip()
        if name not in self._profiles:
            raise self._unknown(name, 'profile')
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self._expand(name).items() if not k.startswith('_')}

    def resolve(self, name):
        """Profile name, IANA service name or port spec -> list of PortSpec (profile wins over service)."""
        # no service name holds '/' and none starts with '-': '/tcp' or '-5/udp' is a broken port spec,
        # and saying so helps more than "unknown name"
        if looks_like_port_spec(name) or isinstance(name, str) and ('/' in name or name.strip()[:1] in ('-', '+')):
            try:
                return [parse_port_spec(name, 'name')]
            except PortSpecError as exc:
                raise KBError(str(exc))
        if not isinstance(name, str) or not name.strip():
            raise KBError('name: %r is not a profile, service name or port spec' % (name,))
        key = name.strip()
        if key in self._profiles or key.lower() in self._profiles:
            return list(self._expand(key if key in self._profiles else key.lower())['_all'])
        if key.lower() in self._service_index():
            return self.service_specs(key)
        raise self._unknown(key)

    # prose
    def explain(self, listener, ephemeral_range=None):
        """One to three plain sentences about a listener (schema of module_utils/_listeners/schema.py)."""
        if not isinstance(listener, dict) or 'port' not in listener or 'protocol' not in listener:
            raise KBError('listener: expected a mapping with port and protocol, got %r' % (listener,))
        rec = self.port(listener['port'], listener['protocol'], ephemeral_range)
        return explain_record(rec, listener)


def spec_covers(outer, inner):
    """True when PortSpec ``outer`` contains every port and protocol of ``inner`` (no protocol: all)."""
    if not (outer.low <= inner.low and inner.high <= outer.high):
        return False
    return not outer.protocols or bool(inner.protocols) and set(inner.protocols) <= set(outer.protocols)


def specs_overlap(a, b):
    """True when PortSpecs ``a`` and ``b`` share a port and a protocol (no protocol: all)."""
    if a.high < b.low or b.high < a.low:
        return False
    return not a.protocols or not b.protocols or bool(set(a.protocols) & set(b.protocols))


def _spec_sort(text):
    head = text.partition('/')[0]
    low = head.split('-')[0]
    return (int(low) if low.isdigit() else 0, text)


def _first_sentence(text, limit=160):
    text = ' '.join(str(text or '').split())
    match = re.match(r'^(.+?[.!?])(\s|$)', text)
    sentence = match.group(1) if match else text
    if len(sentence) > limit:
        sentence = sentence[:limit - 1].rsplit(' ', 1)[0] + '\u2026'
    return sentence


def _end(text):
    """Close a sentence with a full stop unless it already ends in one (or in a truncating ellipsis)."""
    return text if text.endswith(('.', '!', '?', '\u2026')) else text + '.'


def _entry_label(entry):
    desc = entry['description']
    if entry['service'] and desc and desc.lower() != entry['service'].lower():
        return '%s (%s)' % (entry['service'], desc)
    return entry['service'] or desc or 'an unnamed service'


def use_label(use, full=False):
    # 'various' says only that several vendors ship it; the product list carries the names
    who = ' '.join(x for x in (use.get('vendor'), use.get('product')) if x and x.lower() != 'various')
    # the first clause only: a finding needs the gist, the port page has the rest
    purpose = re.split(r'(?<=\w)[.:;](?:\s|$)', _first_sentence(use.get('purpose'), 100000 if full else 100))[0]
    purpose = purpose.rstrip('.')
    label = '%s: %s' % (who, purpose) if who and purpose else who or purpose or use['id']
    extra = []
    if use.get('plaintext') is True:
        extra.append('plaintext')
    if use.get('secure_alternative') and use.get('plaintext') is not False:
        # an encrypted port of a use (8883 beside 1883) needs no alternative
        extra.append('secure alternative %s' % use['secure_alternative'])
    return label + (' (%s)' % '; '.join(extra) if extra else '')


def explain_record(rec, listener=None, full=False):
    """The explanation sentence(s) for a port record, optionally naming the listener's processes.

    ``full`` (port pages) never shortens a sentence; findings keep them short.
    """
    limit = 100000 if full else 160
    where = '%d/%s' % (rec['port'], rec['protocol'])
    listener = listener or {}
    names = []
    for proc in listener.get('processes') or ():
        if isinstance(proc, dict) and proc.get('name') and proc['name'] not in names:
            names.append(proc['name'])
    if names:
        where += ' (process %s)' % ', '.join(names)
    span = RANGE_WORDS[rec['range_class']]
    status = rec['iana_status']
    if status == 'assigned':
        labels = []
        for entry in rec['iana']:
            if entry['status'] == 'assigned' and _entry_label(entry) not in labels:
                labels.append(_entry_label(entry))
        first = '%s is assigned by IANA to %s (%s).' % (where, ' and '.join(labels[:3]), span)
    elif status == 'reserved':
        first = '%s is reserved by IANA (%s).' % (where, span)
    elif status == 'unassigned':
        first = '%s is not assigned by IANA (%s).' % (where, span)
    else:
        others = ', '.join('%d/%s' % (rec['port'], p) for p in rec.get('iana_other_protocols') or ())
        first = '%s has no IANA record (%s%s).' % (where, span, '; IANA lists %s only' % others if others else '')
    sentences = [first]
    if rec['in_ephemeral_range']:
        sentences.append("It lies in this host's ephemeral port range, where the kernel also picks client ports.")
    uses = rec['uses']
    if uses:
        labels = [use_label(u, full) for u in uses[:3]]
        more = ' and %d more' % (len(uses) - 3) if len(uses) > 3 else ''
        sentences.append(_end('Known use%s: %s%s' % ('s' if len(uses) > 1 else '', '; '.join(labels), more)))
    curated = [n for n in rec['security'] if n.get('confidence') != 'registry']
    if uses and status in ('unassigned', 'no record'):
        # nothing official claims the port, so the known users are the only innocent explanation
        sentences.append('On a host without such equipment, a listener here deserves investigation.')
    elif curated:
        # the worst note on the port need not concern the use named above (8080: Tomcat, open proxy),
        # so it is labelled as a risk of the port, not of that use
        note = max(curated, key=lambda n: _SEV_RANK.get(n.get('severity') or 'info', 0))
        sentences.append('Risk on this port: %s' % _end(_first_sentence(note['text'], limit)))
    elif any(n['kind'] == 'unauthorized_use' for n in rec['security']):
        sentences.append('IANA records unauthorized use of this port.')
    return ' '.join(sentences)
