# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for hostsec.ports.port_audit: gather on the host, judge on the controller."""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import parse_ephemeral
from ansible_collections.hostsec.ports.plugins.modules.port_audit import ARGUMENT_SPEC
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import parse_port_spec, parse_port_specs
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import engine, layering
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import summarize
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.rules import parse_date

display = Display()

LINUX_GATHERER = 'hostsec.ports.listening_ports_info'
WINDOWS_GATHERER = 'hostsec.ports.win_listening_ports_info'
SSH_CONNECTIONS = ('ssh', 'paramiko', 'paramiko_ssh', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh',
                   'ansible.netcommon.libssh', 'libssh')
WINRM_CONNECTIONS = ('winrm', 'psrp', 'ansible.builtin.winrm', 'ansible.builtin.psrp')


class AuditError(Exception):
    """Bad input or a failed step; the message goes to the user as is."""


def _load_kb():
    try:
        from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
        return get_kb(), None
    except Exception as exc:  # pylint: disable=broad-except
        return None, 'knowledge base could not be loaded (%s): findings carry no port explanations' % exc


def _text(warning):
    """Module warnings are plain strings before ansible-core 2.19 and WarningSummary objects since."""
    event = getattr(warning, 'event', None)
    return str(getattr(event, 'msg', warning)) if event is not None else str(warning)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result['changed'] = False
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            return self._audit(args, task_vars, result)
        except (AuditError, ValueError) as exc:  # PolicyError, SchemaError, PortSpecError, bad dates
            result.update(failed=True, msg='port_audit: %s' % exc)
            return result
        except AnsibleActionFail:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # A bug must still not hand the user a traceback; -vvv shows it through 'exception'.
            import traceback
            result.update(failed=True, msg='port_audit: internal error: %s: %s' % (type(exc).__name__, exc),
                          exception=traceback.format_exc())
            return result

    def _vars(self, task_vars, prefix):
        """The host's policy variables, templated (inventory values may hold Jinja)."""
        out = {}
        for name, value in task_vars.items():
            if isinstance(name, str) and name.startswith(prefix + '_'):
                out[name] = self._templar.template(value)
        return out

    def _audit(self, args, task_vars, result):
        today = parse_date(args['now'], 'now') if args['now'] else datetime.date.today()
        kb, kb_warning = _load_kb()
        warnings = [kb_warning] if kb_warning else []

        # The whole policy is compiled (and so validated) before the host is touched.
        policy = layering.build_policy(self._vars(task_vars, args['vars_prefix']), prefix=args['vars_prefix'],
                                       policy=args['policy'], kb=kb, today=today)
        for warning in policy.warnings:
            display.warning(warning)
        protect = self._protect(args, task_vars)
        ephemeral = parse_ephemeral(args['ephemeral_range'])

        if args['listeners'] is not None:
            gathered = self._given(args['listeners'])
        else:
            gathered = self._gather(args, task_vars)
        gather_warnings = [_text(w) for w in gathered.pop('warnings', None) or ()]
        platform = gathered.get('platform') or ('windows' if self._is_windows(task_vars) else 'linux')
        if ephemeral is None and gathered.get('ephemeral_range'):
            ephemeral = parse_ephemeral(gathered['ephemeral_range'])

        listeners = gathered['listeners']
        outcome = engine.evaluate(policy, listeners, kb=kb, protect=protect, today=today,
                                  ephemeral_range=ephemeral, platform=platform)
        all_warnings = list(policy.warnings) + gather_warnings + warnings + outcome['warnings']
        for warning in gather_warnings + warnings + outcome['warnings']:
            display.warning(warning)
        findings = outcome['findings']
        fail_on = args['fail_on']
        summary = summarize(findings, len(listeners), host=task_vars.get('inventory_hostname'), platform=platform,
                            collector=gathered.get('collector'),
                            attribution_complete=gathered.get('attribution_complete'),
                            warnings=all_warnings, fail_on=fail_on, ignored=outcome['ignored'])
        result.update(
            findings=findings,
            summary=summary,
            effective_policy=policy.effective(),
            listeners=listeners,
            protected=[{'spec': str(spec), 'reason': why} for spec, why in protect],
            policy_warnings=all_warnings,
        )
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
        for i, lst in enumerate(gathered['listeners']):
            schema.validate_listener(lst, where='listeners[%d]' % i)
        return gathered

    def _gather(self, args, task_vars):
        windows = self._is_windows(task_vars)
        module_args = {}
        if args['collector']:
            module_args['collector'] = args['collector']
        if not windows:
            for key in ('protocols', 'families'):
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
        return res

    def _protect(self, args, task_vars):
        protect = []
        for i, value in enumerate(args['protect'] or ()):
            # One entry may also be a comma-separated list of specs.
            for spec in parse_port_specs(value, 'protect[%d]' % i):
                protect.append((spec, 'listed in protect'))
        if not args['auto_protect']:
            return protect
        conn = self._templar.template(task_vars.get('ansible_connection')) or self._play_context.connection
        port = None
        for name in ('ansible_port', 'ansible_ssh_port'):
            if task_vars.get(name) not in (None, ''):
                port = self._templar.template(task_vars[name])
                port_var = name
                break
        if conn in SSH_CONNECTIONS:
            ports = [(port, '%s of the %s connection' % (port_var, conn))] if port else [(22, 'default port of the ssh connection')]
            protocol = 'tcp'
        elif conn in WINRM_CONNECTIONS:
            ports = [(port, '%s of the %s connection' % (port_var, conn))] if port else [
                (5985, 'WinRM over HTTP (%s connection)' % conn), (5986, 'WinRM over HTTPS (%s connection)' % conn)]
            protocol = 'tcp'
        else:
            ports = []
            protocol = 'tcp'
        facts = task_vars.get('ansible_facts') or {}
        env = facts.get('env') or task_vars.get('ansible_env') or {}
        ssh_connection = env.get('SSH_CONNECTION') if isinstance(env, dict) else None
        if ssh_connection and len(str(ssh_connection).split()) == 4:
            # "client_ip client_port server_ip server_port": the last field is this host's sshd port.
            ports.append((str(ssh_connection).split()[3], 'server port of the current SSH_CONNECTION'))
        for value, why in ports:
            try:
                spec = parse_port_spec(int(value), 'ansible_port', protocol)
            except (TypeError, ValueError) as exc:
                raise AuditError('%s: %r is not a port number (%s)' % (why, value, exc))
            if not any(spec == known[0] for known in protect):
                protect.append((spec, 'management path: %s' % why))
        return protect
