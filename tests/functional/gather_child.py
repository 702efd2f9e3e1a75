# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Child process for test_gather_real.py: opens known sockets, reports them, waits.

Prints one JSON line {name: [protocol, family, address, port, v6only]} plus
"pid" and "shared_pid" (a forked child that holds the shared socket too), then
waits until stdin closes. With --name NAME it sets comm with prctl first.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys


def main():
    if '--name' in sys.argv:
        name = os.fsencode(sys.argv[sys.argv.index('--name') + 1])
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
    specs = {
        'tcp4_loop': (socket.SOCK_STREAM, socket.AF_INET, '127.0.0.1', None),
        'tcp4_any': (socket.SOCK_STREAM, socket.AF_INET, '0.0.0.0', None),
        'tcp6_loop': (socket.SOCK_STREAM, socket.AF_INET6, '::1', True),
        'tcp6_dual': (socket.SOCK_STREAM, socket.AF_INET6, '::', False),
        'tcp6_only': (socket.SOCK_STREAM, socket.AF_INET6, '::', True),
        'tcp6_mapped': (socket.SOCK_STREAM, socket.AF_INET6, '::ffff:127.0.0.1', False),
        'udp4_loop': (socket.SOCK_DGRAM, socket.AF_INET, '127.0.0.1', None),
        'udp4_any': (socket.SOCK_DGRAM, socket.AF_INET, '0.0.0.0', None),
        'udp6_loop': (socket.SOCK_DGRAM, socket.AF_INET6, '::1', True),
        'udp6_dual': (socket.SOCK_DGRAM, socket.AF_INET6, '::', False),
        'udp6_only': (socket.SOCK_DGRAM, socket.AF_INET6, '::', True),
        'shared': (socket.SOCK_STREAM, socket.AF_INET, '127.0.0.1', None),
    }
    if '--only-one' in sys.argv:
        specs = {'tcp4_loop': specs['tcp4_loop']}
    held = {}
    report = {}
    for key, (kind, af, addr, v6only) in specs.items():
        sock = socket.socket(af, kind)
        if v6only is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
        sock.bind((addr, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen(8)
        held[key] = sock
        report[key] = ['tcp' if kind == socket.SOCK_STREAM else 'udp', 'ipv4' if af == socket.AF_INET else 'ipv6',
                       addr, sock.getsockname()[1], v6only]
    # A connected UDP socket is not a listener and must not be reported.
    conn = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    conn.bind(('127.0.0.1', 0))
    conn.connect(('127.0.0.1', 9))
    report['udp_connected'] = ['udp', 'ipv4', '127.0.0.1', conn.getsockname()[1], None]
    report['pid'] = os.getpid()
    report['shared_pid'] = None
    if 'shared' in held:
        # The forked child says when it has closed its copies of the other sockets: until then it owns them
        # too, and a gather run as soon as the report is out would rightly see two owners.
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            for key, sock in held.items():
                if key != 'shared':
                    sock.close()
            conn.close()
            os.write(ready_write, b'.')
            os.close(ready_write)
            signal.pause()
            os._exit(0)
        os.close(ready_write)
        os.read(ready_read, 1)
        os.close(ready_read)
        report['shared_pid'] = pid
    sys.stdout.write(json.dumps(report) + '\n')
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        if report['shared_pid']:
            os.kill(report['shared_pid'], signal.SIGKILL)
            os.waitpid(report['shared_pid'], 0)


if __name__ == '__main__':
    main()
