# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for hostsec.ports.port_audit: gather on the host, judge on the controller."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleError
from ansible.utils.display import Display

from ansible_collections.hostsec.ports.plugins.plugin_utils._action import GuardedAction
from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import parse_ephemeral
from ansible_collections.hostsec.ports.plugins.modules import port_audit as _documentation
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import engine, layering
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import summarize
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.rules import parse_date
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation import planner
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation import protect as protection
from ansible_collections.hostsec.ports.plugins.plugin_utils import _role_options as role_options

display = Display()

LINUX_GATHERER = 'hostsec.ports.listening_ports_info'
WINDOWS_GATHERER = 'hostsec.ports.win_listening_ports_info'
WINRM_CONNECTIONS = protection.WINRM_CONNECTIONS
# In a result of a task with require_all_play_hosts: this host passed the role's checks.
PASSED_KEY = 'role_checks_passed'


class AuditError(Exception):
    """Bad input or a failed step; the message goes to the user as is."""


def _load_kb(kb_errors):
    """The knowledge base; a KB that cannot load fails the audit unless the user tolerates it.

    Without the KB, severities lose the facts that raise them (plaintext, known
    malware ports), so a silent fallback would pass hosts it should fail.
    """
    try:
        from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
        return get_kb(), None
    except Exception as exc:  # pylint: disable=broad-except
        if kb_errors != 'tolerate':
            raise AuditError('the knowledge base could not be loaded (%s: %s); the audit fails closed rather than '
                             'judge without it (kb_errors=tolerate judges without it, every finding at the highest '
                             'severity its rule allows)' % (type(exc).__name__, exc))
        return None, ('knowledge base could not be loaded (%s): kb_errors=tolerate, so findings carry no port '
                      'explanations and take the highest severity their rule allows' % exc)


def _text(warning):
    """Module warnings are plain strings before ansible-core 2.19 and WarningSummary objects since."""
    event = getattr(warning, 'event', None)
    return str(getattr(event, 'msg', warning)) if event is not None else str(warning)


def _keep_compact(gathered):
    """Keep a compact gather result as it came, to return it without building it again."""
    listeners = gathered['listeners']
    if isinstance(gathered.get('processes'), dict) and all(isinstance(lst, dict) and 'pids' in lst for lst in listeners):
        gathered['compact'] = {'listeners': listeners, 'processes': gathered['processes']}


