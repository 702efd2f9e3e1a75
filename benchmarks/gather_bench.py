# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark hostsec.ports.listening_ports_info against ping, ss, the floor and listen_ports_facts.

Every scenario runs in a network namespace this script creates and removes
(root needed). Workers are forked inside it by one spawner process:

  S  50 TCP + 20 UDP listeners over 20 processes
  L  5,000 TCP (IPv4 + IPv6) + 1,000 UDP listeners over 200 processes
  X  20,000 TCP listeners over 1,000 processes + 20,000 established loopback connections

Every row is a ratio measured in one run against its reference, the two
alternating: the whole module through `ansible localhost -m` against
`ansible -m ping` (stdout callback community.general.null, so the time is the
run, not the printing of the result), gather() against the floor (one netlink
dump and one readlink pass over /proc/*/fd), gather() in a fresh interpreter
against `ss -tulpnH`, and community.general.listen_ports_facts against the
module (L only by default: about three minutes there). Also the module's JSON
size and the peak RSS of a gather.

Usage: gather_bench.py [--scenarios S,L,X] [--runs 5] [--ansible-runs 5] [--skip-lpf] [--lpf-at L]
                       [--write docs/performance.md]
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

from doc_sections import write_section  # this directory is on sys.path when a benchmark runs

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
import json, os, statistics, sys, time
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
from ansible_collections.hostsec.ports.plugins.module_utils._listeners import netlink, owners

def floor():
    # The floor: one netlink dump of the requested sockets and one readlink pass over /proc/*/fd.
    records = netlink.collect(('tcp', 'udp'), ('ipv4', 'ipv6'))
    wanted = {'socket:[%d]' % rec[5] for _p, _f, recs in records for rec in recs}
    hits = 0
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        base = '/proc/%s/fd/' % name
        try:
            fds = os.listdir(base)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(base + fd) in wanted:
                    hits += 1
            except OSError:
                pass
    return hits

runs = int(sys.argv[1])
ratios, gathers, floors = [], [], []
for _ in range(runs):  # interleaved: both see the same load
    t = time.perf_counter(); r = gather(); g = time.perf_counter() - t
    t = time.perf_counter(); floor(); f = time.perf_counter() - t
    gathers.append(g); floors.append(f); ratios.append(g / f)
print(json.dumps({'gather': gathers, 'floor': floors, 'ratios': ratios, 'count': len(r['listeners']),
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


def run_once(argv, env, timeout=None):
    # Wall time and stdout of one run; a failing run stops the benchmark.
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(argv[:8]), (proc.stderr or proc.stdout).decode()[-500:]))
    return took, proc.stdout


def interleaved(pairs, env, runs):
    """Ratios a/b of two commands, each run of a timed between two runs of b.

    This machine's speed swings by a third within seconds: each ratio is a over
    the mean of the b just before and the b just after it, so both sides of a
    ratio see the same moment. ``second`` holds every run of b (one more than a).
    """
    for argv in pairs:  # untimed warm-up of both, so neither side's first timed run is a cold one
        run_once(argv, env)
    ratios, first, second = [], [], [run_once(pairs[1], env)[0]]
    for _run in range(runs):
        a = run_once(pairs[0], env)[0]
        b = run_once(pairs[1], env)[0]
        first.append(a)
        ratios.append(a / ((second[-1] + b) / 2))
        second.append(b)
    return ratios, first, second


def stats(values):
    return {'median': statistics.median(values), 'low': min(values), 'high': max(values), 'n': len(values)}


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

        res = json.loads(run_once(in_ns(ns, [PY, '-c', INPROC, str(args.runs)]), env)[1])
        row.update(gather=stats(res['gather']), floor=stats(res['floor']), gather_floor=stats(res['ratios']),
                   found=res['count'], unattributed=res['unattributed'], collector=res['collector'])
        row['rss_mb'] = json.loads(run_once(in_ns(ns, [PY, '-c', RSS]), env)[1])['peak_kb'] / 1024.0

        # gather() in a fresh interpreter against ss, interleaved.
        one = [PY, '-c', 'from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather; gather()']
        ratios, _a, ss_times = interleaved([in_ns(ns, one), in_ns(ns, ['ss', '-tulpnH'])], env, args.runs)
        row['fresh_ss'] = stats(ratios)
        row['ss'] = stats(ss_times)

        # The module's JSON result as it leaves the host (run directly, as Ansible would).
        module_py = os.path.join(ROOT, 'plugins', 'modules', 'listening_ports_info.py')
        for key, margs in (('json', {}), ('json_facts', {'facts': True})):
            args_file = '/tmp/hostsec-bench-args-%d.json' % os.getpid()
            with open(args_file, 'w') as handle:
                json.dump({'ANSIBLE_MODULE_ARGS': margs}, handle)
            try:
                out = run_once(in_ns(ns, [PY, module_py, args_file]), env)[1]
            finally:
                os.unlink(args_file)
            row[key + '_mb'] = len(out) / 1e6

        base = [os.path.join(VENV_BIN, 'ansible'), 'localhost', '-c', 'local', '-i', 'localhost,',
                '-e', 'ansible_python_interpreter=%s' % PY, '-m']
        module = base + ['hostsec.ports.listening_ports_info']
        ratios, mod_times, ping_times = interleaved([in_ns(ns, module), in_ns(ns, base + ['ansible.builtin.ping'])],
                                                    env, args.ansible_runs)
        row['module_ping'] = stats(ratios)
        row['module'] = stats(mod_times)
        row['ping'] = stats(ping_times)

        # The audit the role runs: gather on the host, judge and plan on the controller. The policy allows the
        # workers' ports by range (as a fleet policy would) and 22; the rest become findings.
        audit = base + ['hostsec.ports.port_audit', '-a', json.dumps({'policy': {'allow': ['22/tcp', '1024-65535']}})]
        ratios, audit_times, _ping = interleaved([in_ns(ns, audit), in_ns(ns, base + ['ansible.builtin.ping'])],
                                                 env, args.ansible_runs)
        row['audit_ping'] = stats(ratios)
        row['audit'] = stats(audit_times)

        lpf_at = [] if args.skip_lpf else args.lpf_at
        if name in lpf_at:
            lpf = base + ['community.general.listen_ports_facts']
            try:
                # As in interleaved(): LPF over the mean of the module run just before and just after it.
                before = run_once(in_ns(ns, module), env)[0]
                lpf_s = run_once(in_ns(ns, lpf), env, timeout=900)[0]
                after = run_once(in_ns(ns, module), env)[0]
                row['lpf_s'], row['lpf_around'] = lpf_s, (before, after)
                row['lpf_module'] = lpf_s / ((before + after) / 2)
            except subprocess.TimeoutExpired:
                row['lpf_s'] = '>900'
            # Both modules run directly on the host, as Ansible's module wrapper runs them there: the cost
            # each puts on the managed host, without the controller's fixed share (the same for both).
            lpf_py = os.path.join(ROOT, '.venv', 'lib', 'python3.11', 'site-packages', 'ansible_collections',
                                  'community', 'general', 'plugins', 'modules', 'listen_ports_facts.py')
            args_file = '/tmp/hostsec-bench-args-%d.json' % os.getpid()
            with open(args_file, 'w') as handle:
                json.dump({'ANSIBLE_MODULE_ARGS': {}}, handle)
            # Through runpy: run as a script, the module's own directory would come first on sys.path, and
            # community.general's modules directory holds a pkgutil.py that shadows the standard library's.
            direct = [PY, '-c', 'import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")']
            try:
                lpf_direct = run_once(in_ns(ns, direct + [lpf_py, args_file]), env, timeout=900)[0]
                mod_direct = run_once(in_ns(ns, direct + [module_py, args_file]), env)[0]
                row['lpf_direct_s'], row['module_direct_s'] = lpf_direct, mod_direct
                row['lpf_direct'] = lpf_direct / mod_direct
            except subprocess.TimeoutExpired:
                row['lpf_direct_s'] = '>900'
            finally:
                os.unlink(args_file)
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


def _ratio(st):
    return '%.2fx (%.2f-%.2f)' % (st['median'], st['low'], st['high'])


# The rows of issue 13's table that the gather owns: (label, key, target, check).
TARGETS = (
    ('whole module / `ansible -m ping`', 'module_ping', {'L': 1.3, 'X': 2.0}),
    ('`port_audit` / `ansible -m ping`', 'audit_ping', {'L': 1.4}),
    ('`gather()` / floor (netlink dump + one readlink pass over /proc/*/fd)', 'gather_floor', {'X': 1.5}),
    ('`gather()` in a fresh interpreter / `ss -tulpnH`', 'fresh_ss', {}),
)


def table(rows):
    by = {r['scenario']: r for r in rows}
    names = [r['scenario'] for r in rows]
    lines = ['| measure | ' + ' | '.join(names) + ' | target | met |',
             '|---|' + '---|' * len(names) + '---|---|']
    for label, key, target in TARGETS:
        cells = [_ratio(by[n][key]) if key in by[n] else 'skipped' for n in names]
        checked = [by[n][key]['median'] <= limit for n, limit in target.items() if n in by and key in by[n]]
        met = bool(checked) and all(checked)
        want = ', '.join('<= %.1fx at %s' % (limit, n) for n, limit in target.items()) or '-'
        verdict = ('yes' if met else 'NO') if checked else '-'  # '-': no scenario with a target was run
        lines.append('| %s | %s | %s | %s |' % (label, ' | '.join(cells), want, verdict))
    size = {'L': 1.5, 'X': 5.0}
    cells = ['%.2f MB' % by[n]['json_mb'] for n in names]
    met = all(by[n]['json_mb'] <= limit for n, limit in size.items() if n in by)
    lines.append('| module JSON result (default options) | %s | <= 1.5 MB at L, <= 5 MB at X | %s |'
                 % (' | '.join(cells), 'yes' if met else 'NO'))
    cells = ['%.2f MB' % by[n]['json_facts_mb'] for n in names]
    lines.append('| module JSON result with `facts: true` | %s | - | - |' % ' | '.join(cells))
    cells = ['%.1f MiB' % by[n]['rss_mb'] for n in names]
    met = 'X' not in by or by['X']['rss_mb'] <= 30
    lines.append('| peak RSS of the gather (fresh interpreter) | %s | <= 30 MiB at X | %s |'
                 % (' | '.join(cells), 'yes' if met else 'NO'))
    cells = []
    for n in names:
        lpf = by[n].get('lpf_module')
        cells.append('%.0fx (LPF %.1f s, the module %.2f s before and %.2f s after)' % ((lpf, by[n]['lpf_s']) + by[n]['lpf_around'])
                     if lpf else str(by[n].get('lpf_s') or 'skipped'))
    lpf_l = by.get('L', {}).get('lpf_module')
    met = '-' if not lpf_l else 'yes' if lpf_l >= 150 else 'NO'
    lines.append('| community.general.listen_ports_facts / module, through `ansible` | %s | >= 150x at L | %s |'
                 % (' | '.join(cells), met))
    cells = []
    for n in names:
        ratio = by[n].get('lpf_direct')
        cells.append('%.0fx (%.1f s / %.2f s)' % (ratio, by[n]['lpf_direct_s'], by[n]['module_direct_s']) if ratio
                     else str(by[n].get('lpf_direct_s') or 'skipped'))
    lpf_l = by.get('L', {}).get('lpf_direct')
    met = '-' if not lpf_l else 'yes' if lpf_l >= 150 else 'NO'
    lines.append('| community.general.listen_ports_facts / module, both run directly on the host | %s | '
                 '>= 150x at L | %s |' % (' | '.join(cells), met))
    lines.append('')
    lines.append('| scenario | processes | TCP | UDP | established | listeners found | gather() median s | floor median s '
                 '| `ss -tulpnH` median s | module via ansible median s | port_audit via ansible median s | ping median s |')
    lines.append('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        lines.append('| %s | %d | %d | %d | %d | %d | %.3f | %.3f | %.3f | %.2f | %.2f | %.2f |' % (
            r['scenario'], r['procs'], r['tcp'], r['udp'], r['conns'], r['found'], r['gather']['median'],
            r['floor']['median'], r['ss']['median'], r['module']['median'], r['audit']['median'], r['ping']['median']))
    return '\n'.join(lines)


SECTION = """## Gathering

Command: `%s` (root: it creates and removes one network namespace per scenario; `--skip-lpf`,
`--lpf-at S,L`, `--scenarios S,L`, `--runs N` and `--ansible-runs N` shorten it). Kernel %s, 2 cores shared
with other jobs. Every ratio is measured in one run against its reference, each run of a command timed between
two runs of its reference (after an untimed warm-up of both) so that both sides see the same moment; cells
show the median and, in brackets, the range over the runs.

- whole module / ping: `ansible localhost -c local -m hostsec.ports.listening_ports_info` against
  `ansible localhost -c local -m ansible.builtin.ping`, both inside the namespace, stdout callback
  `community.general.null` (the time is the run, not the printing of the result), %d pairs.
- `port_audit` / ping: `ansible localhost -c local -m hostsec.ports.port_audit` with the policy
  `allow: [22/tcp, 1024-65535]` (gather on the host, judge and plan on the controller), the same way, the
  same number of pairs.
- `gather()` / floor: in one warm interpreter, %d alternating pairs; the floor is one netlink dump of every
  TCP/UDP socket asked for plus one `readlink` of every `/proc/*/fd/*`, with nothing else done.
- module JSON result: bytes the module prints, run directly with the default options (and with `facts: true`).
- peak RSS: `ru_maxrss` of a fresh interpreter that imports the collector and gathers once.
- listen_ports_facts (LPF): run once through `ansible`, over the mean of the module run just before and
  just after it (the controller's fixed cost, about one ping, is in both); then both once more run directly on the host
  (`python MODULE.py ARGS.json`, as Ansible's wrapper runs them there), which is the load each puts on the
  managed host.

%s

Load average at the end of the run: %s.
"""


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--spawn':
        spawn_main(*(int(a) for a in sys.argv[2:6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--scenarios', default='S,L,X')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--ansible-runs', type=int, default=5, help='module/ping pairs through ansible (default 5)')
    parser.add_argument('--skip-lpf', action='store_true', help='never run community.general.listen_ports_facts')
    parser.add_argument('--lpf-at', default='L', help='scenarios where listen_ports_facts runs (default L)')
    parser.add_argument('--write', metavar='FILE', help="write the table into the marked gather_bench section of FILE")
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
        write_section(args.write, 'gather_bench',
                      SECTION % (command.strip(), os.uname().release, args.ansible_runs, args.runs, text,
                                 ' '.join('%.2f' % v for v in os.getloadavg())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
