# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Every network namespace of the host, and a way to read sockets inside each.

Namespaces are found where they are kept alive: the ns/net link of every
process (containers, pods, sandboxes) and the bind mounts in /run/netns (named
`ip netns`) and /run/docker/netns. Sockets are read by a short-lived thread that
setns()es into each namespace in turn and dumps sock_diag there: a network
namespace belongs to a thread, so the caller's own thread never leaves its own.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import threading

from . import netlink

PROC = '/proc'
NAMED_DIRS = ('/run/netns', '/run/docker/netns')
CLONE_NEWNET = 0x40000000
SIOCGIFCONF = 0x8912


def inode_of(link):
    """4026531840 from 'net:[4026531840]', else None."""
    if link.startswith('net:[') and link.endswith(']'):
        return int(link[5:-1])
    return None


class Namespace(object):
    """One network namespace: how to open it and what names it."""

    def __init__(self, inode):
        self.inode = inode
        self.path = None       # a path that open()s the namespace
        self.named = None      # `ip netns` name (or docker sandbox file name)
        self.named_dir = None
        self.pids = []         # processes whose ns/net is this namespace

    def __repr__(self):
        return 'Namespace(%r, named=%r, pids=%d)' % (self.inode, self.named, len(self.pids))


def _nsfs_device(proc=PROC):
    """The device every namespace file is on (nsfs); None when it cannot be told, so no entry is skipped."""
    try:
        return os.stat('%s/self/ns/net' % proc).st_dev
    except OSError:
        return None


def shown(name):
    """A file name as JSON-safe text: bytes that are not UTF-8 (lone surrogates from os.listdir) become \\xNN.

    Kept out of the result as surrogates: ansible-core 2.19 refuses a module result holding one (the whole
    task fails), and syslog refuses them in a warning on 2.17 and 2.18. The namespace is still opened by
    its real path.
    """
    return os.fsencode(name).decode('utf-8', 'backslashreplace')


def discover(proc=PROC, named_dirs=NAMED_DIRS, netns_of=None):
    """(namespaces by inode, unreadable process count, named entries with no namespace mounted on them).

    ``netns_of`` (pid -> inode) is what an owner pass already read; only the rest is read here.
    """
    found = {}
    unreadable = 0
    unmounted = []
    nsfs = _nsfs_device(proc)
    for directory in named_dirs:
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(directory, entry)
            try:
                stat = os.stat(path)
            except OSError:
                continue  # removed meanwhile
            if nsfs is not None and stat.st_dev != nsfs:
                # No namespace is mounted on it here: its namespace is gone (docker leaves such files behind a
                # container that failed to start), or it is mounted in a mount namespace this one does not see.
                unmounted.append(shown(path))
                continue
            inode = stat.st_ino
            ns = found.get(inode) or found.setdefault(inode, Namespace(inode))
            if ns.named is None:
                ns.named, ns.named_dir, ns.path = shown(entry), directory, path
    netns_of = dict(netns_of or {})
    try:
        names = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        names = []
    for name in names:
        pid = int(name)
        inode = netns_of.get(pid)
        if inode is None:
            try:
                inode = inode_of(os.readlink('%s/%s/ns/net' % (proc, name)))
            except PermissionError:
                unreadable += 1
                continue
            except OSError:
                continue  # exited
        if inode is None:
            continue
        ns = found.get(inode) or found.setdefault(inode, Namespace(inode))
        ns.pids.append(pid)
        if ns.path is None:
            ns.path = '%s/%s/ns/net' % (proc, name)
    for ns in found.values():
        ns.pids.sort()
    return found, unreadable, unmounted


def _setns(fd):
    # ctypes only where a namespace is entered: the default gather does without its memory.
    import ctypes  # pylint: disable=import-outside-toplevel
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def ipv4_addresses():
    """IPv4 addresses of this thread's network namespace (SIOCGIFCONF)."""
    import ctypes  # pylint: disable=import-outside-toplevel
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        size = 40 * 128
        buf = ctypes.create_string_buffer(size)
        ifconf = struct.pack('iL', size, ctypes.addressof(buf))
        length = struct.unpack('iL', fcntl.ioctl(sock.fileno(), SIOCGIFCONF, ifconf))[0]
        data = buf.raw[:length]
        return {socket.inet_ntoa(data[i + 20:i + 24]) for i in range(0, len(data), 40)}
    finally:
        sock.close()


IFA_F_DADFAILED = 0x08  # linux/if_addr.h
IFA_F_TENTATIVE = 0x40


def ipv6_addresses(path='/proc/thread-self/net/if_inet6'):
    """Global and unique-local IPv6 addresses of this thread's network namespace.

    ``thread-self``, not ``self``: the namespace was entered by this thread only.
    Loopback and link-local addresses are left out (no published port is
    forwarded to them), and so are addresses still tentative or that failed
    duplicate detection. A kernel without IPv6 has no such file: no addresses.
    """
    found = set()
    try:
        # Bytes, split at \n alone: the last field is an interface name, which the namespace's owner (any user,
        # in a namespace of their own) may make any bytes, \xff or \x1c included.
        with open(path, 'rb') as handle:
            lines = handle.read().split(b'\n')
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or len(fields[0]) != 32:
            continue
        if fields[3] in (b'10', b'20'):  # scope host (loopback), scope link
            continue
        try:
            if len(fields) > 4 and int(fields[4], 16) & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
                continue  # not (or never) usable: duplicate address detection has not passed
            found.add(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[0].decode('ascii'))))
        except (ValueError, OSError):
            continue
    return found


def own_addresses():
    """Every address of this thread's network namespace that a port can be forwarded to, IPv4 and IPv6.

    An interface table that cannot be read gives no IPv4 addresses, not an error: the
    addresses only serve to link published ports, and an unlinked port says so.
    """
    try:
        found = ipv4_addresses()
    except OSError:
        found = set()
    return found | ipv6_addresses()


def collect_each(namespaces, protocols, families, with_addresses=False):
    """Sockets of each namespace: {inode: (records, addresses, ifnames, error)}.

    records are netlink records (protocol, family, rec); ifnames maps an ifindex to
    its name in that namespace; error is a message when the namespace could not be
    entered or read (records then empty). Runs in one thread of its own.
    """
    out = {}

    def work():
        for ns in namespaces:
            try:
                read_one(ns)
            except Exception as exc:  # pylint: disable=broad-except
                # Whatever one namespace holds (its owner may be any user) costs that namespace only, and is said.
                out[ns.inode] = ([], set(), {}, 'could not be read: %s: %s' % (type(exc).__name__, exc))

    def read_one(ns):
        try:
            fd = os.open(ns.path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        except OSError as exc:
            out[ns.inode] = ([], set(), {}, 'cannot open %s: %s' % (ns.path, exc.strerror))
            return
        try:
            _setns(fd)
        except OSError as exc:
            reason = exc.strerror
            if exc.errno == errno.EPERM:
                reason += ' (entering a network namespace needs CAP_SYS_ADMIN)'
            out[ns.inode] = ([], set(), {}, 'cannot enter: %s' % reason)
            return
        finally:
            os.close(fd)
        try:
            records = netlink.collect(protocols, families)
        except netlink.NetlinkError as exc:
            out[ns.inode] = ([], set(), {}, 'sock_diag: %s' % exc.strerror)
            return
        names = {}
        for _p, _f, recs in records:
            for rec in recs:
                netlink.ifname(rec[3], names)
        addresses = own_addresses() if with_addresses else set()
        out[ns.inode] = (records, addresses, names, None)

    thread = threading.Thread(target=work, name='hostsec-netns')
    thread.start()
    thread.join()
    return out