class ActionModule(GuardedAction):

    NAME = 'port_audit'
    ARGUMENT_SPEC = _documentation.ARGUMENT_SPEC
    INPUT_ERRORS = (AuditError,)
    _requires_connection = True

    def _work(self, args, task_vars, result):
        return self._audit(args, task_vars, result)

    def _check_role_options(self, args, task_vars):
        """The role's own checks (option names, rollback timing, hosts that left), before the KB or the host."""
        prefix = args['vars_prefix']
        errors = []
        if args['require_all_play_hosts']:
            play_hosts_all = task_vars.get('ansible_play_hosts_all')
            play_hosts = task_vars.get('ansible_play_hosts')
            if not all(isinstance(v, Sequence) and not isinstance(v, str) for v in (play_hosts_all, play_hosts)):
                # Never "nobody left": without the two lists nothing is known about the others.
                raise AuditError('require_all_play_hosts: ansible_play_hosts_all and ansible_play_hosts are not both '
                                 'lists of hosts (%r, %r)' % (type(play_hosts_all).__name__, type(play_hosts).__name__))
            errors += role_options.hosts_left_errors(
                play_hosts_all, play_hosts, self._passed_before(task_vars, set(play_hosts_all) - set(play_hosts)))
        timing = args['rollback_timing']
        if timing is not None:
            errors += role_options.rollback_timing_errors(timing['confirm_timeout'], timing['rollback_timeout'], prefix)
        if errors:
            raise AuditError('Invalid options, nothing was changed on any host: ' + '; '.join(errors))
        known = list(args['known_vars'] or ())
        if args['known_vars_spec'] is not None:
            where = 'known_vars_spec=%s' % args['known_vars_spec']
            try:
                with open(args['known_vars_spec'], 'rb') as handle:
                    spec_text = handle.read()
            except OSError as exc:
                raise AuditError('%s: cannot be read (%s)' % (where, exc))
            try:
                known += role_options.option_names(spec_text, where)
            except ValueError as exc:
                raise AuditError(str(exc))
        if args['known_vars'] is not None or args['known_vars_spec'] is not None:
            errors = role_options.unknown_variables(task_vars, known, prefix=prefix)
            if errors:
                raise AuditError('invalid variables, nothing was changed: ' + '; '.join(errors))

    def _passed_before(self, task_vars, left):
        """Hosts among ``left`` whose registered result of this task says they passed its checks.

        They left the play after this task ran for them (a later task failed them,
        or an earlier serial batch or play ran them): no reason to stop the others.
        Without ``register`` on the task nothing is known, so every host that left counts.
        """
        name = getattr(self._task, 'register', None)
        hostvars = task_vars.get('hostvars')
        if not name or not left or hostvars is None:
            return set()
        passed = set()
        for host in left:
            try:
                registered = hostvars[host].get(name)
            except Exception:  # pylint: disable=broad-except  # an unreadable result proves nothing: the host counts
                continue
            if isinstance(registered, Mapping) and registered.get(PASSED_KEY) is True and not registered.get('failed'):
                passed.add(host)
        return passed

    def _audit(self, args, task_vars, result):
        today = parse_date(args['now'], 'now') if args['now'] else datetime.date.today()
        self._check_role_options(args, task_vars)
        if args['require_all_play_hosts']:
            result[PASSED_KEY] = True  # read back by _passed_before in a later batch or play
        kb, kb_warning = _load_kb(args['kb_errors'])
        warnings = [kb_warning] if kb_warning else []

        # The whole policy is compiled (and so validated) before the host is touched.
        policy_vars = layering.template_policy_vars(self._templar, task_vars, args['vars_prefix'])
        policy = layering.build_policy(policy_vars, prefix=args['vars_prefix'], policy=args['policy'], kb=kb, today=today)
        for warning in policy.warnings:
            display.warning(warning)
        try:
            listed = protection.user_specs(args['protect'])
        except protection.ProtectError as exc:
            raise AuditError(str(exc))
        ephemeral = parse_ephemeral(args['ephemeral_range'])

        if args['listeners'] is not None:
            gathered = self._given(args['listeners'])
        else:
            gathered = self._gather(args, task_vars)
        session = gathered.pop('session', None)
        protect, ssh_source, protect_warnings = self._protect(args, task_vars, listed, session)
        gather_warnings = [_text(w) for w in gathered.pop('warnings', None) or ()]
        platform = gathered.get('platform') or ('windows' if self._is_windows(task_vars) else 'linux')
        if ephemeral is None and gathered.get('ephemeral_range'):
            ephemeral = parse_ephemeral(gathered['ephemeral_range'])

        listeners = gathered['listeners']
        # Protection is the planner's decision alone (below); the engine judges the policy.
        outcome = engine.evaluate(policy, listeners, kb=kb, today=today, ephemeral_range=ephemeral,
                                  platform=platform, kb_errors=args['kb_errors'])
        plan, findings = planner.plan(
            outcome['findings'], listeners, platform=platform, mode=args['mode'], actions=args['actions'],
            protected=protect, protect_units=args['protect_units'], backend=args['backend'],
            mask_units=args['mask_units'], domain_controller=gathered.get('domain_controller'))
        warnings += protect_warnings
        all_warnings = list(policy.warnings) + gather_warnings + warnings + outcome['warnings']
        for warning in gather_warnings + warnings + outcome['warnings']:
            display.warning(warning)
        fail_on = args['fail_on']
        summary = summarize(findings, len(listeners), host=task_vars.get('inventory_hostname'), platform=platform,
                            collector=gathered.get('collector'),
                            attribution_complete=gathered.get('attribution_complete'),
                            warnings=all_warnings, fail_on=fail_on, ignored=outcome['ignored'])
        summary['ssh_connection_source'] = ssh_source
        if args['full_listeners']:
            returned = {'listeners': listeners}
        else:
            # Each process once: the reports and the baseline read this form through schema.expand().
            returned = gathered.get('compact') or schema.compact(listeners)
        result.update(
            findings=findings,
            summary=summary,
            effective_policy=policy.effective(),
            listeners=returned['listeners'],
            verdicts=outcome.get('verdicts'),
            ignored_listeners=[{'listener': listeners[i], 'ignored_by': v['ignored_by']}
                               for i, v in enumerate(outcome.get('verdicts') or ()) if v.get('ignored_by')],
            protected=protect,
            plan=plan,
            policy_warnings=all_warnings,
            # The task's effective check mode (--check, or the check_mode keyword of a play, block or
            # include_role): the role's later tasks inherit the same, and no task needs a probe to learn it.
            check_mode=bool(self._task.check_mode),
        )
        if 'processes' in returned:
            result['processes'] = returned['processes']
        if fail_on and not summary['passed']:
            counts = ', '.join('%s: %d' % (s, summary['by_severity'][s]) for s in summary['by_severity']
                               if s in fail_on and summary['by_severity'][s])
            kinds = ', '.join('%s: %d' % (k, n) for k, n in summary['by_kind'].items() if n)
            result.update(failed=True, msg='port_audit: %d finding(s) at a fail_on severity (%s); all findings by kind: %s'
                          % (sum(summary['by_severity'][s] for s in fail_on), counts, kinds))
        else:
            result['msg'] = '%d listener(s), %d finding(s)%s' % (
                len(listeners), len(findings),
                ', highest %s' % summary['highest_severity'] if summary['highest_severity'] else '')
        return result

    def _is_windows(self, task_vars):
        shell = getattr(getattr(self._connection, '_shell', None), 'SHELL_FAMILY', None)
        if shell == 'powershell':
            return True
        return (task_vars.get('ansible_shell_type') == 'powershell'
                or task_vars.get('ansible_connection') in WINRM_CONNECTIONS)

    def _given(self, value):
        if isinstance(value, dict) and 'listeners' in value:
            gathered = dict(value)
        elif isinstance(value, list):
            gathered = {'listeners': value, 'collector': 'given', 'attribution_complete': None}
        else:
            raise AuditError('listeners: expected a list of listeners or a gatherer result, got %s'
                             % type(value).__name__)
        if not isinstance(gathered['listeners'], list):
            raise AuditError('listeners: expected a list, got %s' % type(gathered['listeners']).__name__)
        # Only the gatherer run by this task may say which SSH session it runs in: a value passed in could
        # come from another host or be made up, and it would exempt a port from remediation.
        gathered.pop('session', None)
        # A registered gatherer result is compact (processes once, by pid): the engine reads full records.
        _keep_compact(gathered)
        try:
            gathered['listeners'] = schema.expand(gathered)
        except schema.SchemaError as exc:
            raise AuditError('listeners: %s' % exc)
        gathered.pop('processes', None)
        for i, lst in enumerate(gathered['listeners']):
            schema.validate_listener(lst, where='listeners[%d]' % i)
        return gathered

    def _gather(self, args, task_vars):
        windows = self._is_windows(task_vars)
        module_args = {}
        if args['collector']:
            module_args['collector'] = args['collector']
        if not windows:
            for key in ('protocols', 'families', 'namespaces'):
                if args[key]:
                    module_args[key] = args[key]
        name = WINDOWS_GATHERER if windows else LINUX_GATHERER
        res = self._execute_module(module_name=name, module_args=module_args, task_vars=task_vars)
        if res.get('failed') or res.get('skipped'):
            raise AuditError('gathering with %s failed: %s' % (name, res.get('msg') or res.get('module_stderr')
                                                               or 'no message'))
        if 'listeners' not in res and 'raw' in res:
            from ansible_collections.hostsec.ports.plugins.module_utils._listeners import windows as win
            res = dict(res, **win.normalize(win.raw_from_result(res)))
        if not isinstance(res.get('listeners'), list):
            raise AuditError('gathering with %s returned no listeners list' % name)
        res.pop('ansible_facts', None)
        # The Linux module sends each process once (compact form); the engine reads full records.
        _keep_compact(res)
        try:
            res['listeners'] = schema.expand(res)
        except schema.SchemaError as exc:
            raise AuditError('gathering with %s returned a result that does not fit the schema: %s' % (name, exc))
        res.pop('processes', None)
        return res

    def _protect(self, args, task_vars, listed, session):
        """Protected records (see _remediation.protect): the user's specs, then the management path."""
        if not args['auto_protect']:
            return listed, None, []
        try:
            conn = self._templar.template(task_vars.get('ansible_connection')) or self._play_context.connection
            port, port_var = None, 'ansible_port'
            for name in ('ansible_port', 'ansible_ssh_port'):
                if task_vars.get(name) not in (None, ''):
                    port, port_var = self._templar.template(task_vars[name]), name
                    break
            windows = self._is_windows(task_vars)
            given = args['ssh_connection']
            path = protection.management_path(conn, ansible_port=port, port_var=port_var, ssh_connection=given,
                                              windows=windows)
        except protection.ProtectError as exc:
            raise AuditError(str(exc))
        if given is not None:
            return protection.merge(listed, path), 'the ssh_connection option', []
        found, source, warnings = self._ssh_connections(args, task_vars, conn, session, windows)
        records, bad, used = protection.session_ports(found)
        warnings += bad
        if found:
            source = ' and '.join(used) if used else 'unusable: ' + '; '.join(src for _v, src in found)
        return protection.merge(listed, path, records), source, warnings

    def _ssh_connections(self, args, task_vars, conn, session, windows):
        """([(SSH_CONNECTION, where it came from)], why there is none, warnings): the live session, then facts.

        Only an SSH connection has a session the controller depends on; under
        any other (local, podman, docker...) the module's environment is the
        image's or the controller's, and a value there must not exempt a port.
        The gatherer finds the value in its own session's processes (see
        module_utils/_listeners/session.py) at no extra cost. Only when it could
        not (a become user that may not read them, listeners passed in) is one
        command run, without become, since sudo's env_reset drops the variable.
        """
        if not args['read_ssh_connection']:
            return [], 'not read (read_ssh_connection=false)', []
        if windows or conn not in protection.SSH_CONNECTIONS:
            return [], 'none: %s connection (only an SSH session is protected)' % (conn or 'unknown'), []
        found, warnings = [], []
        why = 'not set'
        if isinstance(session, dict):
            if session.get('ssh_connection'):
                found.append((session['ssh_connection'], 'gatherer: %s' % session.get('source')))
            elif session.get('source'):
                why = 'gatherer: %s' % session['source']
                if 'malformed' in str(session['source']):
                    warnings.append('the gatherer found a %s: it is not used, and the command below may not do '
                                    'better' % session['source'])
        facts = task_vars.get('ansible_facts') or {}
        env = facts.get('env') or task_vars.get('ansible_env') or {}
        if isinstance(env, dict) and env.get('SSH_CONNECTION'):
            # Facts may be cached from another session: their port is kept too, never instead of the live one.
            found.append((env['SSH_CONNECTION'], 'gathered facts (ansible_env)'))
        if any(src.startswith('gatherer') for _v, src in found):
            return found, None, warnings
        try:
            res = self._low_level_execute_command("/bin/sh -c 'printf \"%s\" \"$SSH_CONNECTION\"'", sudoable=False)
        except AnsibleError as exc:  # the connection itself failed: the gather that follows will say so too
            res = {'rc': None, 'stderr': str(exc)}
        if res.get('rc') != 0:
            warnings.append('could not read SSH_CONNECTION on the host (rc %s: %s); unless gathered facts had it, '
                            'the sshd port as the host sees it is not known and only ansible_port (or 22) is protected'
                            % (res.get('rc'), (res.get('stderr') or '').strip()[:300]))
            return found, 'unreadable: the command without become failed (rc %s)' % res.get('rc'), warnings
        value = (res.get('stdout') or '').strip()
        if value:
            found.append((value, 'a command without become'))
        return found, '%s; a command without become found none' % why, warnings
