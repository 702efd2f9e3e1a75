# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Knowledge-base speed and size: prints a Markdown table.

    PYTHONPATH=.build/collections .venv/bin/python benchmarks/kb_bench.py [--runs N] [--lookups N]

Each load is timed in a fresh interpreter (imports done first, then get_kb()),
so it is a cold load of the IANA JSON and the curated data. Lookups are
kb.port() on random (port, protocol) pairs over 0-65535 and tcp/udp/sctp/dccp,
started on a freshly loaded KB, so the first pass pays for every cache miss.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import os
import random
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'plugins', 'plugin_utils', '_kb', 'data')
TARGETS = {'load': 50.0, 'lookups': 0.5, 'size': 2.0}

_CHILD = r'''
import time
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import load_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import loader
t0 = time.perf_counter()
kb = loader.get_kb()
t1 = time.perf_counter()
kb.port(22, 'tcp')
t2 = time.perf_counter()
print('%f %f' % ((t1 - t0) * 1e3, (t2 - t1) * 1e3))
'''


def cold_loads(runs):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, '.build', 'collections'))
    loads, firsts = [], []
    for dummy in range(runs):
        out = subprocess.run([sys.executable, '-c', _CHILD], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        loads.append(float(out[0]))
        firsts.append(float(out[1]))
    return loads, firsts


def lookups(count, runs):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import load_kb
    rng = random.Random(6335)
    protos = ('tcp', 'udp', 'sctp', 'dccp')
    pairs = [(rng.randrange(65536), protos[rng.randrange(4)]) for dummy in range(count)]
    first, warm = [], []
    for dummy in range(runs):
        kb = load_kb()
        kb.port(22, 'tcp')  # builds the indexes; that cost is the "first lookup" row
        for into in (first, warm):
            start = time.perf_counter()
            for port, proto in pairs:
                kb.port(port, proto)
            into.append(time.perf_counter() - start)
    return first, warm


def sizes():
    files = [os.path.join(DATA, 'iana.json'), os.path.join(DATA, 'curated.json')]
    files += sorted(glob.glob(os.path.join(DATA, 'curated', '*.yml')))
    raw = gz = 0
    for path in files:
        if os.path.exists(path):
            with open(path, 'rb') as handle:
                blob = handle.read()
            raw += len(blob)
            gz += len(gzip.compress(blob))
    return raw / 1e6, gz / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--lookups', type=int, default=100000)
    args = parser.parse_args(argv)
    loads, firsts = cold_loads(args.runs)
    first, warm = lookups(args.lookups, max(1, args.runs // 2))
    raw, gz = sizes()
    med = statistics.median
    rows = [
        ('KB load, cold (get_kb() in a fresh process)', '%.1f ms' % med(loads), '%.1f ms' % min(loads),
         '<= %.0f ms' % TARGETS['load'], med(loads) <= TARGETS['load']),
        ('first kb.port() (builds port indexes)', '%.1f ms' % med(firsts), '%.1f ms' % min(firsts), '-', True),
        ('%d kb.port() lookups, fresh KB' % args.lookups, '%.3f s' % med(first), '%.3f s' % min(first),
         '<= %.1f s' % TARGETS['lookups'], med(first) <= TARGETS['lookups']),
        ('%d kb.port() lookups, repeated' % args.lookups, '%.3f s' % med(warm), '%.3f s' % min(warm),
         '<= %.1f s' % TARGETS['lookups'], med(warm) <= TARGETS['lookups']),
        ('shipped KB data (IANA + curated), raw', '%.2f MB' % raw, '(gzip %.2f MB)' % gz,
         '<= %.1f MB' % TARGETS['size'], raw <= TARGETS['size']),
    ]
    print('| measure | median | best | target | ok |')
    print('|---|---|---|---|---|')
    for name, median, best, target, ok in rows:
        print('| %s | %s | %s | %s | %s |' % (name, median, best, target, 'yes' if ok else 'NO'))
    print()
    load = ' '.join('%.2f' % x for x in os.getloadavg())
    print('%d runs; Python %s; load average %s' % (args.runs, sys.version.split()[0], load))
    return 0


if __name__ == '__main__':
    sys.exit(main())
