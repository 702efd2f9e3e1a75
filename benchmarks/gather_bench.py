# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark hostsec.ports.listening_ports_info against ss and listen_ports_facts.

Every scenario runs in a network namespace this script creates and removes
(root needed). Workers are forked inside it by one spawner process:

  S  50 TCP + 20 UDP listeners over 20 processes
  L  5,000 TCP (IPv4 + IPv6) + 1,000 UDP listeners over 200 processes
  X  20,000 TCP listeners over 1,000 processes + 20,000 established loopback connections

Compared: gather() in-process (median), its peak RSS in a fresh process, the
whole module through `ansible localhost -m` (stdout callback community.general.null,
so the time is the run, not the printing of the result), `ss -tulpnH`, and
community.general.listen_ports_facts (S and L only by default: ~230-310 s at L).

Usage: gather_bench.py [--scenarios S,L,X] [--runs 5] [--skip-lpf] [--lpf-at S,L] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
VENV_BIN = os.path.join(ROOT, '.venv', 'bin')
PY = sys.executable

SCENARIOS = {
    # name: (processes, tcp listeners, udp listeners, established connections)
    'S': (20, 50, 20, 0),
    'L': (200, 5000, 1000, 0),
    'X': (1000, 20000, 0, 20000),
}
ADDRS = [('127.0.0.1', socket.AF_INET), ('0.0.0.0', socket.AF_INET), ('::1', socket.AF_INET6),
         ('::', socket.AF_INET6)]


# ---------------------------------------------------------------- workers (inside the netns)

def _share(total, procs, index):
    return total // procs + (1 if index < total % procs else 0)


