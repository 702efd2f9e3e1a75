# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Finding records and the run summary (the contract the port_policy role reads)."""

from __future__ import annotations

import hashlib

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.severity import ORDER, RANK, highest

KINDS = ('denied', 'identity_mismatch', 'unexpected', 'wrong_exposure', 'wrong_owner', 'expired', 'missing')


def finding_id(kind, protocol, family, address, port, where=None):
    """Stable across runs: the same problem on the same socket keeps its id.

    ``where`` names the network namespace of a socket outside the host's own
    (see ``namespace_label``): two containers that both listen on 0.0.0.0:8080
    are two findings. Host sockets keep the id they always had.
    """
    parts = (kind, protocol, family, address, port) if where is None else (kind, protocol, family, address, port, where)
    text = '|'.join(str(x) for x in parts)
    return hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:16]


def namespace_label(listener):
    """'podman web', 'netns blue', 'netns 4026532178' for a listener in another network namespace; None on the host.

    The gatherer gives every listener outside the host's namespace a
    ``container`` record; a container's name outlives a restart, its
    namespace's inode does not, so the name comes first.
    """
    container = listener.get('container')
    if not container:
        return None
    pod = container.get('pod')
    return '%s %s' % (container.get('runtime') or 'netns',
                      container.get('name') or container.get('id') or ('pod %s' % pod if pod else None)
                      or listener.get('netns') or '?')


def process_names(processes):
    """'nginx', 'master, worker': the distinct names of a listener's processes, sorted; 'unknown process' if none."""
    if len(processes) == 1:  # most listeners: no set, no sort (reports call this for every listener)
        name = processes[0].get('name') or '?'
        if isinstance(name, str):
            return name
        # Not text: the general path below fails on it, as it does for several processes.
    return ', '.join(sorted({p.get('name') or '?' for p in processes})) or 'unknown process'


def listener_text(listener, processes=None):
    """'0.0.0.0:8081/tcp (python3)', '[::]:22/tcp (sshd)'; the reports use it too.

    ``processes`` are the listener's owners when they are not in the record
    itself (a compact listener names them by pid). Tolerant of missing fields,
    since reports may render results of older runs.
    """
    address = listener.get('address', '?')
    if ':' in address:
        address = '[%s%s]' % (address, '%' + listener['scope'] if listener.get('scope') else '')
    if processes is None:
        processes = listener.get('processes') or ()
    text = '%s:%s/%s (%s)' % (address, listener.get('port'), listener.get('protocol'), process_names(processes))
    where = namespace_label(listener)
    if where is None:
        return text
    container = listener['container']
    pod = container.get('pod')
    named = container.get('name') or container.get('id')
    return '%s in %s%s' % (text, where, ' (pod %s)' % pod if pod and named else '')


def make_finding(kind, severity, reasons, listener, rule=None, nearest=None,
                 explanation='', action='none', action_reason='', protected=False, missing_key=None):
    """A finding with the remediation its rule asks for (``action``, ``reason``).

    What really happens to it (block, stop, protected, not remediated,
    reported) is decided once, by _remediation.planner, which rewrites
    ``remediation`` and ``protected``.
    """
    if listener is not None:
        fid = finding_id(kind, listener['protocol'], listener['family'], listener['address'], listener['port'],
                         namespace_label(listener))
    else:
        fid = finding_id(kind, '', '', '', missing_key)
    return {
        'id': fid,
        'kind': kind,
        'severity': severity,
        'severity_reasons': reasons,
        'listener': listener,
        'rule': rule.ref() if rule is not None else None,
        'nearest_rule': nearest.ref() if nearest is not None else None,
        'explanation': explanation,
        'remediation': {'action': action, 'unit': None, 'reason': action_reason},
        'protected': protected,
    }


def sort_findings(findings):
    """Most severe first, then by port, so reports and diffs read the same each run."""
    def key(f):
        lst = f['listener'] or {}
        return (-RANK[f['severity']], KINDS.index(f['kind']), lst.get('port', -1),
                lst.get('protocol', ''), lst.get('family', ''), lst.get('address', ''), f['id'])
    return sorted(findings, key=key)


def summarize(findings, listeners_count, host=None, platform=None, collector=None,
              attribution_complete=None, warnings=(), fail_on=(), ignored=0):
    by_severity = {s: 0 for s in ORDER}
    by_kind = {k: 0 for k in KINDS}
    for f in findings:
        by_severity[f['severity']] += 1
        by_kind[f['kind']] += 1
    if fail_on:
        passed = not any(by_severity[s] for s in fail_on)
    else:
        passed = not any(n for s, n in by_severity.items() if s != 'info')
    return {
        'host': host,
        'platform': platform,
        'listeners': listeners_count,
        'findings': len(findings),
        'ignored': ignored,
        'by_severity': by_severity,
        'by_kind': by_kind,
        'highest_severity': highest(f['severity'] for f in findings),
        'passed': passed,
        'collector': collector,
        'attribution_complete': attribution_complete,
        'warnings': list(warnings),
    }
