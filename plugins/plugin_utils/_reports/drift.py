# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Drift between two fleet reports: what appeared, vanished or changed.

Identities use stable fields only, so a restarted service is no change:
a listener is (protocol, address, port) and its owner (unit, else
executable) and exposure are attributes, so a new owner on the same socket
is "changed", not gone + new; a finding is its id (kind and socket, stable
across runs) and a new severity or status is "changed". PIDs, inodes and
start times never take part.
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import namespace_label

FORMAT = 1


def _listener_id(lst):
    # A tuple, not text: it is only compared, 120,000 times for a fleet of 1,000 hosts. Two containers may
    # both listen on 0.0.0.0:8080, so a listener outside the host's namespace names it (namespace_label).
    get = lst.get
    if not get('container'):
        return (get('protocol'), get('address'), get('port'))
    return (get('protocol'), get('address'), get('port'), namespace_label(lst))


def _finding_id(f):
    return f.get('id') or '%s %s' % (f.get('kind'), f.get('where'))


def _finding_text(f):
    return '%s %s %s' % (f.get('severity'), f.get('kind'), f.get('where'))


# (items of a host report, stable id, text, attributes compared)
_LISTENERS = ('listeners', _listener_id, lambda lst: lst.get('text'), ('owner', 'exposure'))
_FINDINGS = ('findings', _finding_id, _finding_text, ('severity', 'status'))


def _compare(old_rep, new_rep, what):
    """(new, gone, changed) texts in one pass over each side; the records are read, never copied."""
    field, ident, text, attrs = what
    old = {ident(item): item for item in old_rep.get(field) or ()}
    new = {ident(item): item for item in new_rep.get(field) or ()}
    added, changed = [], []
    for key, item in new.items():
        before = old.pop(key, None)
        if before is None:
            added.append((key, text(item)))
            continue
        for attr in attrs:  # most items are unchanged: the words are made only for the few that are not
            if before.get(attr) != item.get(attr):
                diffs = ['%s %s -> %s' % (a, before.get(a), item.get(a)) for a in attrs if before.get(a) != item.get(a)]
                changed.append((key, '%s: %s' % (text(item), ', '.join(diffs))))
                break
    # Ids may be tuples holding None: the few changes are ordered by their text form.
    gone = sorted(((key, text(item)) for key, item in old.items()), key=_order)
    return ([t for _k, t in sorted(added, key=_order)], [t for _k, t in gone],
            [t for _k, t in sorted(changed, key=_order)])


def _order(pair):
    return str(pair[0]), str(pair[1])


def _host_state(rep):
    if not rep.get('audited'):
        return 'not audited'
    return 'compliant' if rep.get('compliant') else 'non-compliant'


def drift(previous, current, baseline_name=None):
    """Drift document of ``current`` against ``previous`` (both fleet reports; previous may be None)."""
    if previous is None:
        return {'format': FORMAT, 'baseline': None, 'state': 'baseline created',
                'text': 'No earlier run to compare with: this run is the baseline.',
                'hosts': {}, 'totals': {}, 'warnings': []}
    old_hosts = {r['host']: r for r in previous.get('hosts') or ()}
    new_hosts = {r['host']: r for r in current.get('hosts') or ()}
    hosts = {}
    totals = {k: 0 for k in ('hosts_appeared', 'hosts_vanished', 'hosts_changed', 'hosts_unchanged',
                             'listeners_new', 'listeners_gone', 'listeners_changed',
                             'findings_new', 'findings_gone', 'findings_changed')}
    for name in sorted(set(old_hosts) | set(new_hosts)):
        old, new = old_hosts.get(name), new_hosts.get(name)
        if old is None:
            entry = {'state': 'appeared', 'result': _host_state(new),
                     'findings_new': [_finding_text(f) for f in new.get('findings') or ()]}
            totals['hosts_appeared'] += 1
            totals['findings_new'] += len(entry['findings_new'])
        elif new is None:
            entry = {'state': 'vanished', 'was': _host_state(old)}
            totals['hosts_vanished'] += 1
        else:
            entry = {'was': _host_state(old), 'result': _host_state(new)}
            if old.get('audited') and new.get('audited'):
                lnew, lgone, lchanged = _compare(old, new, _LISTENERS)
                fnew, fgone, fchanged = _compare(old, new, _FINDINGS)
            else:
                lnew = lgone = lchanged = fnew = fgone = fchanged = []
            for key, val in (('listeners_new', lnew), ('listeners_gone', lgone), ('listeners_changed', lchanged),
                             ('findings_new', fnew), ('findings_gone', fgone), ('findings_changed', fchanged)):
                if val:
                    entry[key] = val
                    totals[key] += len(val)
            changed = any(k in entry for k in ('listeners_new', 'listeners_gone', 'listeners_changed',
                                               'findings_new', 'findings_gone', 'findings_changed'))
            changed = changed or entry['was'] != entry['result']
            entry['state'] = 'changed' if changed else 'unchanged'
            totals['hosts_changed' if changed else 'hosts_unchanged'] += 1
        hosts[name] = entry
    warnings = []
    old_prov, new_prov = previous.get('provenance') or {}, current.get('provenance') or {}
    for key, what in (('collection_version', 'collection version'), ('kb', 'knowledge base')):
        if old_prov.get(key) != new_prov.get(key):
            warnings.append('the %s differs from the baseline (%s -> %s): some changes may come from it, '
                            'not from the hosts' % (what, old_prov.get(key), new_prov.get(key)))
    if set((previous.get('policies') or {})) != set((current.get('policies') or {})):
        warnings.append('the effective policies differ from the baseline: findings may have changed with the policy')
    changed = totals['hosts_appeared'] + totals['hosts_vanished'] + totals['hosts_changed']
    return {
        'format': FORMAT,
        'baseline': {'name': baseline_name, 'generated': previous.get('generated')},
        'state': 'changed' if changed else 'unchanged',
        'text': ('%d host(s) changed, %d appeared, %d vanished; %d new and %d gone finding(s), '
                 '%d new and %d gone listener(s) since %s' % (
                     totals['hosts_changed'], totals['hosts_appeared'], totals['hosts_vanished'],
                     totals['findings_new'], totals['findings_gone'], totals['listeners_new'],
                     totals['listeners_gone'], previous.get('generated') or baseline_name or 'the baseline')),
        'hosts': {k: v for k, v in hosts.items() if v['state'] != 'unchanged'},
        'totals': totals,
        'warnings': warnings,
    }
