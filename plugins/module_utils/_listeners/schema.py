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
    dual_stack    True for an IPv6 wildcard socket that also accepts IPv4 (not v6only);
                  None when that cannot be known (Windows: a lone '::' socket)
    v6only        True / False for IPv6 sockets when known, else None
    state         'listen' (TCP) or 'unconnected' (UDP bound, no peer)
    inode         socket inode (Linux), else None
    uid           uid owning the socket (Linux), else None
    netns         network namespace inode (Linux), else None
    processes     list of processes (below); empty when the owner is unknown
    services      sorted union of the processes' services (systemd units / Windows services)

Optional listener fields (records without them are valid and mean null):

    owner_service the exact Windows service owning the socket (its service tag,
                  as netstat -b shows it), else None; Linux leaves it out
    container     the container whose network namespace holds the socket, when the
                  host can tell (gathered with namespaces=all), else None:
                  {runtime: 'podman'|'docker'|'containerd'|'cri-o'|'netns', id, name, image, pod}
                  ('netns' is a named `ip netns` namespace: name is its name, id None)
    published     host ports that reach this (container) listener, when known:
                  [{address, port, protocol, via: 'docker-proxy'|'conmon'|'rootlessport'|'nftables'|'iptables',
                    netns}] (address/port/netns on the host side)
    forwards_to   on a host listener held by a port forwarder (docker-proxy, conmon,
                  rootlessport): the container listener it reaches, {netns, address, port, container}

Process::

    pid, name, exe, cmdline, user, uid, start_time, unit, services

