# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for hostsec.ports.port_report: host and fleet reports, written on the controller."""

from __future__ import annotations

import datetime
import os
import re
import tempfile

from ansible.plugins.action import ActionBase

from ansible_collections.hostsec.ports.plugins.modules.port_report import ARGUMENT_SPEC
from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build, render

FLEET_FILES = {'json': 'fleet.json', 'junit': 'fleet.junit.xml', 'markdown': 'fleet.md'}


def _safe_name(host):
    """Inventory names may hold characters a file name should not."""
    return re.sub(r'[^A-Za-z0-9._-]', '_', host) or '_'


def _write(path, text):
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.port_report.')
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result['changed'] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            return self._report(args, task_vars, result)
        except (build.ReportError, ValueError, OSError) as exc:
            result.update(failed=True, msg='port_report: %s' % exc)
            return result

    def _inputs(self, args, task_vars):
        if args['results'] is not None:
            out = {}
            for host, value in args['results'].items():
                if not isinstance(value, dict):
                    raise build.ReportError('results.%s: expected a mapping with audit and outcome, got %r' % (host, value))
                out[host] = (value.get('audit') or {}, value.get('outcome') or {})
            return out
        hosts = args['hosts'] if args['hosts'] is not None else task_vars.get('ansible_play_hosts_all') or []
        hostvars = task_vars.get('hostvars') or {}
        out = {}
        for host in hosts:
            hvars = hostvars.get(host) if host in hostvars else None
            if hvars is None:
                raise build.ReportError('hosts: %r is not in the inventory' % (host,))
            audit = self._templar.template(hvars.get(args['audit_var'])) if args['audit_var'] in hvars else None
            outcome = self._templar.template(hvars.get(args['outcome_var'])) if args['outcome_var'] in hvars else None
            if not isinstance(audit, dict):
                audit = {'msg': 'no port_audit result (%s is not set: the host failed or was unreachable before '
                                'the audit)' % args['audit_var']}
            out[host] = (audit, outcome if isinstance(outcome, dict) else {})
        return out

    def _report(self, args, task_vars, result):
        generated = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        reports = [build.host_report(host, audit, outcome, generated=generated)
                   for host, (audit, outcome) in sorted(self._inputs(args, task_vars).items())]
        fleet = build.fleet_report(reports, generated=generated)
        # Render everything before writing anything, so bad options leave no half-written set.
        files = {}
        if args['dest']:
            dest = os.path.abspath(os.path.expanduser(args['dest']))
            for rep in reports:
                files[os.path.join(dest, 'hosts', _safe_name(rep['host']) + '.json')] = render.to_json(rep)
            if args['fleet']:
                if 'json' in args['formats']:
                    files[os.path.join(dest, FLEET_FILES['json'])] = render.to_json(fleet)
                if 'junit' in args['formats']:
                    files[os.path.join(dest, FLEET_FILES['junit'])] = render.junit_xml(
                        fleet, fail_on=args['junit_fail_on'], by=args['junit_by'])
                if 'markdown' in args['formats']:
                    files[os.path.join(dest, FLEET_FILES['markdown'])] = render.markdown(fleet)
        for path, text in files.items():
            _write(path, text)
        lines = []
        for rep in reports:
            lines.extend(render.text_table(rep))
        result.update(
            lines=lines,
            files=sorted(files),
            totals=fleet['totals'],
            hosts={r['host']: {'passed': r['passed'], 'findings': len(r['findings']), 'audited': r['audited']}
                   for r in reports},
        )
        return result
