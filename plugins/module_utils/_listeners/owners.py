# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Which processes own which sockets, and who those processes are.

One pass over /proc/*/fd maps socket inodes to PIDs; details (name, exe,
cmdline, user, start time, systemd unit) are then read once per PID that owns
a listener, never once per socket. Processes may exit at any point: whatever
vanished is left out rather than reported half-read.
"""

from __future__ import annotations

import datetime
import os
import pwd
import re
import threading

from .schema import make_process

PROC = '/proc'
COMM_MAX = 15  # TASK_COMM_LEN - 1: longer names are cut by the kernel
# The per-user systemd instance: units below it are the user's own, never the system's.
USER_MANAGER = re.compile(r'^user@(\d+)\.service$')
UNIT_SUFFIXES = ('.service', '.scope', '.socket', '.mount', '.swap', '.device', '.target', '.timer')


def text(data):
    """Bytes from /proc as JSON-safe text: bytes that are not UTF-8 become \\xNN."""
    return data.decode('utf-8', 'backslashreplace')


# Above this many processes the fd pass runs in two threads: readlink releases the
# GIL, so the kernel side of the pass (most of its cost) overlaps.
THREADED_ABOVE = 400


def socket_owners(inodes, proc=PROC):
    """Map each wanted socket inode to the sorted PIDs holding it.

    Returns (owners, denied): denied counts processes whose fd table could not
    be read (another user's process without privileges, or hidepid). Process
    details are read afterwards, in one thread: reading them inside the threaded
    pass measured slower (their parsing holds the GIL).
    """
    wanted = {'socket:[%d]' % inode: inode for inode in inodes if inode}
    if not wanted:
        return {}, 0
    try:
        names = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return {}, 0
    if len(names) > THREADED_ABOVE and (os.cpu_count() or 1) > 1:
        parts = [(names[0::2], {}, []), (names[1::2], {}, [])]
        threads = [threading.Thread(target=_scan, args=(proc, part, wanted, found, denied))
                   for part, found, denied in parts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        owners, denied = parts[0][1], parts[0][2]
        for inode, pids in parts[1][1].items():
            owners.setdefault(inode, []).extend(pids)
        denied.extend(parts[1][2])
    else:
        owners, denied = {}, []
        _scan(proc, names, wanted, owners, denied)
    for pids in owners.values():
        pids.sort()
    return owners, len(denied)


def _scan(proc, names, wanted, owners, denied):
    """One pass over the fd tables of ``names``: fills owners (inode -> pids) and denied."""
    lookup = wanted.get
    readlink = os.readlink
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, 'O_CLOEXEC', 0)
    for name in names:
        try:
            dfd = os.open('%s/%s/fd' % (proc, name), flags)
        except PermissionError:
            denied.append(name)
            continue
        except OSError:
            continue  # exited since the listing
        pid = None
        try:
            try:
                fds = os.listdir(dfd)
            except PermissionError:
                denied.append(name)
                continue
            except OSError:
                continue
            for fd in fds:
                try:
                    inode = lookup(readlink(fd, dir_fd=dfd))
                except OSError:
                    continue  # closed since the listing
                if inode is not None:
                    if pid is None:
                        pid = int(name)
                    pids = owners.get(inode)
                    if pids is None:
                        owners[inode] = [pid]
                    elif pid not in pids:
                        pids.append(pid)
        finally:
            os.close(dfd)


def parse_stat(data):
    """(comm_bytes, starttime_ticks, state) from the bytes of /proc/PID/stat.

    comm may hold spaces, parentheses and newlines, so it runs from the first
    '(' to the last ')'.
    """
    start = data.index(b'(')
    end = data.rindex(b')')
    rest = data[end + 2:].split()
    return data[start + 1:end], int(rest[19]), rest[0].decode('ascii', 'replace')


def parse_status_uid(data):
    """Effective uid from /proc/PID/status bytes, or None."""
    for line in data.split(b'\n'):
        if line.startswith(b'Uid:'):
            fields = line.split()
            return int(fields[2] if len(fields) > 2 else fields[1])
    return None


def _cgroup_paths(data):
    """systemd's candidate cgroup paths from /proc/PID/cgroup: unified ('0::') first, then name=systemd (v1).

    On hybrid hosts and in containers only one of them is systemd's.
    """
    if isinstance(data, bytes):
        data = text(data)
    unified = legacy = None
    for line in data.splitlines():
        parts = line.split(':', 2)
        if len(parts) != 3:
            continue
        if parts[0] == '0' and parts[1] == '':
            unified = parts[2]
        elif parts[1] == 'name=systemd':
            legacy = parts[2]
    return [path.strip() for path in (unified, legacy) if path]


def _first_unit(parts):
    """Index of the first unit in path components, skipping slices (as systemd's cg_path_get_unit), or None.

    Only the first unit counts: whatever sits below it is that unit's own (delegated)
    sub-tree, where its owner may name cgroups anything, 'postgresql.service' included.
    Components before it that are neither slices nor units are a container's cgroup root.
    """
    for index, part in enumerate(parts):
        if part.endswith(UNIT_SUFFIXES):
            return index
    return None


def cgroup_units(data):
    """(unit, services) of a process from /proc/PID/cgroup content (bytes or text).

    ``unit`` is the system manager's unit, or None. A process of a user manager
    (under user@UID.service) has no system unit: its user unit is reported only in
    ``services`` as 'NAME (user@UID)', a form that is not a valid unit name and
    ends in no unit suffix, so nothing can take it for a system unit to stop.
    """
    for path in _cgroup_paths(data):
        parts = [part for part in path.split('/') if part]
        first = _first_unit(parts)
        if first is None:
            continue
        unit = parts[first]
        match = USER_MANAGER.match(unit)
        if match is None:
            return unit, [unit]
        below = _first_unit(parts[first + 1:])
        if below is None:
            return None, []
        return None, ['%s (user@%s)' % (parts[first + 1 + below], match.group(1))]
    return None, []


def parse_unit(data):
    """The system manager's unit from /proc/PID/cgroup content, or None (see cgroup_units)."""
    return cgroup_units(data)[0]


def parse_cmdline(data):
    """argv as a list of bytes from /proc/PID/cmdline."""
    if not data:
        return []
    if data.endswith(b'\0'):
        data = data[:-1]
    return data.split(b'\0')


def full_name(comm, exe, argv):
    """Program name with the kernel's 15-byte comm cut repaired from exe or argv[0]."""
    if len(comm) >= COMM_MAX:
        candidates = []
        if exe:
            candidates.append(os.path.basename(exe[:-10] if exe.endswith(b' (deleted)') else exe))
        if argv:
            candidates.append(os.path.basename(argv[0].split(b' ')[0]))
            candidates.append(os.path.basename(argv[0]))
        for cand in candidates:
            if len(cand) > len(comm) and cand.startswith(comm):
                return cand
    return comm


def _read(path):
    # os.open/os.read: a few thousand small /proc files, where io.open's layers cost more than the read.
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks)
    finally:
        os.close(fd)


class Context(object):
    """Per-run constants for process details: boot time, clock ticks, user names."""

    def __init__(self, proc=PROC):
        self.proc = proc
        self.hz = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
        self.btime = None
        try:
            for line in _read(proc + '/stat').split(b'\n'):
                if line.startswith(b'btime '):
                    self.btime = int(line.split()[1])
                    break
        except (OSError, ValueError):
            pass
        self.users = {}

    def user(self, uid):
        if uid is None:
            return None
        name = self.users.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self.users[uid] = name
        return name

    def start_time(self, ticks):
        """ISO 8601 UTC start time from starttime in clock ticks since boot."""
        if self.btime is None:
            return None
        stamp = self.btime + ticks / float(self.hz)
        return datetime.datetime.fromtimestamp(int(stamp), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def process_info(pid, ctx):
    """The schema process record for one PID, or None when it has exited."""
    base = '%s/%d/' % (ctx.proc, pid)
    try:
        comm, ticks, state = parse_stat(_read(base + 'stat'))
    except (OSError, ValueError, IndexError):
        return None
    if state in ('Z', 'X'):
        return None
    try:
        argv = parse_cmdline(_read(base + 'cmdline'))
    except OSError:
        argv = []
    try:
        exe = os.readlink((base + 'exe').encode())
    except OSError:
        exe = None  # another user's process, a kernel thread, or gone
    try:
        uid = parse_status_uid(_read(base + 'status'))
    except OSError:
        return None
    try:
        unit, services = cgroup_units(_read(base + 'cgroup'))
    except OSError:
        unit, services = None, []
    return make_process(
        pid=pid,
        name=text(full_name(comm, exe, argv)),
        exe=text(exe) if exe is not None else None,
        cmdline=' '.join(text(arg) for arg in argv) if argv else None,
        user=ctx.user(uid),
        uid=uid,
        start_time=ctx.start_time(ticks),
        unit=unit,
        services=services,
    )


def processes(pids, ctx=None):
    """Process records by PID for the PIDs still alive."""
    ctx = ctx or Context()
    out = {}
    for pid in pids:
        info = process_info(pid, ctx)
        if info is not None:
            out[pid] = info
    return out
