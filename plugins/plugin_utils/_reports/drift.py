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

import json
import os
import stat

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import namespace_label
from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import lanes
from ansible_collections.hostsec.ports.plugins.plugin_utils._reports.build import ReportError

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


class DriftError(ReportError):
    """A previous run that cannot be compared with; the message names the file and the field."""


def _items(rep, what, where):
    """{stable id: (text, attribute values)} of one host's listeners or findings; later duplicates win.

    This runs for every host on both sides (120,000 records at 1,000 hosts),
    so the common case is one loop with no call per record; a record of the
    wrong shape makes it start again on the checked path, which names it.
    """
    items = rep.get(what[0])
    if items is None:
        return {}
    if isinstance(items, list):
        try:
            return (_listener_items if what is _LISTENERS else _finding_items)(items)
        except (AttributeError, TypeError):
            pass  # not a mapping, or an id that is no text or number: _checked_items says which
    return _checked_items(items, what, where)


def _listener_items(items):
    out = {}
    for item in items:
        get = item.get
        if get('container'):
            key = (get('protocol'), get('address'), get('port'), namespace_label(item))
        else:
            key = (get('protocol'), get('address'), get('port'))
        out[key] = (get('text'), (get('owner'), get('exposure')))
    return out


def _finding_items(items):
    out = {}
    for item in items:
        get = item.get
        kind, where = get('kind'), get('where')
        severity = get('severity')
        out[get('id') or '%s %s' % (kind, where)] = ('%s %s %s' % (severity, kind, where), (severity, get('status')))
    return out


def _checked_items(items, what, where):
    field, ident, text, attrs = what
    if not isinstance(items, list):
        raise DriftError('%s.%s: expected a list, got %s' % (where, field, type(items).__name__))
    out = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DriftError('%s.%s[%d]: expected a mapping, got %r' % (where, field, i, item))
        get = item.get
        try:
            key = ident(item)
            hash(key)
        except (AttributeError, TypeError):
            raise DriftError('%s.%s[%d]: its socket, container or id is not text or a number: %.200r'
                             % (where, field, i, item))
        out[key] = (text(item), tuple(get(a) for a in attrs))
    return out


def _host_state(rep):
    if not rep.get('audited'):
        return 'not audited'
    return 'compliant' if rep.get('compliant') else 'non-compliant'


def previous_state(previous, name='previous run'):
    """What drift needs of a previous fleet report, and nothing else: it is small enough to send between processes.

    ``previous`` is a fleet document as read from fleet.json (slim or full).
    A host entry of the wrong shape raises DriftError naming it: a baseline
    that cannot be read is never taken for "nothing changed".
    """
    hosts = previous.get('hosts')
    if not isinstance(hosts, list):
        raise DriftError('%s: not a fleet report (no hosts list)' % name)
    state = {}
    for i, rep in enumerate(hosts):
        where = '%s: hosts[%d]' % (name, i)
        if not isinstance(rep, dict) or not isinstance(rep.get('host'), str):
            raise DriftError('%s: expected a host report with a host name, got %.200r' % (where, rep))
        audited = bool(rep.get('audited'))
        state[rep['host']] = (_host_state(rep), audited,
                              _items(rep, _LISTENERS, where) if audited else None,
                              _items(rep, _FINDINGS, where) if audited else None)
    provenance = previous.get('provenance')
    policies = previous.get('policies')
    return {'generated': previous.get('generated'),
            'provenance': dict(provenance) if isinstance(provenance, dict) else {},
            'policies': sorted(map(str, policies)) if isinstance(policies, dict) else [],
            'hosts': state}


def read_previous(path, field):
    """``previous_state`` of the fleet report in the file ``path``; ``field`` names the option it came from.

    A file that cannot be read, is not JSON, or holds a host entry of the
    wrong shape raises DriftError naming the file and the entry: the drift is
    never computed against half a baseline.
    """
    try:
        # Non-blocking open, then only a regular file is read: a FIFO or a device named as the baseline would
        # otherwise hang the task for ever.
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0))
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            os.close(fd)
            raise
        if not regular:
            os.close(fd)
            raise DriftError('%s: %s is not a regular file' % (field, path))
        with open(fd, encoding='utf-8', errors='surrogateescape') as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise DriftError('%s: cannot read %s: %s' % (field, path, exc))
    except ValueError as exc:
        raise DriftError('%s: %s is not a fleet report (invalid JSON: %s); remove it or name another baseline'
                         % (field, path, exc))
    if not isinstance(doc, dict) or not isinstance(doc.get('hosts'), list):
        raise DriftError('%s: %s is not a fleet report (no hosts list)' % (field, path))
    return previous_state(doc, '%s %s' % (field, path))


