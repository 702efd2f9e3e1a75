# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every molecule scenario, in lanes that run side by side (make test-molecule).

    python tests/molecule_lanes.py [--lanes 2] [--molecule PATH] [--log-dir DIR]

Each lane is one ``molecule test -s A -s B ...`` process: its scenarios run one
after the other, as molecule runs them, and the lanes run at the same time.
Much of a scenario is waiting (systemd in a container starting, a rollback
timer firing, apt, firewalld reloading), so two lanes on two cores take about
half the time of one. molecule's own ``--workers`` skips the create step in
molecule 26.10, so it is not used. Every scenario directory is run: a new one
lands in the lightest lane. Each lane's whole output is printed when it ends;
the run fails if any lane fails, naming its scenarios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'extensions', 'molecule')

# Seconds each scenario took alone (make test, 2026-12-02, 2 cores); used only to balance the lanes.
LAST_SECONDS = {
    'enforce-ufw': 309, 'enforce-firewalld': 285, 'rollback': 280, 'enforce-iptables': 222,
    'enforce-nftables': 198, 'fleet': 167, 'lockout': 132, 'gather': 124, 'report-only': 98,
    'user-role-verify-fails': 84, 'service-stop': 73, 'user-role-verify': 68,
}
UNMEASURED_SECONDS = 240  # a scenario not measured yet weighs as a long one


def expected_seconds(name):
    return LAST_SECONDS.get(name, UNMEASURED_SECONDS)


def scenarios(root=ROOT):
    """Every scenario: a directory of extensions/molecule holding a molecule.yml."""
    return sorted(name for name in os.listdir(root) if os.path.isfile(os.path.join(root, name, 'molecule.yml')))


def plan(names, lanes):
    """Longest first, each to the lane with the least time so far."""
    if lanes < 1:
        raise ValueError('--lanes: %r is not a positive number of lanes' % lanes)
    planned = [[] for _lane in range(lanes)]
    load = [0] * lanes
    for name in sorted(names, key=lambda n: (-expected_seconds(n), n)):
        lightest = load.index(min(load))
        planned[lightest].append(name)
        load[lightest] += expected_seconds(name)
    return [lane for lane in planned if lane]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lanes', type=int, default=2)
    parser.add_argument('--molecule', default='molecule')
    parser.add_argument('--log-dir', default=os.path.join('.build', 'molecule-lanes'))
    args = parser.parse_args(argv)
    try:
        lanes = plan(scenarios(), args.lanes)
    except ValueError as exc:
        parser.error(str(exc))
    if not lanes:
        sys.exit('no molecule scenario under %s' % ROOT)
    os.makedirs(args.log_dir, exist_ok=True)
    env = dict(os.environ, NO_COLOR='1')
    failed = []
    with contextlib.ExitStack() as stack:
        running = []
        for number, names in enumerate(lanes, 1):
            log_path = os.path.join(args.log_dir, 'lane%d.log' % number)
            log = stack.enter_context(open(log_path, 'w', encoding='utf-8'))
            command = [args.molecule, 'test'] + [arg for name in names for arg in ('-s', name)]
            print('== molecule lane %d: %s (log %s)' % (number, ', '.join(names), log_path), flush=True)
            process = stack.enter_context(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
            running.append((number, names, log_path, time.monotonic(), process))
        for number, names, log_path, started, process in running:
            code = process.wait()
            with open(log_path, encoding='utf-8', errors='replace') as text:
                sys.stdout.write(text.read())
            took = time.monotonic() - started
            print('== molecule lane %d (%s): exit %d after %d s' % (number, ', '.join(names), code, took), flush=True)
            if code:
                failed.append('lane %d (%s): exit %d' % (number, ', '.join(names), code))
    if failed:
        sys.exit('molecule failed in ' + '; '.join(failed))


if __name__ == '__main__':
    main()
