# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet report speed and size: 1,000 hosts x 50 findings; prints a Markdown table.

    PYTHONPATH=.build/collections .venv/bin/python benchmarks/report_bench.py [--hosts 1000] [--findings 50] [--runs 5]

Each host has 60 listeners, 50 of them with a finding, spread over 200
finding groups (so the matrix has many columns), with realistic command lines.
Timed: building the host and fleet documents plus drift against the previous
run's fleet.json (read from its file, in a fresh interpreter beside the reports; every 20th host had one listener fewer), then rendering fleet.json,
fleet.md and fleet.html, as the action plugin renders them (fleet.json here, the
other two in a forked process beside it when a second CPU is there). Target:
<= 2 s of wall time for those steps. Each renderer alone, the synthetic inputs
and the per-host files are timed and printed apart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import tempfile
import time

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema
from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build, drift, html, lanes, render

KINDS = ('unexpected', 'denied', 'wrong_exposure', 'expired')
SEVS = ('critical', 'high', 'medium', 'low', 'info')


def synthetic_audit(h, findings, listeners=60):
    lsts, fnds = [], []
    for i in range(listeners):
        port = 1000 + (h * 7 + i * 13) % 200 if i < findings else 30000 + i
        lst = {'protocol': 'tcp' if i % 5 else 'udp', 'family': 'ipv4', 'address': '0.0.0.0', 'port': port,
               'scope': None, 'exposure': 'wildcard', 'dual_stack': False, 'v6only': None,
               'state': 'listen' if i % 5 else 'unconnected', 'inode': 50000 + i, 'uid': 999, 'netns': None,
               'services': ['svc%d.service' % port],
               'processes': [{'pid': 1000 + i, 'name': 'proc%d' % (port % 50), 'exe': '/usr/bin/proc%d' % (port % 50),
                              'cmdline': '/usr/bin/proc%d --config /etc/proc/%d.conf --listen 0.0.0.0:%d' % (port % 50, port, port),
                              'user': 'svc', 'uid': 999, 'start_time': None, 'unit': 'svc%d.service' % port,
                              'services': ['svc%d.service' % port]}]}
        lsts.append(lst)
        if i < findings:
            fnds.append({'id': '%d-%d' % (port, i), 'kind': KINDS[port % len(KINDS)], 'severity': SEVS[port % 5],
                         'severity_reasons': ['listens on every address (wildcard)'], 'listener': lst,
                         'rule': None, 'nearest_rule': None, 'protected': False,
                         'explanation': '%d/tcp is assigned by IANA to service-%d. No allow rule matches it.' % (port, port),
                         'remediation': {'status': 'block', 'action': 'block', 'unit': None, 'reason': 'block %d' % port}})
    policy = {'allow': [{'index': 0, 'list': 'allow', 'origin': 'group_vars/all', 'text': '22/tcp', 'expires': None}],
              'deny': [], 'require': [], 'settings': {'unexpected': 'report'}, 'settings_origin': {'unexpected': 'built-in'}}
    # port_audit's verdicts, aligned with the listeners: which findings each one has (or the rule that allowed it).
    verdicts = [{'finding_ids': ['%d-%d' % (lst['port'], i)]} if i < findings else {'allowed_by': 'allow#0'}
                for i, lst in enumerate(lsts)]
    # port_audit returns its listeners compact (owners once, in a table by pid), findings with their listener in full.
    compact = schema.compact(lsts)
    return {'findings': fnds, 'listeners': compact['listeners'], 'processes': compact['processes'], 'verdicts': verdicts,
            'summary': {'passed': False, 'listeners': listeners}, 'effective_policy': policy}


RENDER_STEP = 'fleet.json, with fleet.md + fleet.html beside it'
STEPS = ('build + drift', RENDER_STEP)


def add_fleet_arguments(parser):
    """The synthetic fleet's size and the runs, for every benchmark that renders it."""
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--findings', type=int, default=50)
    parser.add_argument('--runs', type=int, default=5)


def synthetic_audits(hosts, findings):
    """Through JSON, as port_audit results reach the action plugin: a finding holds its own copy of its listener."""
    return json.loads(json.dumps([synthetic_audit(h, findings) for h in range(hosts)]))


