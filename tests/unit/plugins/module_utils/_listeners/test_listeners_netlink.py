# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import socket
import struct

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import netlink


def diag_msg(family, state, address, port, ifindex=0, uid=0, inode=1, v6only=None, extra_attrs=b''):
    """One SOCK_DIAG_BY_FAMILY message as the kernel sends it."""
    raw = socket.inet_pton(family, address).ljust(16, b'\0')
    body = struct.pack('=BBBB', family, state, 0, 0) + struct.pack('>HH', port, 0) + raw + b'\0' * 16
    body += struct.pack('=I', ifindex) + b'\0' * 8 + struct.pack('=IIIII', 0, 0, 0, uid, inode)
    attrs = extra_attrs
    if v6only is not None:
        attrs += struct.pack('=HHB3x', 5, netlink.INET_DIAG_SKV6ONLY, 1 if v6only else 0)
    payload = body + attrs
    return struct.pack('=IHHII', 16 + len(payload), netlink.SOCK_DIAG_BY_FAMILY, 2, 1, 0) + payload


def done():
    return struct.pack('=IHHII', 20, netlink.NLMSG_DONE, 2, 1, 0) + struct.pack('=i', 0)


def parse(data, state=netlink.TCP_LISTEN):
    records, finished, _interrupted = netlink.parse_messages(data, state)
    out = []
    for family, raw, port, ifindex, uid, inode, v6only in records:
        out.append((socket.inet_ntop(family, raw), port, ifindex, uid, inode, v6only))
    return out, finished


def test_request_layout():
    req = netlink.build_request('ipv6', 'udp')
    length, mtype, flags, _seq, _pid = struct.unpack_from('=IHHII', req)
    assert length == len(req) == 16 + 56
    assert mtype == netlink.SOCK_DIAG_BY_FAMILY and flags == netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP
    family, proto, _ext, _pad, states = struct.unpack_from('=BBBBI', req, 16)
    assert (family, proto, states) == (socket.AF_INET6, socket.IPPROTO_UDP, 1 << 7)


def test_ipv4_listeners_and_done():
    data = (diag_msg(socket.AF_INET, 10, '0.0.0.0', 22, uid=0, inode=100)
            + diag_msg(socket.AF_INET, 10, '127.0.0.1', 65535, uid=1000, inode=101)
            + done())
    assert parse(data) == ([('0.0.0.0', 22, 0, 0, 100, None), ('127.0.0.1', 65535, 0, 1000, 101, None)], True)


def test_ipv6_v6only_attribute_among_others():
    # INET_DIAG_SHUTDOWN (8) before SKV6ONLY, as recent kernels send it.
    shutdown = struct.pack('=HHB3x', 5, 8, 0)
    data = (diag_msg(socket.AF_INET6, 10, '::', 22, inode=200, v6only=False, extra_attrs=shutdown)
            + diag_msg(socket.AF_INET6, 10, '::', 23, inode=201, v6only=True)
            + diag_msg(socket.AF_INET6, 10, '::1', 24, inode=202))
    assert parse(data) == ([('::', 22, 0, 0, 200, False), ('::', 23, 0, 0, 201, True), ('::1', 24, 0, 0, 202, None)], False)


def test_scoped_ipv6_keeps_ifindex_and_mapped_ipv4():
    data = (diag_msg(socket.AF_INET6, 10, 'fe80::1', 8080, ifindex=2, inode=300, v6only=True)
            + diag_msg(socket.AF_INET6, 10, '::ffff:127.0.0.1', 8081, inode=301, v6only=False))
    assert parse(data)[0] == [('fe80::1', 8080, 2, 0, 300, True), ('::ffff:127.0.0.1', 8081, 0, 0, 301, False)]


def test_udp_only_unconnected_state():
    data = (diag_msg(socket.AF_INET, 7, '0.0.0.0', 53, inode=400)
            + diag_msg(socket.AF_INET, 1, '127.0.0.1', 5000, inode=401))  # connected UDP
    assert parse(data, netlink.UDP_UNCONNECTED)[0] == [('0.0.0.0', 53, 0, 0, 400, None)]


def test_error_message_raises_with_errno():
    err = struct.pack('=IHHII', 36, netlink.NLMSG_ERROR, 0, 1, 0) + struct.pack('=i', -2) + b'\0' * 16
    with pytest.raises(netlink.NetlinkError) as info:
        netlink.parse_messages(err)
    assert info.value.errno == 2 and 'sock_diag' in info.value.strerror