def _worker(index, procs, tcp, udp, conns, ready_fd):
    """Open this worker's share of sockets, report, then wait to be killed."""
    # Die with the spawner, whatever kills it.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    # Global numbering keeps ports unique: listener k binds port 10000 + k.
    first_tcp = sum(_share(tcp, procs, i) for i in range(index))
    first_udp = sum(_share(udp, procs, i) for i in range(index))
    listeners = []
    for k in range(first_tcp, first_tcp + _share(tcp, procs, index)):
        addr, af = ADDRS[k % 4]
        sock = socket.socket(af, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if af == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((addr, 10000 + k))
        sock.listen(64)
        held.append(sock)
        listeners.append((addr, af, 10000 + k))
    for k in range(first_udp, first_udp + _share(udp, procs, index)):
        addr, af = ADDRS[k % 4]
        sock = socket.socket(af, socket.SOCK_DGRAM)
        if af == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((addr, 40000 + k))
        held.append(sock)
    for c in range(_share(conns, procs, index)):
        addr, af, port = listeners[c % len(listeners)]
        target = '127.0.0.1' if af == socket.AF_INET else '::1'
        client = socket.socket(af, socket.SOCK_STREAM)
        client.connect((target, port))
        server = [s for s in held if s.getsockname()[1] == port][0]
        peer = server.accept()[0]
        held.extend((client, peer))
    os.write(ready_fd, b'.')
    os.close(ready_fd)
    signal.pause()


def spawn_main(procs, tcp, udp, conns):
    """Fork the workers, print 'ready' once all are up, kill them when stdin closes."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    read_fd, write_fd = os.pipe()
    children = []
    for index in range(procs):
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            try:
                _worker(index, procs, tcp, udp, conns, write_fd)
            finally:
                os._exit(1)
        children.append(pid)
    os.close(write_fd)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    got = 0
    while got < procs:
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        got += len(chunk)
    print('ready %d' % got, flush=True)
    try:
        sys.stdin.read()
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass


# ---------------------------------------------------------------- measurements

def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = COLLECTIONS
    env['ANSIBLE_COLLECTIONS_PATH'] = '%s:%s' % (COLLECTIONS, os.path.join(ROOT, '.venv', 'lib', 'python3.11', 'site-packages'))
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_LOCALHOST_WARNING'] = 'False'
    env['ANSIBLE_INVENTORY_UNPARSED_WARNING'] = 'False'
    env['PATH'] = VENV_BIN + ':' + env.get('PATH', '')
    # Results are not printed (as in a playbook that registers them): the default ad-hoc
    # callback would spend seconds pretty-printing megabytes of JSON to the terminal.
    env['ANSIBLE_LOAD_CALLBACK_PLUGINS'] = '1'
    env['ANSIBLE_STDOUT_CALLBACK'] = 'community.general.null'
    return env


INPROC = r'''
import json, resource, statistics, sys, time
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
runs = int(sys.argv[1])
times = []
for _ in range(runs):
    t = time.perf_counter(); r = gather(); times.append(time.perf_counter() - t)
print(json.dumps({'median': statistics.median(times), 'count': len(r['listeners']),
                  'unattributed': r['unattributed'], 'collector': r['collector']}))
'''

RSS = r'''
import json, resource
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = gather()
print(json.dumps({'peak_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'base_kb': base}))
'''


def in_ns(ns, argv):
    return ['ip', 'netns', 'exec', ns] + argv


def timed(argv, env, runs=1, timeout=None):
    """Median wall time of argv; returns (seconds, stdout of the last run)."""
    times = []
    out = b''
    for _run in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError('%s failed: %s' % (' '.join(argv[:8]), proc.stderr.decode()[-500:]))
        out = proc.stdout
    return statistics.median(times), out


def run_scenario(name, args, env):
    procs, tcp, udp, conns = SCENARIOS[name]
    ns = 'hostsec-bench-%d' % os.getpid()
    row = {'scenario': name, 'procs': procs, 'tcp': tcp, 'udp': udp, 'conns': conns}
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    spawner = None
    try:
        subprocess.run(in_ns(ns, ['ip', 'link', 'set', 'lo', 'up']), check=True)
        subprocess.run(in_ns(ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=45000 65000']), check=True)
        spawner = subprocess.Popen(in_ns(ns, [PY, os.path.abspath(__file__), '--spawn', str(procs), str(tcp), str(udp),
                                              str(conns)]), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = spawner.stdout.readline().decode()
        if not line.startswith('ready %d' % procs):
            raise RuntimeError('workers did not start: %r' % line)

        out = timed(in_ns(ns, [PY, '-c', INPROC, str(args.runs)]), env)[1]
        res = json.loads(out)
        row.update(gather_s=res['median'], found=res['count'], unattributed=res['unattributed'], collector=res['collector'])
        out = timed(in_ns(ns, [PY, '-c', RSS]), env)[1]
        row['rss_mb'] = json.loads(out)['peak_kb'] / 1024.0

        row['ss_s'], out = timed(in_ns(ns, ['ss', '-tulpnH']), env, runs=args.runs)
        row['ss_lines'] = len(out.splitlines())

        module = [os.path.join(VENV_BIN, 'ansible'), 'localhost', '-c', 'local', '-i', 'localhost,',
                  '-e', 'ansible_python_interpreter=%s' % PY, '-m', 'hostsec.ports.listening_ports_info']
        row['module_s'] = timed(in_ns(ns, module), env, runs=max(1, min(3, args.runs)))[0]

        lpf_at = [] if args.skip_lpf else args.lpf_at
        if name in lpf_at:
            lpf = module[:-1] + ['community.general.listen_ports_facts']
            try:
                row['lpf_s'] = timed(in_ns(ns, lpf), env, timeout=600)[0]
            except subprocess.TimeoutExpired:
                row['lpf_s'] = '>600'
    finally:
        if spawner is not None:
            try:
                spawner.stdin.close()
                spawner.wait(timeout=120)
            except Exception:
                spawner.kill()
        subprocess.run(['ip', 'netns', 'del', ns], check=False)
    return row


def fmt(value, digits=3):
    if value is None or value == '':
        return 'skipped'
    if isinstance(value, str):
        return value
    return '%.*f' % (digits, value)


def table(rows):
    lines = [
        '| scenario | processes | TCP | UDP | established | listeners found | gather() median s | gather / ss | '
        'peak RSS MB | `ss -tulpnH` s | module via ansible s | listen_ports_facts s | LPF / module |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        lpf = r.get('lpf_s')
        ratio = ('%.0fx' % (lpf / r['module_s'])) if isinstance(lpf, float) else 'skipped'
        lines.append('| %s | %d | %d | %d | %d | %d | %s | %.2f | %.1f | %s | %s | %s | %s |' % (
            r['scenario'], r['procs'], r['tcp'], r['udp'], r['conns'], r['found'], fmt(r['gather_s']),
            r['gather_s'] / r['ss_s'], r['rss_mb'], fmt(r['ss_s']), fmt(r['module_s'], 2), fmt(lpf, 1), ratio))
    return '\n'.join(lines)


SECTION = """## Gathering

Command: `%s` (root: it creates and removes one network namespace per scenario; `--skip-lpf`,
`--lpf-at S,L`, `--scenarios S,L` and `--runs N` shorten it). Kernel %s, 2 cores shared with other jobs.
Targets: `gather()` <= 1.2x `ss -tulpnH` at L and <= 0.5x at X; peak RSS <= 40 MB at X; the whole module
>= 100x faster than community.general.listen_ports_facts (LPF) at L.

- `gather()`: in-process median of %d runs (warm), default options (TCP+UDP, IPv4+IPv6, netlink).
- peak RSS: `ru_maxrss` of a fresh interpreter that imports the collector and gathers once.
- module via ansible: `ansible localhost -c local -m hostsec.ports.listening_ports_info` run inside the
  namespace, stdout callback `community.general.null` (the time is the run, not the printing of megabytes of
  result); median of up to 3 runs. LPF is timed the same way, once.

%s

Load average at the end of the run: %s. On this shared machine ratios move by about +-0.1 between runs.
"""


def write_section(path, text):
    """Replace (or append) the '## Gathering' section of path, leaving other sections alone."""
    try:
        with open(path) as handle:
            doc = handle.read()
    except FileNotFoundError:
        doc = '# Performance\n'
    start = doc.find('\n## Gathering')
    if start == -1:
        doc = doc.rstrip('\n') + '\n\n' + text + '\n'
    else:
        end = doc.find('\n## ', start + 1)
        doc = doc[:start + 1] + text.rstrip('\n') + ('\n' + doc[end:] if end != -1 else '\n')
    with open(path, 'w') as handle:
        handle.write(doc)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--spawn':
        spawn_main(*(int(a) for a in sys.argv[2:6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--scenarios', default='S,L,X')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--skip-lpf', action='store_true', help='never run community.general.listen_ports_facts')
    parser.add_argument('--lpf-at', default='S,L', help='scenarios where listen_ports_facts runs (default S,L)')
    parser.add_argument('--write', metavar='FILE', help='write the table into the "## Gathering" section of FILE')
    args = parser.parse_args()
    args.lpf_at = [s.strip().upper() for s in args.lpf_at.split(',') if s.strip()]
    if os.geteuid() != 0:
        parser.error('needs root (creates a network namespace)')
    env = _env()
    rows = []
    for name in [s.strip().upper() for s in args.scenarios.split(',') if s.strip()]:
        if name not in SCENARIOS:
            parser.error('--scenarios: unknown scenario %r (choose from %s)' % (name, ', '.join(SCENARIOS)))
        print('scenario %s ...' % name, file=sys.stderr, flush=True)
        rows.append(run_scenario(name, args, env))
    text = table(rows)
    print(text)
    if args.write:
        python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT + os.sep) else sys.executable
        command = '%s benchmarks/gather_bench.py %s' % (python, ' '.join(shlex.quote(a) for a in sys.argv[1:]))
        write_section(args.write, SECTION % (command.strip(), os.uname().release, args.runs, text,
                                             ' '.join('%.2f' % v for v in os.getloadavg())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
