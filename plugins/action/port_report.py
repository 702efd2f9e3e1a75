# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for hostsec.ports.port_report: host and fleet reports, written on the controller."""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import os


from ansible_collections.hostsec.ports.plugins.plugin_utils._action import GuardedAction
from ansible_collections.hostsec.ports.plugins.modules import port_report as _documentation
from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import (
    build, drift, files, html, lanes, provenance, query, render)

FLEET_FILES = {'json': 'fleet.json', 'junit': 'fleet.junit.xml', 'markdown': 'fleet.md', 'html': 'fleet.html',
               'csv': 'fleet.csv'}


def _load_kb():
    # Provenance only: a KB that cannot load already failed the audit itself.
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import KBError, get_kb
    try:
        return get_kb()
    except KBError:
        return None


def _outcome(audit, outcome):
    """The host's outcome for this audit, or the outcome of a host nothing was enforced on.

    The role sets the outcome in enforce mode only; an outcome of another mode
    than the audit plan's was left by an earlier run in the same play, and a
    report-mode run would otherwise show that run's result. Without one, the
    mode is the plan's and the check mode the audit's own.
    """
    if not isinstance(audit, dict):
        return {}
    plan = audit.get('plan') if isinstance(audit.get('plan'), dict) else {}
    if isinstance(outcome, dict) and (not plan.get('mode') or outcome.get('mode', 'report') == plan['mode']):
        return outcome
    return {'mode': plan.get('mode') or 'report', 'check_mode': bool(audit.get('check_mode'))}