Compact form (what listening_ports_info returns; :func:`compact` / :func:`expand`):
each process is written once in ``processes``, a table by pid (keys are the pid
as text, as JSON writes them); a compact listener is the listener above without
``processes`` and ``state`` (which ``protocol`` implies) and with ``pids``, the
sorted pids of its owners. ``process_overrides`` ({pid: {field: value}}, only when
needed) holds what differs for this socket, such as the .socket unit of a
listener PID 1 holds. Every consumer reads listeners through :func:`expand`, which
returns the records above exactly, and accepts full records unchanged.

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
CONTAINER_RUNTIMES = ('podman', 'docker', 'containerd', 'cri-o', 'netns')
CONTAINER_FIELDS = ('runtime', 'id', 'name', 'image', 'pod')
# Compact listeners leave these out: 'processes' becomes 'pids', 'state' follows from 'protocol'.
STATE_OF = {'tcp': 'listen', 'udp': 'unconnected'}


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
                  inode=None, uid=None, netns=None, scope=None, dual_stack=None,
                  dual_stack_known=True):
    """A listener record with exposure and dual_stack derived from the bind.

    ``dual_stack`` may be passed when the caller knows better (Windows reports
    no v6only flag); otherwise an IPv6 wildcard is dual-stack unless v6only.
    ``dual_stack_known=False`` records None ("unknown") for an IPv6 wildcard.
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
        dual_stack = accepts_both_families(family, exposure, address, v6only)
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
        'dual_stack': (bool(dual_stack) if dual_stack_known or family != 'ipv6' or exposure != 'wildcard'
                       else None),
        'v6only': v6only if family == 'ipv6' else None,
        'state': 'listen' if protocol == 'tcp' else 'unconnected',
        'inode': inode,
        'uid': uid,
        'netns': netns,
        'processes': processes,
        'services': services,
    }


def accepts_both_families(family, exposure, address, v6only):
    """Whether a socket takes IPv4 and IPv6 connections: an IPv6 wildcard with IPV6_V6ONLY off.

    '::ffff:0.0.0.0' is a wildcard too, but an IPv4-mapped one: it accepts only IPv4.
    """
    return (family == 'ipv6' and exposure == 'wildcard' and v6only is False
            and (address == '::' or ipaddress.ip_address(address).ipv4_mapped is None))


def make_compact_listener(protocol, family, address, port, v6only=None, inode=None, uid=None, netns=None,
                          scope=None):
    """``strip_to_compact(make_listener(...))`` for a socket the Linux gatherer read from the kernel, built directly.

    The gatherer calls this once per socket (tens of thousands at scale) with
    values that are already what make_listener would make of them: a known
    protocol and family, an address from inet_ntop (no scope suffix), a port
    from a 16-bit field. The result is the same record, key for key and in the
    same order (tests/unit/.../test_schema.py compares them); owners come next,
    through set_owners.
    """
    exposure = classify(address, family)
    v6 = family == 'ipv6'
    return {
        'protocol': protocol,
        'family': family,
        'address': address,
        'scope': scope,
        'port': port,
        'exposure': exposure,
        'dual_stack': accepts_both_families(family, exposure, address, v6only),
        'v6only': v6only if v6 else None,
        'inode': inode,
        'uid': uid,
        'netns': netns,
        'services': [],
        'pids': [],
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
        # None (unknown) only where it can be unknown: an IPv6 wildcard socket.
        ('dual_stack', lambda v: isinstance(v, bool) or (
            v is None and record.get('family') == 'ipv6' and record.get('exposure') == 'wildcard')),
        ('address', lambda v: isinstance(v, str) and v != ''),
        ('processes', lambda v: isinstance(v, list)),
        ('services', lambda v: isinstance(v, list)),
    )
    for field, ok in checks:
        if not ok(record[field]):
            raise SchemaError('%s.%s: invalid value %r' % (where, field, record[field]))
    container = record.get('container')
    if container is not None and (not isinstance(container, dict) or container.get('runtime') not in CONTAINER_RUNTIMES):
        raise SchemaError('%s.container: invalid value %r (expected null or a mapping with runtime one of %s)'
                          % (where, container, ', '.join(CONTAINER_RUNTIMES)))
    owner_service = record.get('owner_service')
    if owner_service is not None and (not isinstance(owner_service, str) or not owner_service):
        raise SchemaError('%s.owner_service: invalid value %r (expected a service name or null)'
                          % (where, owner_service))
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


def make_container(runtime, id=None, name=None, image=None, pod=None):  # pylint: disable=redefined-builtin
    """A ``container`` record for a listener (see the module docstring)."""
    if runtime not in CONTAINER_RUNTIMES:
        raise SchemaError('container.runtime: unknown value %r (choose from %s)' % (runtime, ', '.join(CONTAINER_RUNTIMES)))
    return {'runtime': runtime, 'id': id, 'name': name, 'image': image, 'pod': pod}


def set_owners(listener, processes, table, shared=None):
    """Write ``processes`` into a compact listener: ``pids``, ``services`` and, when needed, ``process_overrides``.

    Each process goes into ``table`` (pid text -> record) unless the table holds it already;
    where this socket's version differs from the table's, the difference is the override.
    ``services`` is the union that make_listener records. With ``shared`` (a dict the caller
    keeps for one result), equal ``pids`` and ``services`` lists are one list object: a worker
    holding 20 sockets needs one, not 20. Such lists are read-only, like the whole result.
    """
    if len(processes) == 1 and shared is not None:
        # The common case, kept short: one owner, whose lists are shared by all its sockets.
        proc = processes[0]
        pid = proc['pid']
        pids = shared.get(pid)
        if pids is None:
            pids = shared[pid] = [pid]
        services = proc.get('services') or ()
        services = shared.setdefault(('services',) + tuple(services), sorted(set(services)))
        key = str(pid)
        known = table.get(key)
        if known is None:
            table[key] = proc
        elif known is not proc and known != proc:
            listener['process_overrides'] = {key: {f: v for f, v in proc.items() if known.get(f) != v}}
        listener['services'] = services
        listener['pids'] = pids
        return listener
    if len(processes) > 1:
        processes = sorted(processes, key=lambda p: p['pid'])
        services = sorted({s for p in processes for s in p.get('services') or ()})
    else:
        services = sorted(set(processes[0].get('services') or ())) if processes else []
    # Built at its exact size: a list grown by append() keeps spare slots, 20,000 times over.
    pids = [proc['pid'] for proc in processes] if len(processes) > 1 else [processes[0]['pid']] if processes else []
    if shared is not None:
        services = shared.setdefault(('services',) + tuple(services), services)
        pids = shared.setdefault(('pids',) + tuple(pids), pids)
    listener['services'] = services
    overrides = {}
    for proc in processes:
        key = str(proc['pid'])
        known = table.get(key)
        if known is None:
            table[key] = proc
        elif known is not proc and known != proc:
            overrides[key] = {f: v for f, v in proc.items() if known.get(f) != v}
    listener['pids'] = pids
    if overrides:
        listener['process_overrides'] = overrides
    else:
        listener.pop('process_overrides', None)
    return listener


def strip_to_compact(listener):
    """Turn a full listener record into a compact one without owners, in place (fill it with set_owners)."""
    listener.pop('processes', None)
    listener.pop('state', None)  # follows from the protocol (STATE_OF)
    listener['pids'] = []
    return listener


def compact_listener(listener, table):
    """The compact form of one full listener; its processes are added to ``table`` (pid text -> record).

    The record's own ``services`` are kept: a listener passed in (or from
    Windows) may name units its processes do not, and expand() must give the
    record back exactly.
    """
    processes = listener['processes']
    compacted = set_owners(strip_to_compact(dict(listener)), processes, table)
    if 'services' in listener:
        compacted['services'] = listener['services']
    return compacted


def compact(listeners):
    """{'listeners': compact listeners, 'processes': {pid text: process}} from full records."""
    table = {}
    return {'listeners': [compact_listener(lst, table) for lst in listeners], 'processes': table}


def owner_lookup(result):
    """A function (index, listener) -> the listener's process records, for full and compact listeners alike.

    A compact listener's records come from ``result['processes']`` (the same
    dict for every listener of a pid, so a reader can work on each process
    once); a full listener's are its own ``processes``. A result passed in by
    a user may be anything: a table, pid list, record or override of the
    wrong shape, a pid the table does not hold, or a record filed under
    another pid raises SchemaError naming the listener, never a wrong owner.
    """
    table = result.get('processes')
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise SchemaError('processes: expected a mapping of pid to process, got %s' % type(table).__name__)

    def owners(index, lst):
        if 'pids' not in lst:
            return lst.get('processes') or []
        pids = lst['pids']
        if not isinstance(pids, list):
            raise SchemaError('listeners[%d].pids: expected a list of pids, got %r' % (index, pids))
        overrides = lst.get('process_overrides') or {}
        if not isinstance(overrides, dict):
            raise SchemaError('listeners[%d].process_overrides: expected a mapping, got %r' % (index, overrides))
        procs = []
        for pid in pids:
            if isinstance(pid, bool) or not (isinstance(pid, int) or (isinstance(pid, str) and pid.isdigit())):
                raise SchemaError('listeners[%d].pids: %r is not a pid' % (index, pid))
            key = str(pid)
            proc = table.get(key)
            if proc is None:
                proc = table.get(int(pid))
            if proc is None:
                raise SchemaError('listeners[%d].pids: pid %r is not in the processes table' % (index, pid))
            if not isinstance(proc, dict) or str(proc.get('pid')) != key:
                raise SchemaError('processes[%s]: expected the record of process %s, got %r' % (key, key, proc))
            if key in overrides:
                if not isinstance(overrides[key], dict):
                    raise SchemaError('listeners[%d].process_overrides[%s]: expected a mapping, got %r'
                                      % (index, key, overrides[key]))
                proc = dict(proc, **overrides[key])
            procs.append(proc)
        return procs
    return owners


def expand(result):
    """Full listener records (exactly as make_listener builds them) from a compact gather result.

    Accepts a result whose listeners are already full (a Windows normalisation, listeners a
    user passes) and returns them unchanged, so every consumer can call this on any result.
    A listener naming a pid the table does not hold raises SchemaError.
    """
    owners = owner_lookup(result)
    out = []
    for index, lst in enumerate(result['listeners']):
        if 'pids' not in lst:
            out.append(lst)
            continue
        procs = owners(index, lst)
        full = {}
        for field in LISTENER_FIELDS:
            if field == 'processes':
                full[field] = procs
            elif field == 'state':
                full[field] = STATE_OF.get(lst['protocol'])
            else:
                full[field] = lst.get(field)
        for field, value in lst.items():
            if field not in full and field not in ('pids', 'process_overrides'):
                full[field] = value
        out.append(full)
    return out
