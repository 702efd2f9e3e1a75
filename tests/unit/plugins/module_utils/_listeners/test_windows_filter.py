# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hostsec.ports.win_listeners filter, called directly and through a real ansible-playbook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostsec.ports.plugins.filter.win_listeners import FilterModule
from ansible_collections.hostsec.ports.plugins.module_utils._listeners import windows

FIXTURES = Path(__file__).parent / 'fixtures' / 'windows'
ROOT = Path(__file__).resolve().parents[5]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    win_ports: "{{ lookup('ansible.builtin.file', fixture) | from_json }}"
  tasks:
    - name: Normalise a recorded module result
      ansible.builtin.set_fact:
        gathered: "{{ win_ports | hostsec.ports.win_listeners }}"

    - name: Write it for the test to read
      ansible.builtin.copy:
        content: "{{ gathered | to_json }}"
        dest: "{{ out }}"
        mode: "0600"

    - name: Bad input fails with the field named
      ansible.builtin.set_fact:
        broken: "{{ {'raw': win_ports.raw | combine({'collector': 'ss'})} | hostsec.ports.win_listeners }}"
      register: bad
      ignore_errors: true

    - name: Check the failure message
      ansible.builtin.assert:
        that:
          - bad is failed
          - "'raw.collector: unknown value' in bad.msg"
"""


def test_filter_is_registered_and_normalises():
    win_listeners = FilterModule().filters()['win_listeners']
    result = json.loads((FIXTURES / 'server2022_elevated.json').read_text())
    assert win_listeners(result) == windows.normalize(result['raw'])
    assert win_listeners(result['raw'])['platform'] == 'windows'


def test_filter_error_names_field_without_traceback():
    win_listeners = FilterModule().filters()['win_listeners']
    with pytest.raises(AnsibleFilterError, match=r'win_listeners: raw\.tcp\[0\]: missing field\(s\) OwningProcess'):
        win_listeners({'raw': dict(windows.raw_from_result(json.loads(
            (FIXTURES / 'nonelevated.json').read_text())), tcp=[{'LocalAddress': '::', 'LocalPort': 1}])})


def test_filter_in_a_playbook(tmp_path):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(PLAYBOOK)
    out = tmp_path / 'out.json'
    env = dict(os.environ)
    env['ANSIBLE_COLLECTIONS_PATH'] = os.pathsep.join(
        [str(ROOT / '.build' / 'collections'), str(Path(sys.prefix) / 'lib' / 'python3.11' / 'site-packages')])
    env['ANSIBLE_NOCOLOR'] = '1'
    proc = subprocess.run(
        [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(playbook),
         '-e', 'fixture=%s' % (FIXTURES / 'netstat_fallback_de.json'), '-e', 'out=%s' % out],
        capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    gathered = json.loads(out.read_text())
    expected = windows.normalize(json.loads((FIXTURES / 'netstat_fallback_de.json').read_text(encoding='utf-8'))['raw'])
    assert gathered == expected
