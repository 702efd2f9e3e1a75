# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""gather(): every listener of this host's network namespace, with owners.

Collector (netlink sock_diag, else /proc/net), then one /proc/*/fd pass for
owners, details once per owning PID, socket units for PID 1, and an honest
account of what could not be attributed. Never a silent empty list: when no
collector can read the socket tables, GatherError says why.
"""

from __future__ import annotations

import gc
import os
import socket

from . import netlink, owners, procfs, systemd
from .schema import classify, compat_facts, make_listener, sort_key

COLLECTORS = ('auto', 'netlink', 'procfs')


class GatherError(Exception):
    """Gathering failed or an option is invalid; the message says which and why."""


def _choices(field, values, allowed):
    if isinstance(values, str):
        values = [values]
    try:
        values = [str(v).lower() for v in values]
    except TypeError:
        raise GatherError('%s: expected a list, got %r' % (field, values))
    if not values:
        raise GatherError('%s: must not be empty (choose from %s)' % (field, ', '.join(allowed)))
    for value in values:
        if value not in allowed:
            raise GatherError('%s: unknown value %r (choose from %s)' % (field, value, ', '.join(allowed)))
    return [a for a in allowed if a in values]


def netns_inode(proc=owners.PROC):
    """Inode of this process's network namespace, or None."""
    try:
        link = os.readlink(proc + '/self/ns/net')
        return int(link[link.index('[') + 1:link.index(']')])
    except (OSError, ValueError):
        return None


def collect(protocols, families, collector, warnings):
    """(records, collector used) from the requested collector, falling back when 'auto'."""
    if collector in ('auto', 'netlink'):
        notes = []  # kept only if netlink is what ends up used
        try:
            records = netlink.collect(protocols, families, notes)
            warnings.extend(notes)
            return records, 'netlink'
        except netlink.NetlinkError as exc:
            if collector == 'netlink':
                raise GatherError('collector=netlink: %s' % exc.strerror)
            netlink_error = exc.strerror
    try:
        records = procfs.collect(protocols, families)
    except procfs.ProcfsError as exc:
        if collector == 'procfs':
            raise GatherError('collector=procfs: %s' % exc.strerror)
        raise GatherError('no collector could read the socket tables: netlink sock_diag: %s; /proc/net: %s'
                          % (netlink_error, exc.strerror))
    if collector == 'auto':
        warnings.append('netlink sock_diag is unavailable (%s); listeners were read from /proc/net instead'
                        % netlink_error)
    return records, 'procfs'


def _live_inodes(protocols, families, collector):
    try:
        source = netlink if collector == 'netlink' else procfs
        return {rec[5] for _p, _f, rec in source.collect(protocols, families)}
    except OSError:
        return None


def gather(protocols=('tcp', 'udp'), families=('ipv4', 'ipv6'), include_loopback=True,
           collector='auto', runner=None):
    """The gather result (see DEVELOPERS.md "Gather result") for this host.

    ``runner`` runs a command (argv list) and returns (rc, stdout, stderr); the
    module passes its run_command, tests and benchmarks use the default.
    """
    # Tens of thousands of acyclic records: the cyclic GC would rescan them all for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _gather(protocols, families, include_loopback, collector, runner)
    finally:
        if enabled:
            gc.enable()


def _gather(protocols, families, include_loopback, collector, runner):
    protocols = _choices('protocols', protocols, ('tcp', 'udp'))
    families = _choices('families', families, ('ipv4', 'ipv6'))
    if collector not in COLLECTORS:
        raise GatherError('collector: unknown value %r (choose from %s)' % (collector, ', '.join(COLLECTORS)))
    if not isinstance(include_loopback, bool):
        raise GatherError('include_loopback: expected a boolean, got %r' % (include_loopback,))

    warnings = []
    records, used = collect(protocols, families, collector, warnings)
    default_v6only = None
    if used == 'procfs':
        default_v6only = procfs.read_int('/proc/sys/net/ipv6/bindv6only', 0) == 1

    # Resolve addresses first so loopback can be dropped before the costly owner pass.
    # Records are replaced in place and address strings shared: at tens of thousands of
    # sockets the peak memory is these lists.
    ntop = socket.inet_ntop
    addresses = {}
    names = {}
    for index, (protocol, family, rec) in enumerate(records):
        af, raw, port, ifindex, uid, inode, v6only = rec
        address = addresses.get(raw)
        if address is None:
            address = addresses[raw] = ntop(af, raw)
        if not include_loopback and classify(address, family) == 'loopback':
            records[index] = None
            continue
        if family == 'ipv6' and v6only is None:
            v6only = default_v6only
        records[index] = (protocol, family, address, port, netlink.ifname(ifindex, names), uid, inode, v6only)
    sockets = [rec for rec in records if rec is not None] if not include_loopback else records
    del records

    by_inode, denied = owners.socket_owners([s[6] for s in sockets])
    procs = owners.processes(sorted({pid for pids in by_inode.values() for pid in pids}))

    socket_units = {}
    # PID 1 may be tini or the application itself in a container: ask systemctl only when
    # systemd runs this host, and test that the way systemd does (sd_booted()).
    if any(1 in by_inode.get(s[6], ()) for s in sockets) and 1 in procs and os.path.isdir(systemd.BOOTED):
        socket_units, error = systemd.list_sockets(runner)
        if error:
            warnings.append('socket units of PID 1 are unknown: %s' % error)

    listeners = []
    unowned = []
    for protocol, family, address, port, scope, uid, inode, v6only in sockets:
        plist = []
        for pid in by_inode.get(inode, ()):
            proc = procs.get(pid)
            if proc is None:
                continue  # exited mid-scan: no ghost owners
            if pid == 1 and socket_units:
                units = systemd.lookup(socket_units, protocol, address, port)
                if units:
                    proc = dict(proc, unit=units[0], services=sorted(set(units)))
            plist.append(proc)
        listener = make_listener(protocol, family, address, port, plist, v6only=v6only, inode=inode,
                                 uid=uid, netns=None, scope=scope)
        listeners.append(listener)
        if not plist and inode:
            unowned.append(listener)

    if unowned:
        # A socket closed between the dump and the fd pass has no owner; it is gone, so drop it.
        live = _live_inodes(protocols, families, used)
        if live is not None:
            gone = {id(lst) for lst in unowned if lst['inode'] not in live}
            if gone:
                listeners = [lst for lst in listeners if id(lst) not in gone]
                unowned = [lst for lst in unowned if id(lst) not in gone]

    netns = netns_inode()
    for lst in listeners:
        lst['netns'] = netns
    listeners.sort(key=sort_key)

    privileged = os.geteuid() == 0
    if unowned:
        if privileged:
            reason = ('their processes are not visible here (a process outside this PID namespace, '
                      'hidepid on /proc, or an owner that exited mid-scan)')
        else:
            reason = ('this run is not privileged (uid %d) and sees only its own processes; run with '
                      'become: true for complete attribution' % os.geteuid())
        if denied:
            reason += ' (%d processes\' fd tables were unreadable%s)' % (
                denied, '; root in a container needs CAP_SYS_PTRACE to read other users\' fd tables' if privileged else '')
        warnings.append('%d of %d listening sockets have no owning process: %s.' % (len(unowned), len(listeners), reason))
    if used == 'procfs' and any(lst['family'] == 'ipv6' and lst['exposure'] == 'wildcard' for lst in listeners):
        warnings.append('/proc/net does not show IPV6_V6ONLY per socket: dual_stack of IPv6 wildcard '
                        'listeners assumes the host default net.ipv6.bindv6only=%d'
                        % (1 if default_v6only else 0))

    return {
        'listeners': listeners,
        'collector': used,
        'attribution_complete': not unowned,
        'privileged': privileged,
        'unattributed': len(unowned),
        'netns': netns,
        'ephemeral_range': procfs.read_range(),
        'platform': 'linux',
        'warnings': warnings,
        'ansible_facts': compat_facts(listeners),
    }
