# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Turn what a fleet runs into a proposed policy in the layered variable families.

One entry per (port, protocol, exposure, identity) observed on a host:

- the port is named by a knowledge-base profile whose only required port it
  is (``{profile: postgresql}``), else by an IANA service name that resolves
  to exactly that port and protocol (``{name: domain, proto: udp}``), else it
  is written as ``{port: N, proto: P}``;
- exposure is kept as a ceiling: a loopback listener is allowed on loopback
  only (``exposure: loopback``), a routable bind up to ``specific``, a
  wildcard bind anywhere;
- identity is pinned with the trusted facts (identity.py): ``exe``, plus the
  systemd unit, or the user when no unit is known. The claimed process name
  is never used.

An entry that every audited member of a group has goes into that group's file,
the rest into host files. Listeners that deserve a look rather than an allow
entry (see REVIEW reasons in :func:`review_reason`) go into a commented review
section of the same file and stay findings until someone decides.
"""

from __future__ import annotations

import datetime
import re

import yaml

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import owners
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.identity import exe_fits_name
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import PortSpec

SKIPPED_GROUPS = ('all', 'ungrouped')
EXPOSURE_CEILING = {'loopback': 'loopback', 'link_local': 'link_local', 'specific': 'specific', 'wildcard': None}
HIGH_HINTS = ('high', 'critical')
DEFAULT_EPHEMERAL = (32768, 60999)


class BaselineError(ValueError):
    """Bad input to the generator; the message names the host and field."""


def var_suffix(name):
    """An inventory name as a variable suffix (the layering reads ``__\\w+``)."""
    return re.sub(r'\W', '_', str(name))


class Namer:
    """Port -> the most telling rule head the knowledge base supports, checked by resolving it back."""

    def __init__(self, kb):
        self.kb = kb
        self._cache = {}
        self._profiles = {}
        if kb is not None:
            for name in kb.profiles():
                try:
                    ports = kb.profile(name)['ports']
                except ValueError:
                    continue  # a broken profile is the KB validator's to report, not a reason to stop
                if len(ports) == 1:
                    self._profiles.setdefault(ports[0], []).append(name)

    def _resolves_to(self, name, port, proto):
        try:
            specs = self.kb.resolve(name)
        except ValueError:
            return False
        mine = [s for s in specs if not s.protocols or proto in s.protocols]
        return bool(mine) and all(s.low == port and s.high == port for s in mine)

    def head(self, port, proto):
        """{profile: x} / {name: x, proto: p} / {port: n, proto: p}."""
        key = (port, proto)
        if key in self._cache:
            return dict(self._cache[key])
        head = {'port': port, 'proto': proto}
        if self.kb is not None:
            text = '%d/%s' % (port, proto)
            profiles = sorted(self._profiles.get(text, ()))
            services = [e['service'] for e in self.kb.port(port, proto)['iana']
                        if e.get('status') == 'assigned' and e.get('service')]
            # A profile named like the port's IANA service reads best (postgresql, ssh).
            profiles.sort(key=lambda n: (n not in services, n))
            for name in profiles:
                specs = self.kb.resolve(name)
                if PortSpec(port, port, (proto,)) in specs or PortSpec(port, port, ()) in specs:
                    head = {'profile': name}
                    break
            if 'profile' not in head and port < 1024:
                # Above 1023 IANA names are often not what runs (8081 is 'sunproxyadmin'): a number reads truer.
                for name in services:
                    if name not in self.kb.profiles() and self._resolves_to(name, port, proto):
                        head = {'name': name, 'proto': proto}
                        break
        self._cache[key] = head
        return dict(head)

    def one_liner(self, port, proto):
        if self.kb is None:
            return '%d/%s' % (port, proto)
        text = self.kb.explain({'port': port, 'protocol': proto})
        match = re.match(r'^(.+?\.)(\s|$)', text)
        return match.group(1) if match else text


def _identity(listener):
    """The pinned owner facts {exe, unit | user}, or None when no executable is known."""
    procs = sorted(listener.get('processes') or (), key=lambda p: (p.get('pid') == 1, p.get('pid') or 0))
    for proc in procs:
        if not proc.get('exe') or str(proc['exe']).endswith(' (deleted)'):
            continue
        who = {'exe': proc['exe']}
        # The process's own unit, else (socket activation: PID 1 holds it) the unit it serves.
        units = [u for u in [proc.get('unit')] + list(proc.get('services') or ())
                 if u and u.endswith(('.service', '.socket'))]
        if units:
            who['unit'] = units[0]
        elif proc.get('user') not in (None, ''):
            who['user'] = proc['user']
        elif proc.get('uid') is not None:
            who['user'] = int(proc['uid'])
        return who
    return None


def review_reason(listener, flags, hint):
    """Why a listener goes to the review section instead of the allow-list, or None."""
    procs = listener.get('processes') or ()
    exposed = listener['exposure'] != 'loopback'
    if not procs:
        return 'owner unknown (gather as root to see it)'
    if _identity(listener) is None:
        return 'no executable known for the owner, so its identity cannot be pinned'
    for proc in procs:
        if exe_fits_name(proc.get('name'), proc.get('exe')) is False:
            return 'process name %s does not match its executable %s' % (proc.get('name'), proc.get('exe'))
    stranger = owners.stranger(listener)
    if stranger is not None:
        return 'port is usually %s, but %s is not a known %s server' % (stranger[0], stranger[2].get('exe'), stranger[0])
    if 'malware' in flags:
        return 'port known for malware use'
    if 'unauthorized_use' in flags:
        return 'port has reports of unauthorized use'
    if exposed and hint in HIGH_HINTS:
        return 'knowledge base rates this port %s on a reachable address' % hint
    if exposed and 'plaintext' in flags and hint == 'medium':
        return 'plaintext protocol rated medium on a reachable address'
    return None


def _flags(kb, port, proto):
    if kb is None:
        return set(), None
    flags = kb.security_flags(port, proto)
    return set(flags), getattr(flags, 'severity', None)


def host_entries(listeners, kb, namer, ephemeral=DEFAULT_EPHEMERAL, host='host'):
    """{entry key: entry} and [review items] for one host's listeners."""
    entries, review = {}, {}
    low, high = ephemeral
    for i, lst in enumerate(listeners):
        if not isinstance(lst, dict) or 'port' not in lst or 'protocol' not in lst or 'exposure' not in lst:
            raise BaselineError('%s: listeners[%d] is not a listener record (port, protocol, exposure)' % (host, i))
        port, proto = lst['port'], lst['protocol']
        if proto == 'udp' and low <= port <= high:
            continue  # client sockets; settings.ephemeral ignore_udp (the default) never reports them
        flags, hint = _flags(kb, port, proto)
        rule = namer.head(port, proto)
        ceiling = EXPOSURE_CEILING[lst['exposure']]
        if ceiling:
            rule['exposure'] = ceiling
        why = review_reason(lst, flags, hint)
        who = _identity(lst)
        if who:
            rule.update(who)
        key = yaml.safe_dump(rule, default_flow_style=True, sort_keys=False, width=10 ** 6).strip()
        target = review if why else entries
        if key not in target:
            target[key] = {'rule': rule, 'port': port, 'protocol': proto, 'reason': why,
                           'plaintext': 'plaintext' in flags}
    return entries, review


