# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Listening sockets from /proc/net/{tcp,tcp6,udp,udp6}, the fallback collector.

/proc/net shows neither IPV6_V6ONLY nor the bound interface, so records from
here carry v6only=None and ifindex 0; the caller applies the host default
(/proc/sys/net/ipv6/bindv6only). The parsers take bytes so they can be tested
on recorded lines.
"""

from __future__ import annotations

import socket
import struct

from .netlink import STATE_FOR

FILES = {
    ('tcp', 'ipv4'): '/proc/net/tcp',
    ('tcp', 'ipv6'): '/proc/net/tcp6',
    ('udp', 'ipv4'): '/proc/net/udp',
    ('udp', 'ipv6'): '/proc/net/udp6',
}
AF = {'ipv4': socket.AF_INET, 'ipv6': socket.AF_INET6}


class ProcfsError(OSError):
    """A /proc/net table could not be read or does not look like one."""


def hex_address(text):
    """Address bytes (network order) from /proc hex form.

    The kernel prints each 32-bit word of the address with %08X in host byte
    order, so the words are repacked natively ('0100007F' is 127.0.0.1 on a
    little-endian host).
    """
    if isinstance(text, bytes):
        text = text.decode('ascii')
    if len(text) == 8:
        return struct.pack('=I', int(text, 16))
    if len(text) == 32:
        return struct.pack('=4I', *(int(text[i:i + 8], 16) for i in range(0, 32, 8)))
    raise ValueError('local_address: %r is not an IPv4 or IPv6 address in /proc hex form' % (text,))


def parse_table(data, family, protocol):
    """Records (family, address_bytes, port, 0, uid, inode, None) for listeners in one table."""
    af = AF[family]
    want = b'%02X' % STATE_FOR[protocol]
    records = []
    lines = data.split(b'\n')
    for line in lines[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != want:
            continue
        local = fields[1]
        addr, port = local.split(b':', 1)
        try:
            records.append((af, hex_address(addr), int(port, 16), 0, int(fields[7]), int(fields[9]), None))
        except ValueError as exc:
            raise ProcfsError(0, 'unexpected line in /proc/net table: %r (%s)' % (line, exc))
    return records


def read_table(protocol, family):
    """Parsed records of one /proc/net table; a missing IPv6 table (IPv6 off) is empty."""
    path = FILES[(protocol, family)]
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except FileNotFoundError:
        if family == 'ipv6':
            return []
        raise ProcfsError(2, 'cannot read %s: no such file' % path)
    except OSError as exc:
        raise ProcfsError(exc.errno, 'cannot read %s: %s' % (path, exc.strerror))
    return parse_table(data, family, protocol)


def collect(protocols, families):
    """Records for every requested (protocol, family): list of (protocol, family, [record, ...]) (as netlink.collect)."""
    return [(protocol, family, read_table(protocol, family)) for protocol in protocols for family in families]


def read_int(path, default=None):
    """First integer in a small /proc file, or default."""
    try:
        with open(path, 'rb') as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def read_range(path='/proc/sys/net/ipv4/ip_local_port_range'):
    """[low, high] of the ephemeral port range, or None."""
    try:
        with open(path, 'rb') as handle:
            low, high = handle.read().split()[:2]
        return [int(low), int(high)]
    except (OSError, ValueError):
        return None