# Below this size a fresh interpreter (about 0.05 s to start) costs more than the read it takes over.
READ_AHEAD_BYTES = 1 << 20


def read_ahead(path, field):
    """``read_previous(path, field)`` begun beside the caller's own work; its ``result()`` is the state.

    A context manager (``lanes.Ahead``): left before ``result()``, the reader
    is stopped. At 1,000 hosts the previous fleet.json is 25 MB and parsing it
    takes about 0.3 s, which the reports being built meanwhile hide. A small
    file, or a file that cannot be read, is read in ``result()`` here, which
    raises read_previous's DriftError as a direct call does.
    """
    try:
        big = os.path.getsize(path) >= READ_AHEAD_BYTES
    except OSError:
        big = False
    return lanes.Ahead(__name__, 'read_previous', (path, field), start=big)


def _compare(old, new, what):
    """(new, gone, changed) texts; ``old`` is consumed. The words are made only for the few items that changed."""
    attrs = what[3]
    added, changed = [], []
    for key, (text, values) in new.items():
        before = old.pop(key, None)
        if before is None:
            added.append((key, text))
        elif before[1] != values:
            diffs = ['%s %s -> %s' % (a, b, v) for a, b, v in zip(attrs, before[1], values) if b != v]
            changed.append((key, '%s: %s' % (text, ', '.join(diffs))))
    # Ids may be tuples holding None: the few changes are ordered by their text form.
    gone = sorted(((key, text) for key, (text, _values) in old.items()), key=_order)
    return ([t for _k, t in sorted(added, key=_order)], [t for _k, t in gone],
            [t for _k, t in sorted(changed, key=_order)])


def _order(pair):
    return str(pair[0]), str(pair[1])


def drift(previous, current, baseline_name=None):
    """Drift document of ``current`` against ``previous`` (a fleet report, or None)."""
    return compare(previous_state(previous, baseline_name or 'previous run') if previous is not None else None,
                   current, baseline_name=baseline_name)


def compare(previous, current, baseline_name=None):
    """Drift document of ``current`` (a fleet report) against ``previous`` (``previous_state`` of one, or None)."""
    if previous is None:
        return {'format': FORMAT, 'baseline': None, 'state': 'baseline created',
                'text': 'No earlier run to compare with: this run is the baseline.',
                'hosts': {}, 'totals': {}, 'warnings': []}
    old_hosts = previous['hosts']
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
            entry = {'state': 'vanished', 'was': old[0]}
            totals['hosts_vanished'] += 1
        else:
            was, old_audited, old_listeners, old_findings = old
            entry = {'was': was, 'result': _host_state(new)}
            if old_audited and new.get('audited'):
                where = 'hosts.%s' % name
                # A copy: the state may be compared with more than one report.
                lnew, lgone, lchanged = _compare(dict(old_listeners), _items(new, _LISTENERS, where), _LISTENERS)
                fnew, fgone, fchanged = _compare(dict(old_findings), _items(new, _FINDINGS, where), _FINDINGS)
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
    old_prov, new_prov = previous['provenance'], current.get('provenance') or {}
    for key, what in (('collection_version', 'collection version'), ('kb', 'knowledge base')):
        if old_prov.get(key) != new_prov.get(key):
            warnings.append('the %s differs from the baseline (%s -> %s): some changes may come from it, '
                            'not from the hosts' % (what, old_prov.get(key), new_prov.get(key)))
    if previous['policies'] != sorted(map(str, current.get('policies') or {})):
        warnings.append('the effective policies differ from the baseline: findings may have changed with the policy')
    changed = totals['hosts_appeared'] + totals['hosts_vanished'] + totals['hosts_changed']
    return {
        'format': FORMAT,
        'baseline': {'name': baseline_name, 'generated': previous['generated']},
        'state': 'changed' if changed else 'unchanged',
        'text': ('%d host(s) changed, %d appeared, %d vanished; %d new and %d gone finding(s), '
                 '%d new and %d gone listener(s) since %s' % (
                     totals['hosts_changed'], totals['hosts_appeared'], totals['hosts_vanished'],
                     totals['findings_new'], totals['findings_gone'], totals['listeners_new'],
                     totals['listeners_gone'], previous['generated'] or baseline_name or 'the baseline')),
        'hosts': {k: v for k, v in hosts.items() if v['state'] != 'unchanged'},
        'totals': totals,
        'warnings': warnings,
    }
