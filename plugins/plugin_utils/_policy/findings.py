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

KINDS = ('denied', 'unexpected', 'wrong_exposure', 'wrong_owner', 'expired', 'missing')


# Programs that hold a published container port while the kernel DNATs the
# traffic to the container: it crosses the forward path, never the host's input
# filter, so a host firewall block would be reported as done yet change nothing.
DNAT_FORWARDERS = ('docker-proxy', 'conmon', 'kube-proxy')


def dnat_forwarder(listener):
    """The name of the container port forwarder that holds this listener, or None."""
    for proc in (listener or {}).get('processes') or ():
        if proc.get('name') in DNAT_FORWARDERS:
            return proc['name']
    return None


def finding_id(kind, protocol, family, address, port):
    """Stable across runs: the same problem on the same socket keeps its id."""
    text = '|'.join(str(x) for x in (kind, protocol, family, address, port))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def owning_unit(listener):
    """The unit to stop: the .socket unit when PID 1 holds the socket, else a .service/.socket unit."""
    if listener is None:
        return None
    names = []
    pid1 = False
    for proc in listener.get('processes') or ():
        pid1 = pid1 or proc.get('pid') == 1
        for name in [proc.get('unit')] + list(proc.get('services') or ()):
            if name and name not in names:
                names.append(name)
    for name in listener.get('services') or ():
        if name not in names:
            names.append(name)
    if not names:
        return None
    if pid1:
        sockets = [n for n in names if n.endswith('.socket')]
        if sockets:
            return sockets[0]
    for name in names:
        if name.endswith(('.service', '.socket')):
            return name
    # Windows services carry no suffix; init.scope and similar are not stoppable units.
    plain = [n for n in names if '.' not in n]
    return plain[0] if plain else None


def listener_text(listener):
    """'0.0.0.0:8081/tcp (python3)', '[::]:22/tcp (sshd)'; the reports use it too.

    Tolerant of missing fields, since reports may render results of older runs.
    """
    address = listener.get('address', '?')
    if ':' in address:
        address = '[%s%s]' % (address, '%' + listener['scope'] if listener.get('scope') else '')
    names = sorted({p.get('name') or '?' for p in listener.get('processes') or ()})
    return '%s:%s/%s (%s)' % (address, listener.get('port'), listener.get('protocol'),
                              ', '.join(names) or 'unknown process')


def make_finding(kind, severity, reasons, listener, rule=None, nearest=None,
                 explanation='', action='none', action_reason='', protected=False, missing_key=None):
    unit = owning_unit(listener)
    if action == 'stop' and unit is None:
        # Only units are stopped, never a PID: the finding stays unremediated and says why
        # (a firewall block instead would be a remediation nobody asked for).
        action_reason += '; not remediated: no owning systemd unit or service is known, and a process is never killed by PID'
    forwarder = dnat_forwarder(listener) if action == 'block' else None
    if forwarder:
        action = 'none'
        action_reason += ('; not remediated: %s publishes this port for a container and the kernel forwards (DNAT) its '
                          'traffic past the host input filter, so a block here would change nothing; unpublish the port '
                          'or bind it to 127.0.0.1 in the container runtime' % forwarder)
    if listener is not None:
        fid = finding_id(kind, listener['protocol'], listener['family'], listener['address'], listener['port'])
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
        'remediation': {'action': action, 'unit': unit, 'reason': action_reason},
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
