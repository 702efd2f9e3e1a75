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

from .schema import make_process

PROC = '/proc'
COMM_MAX = 15  # TASK_COMM_LEN - 1: longer names are cut by the kernel
# The per-user systemd instance: units below it are the user's own, never the system's.
USER_MANAGER = re.compile(r'^user@(\d+)\.service$')
# The kernel ends each line of /proc/PID/cgroup with \n alone and lets a cgroup's name hold any other byte: a
# name holding \r (or another separator str.splitlines() knows) would plant a line of its own.
CGROUP_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
UNIT_SUFFIXES = ('.service', '.scope', '.socket', '.mount', '.swap', '.device', '.target', '.timer')
# A /proc/PID directory fd ties every read through it to that one process; O_PATH: the fd only
# names the directory (no read permission needed on it).
PROCESS_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, 'O_PATH', 0) | getattr(os, 'O_CLOEXEC', 0)


def text(data):
    """Bytes from /proc as JSON-safe text: bytes that are not UTF-8 become \\xNN."""
    return data.decode('utf-8', 'backslashreplace')


class OwnerScan(object):
    """What the fd pass could not read, for the warning that explains unattributed sockets.

    unreadable     processes whose /proc/PID/fd could not be opened or listed (another user's
                   process without privileges, or hidepid on /proc)
    ptrace_denied  processes whose fd table was listed but whose fd links gave EACCES: the
                   kernel's ptrace access check refused (root without CAP_SYS_PTRACE)
    skipped        processes left out of the first pass because they are in a network
                   namespace none of the wanted sockets belongs to
    second_pass    True when sockets left unowned sent the pass over the skipped processes too
    netns_of       pid -> network namespace inode, for every process whose ns/net link was read
    start_ticks    pid -> start time (clock ticks since boot) of each owner, read through the same
                   /proc/PID directory fd as its fd table: process details read later must be
                   this process's, not those of another process that took its pid meanwhile
    """

    def __init__(self):
        self.unreadable = 0
        self.ptrace_denied = 0
        self.skipped = 0
        self.second_pass = False
        self.netns_of = {}
        self.start_ticks = {}


def socket_owners(inodes, proc=PROC, netns=None):
    """Map each wanted socket inode to the sorted PIDs holding it; returns (owners, OwnerScan).

    ``netns``, a set of network namespace inodes, lets the pass skip processes in other
    namespaces: a socket is made in its creator's namespace, so the processes there hold
    nearly all of them. A process can still hold a socket of another namespace (passed
    over a unix socket, or kept across setns()), so when sockets are left unowned the
    skipped processes are scanned too. Process details are read afterwards, for the owners only.
    """
    scan = OwnerScan()
    wanted = {'socket:[%d]' % inode: inode for inode in inodes if inode}
    if not wanted:
        return {}, scan
    try:
        names = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return {}, scan
    links = {'net:[%d]' % ns for ns in netns} if netns else None
    skipped = []
    owners = _scan_all(proc, names, wanted, scan, links, skipped)
    scan.skipped = len(skipped)
    if skipped and len(owners) < len(wanted):
        scan.second_pass = True
        for inode, pids in _scan_all(proc, skipped, wanted, scan, None, []).items():
            owners.setdefault(inode, []).extend(pids)
    for pids in owners.values():
        pids.sort()
    return owners, scan


def _scan_all(proc, names, wanted, scan, links, skipped):
    # One thread. Two threads splitting the pass (readlink releases the GIL) measured slower at 1,000
    # processes and 60,000 fds: 0.36-0.43 s against 0.48-0.53 s (benchmarks/gather_bench.py, scenario X).
    # Each thread takes the GIL back after every readlink, and the two queue for it.
    owners, counts = {}, []
    _scan(proc, names, wanted, owners, counts, scan, links, skipped)
    scan.unreadable += sum(c[0] for c in counts)
    scan.ptrace_denied += sum(c[1] for c in counts)
    return owners


