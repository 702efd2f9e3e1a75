# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark the audit playbook and the port_audit task over 8 containers against ansible -m ping.

Starts 8 containers of the molecule test image (systemd as PID 1, names
starting with hsp-audit-bench-), gives each a few TCP and UDP listeners beside
sshd so the audit has findings, and writes a temporary inventory that reaches
them through containers.podman.podman. The containers are removed at the end,
also on Ctrl-C, and stale ones with the same prefix are removed at the start.

Each round runs, one after the other, so that all three see the same load:

  audit       ansible-playbook hostsec.ports.audit -i INV -f 8 -e port_policy_report_dir=TMP
              (default stdout callback: that output, and the reports written on the
              controller, are what the user waits for)
  ping        ansible all -i INV -f 8 -m ansible.builtin.ping
  port_audit  ansible all -i INV -f 8 -m hostsec.ports.port_audit -a mode=report
              (stdout callback community.general.null, so the time is the run and not
              the printing of each host's result)

Each of the two rows is the per-round ratio against that round's ping: the
median and, in brackets, the range over the rounds, plus the median seconds of
each side. One untimed round comes first (warm-up, and a check that every
command succeeds). --profile also runs the playbook once more with
ansible.posix.profile_tasks and prints its slowest tasks.

Usage: audit_bench.py [--runs 5] [--hosts 8] [--profile] [--write docs/performance.md]

Needs podman and the image built by `make image` (localhost/hostsec-ports-debian12:latest).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from doc_sections import write_section  # this directory is on sys.path when a benchmark runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
VENV_BIN = os.path.join(ROOT, '.venv', 'bin')
IMAGE = os.environ.get('HOSTSEC_TEST_IMAGE', 'localhost/hostsec-ports-debian12:latest')
PREFIX = 'hsp-audit-bench-'
TIMEOUT = 1800  # one command; far above any sane run, only there so a hung podman cannot hang the benchmark

# Started in every container: listeners the embedded default policy judges in
# different ways (wildcard TCP on both families and UDP are findings, the
# loopback one is allowed), beside the image's sshd on 22/tcp. The ready file
# tells the benchmark that every socket is bound before anything is timed.
LISTENERS = r'''
import os, socket, time
held = []
for family, addr, port, kind in ((socket.AF_INET, '0.0.0.0', 8000, socket.SOCK_STREAM),
                                 (socket.AF_INET, '127.0.0.1', 8080, socket.SOCK_STREAM),
                                 (socket.AF_INET6, '::', 9000, socket.SOCK_STREAM),
                                 (socket.AF_INET, '0.0.0.0', 5000, socket.SOCK_DGRAM),
                                 (socket.AF_INET6, '::', 5001, socket.SOCK_DGRAM)):
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        sock.listen(16)
    held.append(sock)
open('/run/hsp-audit-bench.ready', 'w').close()
while True:
    time.sleep(3600)
'''


def _env(null_callback=False):
    env = dict(os.environ)
    env['CONTAINERS_CONF'] = os.path.join(ROOT, 'extensions', 'molecule', 'containers.conf')
    env['PYTHONPATH'] = COLLECTIONS
    env['ANSIBLE_COLLECTIONS_PATH'] = '%s:%s' % (COLLECTIONS, os.path.join(ROOT, '.venv', 'lib', 'python3.11', 'site-packages'))
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_INVENTORY_UNPARSED_WARNING'] = 'False'
    env['PATH'] = VENV_BIN + ':' + env.get('PATH', '')
    # Whatever the caller's shell has set would change what is measured.
    for name in ('ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_CALLBACKS_ENABLED', 'ANSIBLE_CALLBACK_WHITELIST', 'ANSIBLE_CONFIG'):
        env.pop(name, None)
    if null_callback:
        # As a playbook that registers the result: the default ad-hoc callback would
        # spend its time pretty-printing every host's findings to the terminal.
        env['ANSIBLE_LOAD_CALLBACK_PLUGINS'] = '1'
        env['ANSIBLE_STDOUT_CALLBACK'] = 'community.general.null'
    return env


def run_once(argv, env, timeout=TIMEOUT):
    # Wall time and stdout of one run; a failing run stops the benchmark with its output.
    start = time.perf_counter()
    # A session of its own: on Ctrl-C or a timeout the whole tree goes (ansible's forked
    # workers and their podman exec calls), not only the ansible process itself.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _kill_tree(proc)
        raise
    took = time.perf_counter() - start
    if proc.returncode != 0:
        command = ' '.join(shlex.quote(a) for a in argv)
        raise RuntimeError('%s failed (rc %d):\n%s\n%s' % (command, proc.returncode, out.decode()[-3000:], err.decode()[-3000:]))
    return took, out.decode()


def _kill_tree(proc):
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass


def interleaved(commands, runs):
    # Seconds of each named command over rounds in which they run one after the
    # other, so that every command of a round sees the same machine load.
    times = {name: [] for name in commands}
    for number in range(runs):
        for name, (argv, env) in commands.items():
            times[name].append(run_once(argv, env)[0])
        print('round %d/%d: %s' % (number + 1, runs, ', '.join('%s %.2f s' % (name, times[name][-1]) for name in commands)),
              file=sys.stderr, flush=True)
    return times


def stats(values):
    return {'median': statistics.median(values), 'low': min(values), 'high': max(values), 'n': len(values)}


def _ratio(st):
    return '%.2fx (%.2f-%.2f)' % (st['median'], st['low'], st['high'])


# ---------------------------------------------------------------- containers

def podman(*args, check=True, timeout=300):
    return subprocess.run(['podman'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                          timeout=timeout, check=check)


def our_containers():
    # Only names with our prefix: molecule scenarios may run their own containers meanwhile.
    out = podman('ps', '-a', '--format', '{{.Names}}', '--filter', 'name=^' + re.escape(PREFIX)).stdout.decode()
    return [name for name in out.split() if name.startswith(PREFIX)]


def remove_containers(names):
    if names:
        podman('rm', '-f', '-t', '0', *names, check=False)


def start_containers(count):
    names = ['%s%d' % (PREFIX, index + 1) for index in range(count)]
    for name in names:
        podman('run', '-d', '--name', name, '--systemd=always', '--cap-add', 'NET_ADMIN', IMAGE, '/sbin/init')
    for name in names:
        # 'degraded' (a unit that failed in the container) is fine for the benchmark.
        podman('exec', name, 'systemctl', 'is-system-running', '--wait', check=False, timeout=180)
        podman('exec', '-d', name, 'python3', '-c', LISTENERS)
    deadline = time.monotonic() + 60
    for name in names:
        while podman('exec', name, 'test', '-e', '/run/hsp-audit-bench.ready', check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError('listeners did not start in %s' % name)
            time.sleep(0.2)
    return names


def write_inventory(path, names):
    inventory = {'all': {
        'hosts': {name: None for name in names},
        'vars': {'ansible_connection': 'containers.podman.podman', 'ansible_python_interpreter': '/usr/bin/python3'},
    }}
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)  # JSON is YAML: the yaml inventory plugin reads it


def count_findings(report_dir):
    # Findings per host of the warm-up run, from the fleet report, to show the audit had work to do.
    try:
        with open(os.path.join(report_dir, 'fleet.json')) as handle:
            fleet = json.load(handle)
    except (OSError, ValueError):
        return None
    hosts = fleet.get('hosts')
    if isinstance(hosts, dict):
        hosts = list(hosts.values())
    if not isinstance(hosts, list) or not hosts:
        return None
    counts = [len(host.get('findings') or []) for host in hosts if isinstance(host, dict)]
    return (min(counts), max(counts)) if counts else None


# ---------------------------------------------------------------- profile

def profile(audit_argv, report_dir, top=10):
    """Run the playbook once with profile_tasks; return the slowest tasks as (seconds, name) and the wall time."""
    env = _env()
    env['ANSIBLE_CALLBACKS_ENABLED'] = 'ansible.posix.profile_tasks'
    env['PROFILE_TASKS_TASK_OUTPUT_LIMIT'] = 'all'
    env['PROFILE_TASKS_SORT_ORDER'] = 'descending'
    took, out = run_once(audit_argv, env)
    # profile_tasks ends the run with lines like 'Audit and report : Validate ---- 1.23s'.
    tasks = []
    for line in out.splitlines():
        match = re.match(r'^(.*\S)\s+-{3,}\s+(\d+\.\d+)s\s*$', line)
        if match:
            tasks.append((float(match.group(2)), match.group(1)))
    tasks.sort(reverse=True)
    return took, tasks[:top]


# ---------------------------------------------------------------- output

def table(result):
    hosts = result['hosts']
    lines = ['| measure | ratio, median (range) | measured median s | ping median s | target | met |',
             '|---|---|---|---|---|---|']
    rows = (
        ('audit playbook over %d containers / `ansible -m ping` over the same %d, forks %d' % (hosts, hosts, hosts),
         'audit', 1.3),
        ('`hostsec.ports.port_audit` task alone (ad hoc, null callback) / ping over the same %d, forks %d' % (hosts, hosts),
         'port_audit', None),
    )
    for label, key, target in rows:
        ratio = result[key + '_ping']
        verdict = '-' if target is None else 'yes' if ratio['median'] <= target else 'NO'
        lines.append('| %s | %s | %.2f | %.2f | %s | %s |' % (
            label, _ratio(ratio), result[key]['median'], result['ping']['median'],
            '-' if target is None else '<= %.1fx' % target, verdict))
    return '\n'.join(lines)


SECTION = """## Audit playbook

Command: `%s` (podman; starts %d containers of `%s` named `%s*` and removes them at the end). Kernel %s.
Every ratio is measured in one run against `ansible all -m ansible.builtin.ping` over the same containers, the
commands alternating round by round so that all see the same load; cells show the median and, in brackets, the
range over %d rounds, after one untimed warm-up round.

- audit playbook: `ansible-playbook hostsec.ports.audit -i INV -f %d -e port_policy_report_dir=TMP`, default stdout
  callback, reports written on the controller (from the second run on, with drift against the previous `fleet.json`).
- `port_audit` alone: `ansible all -i INV -f %d -m hostsec.ports.port_audit -a mode=report`, stdout callback
  `community.general.null`.
- Each container runs sshd plus five listeners (wildcard TCP on IPv4 and IPv6, loopback TCP, wildcard UDP on
  both families); connection `containers.podman.podman`. Findings per host in the warm-up run: %s.

%s

Load average at the end of the run: %s.
"""


def _terminate(signum, _frame):
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so the finally block removes the containers.
    raise KeyboardInterrupt('signal %d' % signum)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=5, help='timed rounds (default 5)')
    parser.add_argument('--hosts', type=int, default=8, help='containers, and forks (default 8)')
    parser.add_argument('--profile', action='store_true',
                        help='also run the playbook once with ansible.posix.profile_tasks and print the slowest tasks')
    parser.add_argument('--write', metavar='PATH', help='write the table into the marked audit_bench section of PATH')
    args = parser.parse_args()
    if args.runs < 1 or args.hosts < 1:
        parser.error('--runs and --hosts must be at least 1')
    if subprocess.run(['podman', 'image', 'exists', IMAGE], env=_env(), check=False).returncode != 0:
        parser.error('image %s is missing (make image)' % IMAGE)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    began = time.perf_counter()
    remove_containers(our_containers())  # left over from an interrupted run
    names = []
    with tempfile.TemporaryDirectory(prefix='hsp-audit-bench-') as tmp:
        try:
            print('starting %d containers ...' % args.hosts, file=sys.stderr, flush=True)
            names = start_containers(args.hosts)
            inventory = os.path.join(tmp, 'inventory.yml')
            write_inventory(inventory, names)
            report_dir = os.path.join(tmp, 'reports')
            forks = str(args.hosts)
            audit = [os.path.join(VENV_BIN, 'ansible-playbook'), 'hostsec.ports.audit', '-i', inventory, '-f', forks,
                     '-e', 'port_policy_report_dir=%s' % report_dir]
            ping = [os.path.join(VENV_BIN, 'ansible'), 'all', '-i', inventory, '-f', forks, '-m', 'ansible.builtin.ping']
            port_audit = [os.path.join(VENV_BIN, 'ansible'), 'all', '-i', inventory, '-f', forks,
                          '-m', 'hostsec.ports.port_audit', '-a', 'mode=report']
            commands = {'audit': (audit, _env()), 'ping': (ping, _env()), 'port_audit': (port_audit, _env(null_callback=True))}

            print('warm-up round ...', file=sys.stderr, flush=True)
            for name, (argv, env) in commands.items():
                took = run_once(argv, env)[0]
                print('  %s %.2f s' % (name, took), file=sys.stderr, flush=True)
            findings = count_findings(report_dir)
            if findings is not None and findings[1] == 0:
                print('warning: the audit found nothing; the listeners did not reach it', file=sys.stderr)

            times = interleaved(commands, args.runs)
            result = {'hosts': args.hosts}
            for name, values in times.items():
                result[name] = stats(values)
            for name in ('audit', 'port_audit'):
                result[name + '_ping'] = stats([a / b for a, b in zip(times[name], times['ping'])])

            profiled = profile(audit, report_dir) if args.profile else None
        finally:
            remove_containers(names or our_containers())

    text = table(result)
    print(text)
    if findings is not None:
        print('\nFindings per host in the warm-up run: %d-%d.' % findings)
    if profiled:
        took, tasks = profiled
        print('\nSlowest tasks of one profiled playbook run (%.2f s, ansible.posix.profile_tasks):\n' % took)
        print('| seconds | task |')
        print('|---:|---|')
        for seconds, name in tasks:
            print('| %.2f | %s |' % (seconds, name.replace('|', '\\|')))
    load = ' '.join('%.2f' % v for v in os.getloadavg())
    print('\nBenchmark wall time: %.0f s; load average %s.' % (time.perf_counter() - began, load), file=sys.stderr)
    if args.write:
        python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT + os.sep) else sys.executable
        command = '%s benchmarks/audit_bench.py %s' % (python, ' '.join(shlex.quote(a) for a in sys.argv[1:]))
        found = '%d-%d' % findings if findings is not None else 'unknown'
        write_section(args.write, 'audit_bench',
                      SECTION % (command.strip(), args.hosts, IMAGE, PREFIX, os.uname().release, args.runs,
                                 args.hosts, args.hosts, found, text, load))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except RuntimeError as exc:  # a command failed: its output says why, a traceback would not
        print('audit_bench: %s' % exc, file=sys.stderr)
        sys.exit(1)