class ActionModule(GuardedAction):

    NAME = 'port_report'
    ARGUMENT_SPEC = _documentation.ARGUMENT_SPEC
    INPUT_ERRORS = (build.ReportError, OSError)
    _requires_connection = False

    def _work(self, args, task_vars, result):
        with build.bulk():
            return self._report(args, task_vars, result)

    def _inputs(self, args, task_vars):
        """{host: (audit, outcome, inventory groups)}"""
        hostvars = task_vars.get('hostvars') or {}
        if args['results'] is not None:
            out = {}
            for host, value in args['results'].items():
                if not isinstance(value, dict):
                    raise build.ReportError('results.%s: expected a mapping with audit and outcome, got %r' % (host, value))
                audit = value.get('audit') or {}
                outcome = value.get('outcome')
                out[host] = (audit, _outcome(audit, outcome), value.get('groups') or ())
            return out
        hosts = args['hosts'] if args['hosts'] is not None else task_vars.get('ansible_play_hosts_all') or []
        out = {}
        for host in hosts:
            hvars = hostvars.get(host) if host in hostvars else None
            if hvars is None:
                raise build.ReportError('hosts: %r is not in the inventory' % (host,))
            audit = self._templar.template(hvars.get(args['audit_var'])) if args['audit_var'] in hvars else None
            outcome = None
            if args['outcome_var'] and args['outcome_var'] in hvars:
                outcome = self._templar.template(hvars.get(args['outcome_var']))
            groups = [g for g in (hvars.get('group_names') or ()) if g not in ('all', 'ungrouped')]
            if not isinstance(audit, dict):
                audit = {'msg': 'no port_audit result (%s is not set: the host failed or was unreachable before '
                                'the audit)' % args['audit_var']}
            out[host] = (audit, _outcome(audit, outcome), groups)
        return out

    @staticmethod
    def _later_batches(args, task_vars):
        """Hosts of the play's later serial batches: still in the play, not in this batch, not audited yet.

        Their reports would say "not audited", and a fleet.json written now would
        become the next batch's "previous run": drift would then compare batch
        with batch. So, until the last batch, nothing is written.
        """
        if args['hosts'] is not None or args['results'] is not None:
            return []
        play_hosts = task_vars.get('ansible_play_hosts') or ()
        batch = set(task_vars.get('ansible_play_batch') or ())
        hostvars = task_vars.get('hostvars') or {}
        pending = []
        for host in play_hosts:
            if host in batch:
                continue
            # No guard: a host whose variables cannot be read fails the task, rather than leave the
            # report unwritten as if a later batch were still to run.
            if args['audit_var'] not in hostvars[host]:
                pending.append(host)
        return pending

    def _report(self, args, task_vars, result):
        mode, dir_mode = files.parse_mode(args['mode'], 'mode')
        expression = query.compile_query(args['query']) if args['query'] else None
        pending = self._later_batches(args, task_vars)
        if pending:
            result.update(
                lines=['serial batch: %d host(s) of later batches still to run (%s%s); the fleet summary, the report '
                       'files, drift and stats come with the last batch' % (
                           len(pending), ', '.join(pending[:10]), ', ...' if len(pending) > 10 else '')],
                files=[], totals={}, hosts={}, drift={}, stats={}, pending_hosts=pending)
            return result
        generated = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        noncompliant_on = args['junit_fail_on']
        dest = os.path.abspath(os.path.expanduser(args['dest'])) if args['dest'] else None
        baseline_name, baseline_field = None, None
        if args['baseline']:
            baseline_name, baseline_field = os.path.abspath(os.path.expanduser(args['baseline'])), 'baseline'
        elif dest and args['fleet'] and os.path.exists(os.path.join(dest, FLEET_FILES['json'])):
            baseline_name, baseline_field = os.path.join(dest, FLEET_FILES['json']), 'previous run'
        # The previous run is parsed beside the reports being built (drift.read_ahead); its errors are raised
        # here after theirs, as when it was read after them.
        with contextlib.ExitStack() as stack:
            reader = stack.enter_context(drift.read_ahead(baseline_name, baseline_field)) if baseline_name else None
            reports = [build.host_report(host, audit, outcome, generated=generated, noncompliant_on=noncompliant_on,
                                         groups=groups)
                       for host, (audit, outcome, groups) in sorted(self._inputs(args, task_vars).items())]
            fleet = build.fleet_report(reports, generated=generated,
                                       provenance=provenance.provenance(_load_kb(), args['query']),
                                       noncompliant_on=noncompliant_on, play_fail_on=args['play_fail_on'])
            previous = reader.result() if reader is not None else None
        fleet['drift'] = drift.compare(previous, fleet, baseline_name=baseline_name)
        selected = query.run(expression, fleet) if expression else None

        # Render everything before writing anything, so bad options leave no half-written set. The JSON files
        # are rendered here; the other formats beside them, in a forked process where that helps (lanes).
        here, beside = {}, {}
        if dest:
            names = {}
            for rep in reports:
                name = files.host_file_name(rep['host'])
                if name.lower() in names:  # never expected (names are reversible); never overwrite either
                    raise build.ReportError('hosts: %r and %r would share the report file hosts/%s.json'
                                            % (names[name.lower()], rep['host'], name))
                names[name.lower()] = rep['host']
                base = os.path.join(dest, 'hosts', name)
                here[base + '.json'] = functools.partial(render.to_json, rep)
                if 'markdown' in args['formats']:
                    beside[base + '.md'] = functools.partial(render.host_markdown, rep)
            if args['fleet']:
                renderers = {
                    'json': lambda: render.fleet_json(fleet),
                    'junit': lambda: render.junit_xml(fleet, fail_on=args['junit_fail_on'], by=args['junit_by'],
                                                      drift_fails=args['junit_drift_fails']),
                    'markdown': lambda: render.markdown(fleet),
                    'html': lambda: html.html(fleet),
                    'csv': lambda: render.fleet_csv(fleet),
                }
                for fmt in args['formats']:
                    (here if fmt == 'json' else beside)[os.path.join(dest, FLEET_FILES[fmt])] = renderers[fmt]
            if selected is not None:
                here[os.path.join(dest, 'query.json')] = functools.partial(render.to_json, selected)
        out = lanes.render(here, beside)
        for path, text in out.items():
            files.write(path, text, mode, dir_mode)
        lines = render.fleet_summary(fleet)
        if len(reports) == 1:
            lines += render.text_table(reports[0])
        fleet_json = out.get(os.path.join(dest, FLEET_FILES['json'])) if dest else None
        result.update(
            lines=lines,
            files=sorted(out),
            totals=fleet['totals'],
            drift={k: v for k, v in fleet['drift'].items() if k != 'hosts'},
            hosts={r['host']: {'passed': r['passed'], 'compliant': r['compliant'], 'findings': len(r['findings']),
                               'audited': r['audited']} for r in reports},
            stats=self._stats(fleet, dest, fleet_json),
        )
        if selected is not None:
            result['query_result'] = selected
        if args['stats_name']:
            # Read by the strategy from any task's result, as set_stats returns it: one task fewer in the role.
            result['ansible_stats'] = {'data': {args['stats_name']: result['stats']}, 'per_host': False,
                                       'aggregate': False}
        return result

    @staticmethod
    def _stats(fleet, dest, fleet_json):
        """The small fleet summary published with set_stats (AWX/AAP artifacts, ansible-runner)."""
        t = fleet['totals']
        out = {
            'generated': fleet['generated'],
            'collection_version': fleet['provenance'].get('collection_version'),
            'hosts': t['hosts'], 'compliant': t['hosts_compliant'], 'noncompliant': t['hosts_noncompliant'],
            'not_audited': t['hosts_not_audited'], 'findings': t['findings'], 'by_severity': t['by_severity'],
            'noncompliant_hosts': [r['host'] for r in fleet['hosts'] if r['audited'] and not r['compliant']][:50],
            'not_audited_hosts': [r['host'] for r in fleet['hosts'] if not r['audited']][:50],
            'top_findings': [{'finding': g['title'], 'severity': g['severity'], 'hosts': g['host_count']}
                             for g in fleet['groups'][:10]],
            'drift': {'state': fleet['drift']['state'], 'text': fleet['drift']['text'],
                      'totals': fleet['drift'].get('totals') or {}},
            'report_dir': dest,
        }
        if fleet_json is not None:
            out['fleet_json_sha256'] = hashlib.sha256(fleet_json.encode('utf-8', 'surrogateescape')).hexdigest()
        return out
