# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Listening sockets from the kernel through NETLINK_SOCK_DIAG (inet_diag).

One dump per (family, protocol), filtered by state in the kernel, so only
listeners cross into Python. Works without privileges. Parsing takes bytes so
it can be tested on messages built in the tests.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
# The kernel's tables changed during the dump: it may have missed or repeated sockets.
NLM_F_DUMP_INTR = 0x10

INET_DIAG_SKV6ONLY = 11

TCP_LISTEN = 10
# A bound UDP socket with no peer sits in TCP_CLOSE (7); a connected one is ESTABLISHED (1).
UDP_UNCONNECTED = 7

STATE_FOR = {'tcp': TCP_LISTEN, 'udp': UDP_UNCONNECTED}
IPPROTO = {'tcp': socket.IPPROTO_TCP, 'udp': socket.IPPROTO_UDP}
AF = {'ipv4': socket.AF_INET, 'ipv6': socket.AF_INET6}

_NLMSGHDR = struct.Struct('=IHHII')
# inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid (48 bytes, zero = any).
_REQ = struct.Struct('=BBBxI48x')
# inet_diag_msg (72 bytes): family, state, timer, retrans, sport(be), dport(be), src[16], dst[16],
# if, cookie[2], expires, rqueue, wqueue, uid, inode. Only the fields used are unpacked.
_MSG = struct.Struct('=BB2x2s2x16s16xI8x12xII')
_RTA = struct.Struct('=HH')

RCVBUF = 1 << 20


class NetlinkError(OSError):
    """sock_diag is unavailable or answered with an error."""


def build_request(family, protocol, seq=1):
    """The dump request for one (family, protocol) as bytes."""
    body = _REQ.pack(AF[family], IPPROTO[protocol], 0, 1 << STATE_FOR[protocol])
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def parse_messages(data, state=None, shared=None):
    """Parse a buffer of netlink messages.

    ``shared`` (a dict kept for one dump) makes equal addresses and ports one object each:
    tens of thousands of sockets share a handful of bind addresses.

    Returns (records, done, interrupted): records are tuples
    (family, address_bytes, port, ifindex, uid, inode, v6only) for sockets in
    ``state`` (every state when None); done is True at NLMSG_DONE; interrupted
    is True when a message carries NLM_F_DUMP_INTR. An NLMSG_ERROR with an error,
    an NLMSG_DONE carrying one, or a malformed message raises NetlinkError.
    """
    records = []
    if shared is None:
        shared = {}
    intern = shared.setdefault
    view = memoryview(data)
    offset = 0
    end = len(data)
    hdr_size = _NLMSGHDR.size
    msg_size = _MSG.size
    interrupted = False
    while offset + hdr_size <= end:
        length, mtype, flags = _NLMSGHDR.unpack_from(view, offset)[:3]
        if length < hdr_size or offset + length > end:
            raise NetlinkError(errno.EPROTO, 'truncated netlink message (length %d at %d)' % (length, offset))
        if flags & NLM_F_DUMP_INTR:
            interrupted = True
        if mtype == NLMSG_DONE:
            # The kernel puts the dump's final status after the header; an old one may omit it.
            if length >= hdr_size + 4:
                _raise_code(struct.unpack_from('=i', view, offset + hdr_size)[0])
            return records, True, interrupted
        if mtype == NLMSG_ERROR:
            if length < hdr_size + 4:
                raise NetlinkError(errno.EPROTO, 'truncated netlink error message (length %d at %d)' % (length, offset))
            _raise_code(struct.unpack_from('=i', view, offset + hdr_size)[0])
            return records, True, interrupted
        if mtype == SOCK_DIAG_BY_FAMILY and length >= hdr_size + msg_size:
            body = offset + hdr_size
            if state is None or view[body + 1] == state:
                family, _state, sport, src, ifindex, uid, inode = _MSG.unpack_from(view, body)
                sport = sport[0] << 8 | sport[1]  # network byte order
                v6only = None
                if family == socket.AF_INET6:
                    attr = body + msg_size
                    attr_end = offset + length
                    while attr + 4 <= attr_end:
                        alen, atype = _RTA.unpack_from(view, attr)
                        if alen < 4:
                            break
                        if atype == INET_DIAG_SKV6ONLY and alen >= 5:
                            v6only = view[attr + 4] != 0
                            break
                        attr += (alen + 3) & ~3
                    address = src
                else:
                    address = src[:4]
                records.append((family, intern(address, address), intern(sport, sport), ifindex, uid, inode, v6only))
        offset += (length + 3) & ~3
    return records, False, interrupted


def _raise_code(code):
    if code < 0:
        raise NetlinkError(-code, 'sock_diag: %s' % os.strerror(-code))


def dump(family, protocol, sock=None, warnings=None):
    """All listening (TCP) or unconnected (UDP) sockets of one family, as parsed records.

    A dump the kernel marks interrupted (sockets changed meanwhile) is run once more;
    if that one is interrupted too its records are kept and ``warnings`` says so.
    """
    own = sock is None
    if own:
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
        except OSError as exc:
            raise NetlinkError(exc.errno, 'cannot open a NETLINK_SOCK_DIAG socket: %s' % exc.strerror)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        except OSError:
            pass
        records, interrupted = _dump_once(sock, family, protocol)
        if interrupted:
            records, interrupted = _dump_once(sock, family, protocol)
        if interrupted:
            records = list(dict.fromkeys(records))  # an interrupted dump may repeat a socket
            if warnings is not None:
                warnings.append('sock_diag: the %s %s dump was interrupted twice by sockets changing meanwhile; '
                                'a listener opened or closed during the run may be missing' % (family, protocol))
        return records
    finally:
        if own:
            sock.close()


def _dump_once(sock, family, protocol):
    """(records, interrupted) of one dump request, read to its end."""
    try:
        sock.sendto(build_request(family, protocol), (0, 0))
    except OSError as exc:
        raise NetlinkError(exc.errno, 'sock_diag request failed: %s' % exc.strerror)
    records = []
    interrupted = False
    state = STATE_FOR[protocol]
    shared = {}
    while True:
        try:
            data = sock.recv(RCVBUF)
        except OSError as exc:
            raise NetlinkError(exc.errno, 'sock_diag receive failed: %s' % exc.strerror)
        if not data:
            raise NetlinkError(errno.EPROTO, 'sock_diag: the kernel closed the dump early')
        chunk, done, chunk_interrupted = parse_messages(data, state, shared)
        records.extend(chunk)
        interrupted = interrupted or chunk_interrupted
        if done:
            return records, interrupted


def ifname(index, names=None):
    """Interface name for an index (cached in ``names``); the number as text if unknown."""
    if not index:
        return None
    if names is not None and index in names:
        return names[index]
    try:
        name = socket.if_indextoname(index)
    except OSError:
        name = str(index)
    if names is not None:
        names[index] = name
    return name


def collect(protocols, families, warnings=None):
    """Records for every requested (protocol, family): list of (protocol, family, [record, ...]).

    Grouped rather than one (protocol, family, record) tuple per socket: at tens of thousands
    of sockets those wrappers alone were a megabyte.
    """
    out = []
    sock = None
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
    except OSError as exc:
        raise NetlinkError(exc.errno, 'cannot open a NETLINK_SOCK_DIAG socket: %s' % exc.strerror)
    try:
        for protocol in protocols:
            for family in families:
                out.append((protocol, family, dump(family, protocol, sock, warnings)))
    finally:
        sock.close()
    return out