def build_fleet(audits, previous):
    """The fleet report with its drift against ``previous`` (a fleet.json path, or None), as the action plugin builds it."""
    # The previous run's fleet.json is read back from its file, beside the reports (as the action plugin does).
    with drift.read_ahead(previous, 'previous run') if previous else contextlib.nullcontext() as reader:
        reports = [build.host_report('host%04d.example' % h, audit, groups=['g%d' % (h % 10)])
                   for h, audit in enumerate(audits)]
        fleet = build.fleet_report(reports, generated='bench')
        state = reader.result() if previous else None
    fleet['drift'] = drift.compare(state, fleet, baseline_name=previous)
    return fleet


def _cpu():
    """CPU seconds of this process and of its reaped children (the forked renderer)."""
    own = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + children.ru_utime + children.ru_stime


def _timed(step, fn, times):
    t0 = (time.perf_counter(), _cpu())
    value = fn()
    times[step] = (time.perf_counter() - t0[0], _cpu() - t0[1])
    return value


def run(hosts, findings, previous):
    """One report generation; returns the fleet, the texts and {step: (wall, cpu)}.

    The synthetic audits are made first and timed apart: in a real run they are
    the port_audit results the hosts sent back, not report work.
    """
    times = {}
    audits = _timed('inputs (synthetic audits)', lambda: synthetic_audits(hosts, findings), times)

    with build.bulk():  # as the action plugin runs it
        return _generate(audits, previous, times)


def _generate(audits, previous, times):
    # Reading back the previous fleet.json is inside the timed step.
    fleet = _timed('build + drift', lambda: build_fleet(audits, previous), times)
    # As the action plugin renders them: fleet.json here, the other formats in a forked process beside it
    # (plugin_utils/_reports/lanes.py), when this machine has a second CPU.
    out = _timed(RENDER_STEP, lambda: lanes.render({'fleet.json': lambda: render.fleet_json(fleet)},
                                                   {'fleet.md': lambda: render.markdown(fleet),
                                                    'fleet.html': lambda: html.html(fleet)}), times)
    # Each renderer alone, one after the other, in this process: not counted, shows what the lanes overlap.
    for name, make in (('fleet.json', render.fleet_json), ('fleet.md', render.markdown), ('fleet.html', html.html)):
        _timed(name + ' alone', lambda: make(fleet), times)
    per_host = _timed('hosts/*.json (per-host files)', lambda: [render.to_json(r) for r in fleet['hosts']], times)
    out['hosts/*.json (all)'] = ''.join(per_host)
    return fleet, out, times


def previous_run(hosts, findings, changed_every=20):
    """fleet.json of the run before: every 20th host had one listener fewer, so drift has changes to word."""
    audits = synthetic_audits(hosts, findings)
    for audit in audits[::changed_every]:
        del audit['listeners'][-1], audit['verdicts'][-1]  # the last listener is an allowed one: no finding goes
    with build.bulk():
        return render.fleet_json(build_fleet(audits, None))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fleet_arguments(parser)
    args = parser.parse_args()
    # The previous run, as the next run reads it back from fleet.json.
    with tempfile.TemporaryDirectory(prefix='report-bench-') as tmp:
        previous = os.path.join(tmp, 'fleet.json')
        with open(previous, 'w', encoding='utf-8', errors='surrogateescape') as handle:
            handle.write(previous_run(args.hosts, args.findings))
        runs = []
        for _run in range(args.runs):
            out, times = run(args.hosts, args.findings, previous)[1:]
            runs.append(times)

    def median(step, which):
        return statistics.median(t[step][which] for t in runs)
    print('Fleet report: %d hosts x %d findings (%d listeners per host), median of %d runs; wall = elapsed, '
          'CPU = this process and its children, the reader of the previous run and the forked renderer (the machine '
          'may be shared, so wall can be far above CPU); reader beside: %s; forked renderer used: %s'
          % (args.hosts, args.findings, 60, args.runs, lanes.Ahead.possible(), lanes.forking_helps()))
    print('')
    print('| step | wall s | CPU s |')
    print('|---|---:|---:|')
    for step in runs[0]:
        print('| %s | %.2f | %.2f |' % (step, median(step, 0), median(step, 1)))
    wall = statistics.median(sum(t[s][0] for s in STEPS) for t in runs)
    cpu = statistics.median(sum(t[s][1] for s in STEPS) for t in runs)
    print('| **build + drift + JSON + Markdown + HTML, target <= 2 s (wall)** | **%.2f** (%s) | %.2f |'
          % (wall, 'ok' if wall <= 2 else 'OVER', cpu))
    print('')
    print('| file | size (MB) |')
    print('|---|---:|')
    for key, text in out.items():
        print('| %s | %.2f |' % (key, len(text.encode('utf-8', 'surrogateescape')) / 1e6))


if __name__ == '__main__':
    main()