def test_short_error_message_raises_netlink_error():
    # 16-byte header with no error code: NetlinkError (auto falls back), never struct.error.
    short = struct.pack('=IHHII', 16, netlink.NLMSG_ERROR, 0, 1, 0)
    with pytest.raises(netlink.NetlinkError, match='truncated netlink error'):
        netlink.parse_messages(short)
    three = struct.pack('=IHHII', 19, netlink.NLMSG_ERROR, 0, 1, 0) + b'\xfe\xff\xff'
    with pytest.raises(netlink.NetlinkError, match='truncated netlink error'):
        netlink.parse_messages(three)


def test_done_with_negative_code_raises():
    data = diag_msg(socket.AF_INET, 10, '0.0.0.0', 22) + struct.pack('=IHHII', 20, netlink.NLMSG_DONE, 2, 1, 0) \
        + struct.pack('=i', -16)
    with pytest.raises(netlink.NetlinkError) as info:
        netlink.parse_messages(data, netlink.TCP_LISTEN)
    assert info.value.errno == 16


def test_done_without_code_or_zero_ends_cleanly():
    bare = struct.pack('=IHHII', 16, netlink.NLMSG_DONE, 2, 1, 0)
    assert netlink.parse_messages(bare) == ([], True, False)
    assert netlink.parse_messages(done()) == ([], True, False)


def interrupted(message):
    """The message with NLM_F_DUMP_INTR set, as the kernel marks a dump whose tables changed."""
    length, mtype, flags, seq, pid = struct.unpack_from('=IHHII', message)
    return struct.pack('=IHHII', length, mtype, flags | netlink.NLM_F_DUMP_INTR, seq, pid) + message[16:]


class Kernel(object):
    """Replays recorded sock_diag answers, one list of datagrams per request.

    The kernel cannot be made to interrupt a dump on demand, so the retry logic is
    driven from recorded messages; the real socket path is test_real_dump_finds_own_listener.
    """

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = 0
        self.pending = []

    def setsockopt(self, *args):
        pass

    def sendto(self, data, address):
        self.requests += 1
        self.pending = list(self.answers.pop(0))

    def recv(self, size):
        return self.pending.pop(0)


def test_interrupted_dump_is_retried_once():
    ssh = diag_msg(socket.AF_INET, 10, '0.0.0.0', 22, inode=5)
    web = diag_msg(socket.AF_INET, 10, '0.0.0.0', 80, inode=6)
    kernel = Kernel([[interrupted(ssh), interrupted(done())], [ssh + web, done()]])
    warnings = []
    records = netlink.dump('ipv4', 'tcp', kernel, warnings)
    assert kernel.requests == 2
    assert [rec[2] for rec in records] == [22, 80]
    assert warnings == []


def test_twice_interrupted_dump_warns_and_keeps_records():
    ssh = diag_msg(socket.AF_INET, 10, '0.0.0.0', 22, inode=5)
    answer = [interrupted(ssh + ssh), interrupted(done())]
    kernel = Kernel([answer, answer])
    warnings = []
    records = netlink.dump('ipv4', 'tcp', kernel, warnings)
    assert kernel.requests == 2
    assert [rec[2] for rec in records] == [22]  # the repeat is dropped
    assert len(warnings) == 1 and 'interrupted twice' in warnings[0] and 'ipv4 tcp' in warnings[0]


def test_truncated_message_raises():
    data = diag_msg(socket.AF_INET, 10, '0.0.0.0', 22)
    bad = struct.pack('=I', 500) + data[4:]  # claims more bytes than the buffer holds
    with pytest.raises(netlink.NetlinkError, match='truncated'):
        netlink.parse_messages(bad)


def test_ifname_maps_loopback_and_unknown():
    names = {}
    assert netlink.ifname(0, names) is None
    assert netlink.ifname(1, names) == socket.if_indextoname(1)
    assert netlink.ifname(987654, names) == '987654'
    assert names[987654] == '987654'


def test_real_dump_finds_own_listener():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        inode = __import__('os').fstat(sock.fileno()).st_ino
        records = netlink.dump('ipv4', 'tcp')
    assert any(rec[2] == port and rec[5] == inode for rec in records)
