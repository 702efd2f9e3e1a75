# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller-side wiring of roles/port_policy/tasks/windows, run by a real ansible-playbook.

The Windows modules cannot run here, but the tasks that read the plan, refuse
protected services and turn the firewall state into the outcome are plain
set_fact/assert tasks with the collection's filters: this takes those very
tasks out of the role files (no copies) and runs them on localhost, with the
module results they read given as variables shaped as the modules return them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[5]
TASKS = ROOT / 'roles' / 'port_policy' / 'tasks' / 'windows'
CONTROLLER = ('ansible.builtin.set_fact', 'ansible.builtin.assert')


def controller_tasks():
    main = [t for t in yaml.safe_load((TASKS / 'main.yml').read_text()) if any(k in t for k in CONTROLLER)]
    assert [t['name'] for t in main] == [
        'Windows | Take the plan', 'Windows | Refuse to stop a protected service',
        'Windows | Record why the block rules would not take effect', 'Windows | Work out whether the host will change',
        'Windows | Record that the plan was applied']
    after = [t for t in yaml.safe_load((TASKS / 'firewall.yml').read_text()) if any(k in t for k in CONTROLLER)]
    assert len(after) == 1
    return main[:-1] + after + main[-1:]


def run(tmp_path, extra):
    """(failed message or None, outcome or None)."""
    play = [{'hosts': 'localhost', 'gather_facts': False,
             'vars': {'ansible_python_interpreter': '{{ ansible_playbook_python }}'},
             # set_fact, not extra vars: extra vars would win over the role's own set_fact.
             'tasks': [{'name': 'Given', 'ansible.builtin.set_fact': {k: '{{ given.%s }}' % k for k in extra}}]
             + controller_tasks() + [{'name': 'Dump', 'ansible.builtin.set_fact': {'dump': {
                 'outcome': '{{ __port_policy_outcome }}', 'stop': '{{ __port_policy_win_stop }}',
                 'pending': '{{ __port_policy_win_pending }}'}}}]}]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump(play))
    varsfile = tmp_path / 'vars.json'
    varsfile.write_text(json.dumps({'given': extra}))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json',
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(
                   [str(ROOT / '.build' / 'collections'), str(Path(sys.prefix) / 'lib' / 'python3.11' / 'site-packages')]))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
         str(playbook), '-e', '@%s' % varsfile],
        capture_output=True, text=True, env=env, check=False)
    report = json.loads(proc.stdout)
    results = {t['task']['name']: t['hosts']['localhost'] for t in report['plays'][0]['tasks']}
    failed = [r['msg'] for r in results.values() if r.get('failed')]
    assert (proc.returncode != 0) == bool(failed), proc.stdout[-2000:] + proc.stderr[-2000:]
    dump = results.get('Dump', {}).get('ansible_facts', {}).get('dump')
    return (failed[0] if failed else None), dump


def firewall(**over):
    state = {'profiles': [{'Name': 'Domain', 'Enabled': 'True', 'AllowLocalFirewallRules': 'True'},
                          {'Name': 'Public', 'Enabled': 'True', 'AllowLocalFirewallRules': 'True'}],
             'active_profiles': ['DomainAuthenticated'], 'expected_rules': None, 'active_rules': [], 'errors': []}
    state.update(over)
    return state


def base(**over):
    values = {
        '__port_policy_plan': {
            'block': [{'port': 23, 'protocol': 'tcp', 'finding_ids': ['f1']}],
            'stop': [{'unit': 'Spooler', 'mask': False, 'finding_ids': ['f2']}]},
        '__port_policy_outcome': {'mode': 'enforce', 'check_mode': False, 'backend': None, 'applied': False,
                                  'trial': False, 'not_effective': None, 'errors': []},
        '__port_policy_win_fw_preview': {'changed': True, 'firewall': firewall()},
        '__port_policy_win_fw_applied': {'changed': True, 'firewall': firewall(
            expected_rules=['hostsec.ports-block-23-tcp'], active_rules=['hostsec.ports-block-23-tcp'])},
    }
    values.update(over)
    return values


def test_effective_plan_is_applied(tmp_path):
    failed, out = run(tmp_path, base())
    assert failed is None
    assert out['stop'] == ['Spooler']
    assert out['pending'] is True
    assert out['outcome']['backend'] == 'windows_firewall'
    assert out['outcome']['not_effective'] is None
    assert out['outcome']['applied'] is True


def test_gpo_that_ignores_local_rules_is_reported_not_effective(tmp_path):
    gpo = firewall(active_profiles=['Public'], profiles=[
        {'Name': 'Public', 'Enabled': 'True', 'AllowLocalFirewallRules': 'False'}])
    failed, out = run(tmp_path, base(__port_policy_win_fw_preview={'changed': True, 'firewall': gpo},
                                     __port_policy_win_fw_applied={'changed': True, 'firewall': gpo}))
    assert failed is None
    assert 'Group Policy does not apply local firewall rules in the active Public profile' in out['outcome']['not_effective']


def test_rules_missing_from_the_active_store_are_reported(tmp_path):
    missing = {'changed': True, 'firewall': firewall(expected_rules=['hostsec.ports-block-23-tcp'], active_rules=[])}
    failed, out = run(tmp_path, base(__port_policy_win_fw_applied=missing))
    assert failed is None
    assert out['outcome']['not_effective'] == 'rule(s) hostsec.ports-block-23-tcp are not in the active store'


def test_nothing_to_block_is_never_not_effective(tmp_path):
    off = firewall(profiles=[{'Name': 'Domain', 'Enabled': 'False', 'AllowLocalFirewallRules': 'True'}])
    failed, out = run(tmp_path, base(__port_policy_plan={'block': [], 'stop': []},
                                     __port_policy_win_fw_preview={'changed': False, 'firewall': off},
                                     __port_policy_win_fw_applied={'changed': False, 'firewall': off}))
    assert failed is None
    assert out['outcome']['not_effective'] is None
    assert out['pending'] is False


def test_check_mode_arms_nothing(tmp_path):
    outcome = dict(base()['__port_policy_outcome'], check_mode=True)
    failed, out = run(tmp_path, base(__port_policy_outcome=outcome))
    assert failed is None
    assert out['pending'] is False
    assert out['outcome']['applied'] is False


def test_a_protected_service_in_the_plan_is_refused(tmp_path):
    stop = [{'unit': 'winrm', 'mask': False, 'finding_ids': ['f9']},
            {'unit': 'Spooler', 'mask': False, 'finding_ids': ['f2']}]
    plan = {'block': [], 'stop': stop}
    failed, _out = run(tmp_path, base(__port_policy_plan=plan))
    assert 'refusing to stop' in failed and 'protected service WinRM' in failed and 'Nothing was changed' in failed