def _scan(proc, names, wanted, owners, counts, scan, links, skipped):
    """One pass over the fd tables of ``names``: fills owners (inode -> pids), scan.netns_of,
    scan.start_ticks and skipped.

    Each process is entered through one directory fd of /proc/PID, and an owner's
    start time is read through it right after its fd table. Appends
    (unreadable, ptrace_denied) to ``counts``.
    """
    lookup = wanted.get
    readlink = os.readlink
    netns_of, start_ticks = scan.netns_of, scan.start_ticks
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, 'O_CLOEXEC', 0)
    unreadable = ptrace_denied = 0
    for name in names:
        try:
            pfd = os.open('%s/%s' % (proc, name), PROCESS_DIR_FLAGS)
        except OSError:
            continue  # exited since the listing
        try:
            if links is not None:
                try:
                    link = readlink('ns/net', dir_fd=pfd)
                except OSError:
                    link = None  # unreadable (checked again below) or gone
                if link is not None:
                    netns_of[int(name)] = int(link[5:-1])
                    if link not in links:
                        skipped.append(name)
                        continue
            try:
                dfd = os.open('fd', flags, dir_fd=pfd)
            except PermissionError:
                unreadable += 1
                continue
            except OSError:
                continue  # exited since the listing
            pid = None
            try:
                try:
                    fds = os.listdir(dfd)
                except PermissionError:
                    unreadable += 1
                    continue
                except OSError:
                    continue
                for fd in fds:
                    try:
                        inode = lookup(readlink(fd, dir_fd=dfd))
                    except PermissionError:
                        # The listing worked but the link did not: the ptrace access check said no
                        # (root without CAP_SYS_PTRACE). Every other fd would say the same.
                        ptrace_denied += 1
                        break
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
            if pid is not None:
                try:
                    start_ticks[pid] = parse_stat(_read('stat', pfd))[1]
                except (OSError, ValueError, IndexError):
                    pass  # exited meanwhile: left without a start time, so its details are never read
        finally:
            os.close(pfd)
    counts.append((unreadable, ptrace_denied))


def has_capability(bit, proc=PROC):
    """True when this process has capability ``bit`` in its effective set (None if unknown)."""
    try:
        for line in _read(proc + '/self/status').split(b'\n'):
            if line.startswith(b'CapEff:'):
                return bool(int(line.split()[1], 16) >> bit & 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


CAP_SYS_PTRACE = 19


def parse_stat(data):
    """(comm_bytes, starttime_ticks, state) from the bytes of /proc/PID/stat.

    comm may hold spaces, parentheses and newlines, so it runs from the first
    '(' to the last ')'.
    """
    start = data.index(b'(')
    end = data.rindex(b')')
    rest = data[end + 2:].split()
    return data[start + 1:end], int(rest[19]), rest[0].decode('ascii', 'replace')


def _cgroup_paths(data):
    """systemd's candidate cgroup paths from /proc/PID/cgroup: unified ('0::') first, then name=systemd (v1).

    On hybrid hosts and in containers only one of them is systemd's.
    """
    if isinstance(data, bytes):
        data = text(data)
    unified, legacy = [], []
    # Lines end with \n alone; a cgroup's name may hold \r or other separators that would plant a line of its
    # own ('x\r0::nginx.service' under a user's manager), so a text holding a control character names no unit.
    for line in data.split('\n'):
        if CGROUP_CONTROL.search(line):
            return []
        parts = line.split(':', 2)
        if len(parts) != 3:
            continue
        if parts[0] == '0' and parts[1] == '':
            unified.append(parts[2])
        elif parts[1] == 'name=systemd':
            legacy.append(parts[2])
    # Each hierarchy appears once; a second line of one is no cgroup file the kernel wrote.
    return [paths[0].strip() for paths in (unified, legacy) if len(paths) == 1 and paths[0]]


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


def parse_cmdline(data):
    """argv as a list of bytes from /proc/PID/cmdline."""
    if not data:
        return []
    if data.endswith(b'\0'):
        data = data[:-1]
    return data.split(b'\0')


def full_name(comm, exe, argv, root=None, dir_fd=None):
    """Program name with the kernel's 15-byte comm cut repaired from exe or argv[0].

    ``argv[0]`` may be the path that was run (a symlink, so unlike exe it names the
    program as started) or a title the program wrote over it ('postgres: writer').
    The whole of it wins when it names a file that exists (under ``root``, the
    process's /proc/PID/root, for an absolute path; relative to ``dir_fd`` when
    given), so a name with a space after the 15th byte is kept whole; otherwise
    only its part before the first space counts.
    """
    if len(comm) >= COMM_MAX:
        for cand in _longer_names(exe, argv, root, dir_fd):
            if len(cand) > len(comm) and cand.startswith(comm):
                return cand
    return comm


def _longer_names(exe, argv, root, dir_fd):
    """Candidates for a cut comm, best first, made one at a time.

    argv[0] is the process's own text: it is looked up on disk (which a FUSE
    mount it points into could make slow) only when exe did not already name
    the program.
    """
    if exe:
        yield os.path.basename(exe[:-10] if exe.endswith(b' (deleted)') else exe)
    if argv:
        whole = argv[0]
        if b' ' in whole and _exists(whole, root, dir_fd):
            yield os.path.basename(whole)
        yield os.path.basename(whole.split(b' ')[0])
        yield os.path.basename(whole)


def _exists(path, root, dir_fd=None):
    """Whether argv[0] names a file as the process sees it.

    An absolute path is looked up under the process's root, a relative one under
    its working directory (``cwd`` beside ``root`` in /proc/PID), never in the
    gatherer's own filesystem view. Without ``root`` the path is taken as is.
    """
    if b'/' not in path:
        return False
    if root is None:
        where = path
    elif path.startswith(b'/'):
        # normpath first: '/..' must not climb out of the process's root (a symlink inside it still
        # can; only the name is at stake, and the process chooses its comm and argv anyway).
        where = root + os.path.normpath(path)
    else:
        where = os.path.join(os.path.dirname(root), b'cwd', path)
    try:
        os.lstat(where, dir_fd=dir_fd)
    except (OSError, ValueError):  # ValueError: a NUL byte cannot be in a path
        return False
    return True


def _read(path, dir_fd=None):
    # os.open/os.read: a few thousand small /proc files, where io.open's layers cost more than the read.
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0), dir_fd=dir_fd)
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


