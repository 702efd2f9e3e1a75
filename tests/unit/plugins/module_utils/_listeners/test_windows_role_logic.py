# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller-side logic of roles/port_policy/tasks/windows, run by a real ansible-playbook.

The Windows modules cannot run here, but the lockout checks and the list of
owned rule names are plain Jinja: this takes those very tasks out of the role
files (no copies) and runs them on localhost with the role's inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[5]
TASKS = ROOT / 'roles' / 'port_policy' / 'tasks' / 'windows'


def controller_tasks():
    # Tasks that reach the host (includes, the reconnect check) cannot run here.
    host_side = ('ansible.builtin.include_tasks', 'ansible.builtin.wait_for_connection')
    tasks = [t for t in yaml.safe_load((TASKS / 'main.yml').read_text())
             if not any(k in t for k in host_side)]
    assert [next(k for k in t if k.startswith('ansible.builtin.')) for t in tasks] == [
        'ansible.builtin.set_fact', 'ansible.builtin.assert', 'ansible.builtin.assert']
    [remove] = [t for t in yaml.safe_load((TASKS / 'firewall.yml').read_text())
                if 'ansible.windows.win_powershell' in t and 'parameters' in t['ansible.windows.win_powershell']]
    tasks.append({'name': 'Owned rule names', 'ansible.builtin.set_fact': {
        'wanted': remove['ansible.windows.win_powershell']['parameters']['Wanted']}})
    return tasks


def run(tmp_path, extra):
    """(failed message or None, dumped values or None); set_fact and assert need no connection."""
    play = [{'hosts': 'localhost', 'gather_facts': False,
             'vars': {'ansible_python_interpreter': '{{ ansible_playbook_python }}'},
             'tasks': controller_tasks() + [{'name': 'Dump', 'ansible.builtin.set_fact': {'dump': {
                 'protect': '{{ __port_policy_win_protect_ports }}',
                 'services': '{{ __port_policy_win_stop_services }}',
                 'wanted': '{{ wanted }}'}}}]}]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump(play))
    varsfile = tmp_path / 'vars.json'
    varsfile.write_text(json.dumps(extra))
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


BASE = {
    '__port_policy_protect_ports': [3389],
    '__port_policy_block': [{'port': 445, 'protocol': 'tcp'}, {'port': 5353, 'protocol': 'udp'}],
    '__port_policy_stop': [{'service': 'Spooler'}, {'unit': 'SSDPSRV', 'mask': True}],
}


def test_allowed_changes_pass_and_name_the_owned_rules(tmp_path):
    failed, out = run(tmp_path, dict(BASE, ansible_connection='winrm', ansible_port=5986))
    assert failed is None
    assert out['protect'] == [3389, 5985, 5986]
    assert out['services'] == ['Spooler', 'SSDPSRV']
    assert out['wanted'] == ['hostsec.ports block 445/tcp', 'hostsec.ports block 5353/udp']


def test_empty_policy_owns_no_rules(tmp_path):
    failed, out = run(tmp_path, {'__port_policy_block': [], '__port_policy_protect_ports': [], '__port_policy_stop': [],
                                 'ansible_connection': 'ansible.builtin.psrp'})
    assert failed is None
    assert out['wanted'] == [] and out['services'] == []


@pytest.mark.parametrize('extra, message', [
    ({'ansible_connection': 'winrm', '__port_policy_block': [{'port': 5985, 'protocol': 'tcp'}]},
     'refusing to block port(s) 5985'),
    ({'ansible_connection': 'psrp', 'ansible_port': 15986, '__port_policy_block': [{'port': 15986, 'protocol': 'tcp'}]},
     'refusing to block port(s) 15986'),
    ({'ansible_connection': 'ssh', '__port_policy_block': [{'port': 22, 'protocol': 'tcp'}]},
     'refusing to block port(s) 22'),
    ({'ansible_connection': 'winrm', '__port_policy_stop': [{'service': 'WinRM'}]}, 'refusing to stop winrm'),
    ({'ansible_connection': 'ansible.builtin.ssh', '__port_policy_stop': [{'service': 'sshd'}]}, 'refusing to stop sshd'),
    ({'ansible_connection': 'winrm', '__port_policy_stop': [{'unit': 'HTTP'}]}, 'refusing to stop http'),
])
def test_management_path_is_protected(tmp_path, extra, message):
    failed, out = run(tmp_path, dict(BASE, **extra))
    assert message in failed
    assert 'Nothing was changed' in failed
    assert out is None


def test_sshd_may_be_stopped_over_winrm(tmp_path):
    failed, out = run(tmp_path, dict(BASE, ansible_connection='winrm', __port_policy_stop=[{'service': 'sshd'}]))
    assert failed is None
    assert out['services'] == ['sshd']
