# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The port_policy role, run for real through ansible-playbook: bad variables stop the play first.

A misspelt allow list would leave a host with no allow rules, and enforce would
then block exactly what it meant to allow; so the play must stop in the
validation phase, before any host is gathered or changed, naming the closest
option. The second host is unreachable on purpose: validation never connects.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
ENV = dict(
    os.environ,
    ANSIBLE_COLLECTIONS_PATH='%s:%s' % (ROOT / '.build' / 'collections',
                                        ROOT / '.venv' / 'lib' / 'python3.11' / 'site-packages'),
    ANSIBLE_NOCOLOR='1',
    ANSIBLE_RETRY_FILES_ENABLED='0',
    ANSIBLE_LOCALHOST_WARNING='0',
)


def run_enforce(tmp_path, host_vars, extra=()):
    inv = tmp_path / 'hosts.ini'
    inv.write_text(
        '[web]\n'
        'local ansible_connection=local ansible_python_interpreter=%s %s\n'
        'far ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_user=nobody\n'
        % (sys.executable, host_vars))
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inv), 'hostsec.ports.enforce', '--check',
                           '--diff', *extra], env=ENV, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize('host_vars, message', [
    ("port_policy_alow='[\"22/tcp\"]'",
     'variable port_policy_alow is not an option of the role (did you mean port_policy_allow?)'),
    ('port_policy_backend=nftables',
     'variable port_policy_backend is not an option of the role (did you mean port_policy_firewall_backend?)'),
    ("port_policy_allow_web='[\"443/tcp\"]'",
     'variable port_policy_allow_web is not an option of the role (did you mean port_policy_allow__web?)'),
])
def test_misspelt_variable_stops_the_play_before_any_host_is_touched(tmp_path, host_vars, message):
    rc, out = run_enforce(tmp_path, host_vars)
    assert rc != 0, out
    assert message in out, out
    # Nothing was gathered: the audit task never ran on any host, and the far host was never contacted.
    assert 'Audit listeners against the policy' not in out, out
    assert 'UNREACHABLE' not in out, out


def test_unknown_settings_key_is_named(tmp_path):
    rc, out = run_enforce(tmp_path, "port_policy_settings='{\"unexpectd\": \"ignore\"}'")
    assert rc != 0, out
    assert 'unexpectd' in out and 'did you mean' in out, out
    assert 'Audit listeners against the policy' not in out, out


def test_one_host_with_a_bad_option_stops_every_host(tmp_path):
    inv = tmp_path / 'hosts.ini'
    inv.write_text(
        'local ansible_connection=local ansible_python_interpreter=%s\n'
        'far ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_user=nobody '
        'port_policy_firewall_backend=pf\n' % sys.executable)
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inv), 'hostsec.ports.enforce', '--check'],
                          env=ENV, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert 'port_policy_firewall_backend' in out and 'pf' in out, out
    assert "far left the play before the role's validation finished: the options of each failed the role's argument spec check" in out, out
    assert 'Audit listeners against the policy' not in out, out


def test_rollback_shorter_than_the_confirmation_stops_every_host(tmp_path):
    # Set on one host only: the other host stops too, and neither is contacted.
    rc, out = run_enforce(tmp_path, 'port_policy_confirm_timeout=60 port_policy_rollback_timeout=30')
    assert rc != 0, out
    assert ('Invalid options, nothing was changed on any host: port_policy_rollback_timeout=30 must be at least '
            'port_policy_confirm_timeout=60') in out, out
    assert 'Audit listeners against the policy' not in out, out
    assert 'UNREACHABLE' not in out, out


@pytest.mark.parametrize('batches', ['serial', 'plays'])
def test_a_host_failed_after_validation_does_not_stop_the_next_batch_or_play(tmp_path, batches):
    """'first' fails on its findings (fail_on: every severity) in the first batch (or play).

    It left the play after it passed validation, so the next batch's (or play's) validation goes on: the
    others are audited, not stopped with an 'Invalid options' error that blames a host whose options were fine.
    """
    inv = tmp_path / 'hosts.ini'
    local = 'ansible_connection=local ansible_python_interpreter=%s' % sys.executable
    inv.write_text('first %s port_policy_fail_on=\'["critical","high","medium","low","info"]\' port_policy_allow=\'[]\'\n'
                   'second %s\nthird %s\n' % (local, local, local))
    role = ('  tasks:\n'
            '    - name: Audit\n'
            '      ansible.builtin.include_role:\n'
            '        name: hostsec.ports.port_policy\n'
            '      vars:\n'
            '        port_policy_mode: report\n')
    if batches == 'serial':
        plays = '- hosts: all\n  gather_facts: false\n  serial: 2\n' + role
    else:
        plays = ('- hosts: first:second\n  gather_facts: false\n' + role
                 + '- hosts: all\n  gather_facts: false\n' + role)
    (tmp_path / 'play.yml').write_text(plays)
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inv), 'play.yml'], env=ENV, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out  # 'first' failed, as asked
    assert 'Findings at a failing severity' in out, out
    assert 'left the play before' not in out, out
    # The host of the last batch (or play) was audited.
    assert 'third' in out.split('PLAY RECAP')[1] and 'ok: [third]' in out, out


def test_serial_batches_write_one_report_after_the_last_batch_and_drift_spans_runs(tmp_path):
    """serial: 1 over three hosts. Batches 1 and 2 write nothing (their fleet.json would be the next batch's
    "previous run"); the last writes the whole play, and a second playbook run compares run with run."""
    inv = tmp_path / 'hosts.ini'
    local = 'ansible_connection=local ansible_python_interpreter=%s' % sys.executable
    inv.write_text('one %s\ntwo %s\nthree %s\n' % (local, local, local))
    reports = tmp_path / 'reports'
    (tmp_path / 'play.yml').write_text(
        '- hosts: all\n  gather_facts: false\n  serial: 1\n  tasks:\n'
        '    - name: Audit\n      ansible.builtin.include_role:\n        name: hostsec.ports.port_policy\n'
        '      vars:\n        port_policy_mode: report\n        port_policy_report_dir: %s\n'
        '        port_policy_report_formats: [json]\n' % reports)
    outs, generated = [], []
    for _run in range(2):
        proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inv), 'play.yml'], env=ENV, capture_output=True,
                              text=True, timeout=600, cwd=tmp_path, check=False)
        outs.append(proc.stdout + proc.stderr)
        assert proc.returncode == 0, outs[-1]
        generated.append(json.loads((reports / 'fleet.json').read_text())['generated'])
    first, second = outs
    assert first.count('host(s) of later batches still to run') == 2, first
    assert 'serial batch: 2 host(s) of later batches still to run (two, three)' in first, first
    fleet = json.loads((reports / 'fleet.json').read_text())
    assert sorted(h['host'] for h in fleet['hosts']) == ['one', 'three', 'two']
    assert all(h['audited'] for h in fleet['hosts']), fleet['hosts']
    # The second run's drift is against the first run's whole play (its last batch), not an earlier batch.
    drift = fleet['drift']
    assert drift['baseline']['generated'] == generated[0], drift
    assert drift['totals']['hosts_appeared'] == drift['totals']['hosts_vanished'] == 0, drift['totals']
