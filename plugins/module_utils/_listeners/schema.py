# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The one listener schema, shared by the Linux and Windows gatherers.

Both gatherers end in :func:`make_listener` / :func:`make_process`, and the
policy engine, reports and the community-compatible facts read only these
fields, so a listener looks the same whichever platform it came from.

Listener::

    protocol      'tcp' | 'udp'
    family        'ipv4' | 'ipv6'
    address       bound address, no brackets and no zone ('0.0.0.0', '::', 'fe80::1')
    scope         zone of a scoped address ('eth0', or a Windows zone index), else None
    port          int
    exposure      'loopback' | 'wildcard' | 'specific' | 'link_local'
    dual_stack    True for an IPv6 wildcard socket that also accepts IPv4 (not v6only)
    v6only        True / False for IPv6 sockets when known, else None
    state         'listen' (TCP) or 'unconnected' (UDP bound, no peer)
    inode         socket inode (Linux), else None
    uid           uid owning the socket (Linux), else None
    netns         network namespace inode (Linux), else None
    processes     list of processes (below); empty when the owner is unknown
    services      sorted union of the processes' services (systemd units / Windows services)

Process::

    pid, name, exe, cmdline, user, uid, start_time, unit, services

``name`` is the full program name (Linux ``comm`` is cut to 15 bytes, so a
longer name is restored from ``exe`` or ``argv[0]``); ``cmdline`` is the
arguments joined by spaces, with bytes that are not UTF-8 written as ``\\xNN``;
``unit`` is the systemd unit (Linux) and ``services`` the systemd unit or the
Windows services hosted by the process (a shared svchost lists all of them).
A process of a user's own systemd manager has no system ``unit``; its user
unit is listed in ``services`` as ``name.service (user@UID)``, a form that is
never a valid unit name, so nothing can mistake it for a system unit.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import time

PROTOCOLS = ('tcp', 'udp')
FAMILIES = ('ipv4', 'ipv6')
EXPOSURES = ('loopback', 'wildcard', 'specific', 'link_local')
STATES = ('listen', 'unconnected')

LISTENER_FIELDS = (
    'protocol', 'family', 'address', 'scope', 'port', 'exposure', 'dual_stack',
    'v6only', 'state', 'inode', 'uid', 'netns', 'processes', 'services',
)
PROCESS_FIELDS = (
    'pid', 'name', 'exe', 'cmdline', 'user', 'uid', 'start_time', 'unit', 'services',
)


class SchemaError(ValueError):
    """A record does not fit the listener schema; the message names field and value."""


def split_scope(address):
    """Split 'fe80::1%eth0' or '[fe80::1%eth0]' into ('fe80::1', 'eth0')."""
    address = address.strip()
    if address.startswith('[') and address.endswith(']'):
        address = address[1:-1]
    if '%' in address:
        address, scope = address.split('%', 1)
        return address, scope or None
    return address, None


_EXPOSURE_CACHE = {}


def classify(address, family):
    """Exposure of a bound address: loopback, wildcard, link_local or specific.

    IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are judged by their IPv4 part,
    because that is the traffic they accept. Results are cached: a host has few
    distinct bind addresses but may have tens of thousands of sockets.
    """
    key = (address, family)
    exposure = _EXPOSURE_CACHE.get(key)
    if exposure is None:
        exposure = _classify(address, family)
        if len(_EXPOSURE_CACHE) < 4096:
            _EXPOSURE_CACHE[key] = exposure
    return exposure


def _classify(address, family):
    ip = ipaddress.ip_address(address)
    if family == 'ipv6' and ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return 'wildcard'
    if ip.is_loopback:
        return 'loopback'
    if ip.is_link_local:
        return 'link_local'
    return 'specific'


def make_process(pid, name, exe=None, cmdline=None, user=None, uid=None,
                 start_time=None, unit=None, services=None):
    """A process record in schema order; ``services`` defaults to [unit]."""
    if services is None:
        services = [unit] if unit else []
    return {
        'pid': int(pid),
        'name': name,
        'exe': exe,
        'cmdline': cmdline,
        'user': user,
        'uid': uid,
        'start_time': start_time,
        'unit': unit,
        'services': sorted(set(services)),
    }