def _place(items_by_host, groups, audited):
    """Assign each entry to group files (every audited member has it) and host files (the rest).

    Returns {('group', g) | ('host', h): [(key, hosts)]}. A group counts only when
    all its inventory members were audited: its file applies to all of them.
    """
    holders = {}
    for host, items in items_by_host.items():
        for key in items:
            holders.setdefault(key, set()).add(host)
    usable = []
    for name, members in groups.items():
        members = set(members)
        if name in SKIPPED_GROUPS and name != 'all':
            continue
        if len(members) >= 2 and members <= audited:
            usable.append((name, members))
    # 'all' first, then larger groups first: the widest file that is true wins.
    usable.sort(key=lambda g: (g[0] != 'all', -len(g[1]), g[0]))
    placed = {}
    for key in sorted(holders):
        hosts = holders[key]
        covered = set()
        for name, members in usable:
            if members <= hosts and not members <= covered:
                placed.setdefault(('group', name), []).append((key, hosts))
                covered |= members
        for host in sorted(hosts - covered):
            placed.setdefault(('host', host), []).append((key, hosts))
    return placed


def propose(hosts, groups=None, kb=None, prefix='port_policy', today=None):
    """The proposed policy for ``hosts`` ({host: {'listeners': [...], 'ephemeral_range': [lo, hi]}}).

    Returns {'files': {relative path: text}, 'entries': [...], 'review': [...], 'hosts': n}.
    """
    if not isinstance(hosts, dict) or not hosts:
        raise BaselineError('results: no audited host (expected {host: gather or port_audit result})')
    groups = dict(groups or {})
    audited = set(hosts)
    groups.setdefault('all', sorted(audited))
    namer = Namer(kb)
    allowed, review, facts = {}, {}, {}
    for host in sorted(hosts):
        data = hosts[host]
        if not isinstance(data, dict) or not isinstance(data.get('listeners'), list):
            raise BaselineError('%s: no listeners list in its result (register listening_ports_info or port_audit)'
                                % host)
        eph = data.get('ephemeral_range') or DEFAULT_EPHEMERAL
        entries, rev = host_entries(data['listeners'], kb, namer, (int(eph[0]), int(eph[1])), host)
        allowed[host] = entries
        review[host] = rev
        for key, item in list(entries.items()) + list(rev.items()):
            facts.setdefault(key, item)
    today = today or datetime.date.today()
    files = {}
    out_entries, out_review = [], []
    placed_allow = _place(allowed, groups, audited)
    placed_review = _place(review, groups, audited)
    total = len(audited)
    for where in sorted(set(placed_allow) | set(placed_review)):
        kind, name = where
        var = '%s_allow__%s_%s' % (prefix, kind, var_suffix(name))
        path = '%s_vars/%s.yml' % (kind, name)
        lines = ['---',
                 '# Proposed by hostsec.ports.port_baseline on %s from %d audited host%s.'
                 % (today.isoformat(), total, '' if total == 1 else 's'),
                 '# Read every entry before you adopt it: a baseline allows what runs today, good or bad.']
        allows = placed_allow.get(where, [])
        if allows:
            lines.append('%s:' % var)
            for key, holders in allows:
                item = facts[key]
                note = namer.one_liner(item['port'], item['protocol'])
                if item['plaintext']:
                    note += ' Plaintext protocol.'
                lines.append('  - %s  # %s On %s.' % (key, note, _count(holders, total)))
                out_entries.append({'file': path, 'variable': var, 'rule': item['rule'], 'hosts': sorted(holders)})
        items = placed_review.get(where, [])
        if items:
            lines += ['# Review: these listeners are NOT allowed above and stay findings until you decide.',
                      '# Allow one by moving its line into %s (uncommented), or remove what listens.' % var]
            if not allows:
                lines.append('# %s:' % var)
            for key, holders in items:
                item = facts[key]
                lines.append('#  - %s  # review: %s. %s On %s.' % (
                    key, item['reason'], namer.one_liner(item['port'], item['protocol']), _count(holders, total)))
                out_review.append({'file': path, 'rule': item['rule'], 'reason': item['reason'],
                                   'port': item['port'], 'protocol': item['protocol'], 'hosts': sorted(holders)})
        files[path] = '\n'.join(lines) + '\n'
    return {'files': files, 'entries': out_entries, 'review': out_review, 'hosts': total}


def _count(holders, total):
    if len(holders) == 1:
        return '1 of %d hosts (%s)' % (total, next(iter(holders)))
    return '%d of %d hosts' % (len(holders), total)
