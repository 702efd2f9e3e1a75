# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for hostsec.ports.port_baseline: propose a layered policy from registered audits."""

from __future__ import annotations

import os
import re


from ansible_collections.hostsec.ports.plugins.plugin_utils._action import GuardedAction
from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema
from ansible_collections.hostsec.ports.plugins.modules import port_baseline as _documentation
from ansible_collections.hostsec.ports.plugins.plugin_utils._baseline import propose, write


def _load_kb():
    # Naming ports and explaining them needs the KB; a KB that cannot load fails the task (no silent numbers).
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
    return get_kb()


class ActionModule(GuardedAction):

    NAME = 'port_baseline'
    ARGUMENT_SPEC = _documentation.ARGUMENT_SPEC
    INPUT_ERRORS = (propose.BaselineError, write.BaselineWriteError)
    _requires_connection = False

    def _work(self, args, task_vars, result):
        return self._baseline(args, task_vars, result)

    def _inputs(self, args, task_vars):
        """({host: result}, {group: [hosts]})."""
        if not re.match(r'^[A-Za-z_]\w*$', args['vars_prefix']):
            raise propose.BaselineError('vars_prefix: %r is not a variable name' % (args['vars_prefix'],))
        if args['results'] is not None:
            return args['results'], args['groups'] or {}
        hostvars = task_vars.get('hostvars') or {}
        hosts = args['hosts'] if args['hosts'] is not None else task_vars.get('ansible_play_hosts') or []
        out = {}
        for host in hosts:
            if host not in hostvars:
                raise propose.BaselineError('hosts: %r is not in the inventory' % (host,))
            hvars = hostvars[host]
            if args['results_var'] not in hvars:
                raise propose.BaselineError('%s: %s is not set (register the port_audit or gatherer result under '
                                            'that name, or name it in results_var)' % (host, args['results_var']))
            value = self._templar.template(hvars[args['results_var']])
            if isinstance(value, dict) and value.get('failed'):
                raise propose.BaselineError('%s: its audit failed (%s); a baseline from part of a fleet would be '
                                            'wrong for the rest' % (host, value.get('msg')))
            out[host] = value
        groups = args['groups'] if args['groups'] is not None else {
            name: list(members) for name, members in (task_vars.get('groups') or {}).items()}
        return out, groups

    def _baseline(self, args, task_vars, result):
        hosts, groups = self._inputs(args, task_vars)
        normalized = {}
        for host, value in hosts.items():
            if not isinstance(value, dict):
                raise propose.BaselineError('%s: expected a port_audit or gatherer result, got %s'
                                            % (host, type(value).__name__))
            if 'listeners' not in value and 'raw' in value:
                raise propose.BaselineError('%s: a raw Windows gather result; register port_audit instead' % host)
            if not isinstance(value.get('listeners'), list):
                raise propose.BaselineError('%s: the result has no listeners list (register port_audit or '
                                            'listening_ports_info)' % host)
            try:
                # Gather and port_audit results are compact (owners by pid in a table); full records pass through.
                listeners = schema.expand(value)
            except schema.SchemaError as exc:
                raise propose.BaselineError('%s: %s' % (host, exc))
            normalized[host] = {'listeners': listeners, 'ephemeral_range': value.get('ephemeral_range')}
        proposal = propose.propose(normalized, groups, kb=_load_kb(), prefix=args['vars_prefix'])
        dest = os.path.abspath(os.path.expanduser(args['dest']))
        changes = write.plan_writes(dest, proposal['files'], force=args['force'])
        if not self._task.check_mode:
            write.apply_writes(changes)
        changed_paths = {path for path, _text, _before in changes}
        files = {}
        for rel in proposal['files']:
            files[rel] = {
                'entries': sum(1 for e in proposal['entries'] if e['file'] == rel),
                'review': sum(1 for e in proposal['review'] if e['file'] == rel),
                'changed': os.path.join(dest, rel) in changed_paths,
            }
        result.update(changed=bool(changes), files=files, entries=proposal['entries'], review=proposal['review'],
                      hosts=proposal['hosts'], dest=dest)
        if self._task.diff:
            result['diff'] = [{'before_header': path, 'after_header': path, 'before': before or '', 'after': text}
                              for path, text, before in changes]
        result['msg'] = '%d entr%s and %d review item(s) in %d file(s) from %d host(s)' % (
            len(proposal['entries']), 'y' if len(proposal['entries']) == 1 else 'ies', len(proposal['review']),
            len(files), proposal['hosts'])
        return result
