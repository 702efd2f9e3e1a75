# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Windows listeners: the raw module output, its schema and its normalisation.

``hostsec.ports.win_listening_ports_info`` runs PowerShell on the host and
returns only RAW records (see ``RAW_SCHEMA``); :func:`normalize` turns them
into the gather result that the Linux module returns, on the controller:

* ``hostsec.ports.port_audit`` calls it when the Windows module returns ``raw``;
* users who call the module directly use the ``hostsec.ports.win_listeners``
  filter, which calls it too.

Decisions that matter to readers of the result:

* Fail closed. A socket table that could not be read (a failed or empty
  NetTCPIP/CIM query that the module could not make up for with netstat, or
  netstat failing too) raises :class:`GatherError`: the host fails with the
  reason instead of passing with no listeners. Every Windows host listens on
  135/tcp and 445/tcp, so no TCP listener at all is a failed read, too.
* Dual stack. Windows does not expose IPV6_V6ONLY of another process's socket,
  so ``v6only`` is always None. A ``::`` listener with a ``0.0.0.0`` twin for
  the same protocol and port gets ``dual_stack`` False (the IPv4 side is a
  listener of its own; marking both would count IPv4 twice). A lone ``::``
  socket gets ``dual_stack`` None, "unknown": Node.js, .NET and Java bind one
  dual-mode ``::`` socket that also accepts IPv4, and a warning says IPv4
  exposure must be assumed there.
* Exact service. ``owner_service`` is the service named by the socket's
  service tag (``netstat -anob``, the owner module that
  GetOwnerModuleFromTcpEntry returns), accepted only when it is one of the
  services the owning process hosts; else None. A shared svchost whose
  listener has no ``owner_service`` makes ``service_attribution_complete``
  False and a warning names it.
* http.sys. Sockets of PID 4 on a port with an http.sys URL registration
  (``netsh http show servicestate view=requestq``) list, after System, the
  processes attached to those request queues.
* Scoped addresses. ``fe80::1%12`` becomes address ``fe80::1`` and scope ``12``
  (the Windows interface index), exposure ``link_local``.
* System (PID 4) and Idle (PID 0) are kernel pseudo-processes: no executable,
  user ``NT AUTHORITY\\SYSTEM``; they never count as unreadable.
* Completeness. ``attribution_complete`` is True only when the module ran
  elevated, every listener has an owning process, and every owner's name and
  user could be read. Fields that could not be read are named in a warning.
* ``ansible_facts.tcp_listen``/``udp_listen`` match
  ansible.windows.win_listen_ports_facts exactly (see :func:`compat_facts`).
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import (
    SchemaError,
    make_listener,
    make_process,
    sort_key,
)

COLLECTORS = ('nettcpip', 'netstat')
OWNER_SOURCES = ('get-process', 'getowner')
UNREADABLE_FIELDS = ('Name', 'ExecutablePath', 'CommandLine', 'Owner')
IANA_DYNAMIC = (49152, 65535)
KERNEL = {
    0: 'System Idle Process',
    4: 'System',
}
KERNEL_USER = 'NT AUTHORITY\\SYSTEM'

