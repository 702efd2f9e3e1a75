# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""gather(): every listener of this host's network namespace (or of all of them), with owners.

Collector (netlink sock_diag, else /proc/net), then one /proc/*/fd pass for
owners (skipping processes of other network namespaces, with a second pass
over them only for sockets left unowned), details once per owning PID, socket
units for PID 1, and an honest account of what could not be attributed. Never a silent empty list: when no
collector can read the socket tables, GatherError says why.
"""

from __future__ import annotations

import gc
import os
import socket

from . import containers, netlink, netns, owners, procfs, systemd
from .schema import classify, compat_facts, expand, make_compact_listener, make_container, set_owners, sort_key

COLLECTORS = ('auto', 'netlink', 'procfs')
NAMESPACES = ('current', 'all')


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
        return {rec[5] for _p, _f, recs in source.collect(protocols, families) for rec in recs}
    except OSError:
        return None


def default_runner(argv):
    """(rc, stdout, stderr) of argv, in the C locale; rc 127 when it cannot run."""
    # Imported here: subprocess costs about 2 MiB of memory, and most gathers never run a command.
    import subprocess  # pylint: disable=import-outside-toplevel
    env = dict(os.environ, LC_ALL='C', SYSTEMD_COLORS='0', SYSTEMD_PAGER='')
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, '', str(exc)
    return (proc.returncode, proc.stdout.decode('utf-8', 'backslashreplace'),
            proc.stderr.decode('utf-8', 'backslashreplace'))


def gather(protocols=('tcp', 'udp'), families=('ipv4', 'ipv6'), include_loopback=True,
           collector='auto', runner=None, namespaces='current', facts=False):
    """The compact gather result (see DEVELOPERS.md "Gather result") for this host.

    Listeners refer to their owners by pid in the ``processes`` table; schema.expand()
    turns the result into full listener records. ``namespaces='all'`` adds every other
    network namespace of the host (containers, pods, named ``ip netns``). ``facts`` adds
    the listen_ports_facts-compatible ``ansible_facts``. ``runner`` runs a command (argv
    list) and returns (rc, stdout, stderr); the module passes its run_command.
    """
    # Tens of thousands of acyclic records: the cyclic GC would rescan them all for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _gather(protocols, families, include_loopback, collector, runner or default_runner, namespaces, facts)
    finally:
        if enabled:
            gc.enable()


def _own_container_id():
    """The container id this gather itself runs in, if any (the host of a nested namespace is a container too)."""
    try:
        with open('/proc/self/cgroup', 'rb') as handle:
            ref = containers.from_cgroup(handle.read())
    except OSError:
        return None
    return ref[1] if ref else None


def _namespace_containers(ns, catalog, own_id=None, unverified=None):
    """(the container a namespace belongs to, {pid: workload container}) from its processes' cgroups.

    Outside a pod a namespace is one container's: the first process that names
    a runtime says which. In a pod every container shares the pause/infra
    container's namespace, so every process is read and the workloads are
    told apart; the infra container names the namespace only when nothing else
    does. A process whose cgroup names the container this gather runs in is
    the host's, not another container's: inside a container, every process's
    cgroup path holds the container's own id.
    """
    container, members = None, {}
    for pid in ns.pids:
        fd = containers.open_process(pid, owners.PROC, ns.inode)
        if fd is None:
            continue  # gone, or its pid is another process's by now
        try:
            text = containers.read_at(fd, 'cgroup')
        except OSError:
            continue
        finally:
            os.close(fd)
        ref = containers.from_cgroup(text)
        if ref is None or ref[1] == own_id:
            continue
        made_by_root = containers.root_made(text, ref[1], catalog.cgroup_mounts())
        if made_by_root is not True:
            # A cgroup a user could name (or one whose maker cannot be told): the id it names may be anyone's,
            # so nothing is looked up by it.
            container = containers.rootless(ref[0], ref[1])
            if made_by_root is None and unverified is not None:
                unverified.append('%s %s' % (ref[0], ref[1][:12]))
            break
        if catalog.is_sandbox(*ref):
            if container is None:
                container = catalog.describe(*ref)
            continue
        members[pid] = catalog.describe(*ref)
        if ref[2] is None:
            break  # not in a pod: the namespace is this container's
    if members:
        container = next(iter(members.values()))
    if container is None:
        container = _conmon_container(ns, catalog)
    return container, members


def _conmon_container(ns, catalog):
    """The podman container of a namespace whose processes' cgroups name none (rootless, no systemd)."""
    for pid in ns.pids:
        found = containers.conmon_parent(pid, owners.PROC, ns.inode)
        if found is not None:
            cid, by_root = found
            # root's conmon is rootful podman with cgroups disabled: root's own files name it.
            return catalog.describe('podman', cid) if by_root else containers.rootless('podman', cid)
    return None


def _other_namespaces(own, protocols, families, warnings):
    """[(inode, records, ifnames, container, addresses)] of every other network namespace, a summary, and
    {inode: {pid: container}} for pods whose namespace holds several workload containers."""
    found, unreadable, unmounted = netns.discover()
    others = [ns for inode, ns in sorted(found.items()) if inode != own]
    got = netns.collect_each(others, protocols, families, with_addresses=True)
    catalog = containers.Catalog()
    out = []
    summary = []
    failed = []
    pod_members = {}
    own_id = _own_container_id()
    unverified = []
    for ns in others:
        records, addresses, names, error = got.get(ns.inode) or ([], set(), {}, 'not read (the reader stopped)')
        container, members = _namespace_containers(ns, catalog, own_id, unverified)
        if len({c['id'] for c in members.values()}) > 1:
            # A pod: several workloads share the infra's namespace. Each listener is named after the container
            # of its owning process (below); one whose owner is unknown after the pod only, not a guess.
            first = next(iter(members.values()))
            container = make_container(first['runtime'], pod=first['pod'])
            pod_members[ns.inode] = members
        if container is None:
            # Every listener outside the host's namespace says so (policy, remediation and reports rely on it).
            container = make_container('netns', name=ns.named)
        summary.append({'netns': ns.inode, 'container': container, 'entered': error is None, 'error': error,
                        'processes': len(ns.pids), 'listeners': sum(len(recs) for _p, _f, recs in records)})
        if error is not None:
            failed.append('%d (%s)' % (ns.inode, _describe(container, ns)) + ': ' + error)
            continue
        out.append((ns.inode, records, names, container, addresses))
    if failed:
        why = '' if os.geteuid() == 0 else ' (this run is not root: entering a namespace needs CAP_SYS_ADMIN)'
        warnings.append('namespaces=all: %d of %d other network namespaces could not be read%s, so their listeners '
                        'are missing: %s' % (len(failed), len(others), why, '; '.join(failed)))
    if unverified:
        warnings.append('namespaces=all: %d containers are named by their id only (%s): this gather cannot see '
                        'their cgroups in its own cgroup hierarchies (it runs in another cgroup or mount namespace), '
                        'so it cannot tell that root made them, and a name or image, which container rules match, '
                        'is never taken from a cgroup a user could have named' % (len(unverified), ', '.join(unverified)))
    if unmounted:
        # Said, not counted as a failure: a namespace that is gone has no listeners, but one mounted where this
        # gather cannot see it (another mount namespace) and used by no process would be missed.
        warnings.append('namespaces=all: %d named network namespace files have no namespace mounted on them here '
                        '(left behind by a namespace that is gone, or mounted in another mount namespace), so they '
                        'were not read: %s' % (len(unmounted), ', '.join(unmounted)))
    if unreadable:
        warnings.append('namespaces=all: the network namespace of %d processes could not be read (ptrace access '
                        'to /proc/PID/ns/net was refused), so namespaces only they use are missing' % unreadable)
    return out, summary, pod_members


def _describe(container, ns):
    if container is None:
        return 'pid %d' % ns.pids[0] if ns.pids else 'no process'
    return '%s %s' % (container['runtime'], container['name'] or (container['id'] or '')[:12])


def _gather(protocols, families, include_loopback, collector, runner, namespaces, facts):
    protocols = _choices('protocols', protocols, ('tcp', 'udp'))
    families = _choices('families', families, ('ipv4', 'ipv6'))
    if collector not in COLLECTORS:
        raise GatherError('collector: unknown value %r (choose from %s)' % (collector, ', '.join(COLLECTORS)))
    if not isinstance(include_loopback, bool):
        raise GatherError('include_loopback: expected a boolean, got %r' % (include_loopback,))
    if namespaces not in NAMESPACES:
        raise GatherError('namespaces: unknown value %r (choose from %s)' % (namespaces, ', '.join(NAMESPACES)))
    if not isinstance(facts, bool):
        raise GatherError('facts: expected a boolean, got %r' % (facts,))

    warnings = []
    own = netns_inode()
    records, used = collect(protocols, families, collector, warnings)
    default_v6only = None
    if used == 'procfs':
        default_v6only = procfs.read_int('/proc/sys/net/ipv6/bindv6only', 0) == 1
    sources = [(own, records, {}, None, None)]
    del records
    summary = None
    pod_members = {}
    if namespaces == 'all':
        others, summary, pod_members = _other_namespaces(own, protocols, families, warnings)
        sources.extend(others)

    # The process table holds exactly the owners of listed sockets: a socket dropped below as
    # gone had no owner. The owner pass runs on the raw records, before any listener exists, and each record and
    # its owners are dropped as its listener is built: at tens of thousands of sockets the
    # peak memory is these structures, so they never all live at once. Address strings are
    # shared, and loopback is dropped before the costly owner pass.
    ntop = socket.inet_ntop
    addresses = {}
    inodes = []
    for _ns, groups, _names, _container, _addrs in sources:
        for _protocol, family, recs in groups:
            for index, rec in enumerate(recs):
                raw = rec[1]
                address = addresses.get(raw)
                if address is None:
                    address = addresses[raw] = ntop(rec[0], raw)
                if not include_loopback and classify(address, family) == 'loopback':
                    recs[index] = None
                elif rec[5]:
                    inodes.append(rec[5])

    wanted_ns = {own} if namespaces == 'current' and own is not None else None
    by_inode, scan = owners.socket_owners(inodes, netns=wanted_ns)
    del inodes
    procs = owners.processes(sorted({pid for pids in by_inode.values() for pid in pids}), start_ticks=scan.start_ticks)
    table = {str(pid): proc for pid, proc in procs.items()}

    socket_units = {}
    # PID 1 may be tini or the application itself in a container: ask systemctl only when
    # systemd runs this host, and test that the way systemd does (sd_booted()).
    if 1 in procs and any(1 in pids for pids in by_inode.values()) and os.path.isdir(systemd.BOOTED):
        socket_units, error = systemd.list_sockets(runner)
        if error:
            warnings.append('socket units of PID 1 are unknown: %s' % error)

    listeners = []
    unowned = []
    shared = {}
    for ns_inode, groups, names, container, _addrs in sources:
        here = ns_inode == own
        members = pod_members.get(ns_inode)
        for protocol, family, recs in groups:
            for index, rec in enumerate(recs):
                if rec is None:
                    continue  # loopback, left out
                recs[index] = None
                _af, raw, port, ifindex, uid, inode, v6only = rec
                address = addresses[raw]
                if family == 'ipv6' and v6only is None:
                    v6only = default_v6only
                if not ifindex:
                    scope = None
                elif here:
                    scope = netlink.ifname(ifindex, names)
                else:
                    scope = names.get(ifindex) or str(ifindex)
                listener = make_compact_listener(protocol, family, address, port, v6only=v6only, inode=inode,
                                                 uid=uid, netns=ns_inode, scope=scope)
                if container is not None:
                    listener['container'] = container
                listeners.append(listener)
                plist = []
                for pid in by_inode.pop(inode, ()):  # a socket inode is unique host-wide
                    proc = procs.get(pid)
                    if proc is None:
                        continue  # exited mid-scan: no ghost owners
                    if pid == 1 and socket_units and here:
                        units = systemd.lookup(socket_units, protocol, address, port)
                        if units:
                            proc = dict(proc, unit=units[0], services=sorted(set(units)))
                    plist.append(proc)
                if members:
                    owner = next((members[p['pid']] for p in plist if p['pid'] in members), None)
                    if owner is not None:
                        listener['container'] = owner
                if plist:
                    set_owners(listener, plist, table, shared)
                elif inode:
                    unowned.append(listener)
            recs[:] = []
    del addresses, by_inode, shared

    if unowned:
        # A socket closed between the dump and the fd pass has no owner; it is gone, so drop it.
        # (Only this namespace is dumped again: another one's unowned sockets stay listed.)
        live = _live_inodes(protocols, families, used)
        if live is not None:
            gone = {id(lst) for lst in unowned if lst['netns'] == own and lst['inode'] not in live}
            if gone:
                listeners = [lst for lst in listeners if id(lst) not in gone]
                unowned = [lst for lst in unowned if id(lst) not in gone]
    listeners.sort(key=sort_key)
    if namespaces == 'all':
        _link_published(listeners, table, sources, own, runner)

    privileged = os.geteuid() == 0
    if unowned:
        warnings.append(_unowned_warning(len(unowned), len(listeners), privileged, scan))
    if used == 'procfs' and any(lst['family'] == 'ipv6' and lst['exposure'] == 'wildcard' for lst in listeners):
        warnings.append('/proc/net does not show IPV6_V6ONLY per socket: dual_stack of IPv6 wildcard '
                        'listeners assumes the host default net.ipv6.bindv6only=%d'
                        % (1 if default_v6only else 0))

    result = {
        'listeners': listeners,
        'processes': table,
        'collector': used,
        'attribution_complete': not unowned,
        'privileged': privileged,
        'unattributed': len(unowned),
        'netns': own,
        'ephemeral_range': procfs.read_range(),
        'platform': 'linux',
        'warnings': warnings,
    }
    if summary is not None:
        result['namespaces'] = summary
    if facts:
        result['ansible_facts'] = compat_facts(expand(result))
    return result


def _unowned_warning(unowned, total, privileged, scan):
    """The sentence that says why ``unowned`` sockets have no owner, blaming what really stood in the way."""
    if not privileged:
        reason = ('this run is not privileged (uid %d) and sees only its own processes; run with '
                  'become: true for complete attribution' % os.geteuid())
    elif scan.ptrace_denied:
        lacks = owners.has_capability(owners.CAP_SYS_PTRACE) is False
        reason = ('root could not read the fd tables of %d processes: the kernel\'s ptrace access check refused '
                  '(readlink /proc/PID/fd/N: EACCES)%s'
                  % (scan.ptrace_denied, ', because this root lacks CAP_SYS_PTRACE: grant it (for example podman run --cap-add SYS_PTRACE)' if lacks else
                     ' although this root has CAP_SYS_PTRACE (processes of a user namespace it does not own, '
                     'or a security module)'))
    elif scan.unreadable:
        reason = ('the fd tables of %d processes could not be opened (hidepid on /proc, or a security module)'
                  % scan.unreadable)
    else:
        reason = ('their processes are not visible here (a process outside this PID namespace, '
                  'or an owner that exited mid-scan)')
    if privileged and scan.ptrace_denied and scan.unreadable:
        reason += '; the fd tables of %d more could not be opened (hidepid?)' % scan.unreadable
    return '%d of %d listening sockets have no owning process: %s.' % (unowned, total, reason)


def _process_netns(pid):
    try:
        return netns.inode_of(os.readlink('%s/%s/ns/net' % (owners.PROC, pid)))
    except OSError:
        return None


def _link_published(listeners, table, sources, own, runner):
    """Link host ports published by forwarders or DNAT to the container listeners they reach."""
    # Container address -> its namespace. An address two namespaces share, or one the host has too (rootless
    # pasta copies the host's addresses into the container), names no single container: a rule to it is not
    # linked rather than linked to whichever namespace came first.
    by_ip, shared = {}, set()
    for ns_inode, _recs, _names, _container, addrs in sources:
        for ip in addrs or ():
            if ns_inode == own or ip.startswith('127.'):
                continue
            if by_ip.setdefault(ip, ns_inode) != ns_inode:
                shared.add(ip)
    shared.update(netns.own_addresses())  # this thread is in the host's namespace
    for ip in shared:
        by_ip.pop(ip, None)
    targets = {}
    for lst in listeners:
        if lst['netns'] != own:
            targets.setdefault((lst['netns'], lst['protocol'], lst['port']), []).append(lst)
    container_ns, claimed_twice = {}, set()
    for lst in listeners:
        record = lst.get('container') or {}
        # Only records root's files named: a rootless record's id is its user's choice, and may be the id of
        # root's container (neither taking nor sharing its link).
        if record.get('id') and (record.get('name') or record.get('image')) \
                and container_ns.setdefault(record['id'], lst['netns']) != lst['netns']:
            claimed_twice.add(record['id'])  # one container is one namespace: then it names neither
    for cid in claimed_twice:
        del container_ns[cid]
    # No container address to reach, no DNAT rule can reach one: iptables and nft are not run.
    rules = containers.dnat_rules(runner) if by_ip else []
    catalog = containers.Catalog()

    def reach(ns_inode, protocol, ip, port):
        """The listener that takes traffic to ip:port: one bound to that address, else a wildcard of its family."""
        candidates = targets.get((ns_inode, protocol, port), ())
        for lst in candidates:
            if lst['address'] == ip:
                return lst
        ipv6 = ':' in (ip or '')
        for lst in candidates:
            if lst['exposure'] != 'wildcard':
                continue
            # [::] takes IPv6, and IPv4 too when dual-stack (only an IPv6 listener is); 0.0.0.0 takes IPv4 only.
            if lst['family'] == ('ipv6' if ipv6 else 'ipv4') or (not ipv6 and lst['dual_stack']):
                return lst
        return None

    def publish(target, host, via):
        entry = {'address': host['address'], 'port': host['port'], 'protocol': host['protocol'], 'via': via,
                 'netns': own}
        seen = target.setdefault('published', [])
        if not any((e['protocol'], e['port'], e['address']) == (entry['protocol'], entry['port'], entry['address'])
                   for e in seen):
            seen.append(entry)

    for lst in listeners:
        if lst['netns'] != own:
            continue
        for pid in lst['pids']:
            proc = table.get(str(pid)) or {}
            name = os.path.basename(proc.get('name') or '')
            if name in ('docker-proxy', 'conmon') and not containers.root_forwarder(pid, name, owners.PROC):
                continue  # a rootful runtime's docker-proxy and conmon are root's; anyone can take their names
            fwd = containers.forwarder(proc.get('name'), proc.get('cmdline'))
            if fwd is None:
                continue
            ip, port = fwd['address'], fwd['port']
            ns_inode = by_ip.get(ip) if ip else container_ns.get(fwd['container_id'])
            if fwd['via'] == 'rootlessport':
                # A userland proxy, no DNAT rule: it runs in the container's namespace, holding the host's
                # socket it made before it entered, and its user's libpod state says which port it serves.
                ns_inode = _process_netns(pid)
                ns_inode = None if ns_inode == own else ns_inode
                port = catalog.rootless_port(proc.get('uid'), lst['protocol'], lst['address'], lst['port']) \
                    if ns_inode is not None and isinstance(proc.get('uid'), int) else None
            elif port is None:
                for (proto, daddr, dport, to_ip, to_port), _via in rules:
                    if proto == lst['protocol'] and dport == lst['port'] \
                            and containers.destination_covers(daddr, lst['address']) \
                            and (ns_inode is None or by_ip.get(to_ip) == ns_inode):
                        ip, port, ns_inode = to_ip, to_port, by_ip.get(to_ip)
                        break
            target = reach(ns_inode, lst['protocol'], ip, port) if ns_inode and port else None
            lst['forwards_to'] = {'netns': ns_inode, 'address': ip, 'port': port,
                                  'container': target.get('container') if target else None}
            if target is not None:
                publish(target, lst, fwd['via'])
            break
    for (proto, daddr, dport, to_ip, to_port), via in rules:
        ns_inode = by_ip.get(to_ip)
        target = reach(ns_inode, proto, to_ip, to_port) if ns_inode else None
        if target is not None:
            # A rule without a destination address takes every address of its family.
            publish(target, {'address': daddr or ('::' if ':' in to_ip else '0.0.0.0'), 'port': dport,
                             'protocol': proto}, via)
