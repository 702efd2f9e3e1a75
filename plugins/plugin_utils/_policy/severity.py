# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Severity of a finding, with the short reasons that produced it.

Start from exposure (reachable from the network or not), raise for what the
knowledge base says about the port and for suspicious process facts, and
never go below the floor of the finding's kind (see docs/policy.md).
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import identity
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.rules import SEVERITIES

RANK = {s: i for i, s in enumerate(SEVERITIES)}
ORDER = tuple(reversed(SEVERITIES))  # critical first, for reports
SUSPICIOUS_DIRS = ('/tmp/', '/dev/shm/', '/var/tmp/')
BASE = {
    'wildcard': ('medium', 'listens on every address (wildcard)'),
    'specific': ('medium', 'listens on a routable address'),
    'link_local': ('low', 'listens on a link-local address'),
    'loopback': ('info', 'listens on loopback only'),
}
# Flags read from kb.security_flags(); other names are ignored.
FLAG_TEXT = {
    'malware': 'port known for malware use',
    'unauthorized_use': 'port has reports of unauthorized use',
    'plaintext': 'plaintext protocol',
    'default_credentials': 'services on this port often ship default credentials',
    'amplification': 'protocol can be abused for traffic amplification',
    'exposure': 'knowledge base advises against exposing this port',
    'unassigned': 'IANA lists no service for this registered port',
}
BUMPS = ('unauthorized_use', 'plaintext', 'default_credentials', 'amplification', 'exposure', 'unassigned')
NOTED = {'commonly_scanned': 'port is commonly scanned', 'legacy': 'legacy protocol'}
_ALIASES = {
    'known_malware': 'malware', 'trojan': 'malware',
    'unauthorized': 'unauthorized_use', 'unauthorised_use': 'unauthorized_use',
    'cleartext': 'plaintext', 'insecure_protocol': 'plaintext',
    'unassigned_registered': 'unassigned',
}


def normalize_flags(raw):
    """kb.security_flags() output -> (set of flag names, severity hint or None, {flag: note}).

    Accepts a list/set of names, a mapping of name -> truthy/note, and an optional
    'severity' hint (top-level key or 'severity:<level>' item).
    """
    flags, notes = set(), {}
    hint = getattr(raw, 'severity', None)  # kb SecurityFlags carries the curated hint as an attribute
    hint = hint if hint in RANK else None
    if not raw:
        return flags, hint, notes
    items = raw.items() if isinstance(raw, dict) else ((x, True) for x in raw)
    for name, value in items:
        name = str(name)
        if name == 'severity' or name == 'severity_hint':
            hint = value if value in RANK else hint
            continue
        if name.startswith('severity:'):
            level = name.split(':', 1)[1]
            hint = level if level in RANK else hint
            continue
        if not value:
            continue
        name = _ALIASES.get(name, name)
        flags.add(name)
        if isinstance(value, str):
            notes[name] = value
    return flags, hint, notes


def _raise(level, to):
    return to if RANK[to] > RANK[level] else level


def _bump(level, steps=1):
    return SEVERITIES[min(RANK[level] + steps, len(SEVERITIES) - 1)]


def process_facts(listener):
    """Suspicious facts about the owning processes: [(reason, kind)]."""
    facts = []
    procs = listener.get('processes') or ()
    for proc in procs:
        exe = proc.get('exe') or ''
        if exe.endswith('(deleted)'):
            facts.append(('executable %s was deleted while running' % exe.replace(' (deleted)', ''), 'exe'))
        elif exe.startswith(SUSPICIOUS_DIRS):
            facts.append(('executable %s runs from a world-writable directory' % exe, 'exe'))
    if any(p.get('uid') == 0 or p.get('user') in ('root', 'NT AUTHORITY\\SYSTEM', 'SYSTEM') for p in procs):
        facts.append(('runs as root', 'root'))
    if not procs:
        facts.append(('no owner known', 'unowned'))
    return facts


# Flags that describe the service usually found on a port, not the port number itself:
# they do not hold for a program that is not that service (owners.stranger()).
SERVICE_FLAGS = ('plaintext', 'default_credentials', 'amplification', 'exposure')


def assess(kind, listener, floor, flags=None, stranger=None):
    """(severity, reasons) for a finding of ``kind`` on ``listener`` (None for missing).

    ``stranger`` is owners.stranger(listener): (service, programs, process) when
    the owner is not a known server of the port's usual service.
    """
    reasons = []
    if listener is None:
        return floor, ['required listener is absent (floor %s)' % floor]
    level, why = BASE[listener['exposure']]
    reasons.append(why)
    exposed = listener['exposure'] != 'loopback'
    names, hint, notes = normalize_flags(flags)
    if stranger is not None:
        service, programs, proc = stranger
        dropped = sorted(n for n in names if n in SERVICE_FLAGS)
        names = {n for n in names if n not in SERVICE_FLAGS}
        hint = None
        text = 'port is usually %s, but %s is not a known %s server (%s)' % (
            service, identity.describe(proc), service, ', '.join(programs))
        if dropped:
            text += '; the risks of %s (%s) are not assumed for it' % (service, ', '.join(f.replace('_', ' ') for f in dropped))
        if exposed:
            level = _bump(level)
            text = 'raised: ' + text
        reasons.append(text)
    if 'malware' in names:
        level = _raise(level, 'critical' if exposed else 'high')
        reasons.append(notes.get('malware') or FLAG_TEXT['malware'])
    for name in BUMPS:
        if name in names and exposed:
            level = _bump(level)
            reasons.append(notes.get(name) or FLAG_TEXT[name])
    for name, text in NOTED.items():
        if name in names:
            reasons.append(notes.get(name) or text)
    if hint and exposed and RANK[hint] > RANK[level]:
        level = hint
        reasons.append('knowledge base rates this port %s' % hint)
    for why, fact in process_facts(listener):
        if fact == 'exe':
            level = _raise(level, 'critical' if exposed else 'high')
            reasons.append(why)
        elif exposed:
            level = _bump(level)
            reasons.append(why)
    if RANK[floor] > RANK[level]:
        level = floor
        reasons.append('%s findings are at least %s' % (kind.replace('_', ' '), floor))
    return level, reasons


def highest(severities):
    best = None
    for sev in severities:
        if best is None or RANK[sev] > RANK[best]:
            best = sev
    return best