# Field specs: (type, nullable[, element spec or choices]). 'int' excludes bool.
ENDPOINT_SCHEMA = {
    'LocalAddress': ('str', False),
    'LocalPort': ('int', False),
    'OwningProcess': ('int', False),
}
PROCESS_SCHEMA = {
    'ProcessId': ('int', False),
    'Name': ('str', True),
    'ExecutablePath': ('str', True),
    'CommandLine': ('str', True),
    'Owner': ('str', True),
    'CreationDate': ('str', True),
}
SERVICE_SCHEMA = {
    'Name': ('str', False),
    'DisplayName': ('str', True),
    'ProcessId': ('int', False),
    'State': ('str', True),
}
PORT_RANGE_SCHEMA = {
    'StartPort': ('int', False),
    'NumberOfPorts': ('int', False),
}
RAW_SCHEMA = {
    'collector': ('choice', False, COLLECTORS),
    'fallback_reason': ('str', True),
    'elevated': ('bool', False),
    'tcp': ('list', False, ENDPOINT_SCHEMA),
    'udp': ('list', False, ENDPOINT_SCHEMA),
    'netstat': ('list', True, 'str'),
    'netstat_owner': ('list', True, 'str'),
    'http_requestq': ('list', True, 'str'),
    'socket_errors': ('list', False, 'str'),
    'netsh_dynamicport': ('list', True, 'str'),
    'netsh_dynamicport_udp': ('list', True, 'str'),
    'dynamic_port_range': ('dict', True, PORT_RANGE_SCHEMA),
    'udp_dynamic_port_range': ('dict', True, PORT_RANGE_SCHEMA),
    'processes': ('list', False, PROCESS_SCHEMA),
    'owner_source': ('choice', True, OWNER_SOURCES),
    'services': ('list', False, SERVICE_SCHEMA),
    'domain_role': ('int', True),
    'unreadable': ('list', False, UNREADABLE_FIELDS),
    'errors': ('list', False, 'str'),
}
"""The exact shape of ``raw`` as the module emits it (every key always present)."""

# Win32_ComputerSystem.DomainRole: 4 backup, 5 primary domain controller.
DOMAIN_CONTROLLER_ROLES = (4, 5)


class GatherError(ValueError):
    """The host's sockets could not be read: the host fails, it never passes empty."""


_DAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
_TIMESTAMP = re.compile(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$')


def _check_value(value, spec, where):
    kind, nullable = spec[0], spec[1]
    if value is None:
        if nullable:
            return
        raise SchemaError('%s: must not be null' % where)
    if kind == 'str':
        ok = isinstance(value, str)
    elif kind == 'int':
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == 'bool':
        ok = isinstance(value, bool)
    elif kind == 'choice':
        if value not in spec[2]:
            raise SchemaError('%s: unknown value %r (expected one of %s)' % (where, value, ', '.join(spec[2])))
        return
    elif kind == 'dict':
        _check_mapping(value, spec[2], where)
        return
    elif kind == 'list':
        if not isinstance(value, list):
            raise SchemaError('%s: expected a list, got %r' % (where, value))
        inner = spec[2]
        for i, item in enumerate(value):
            here = '%s[%d]' % (where, i)
            if isinstance(inner, dict):
                _check_mapping(item, inner, here)
            elif isinstance(inner, tuple):
                _check_value(item, ('choice', False, inner), here)
            else:
                _check_value(item, (inner, False), here)
        return
    else:  # pragma: no cover - a bug in the schema itself
        raise AssertionError(kind)
    if not ok:
        raise SchemaError('%s: expected %s, got %r' % (where, kind, value))


def _check_mapping(value, schema, where):
    if not isinstance(value, dict):
        raise SchemaError('%s: expected a mapping, got %r' % (where, value))
    missing = sorted(set(schema) - set(value))
    if missing:
        raise SchemaError('%s: missing field(s) %s' % (where, ', '.join(missing)))
    unknown = sorted(set(value) - set(schema))
    if unknown:
        raise SchemaError('%s: unknown field(s) %s' % (where, ', '.join(unknown)))
    for key, spec in schema.items():
        _check_value(value[key], spec, '%s.%s' % (where, key))


def check_raw(raw):
    """Raise SchemaError naming the first field of ``raw`` that is not as the module emits it."""
    _check_mapping(raw, RAW_SCHEMA, 'raw')
    if raw['collector'] == 'netstat' and raw['netstat'] is None:
        raise SchemaError('raw.netstat: must be a list of lines when collector is netstat')
    return raw


def _split_endpoint(text):
    """'0.0.0.0:135' / '[fe80::1%12]:139' / '*:*' -> (address, port or None)."""
    address, _sep, port = text.rpartition(':')
    if address.startswith('['):
        address = address[1:-1] if address.endswith(']') else address[1:]
    return address, int(port) if port.isdigit() else None


def _netstat_row(line):
    """(protocol, address, port, pid, foreign port) of a netstat TCP/UDP row, or None."""
    fields = line.split()
    if len(fields) < 4 or fields[0] not in ('TCP', 'UDP') or not fields[-1].isdigit():
        return None
    address, port = _split_endpoint(fields[1])
    # '*:port' is never a local address on Windows; skip such a row rather than fail the host.
    if port is None or not address or address == '*':
        return None
    foreign = _split_endpoint(fields[2])[1] if len(fields) >= 5 else None
    return fields[0].lower(), address, port, int(fields[-1]), foreign


def parse_netstat(lines):
    """Listening TCP sockets and bound UDP sockets from ``netstat -ano`` lines.

    Returns ``(tcp, udp)`` as lists of raw endpoint records. A TCP row listens
    when its foreign port is 0: the State column is translated on localised
    Windows, the foreign address is not.
    """
    tcp, udp = [], []
    for line in lines:
        row = _netstat_row(line)
        if row is None:
            continue
        protocol, address, port, pid, foreign = row
        record = {'LocalAddress': address, 'LocalPort': port, 'OwningProcess': pid}
        if protocol == 'udp':
            udp.append(record)
        elif foreign == 0:
            tcp.append(record)
    return tcp, udp


def parse_netstat_owner(lines):
    """(protocol, address, port, pid) -> [component names] from ``netstat -anob`` lines.

    netstat -b prints, under each socket row, the components that created the
    socket (for a svchost socket its service tag: the service name), then the
    executable in brackets. A line with spaces is netstat's localised "cannot
    obtain ownership information" and names nothing. Component names are not
    trusted here: :func:`normalize` accepts one only if the owning process
    hosts a service of that name.
    """
    found = {}
    current = None
    for line in lines or ():
        row = _netstat_row(line)
        if row is not None:
            protocol, address, port, pid, foreign = row
            current = (protocol, address, port, pid) if protocol == 'udp' or foreign == 0 else None
            if current is not None:
                found.setdefault(current, [])
            continue
        text = line.strip()
        if current is None or not text or text.startswith('[') or len(text.split()) != 1:
            continue
        found[current].append(text)
    return found


_URL = re.compile(r'^\s*https?://(?P<host>\[[^\]]*\]|[^/:]*):(?P<port>\d+)', re.I)
_QUEUE_PID = re.compile(r'^\s*ID:\s*(\d+)\b')


def parse_http_requestq(lines):
    """port -> sorted PIDs of the processes attached to http.sys request queues with a URL on that port.

    ``netsh http show servicestate view=requestq`` prints one block per
    request queue (an unindented heading line), with its processes as
    ``ID: 1234, image: ...`` lines and its URLs as ``HTTP://+:5985/WSMAN/``
    lines. Only those two shapes are read, since the labels are localised.
    """
    ports = {}
    queues = []
    pids, urls = set(), set()
    # None closes the last block; blank lines may sit inside a block.
    for line in list(lines or ()) + [None]:
        if line is None or (line.strip() and not line[:1].isspace()):
            if pids and urls:
                queues.append((pids, urls))
            pids, urls = set(), set()
            if line is None:
                continue
        match = _QUEUE_PID.match(line)
        if match:
            pids.add(int(match.group(1)))
            continue
        match = _URL.match(line)
        if match:
            urls.add(int(match.group('port')))
    for queue_pids, queue_ports in queues:
        for port in queue_ports:
            ports.setdefault(port, set()).update(queue_pids)
    return {port: sorted(p) for port, p in ports.items()}


def parse_netsh_dynamicport(lines):
    """(low, high) from ``netsh int ipv4 show dynamicport tcp``, or None.

    The labels are localised, so this reads the first two numbers that follow
    a colon: the start port, then the number of ports.
    """
    numbers = []
    for line in lines or ():
        match = re.search(r':\s*(\d+)\s*$', line)
        if match:
            numbers.append(int(match.group(1)))
    if len(numbers) < 2 or numbers[1] < 1:
        return None
    return numbers[0], numbers[0] + numbers[1] - 1


def _range_of(span, netsh_lines):
    if span and span['NumberOfPorts'] > 0:
        return [span['StartPort'], span['StartPort'] + span['NumberOfPorts'] - 1]
    parsed = parse_netsh_dynamicport(netsh_lines)
    return list(parsed) if parsed else None


def ephemeral_range(raw):
    """([low, high], note or None) for the host's dynamic port range.

    UDP's range is the one judged (the policy's ephemeral settings are about
    UDP), so it wins when it was read; TCP's range stands in otherwise.
    """
    udp = _range_of(raw.get('udp_dynamic_port_range'), raw.get('netsh_dynamicport_udp'))
    tcp = _range_of(raw.get('dynamic_port_range'), raw.get('netsh_dynamicport'))
    if udp and tcp and udp != tcp:
        return udp, ('the dynamic port ranges differ: TCP %d-%d, UDP %d-%d; the UDP range is used'
                     % (tcp[0], tcp[1], udp[0], udp[1]))
    if udp or tcp:
        return udp or tcp, None
    return list(IANA_DYNAMIC), ('could not read the dynamic port range of the host; '
                                'assuming the IANA and Windows default %d-%d' % IANA_DYNAMIC)


def compat_stime(creation_date):
    """A CreationDate as win_listen_ports_facts' default ``-UFormat %c``.

    E.g. 'Thu Nov 18 15:27:42 2021', in the host's local time; day and month
    names are English whatever the controller's locale.
    """
    if not creation_date:
        return None
    match = _TIMESTAMP.match(creation_date)
    if not match:
        return creation_date
    year, month, day, hour, minute, second = (int(x) for x in match.groups()[:6])
    weekday = datetime.date(year, month, day).weekday()
    return '%s %s %02d %02d:%02d:%02d %d' % (_DAYS[weekday], _MONTHS[month - 1], day, hour, minute, second, year)


def compat_facts(tcp, udp, processes_by_pid):
    """``tcp_listen``/``udp_listen`` exactly as ansible.windows.win_listen_ports_facts.

    One row per socket in the order Windows listed them; ``address`` as
    Windows reports it (with a ``%zone``), ``pid`` the owning PID even when
    the process is gone, and ``name``, ``user`` and ``stime`` null when they
    are unknown, as that module does (schema.compat_facts writes '' and 0
    instead, like the Linux module, hence this Windows variant).
    """
    facts = {'tcp_listen': [], 'udp_listen': []}
    for protocol, endpoints in (('tcp', tcp), ('udp', udp)):
        for ep in endpoints:
            proc = processes_by_pid.get(ep['OwningProcess']) or {}
            facts[protocol + '_listen'].append({
                'address': ep['LocalAddress'],
                'name': proc.get('Name'),
                'pid': ep['OwningProcess'],
                'port': ep['LocalPort'],
                'protocol': protocol,
                'stime': compat_stime(proc.get('CreationDate')),
                'user': proc.get('Owner'),
            })
    return facts


def _process_records(raw):
    """pid -> schema process, with every service each process hosts."""
    services = {}
    for svc in raw['services']:
        services.setdefault(svc['ProcessId'], []).append(svc['Name'])
    records = {}
    for proc in raw['processes']:
        pid = proc['ProcessId']
        kernel = pid in KERNEL
        records[pid] = make_process(
            pid,
            KERNEL[pid] if kernel else (proc['Name'] or None),
            exe=None if kernel else proc['ExecutablePath'],
            cmdline=None if kernel else proc['CommandLine'],
            user=KERNEL_USER if kernel else proc['Owner'],
            start_time=proc['CreationDate'],
            services=services.get(pid, []),
        )
    # Kernel owners are known even when Win32_Process could not be read.
    for pid, name in KERNEL.items():
        if pid not in records:
            records[pid] = make_process(pid, name, user=KERNEL_USER, services=services.get(pid, []))
    return records


def _unreadable(raw, endpoints):
    """field -> sorted pids whose field could not be read, for owners of sockets."""
    owners = {ep['OwningProcess'] for ep in endpoints}
    found = {}
    for proc in raw['processes']:
        pid = proc['ProcessId']
        if pid in KERNEL or pid not in owners:
            continue
        for field in ('Owner', 'ExecutablePath', 'CommandLine'):
            if proc[field] is None:
                found.setdefault(field, set()).add(pid)
    for field in raw['unreadable']:
        found.setdefault(field, set())
    return {field: sorted(pids) for field, pids in found.items()}


def _pid_list(pids, limit=10):
    shown = ', '.join(str(p) for p in pids[:limit])
    return shown + (', ...' if len(pids) > limit else '')


def _socket_tables(raw):
    """(tcp, udp, warnings) of the raw result; GatherError when the sockets were not read."""
    if raw['socket_errors']:
        raise GatherError('the listening sockets of the host could not be read (collector %s): %s'
                          % (raw['collector'], '; '.join(raw['socket_errors'])))
    warnings = []
    if raw['collector'] == 'netstat':
        tcp, udp = parse_netstat(raw['netstat'])
        if raw['fallback_reason']:
            warnings.append('collector netstat: %s, so sockets were read from netstat -ano' % raw['fallback_reason'])
        else:
            warnings.append('collector netstat: sockets were read from netstat -ano (the NetTCPIP cmdlets '
                            'were not used)')
    else:
        tcp, udp = raw['tcp'], raw['udp']
    if not tcp:
        # Every Windows host listens on 135/tcp (RPC) and 445/tcp (SMB): none at all is a failed read.
        raise GatherError('no listening TCP socket was seen (collector %s); every Windows host listens on '
                          '135/tcp at least, so the socket table was not read and the host cannot be judged'
                          % raw['collector'])
    return tcp, udp, warnings


def _owner_service(key, records, tags):
    """The exact service a socket's service tag names, if the owning process hosts it."""
    pid = key[3]
    hosted = {name.lower(): name for name in (records[pid]['services'] if pid in records else ())}
    named = {hosted[c.lower()] for c in tags.get(key, ()) if c.lower() in hosted}
    return named.pop() if len(named) == 1 else None


def normalize(raw):
    """The gather result (same keys as the Linux module) from the module's ``raw``.

    Raises SchemaError naming the field when ``raw`` is not what the module
    emits, and GatherError when the host's sockets were not read.
    """
    check_raw(raw)
    tcp, udp, warnings = _socket_tables(raw)
    warnings = ['%s (collector %s)' % (err, raw['collector']) for err in raw['errors']] + warnings
    endpoints = [('tcp', ep) for ep in tcp] + [('udp', ep) for ep in udp]
    records = _process_records(raw)
    tags = parse_netstat_owner(raw['netstat_owner'])
    http_queues = parse_http_requestq(raw['http_requestq'])

    ipv4_wildcards = {(proto, ep['LocalPort']) for proto, ep in endpoints if ep['LocalAddress'] == '0.0.0.0'}
    listeners = []
    seen = set()
    v6_alone = []
    shared_unknown = []
    for proto, ep in endpoints:
        address = ep['LocalAddress']
        family = 'ipv6' if ':' in address else 'ipv4'
        pid = ep['OwningProcess']
        # Get-NetUDPEndpoint lists a socket once per address; netstat can repeat rows.
        key = (proto, address, ep['LocalPort'], pid)
        if key in seen:
            continue
        seen.add(key)
        owners = [records[pid]] if pid in records else []
        if pid == 4 and proto == 'tcp':
            owners += [records[q] for q in http_queues.get(ep['LocalPort'], ()) if q in records and q != 4]
        lone_v6 = family == 'ipv6' and (proto, ep['LocalPort']) not in ipv4_wildcards
        try:
            listener = make_listener(proto, family, address, ep['LocalPort'], processes=owners,
                                     dual_stack=False, dual_stack_known=not lone_v6)
        except SchemaError as exc:
            raise SchemaError('raw.%s: %s' % (proto, exc))
        listener['owner_service'] = _owner_service(key, records, tags)
        if listener['exposure'] == 'wildcard' and lone_v6:
            v6_alone.append('%s/%d' % (proto, ep['LocalPort']))
        if (listener['owner_service'] is None and pid in records and pid not in KERNEL
                and len(records[pid]['services']) > 1):
            shared_unknown.append('%s/%d (pid %d: %s)' % (proto, ep['LocalPort'], pid,
                                                          ', '.join(records[pid]['services'])))
        listeners.append(listener)
    listeners.sort(key=sort_key)

    unattributed = sum(1 for lst in listeners if not lst['processes'])
    if unattributed:
        warnings.append('%d listener(s) have no owning process (the process exited, or Win32_Process '
                        'could not be read)' % unattributed)
    unreadable = _unreadable(raw, [ep for _proto, ep in endpoints])
    if unreadable:
        detail = '; '.join(
            '%s%s' % (field, ' for pid(s) %s' % _pid_list(pids) if pids else '')
            for field, pids in sorted(unreadable.items()))
        why = ('the module did not run elevated, so Windows hides these fields of other users\' processes'
               if not raw['elevated'] else 'Windows denied access (protected processes)')
        warnings.append('could not read %s: %s' % (detail, why))
    if not raw['elevated']:
        warnings.append('not elevated: owner attribution is incomplete; run the module as an administrator '
                        '(become: true, or an elevated WinRM/PSRP session) for a complete result')
    if v6_alone:
        warnings.append('IPv6 wildcard listener(s) with no 0.0.0.0 row: %s. Whether they also accept IPv4 is '
                        'unknown (dual_stack null): Node.js, .NET and Java bind one dual-mode :: socket '
                        '(IPV6_V6ONLY off) that does, and Windows does not show it, so assume IPv4 '
                        'exposure there' % ', '.join(sorted(set(v6_alone))))
    if shared_unknown:
        warnings.append('exact service unknown for listener(s) in shared service hosts: %s (%s); a stop is '
                        'never planned for them' % (
                            '; '.join(sorted(set(shared_unknown))),
                            'netstat -anob gave no service tag' if raw['netstat_owner'] is not None
                            else 'netstat -anob was not read: it needs elevation'))
    ephemeral, note = ephemeral_range(raw)
    if note:
        warnings.append(note)

    processes_by_pid = {p['ProcessId']: p for p in raw['processes']}
    complete = (raw['elevated'] and unattributed == 0
                and 'Owner' not in unreadable and 'Name' not in unreadable)
    return {
        'listeners': listeners,
        'collector': raw['collector'],
        'attribution_complete': bool(complete),
        'service_attribution_complete': not shared_unknown,
        'privileged': raw['elevated'],
        'unattributed': unattributed,
        'netns': None,
        'ephemeral_range': ephemeral,
        'domain_controller': (raw['domain_role'] in DOMAIN_CONTROLLER_ROLES
                              if raw['domain_role'] is not None else None),
        'platform': 'windows',
        'warnings': warnings,
        'ansible_facts': compat_facts(tcp, udp, processes_by_pid),
    }


def raw_from_result(value):
    """The ``raw`` dict from a registered module result, or ``value`` itself if it is raw."""
    if isinstance(value, dict) and 'raw' in value and 'collector' not in value:
        value = value['raw']
    if not isinstance(value, dict):
        raise SchemaError('raw: expected the result of hostsec.ports.win_listening_ports_info '
                          '(a mapping with a raw key), got %r' % (type(value).__name__,))
    return value