def make_listener(protocol, family, address, port, processes=(), v6only=None,
                  inode=None, uid=None, netns=None, scope=None, dual_stack=None):
    """A listener record with exposure and dual_stack derived from the bind.

    ``dual_stack`` may be passed when the caller knows better (Windows reports
    no v6only flag); otherwise an IPv6 wildcard is dual-stack unless v6only.
    """
    if protocol not in PROTOCOLS:
        raise SchemaError('protocol: unknown value %r (expected tcp or udp)' % (protocol,))
    if family not in FAMILIES:
        raise SchemaError('family: unknown value %r (expected ipv4 or ipv6)' % (family,))
    if '%' in address or address[:1] == '[' or address != address.strip():
        address, zone = split_scope(address)
        scope = scope or zone
    try:
        exposure = classify(address, family)
    except ValueError:
        raise SchemaError('address: %r is not an IP address' % (address,))
    port = int(port)
    if not 0 <= port <= 65535:
        raise SchemaError('port: %r is outside 0-65535' % (port,))
    if dual_stack is None:
        dual_stack = family == 'ipv6' and exposure == 'wildcard' and v6only is False
    # Most sockets have one owner: skip the sort and the union then (same result, less work).
    if len(processes) > 1:
        processes = sorted(processes, key=lambda p: p['pid'])
        services = sorted({s for p in processes for s in p.get('services') or ()})
    else:
        processes = list(processes)
        services = sorted(set(processes[0].get('services') or ())) if processes else []
    return {
        'protocol': protocol,
        'family': family,
        'address': address,
        'scope': scope,
        'port': port,
        'exposure': exposure,
        'dual_stack': bool(dual_stack),
        'v6only': v6only if family == 'ipv6' else None,
        'state': 'listen' if protocol == 'tcp' else 'unconnected',
        'inode': inode,
        'uid': uid,
        'netns': netns,
        'processes': processes,
        'services': services,
    }


def sort_key(listener):
    """Stable order for output: protocol, port, family, address."""
    return (listener['protocol'], listener['port'], listener['family'],
            listener['address'], listener.get('scope') or '', listener.get('inode') or 0)


def validate_listener(record, where='listener'):
    """Raise SchemaError naming the first field that does not fit the schema.

    Used on listeners a user passes to port_audit and on Windows module output.
    """
    if not isinstance(record, dict):
        raise SchemaError('%s: expected a mapping, got %r' % (where, record))
    missing = [f for f in LISTENER_FIELDS if f not in record]
    if missing:
        raise SchemaError('%s: missing field(s) %s' % (where, ', '.join(missing)))
    checks = (
        ('protocol', lambda v: v in PROTOCOLS),
        ('family', lambda v: v in FAMILIES),
        ('exposure', lambda v: v in EXPOSURES),
        ('state', lambda v: v in STATES),
        ('port', lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535),
        ('dual_stack', lambda v: isinstance(v, bool)),
        ('address', lambda v: isinstance(v, str) and v != ''),
        ('processes', lambda v: isinstance(v, list)),
        ('services', lambda v: isinstance(v, list)),
    )
    for field, ok in checks:
        if not ok(record[field]):
            raise SchemaError('%s.%s: invalid value %r' % (where, field, record[field]))
    for i, proc in enumerate(record['processes']):
        pwhere = '%s.processes[%d]' % (where, i)
        if not isinstance(proc, dict):
            raise SchemaError('%s: expected a mapping, got %r' % (pwhere, proc))
        pmissing = [f for f in PROCESS_FIELDS if f not in proc]
        if pmissing:
            raise SchemaError('%s: missing field(s) %s' % (pwhere, ', '.join(pmissing)))
        if not isinstance(proc['pid'], int) or isinstance(proc['pid'], bool):
            raise SchemaError('%s.pid: invalid value %r' % (pwhere, proc['pid']))
    return record


_ISO = re.compile(r'^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$')


def lstart(start_time):
    """An ISO 8601 start time in ``ps -o lstart`` form, local time ('Thu Feb  2 13:29:45 2017').

    A time without offset is taken as UTC; text that is not ISO 8601 is returned unchanged.
    """
    match = _ISO.match(start_time or '')
    if not match:
        return start_time or ''
    stamp = calendar.timegm(tuple(int(g) for g in match.groups()[:6]))
    zone = match.group(7)
    if zone and zone != 'Z':
        sign = -1 if zone[0] == '-' else 1
        digits = zone[1:].replace(':', '')
        stamp -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return time.ctime(stamp)


def compat_facts(listeners):
    """``tcp_listen`` / ``udp_listen`` in the schema of listen_ports_facts.

    One row per (socket, process) like community.general.listen_ports_facts and
    ansible.windows.win_listen_ports_facts; a socket with no known owner keeps
    one row with pid 0 and empty name/user, as those modules do. ``stime`` is
    in ``ps -o lstart`` form, as listen_ports_facts reports it.
    """
    facts = {'tcp_listen': [], 'udp_listen': []}
    stimes = {}
    for lst in listeners:
        procs = lst['processes'] or [None]
        for proc in procs:
            start = (proc or {}).get('start_time')
            stime = stimes.get(start)
            if stime is None:
                stime = stimes[start] = lstart(start)
            facts[lst['protocol'] + '_listen'].append({
                'address': lst['address'],
                'name': (proc or {}).get('name') or '',
                'pid': (proc or {}).get('pid') or 0,
                'port': lst['port'],
                'protocol': lst['protocol'],
                'stime': stime,
                'user': (proc or {}).get('user') or '',
            })
    return facts