def process_info(pid, ctx, start_ticks=None):
    """The schema process record for one PID, or None when it has exited.

    Every field is read through one directory fd of /proc/PID. The kernel ties
    that directory to the process it was opened for: if the process exits and its
    pid is reused meanwhile, the reads fail instead of mixing two processes'
    fields (one's name, the other's user) into one record. ``start_ticks``, the
    start time the owner pass saw, must match, so a process that took the pid of
    a socket's owner since that pass is not taken for it.
    """
    try:
        dir_fd = os.open('%s/%d' % (ctx.proc, pid), PROCESS_DIR_FLAGS)
    except OSError:
        return None
    try:
        return _process_info(pid, dir_fd, ctx, start_ticks)
    finally:
        os.close(dir_fd)


def _alive(dir_fd):
    """(start ticks, state) from /proc/PID/stat through ``dir_fd``, or None when it is gone or a zombie."""
    try:
        _comm, ticks, state = parse_stat(_read('stat', dir_fd))
    except (OSError, ValueError, IndexError):
        return None
    return None if state in ('Z', 'X') else ticks


def _process_info(pid, dir_fd, ctx, start_ticks=None):
    try:
        comm, ticks, state = parse_stat(_read('stat', dir_fd))
    except (OSError, ValueError, IndexError):
        return None
    if state in ('Z', 'X') or (start_ticks is not None and ticks != start_ticks):
        return None
    try:
        argv = parse_cmdline(_read('cmdline', dir_fd))
    except OSError:
        argv = []
    try:
        exe = os.readlink(b'exe', dir_fd=dir_fd)
    except OSError:
        exe = None  # another user's process, a kernel thread, or gone
    # The owner of the /proc/PID directory is the effective uid, even for a non-dumpable
    # process whose other entries the kernel makes root's (task_dump_owner() special-cases
    # the 0555 directory): one stat() instead of generating the whole status file.
    try:
        uid = os.fstat(dir_fd).st_uid
    except OSError:
        return None
    try:
        unit, services = cgroup_units(_read('cgroup', dir_fd))
    except OSError:
        unit, services = None, []
    # Read last: a process that exited meanwhile (gone, or a zombie whose exe and cmdline read empty)
    # fails here, so its record is left out whole rather than judged with fields missing.
    if _alive(dir_fd) != ticks:
        return None
    return make_process(
        pid=pid,
        name=text(full_name(comm, exe, argv, b'root', dir_fd)),
        exe=text(exe) if exe is not None else None,
        cmdline=' '.join(text(arg) for arg in argv) if argv else None,
        user=ctx.user(uid),
        uid=uid,
        start_time=ctx.start_time(ticks),
        unit=unit,
        services=services,
    )


def processes(pids, ctx=None, start_ticks=None):
    """Process records by PID for the PIDs still alive.

    With ``start_ticks`` (OwnerScan.start_ticks), a PID is read only if it is
    still the process the owner pass saw: one without a start time there had
    already exited.
    """
    ctx = ctx or Context()
    out = {}
    for pid in pids:
        expected = start_ticks.get(pid) if start_ticks is not None else None
        if start_ticks is not None and expected is None:
            continue
        info = process_info(pid, ctx, expected)
        if info is not None:
            out[pid] = info
    return out
