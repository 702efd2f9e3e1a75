# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drift against a large baseline, for real: port_report through ansible-playbook, the reader in a fresh interpreter.

A baseline above drift.READ_AHEAD_BYTES is parsed in a new interpreter while
the action builds the reports (lanes.Ahead). That child imports the
collection from the directory Ansible's own collection loader found it in;
these tests run it under that loader and through a real playbook, and check
the drift it yields against a direct read.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
COLLECTIONS = ROOT / '.build' / 'collections'
ENV = dict(
    os.environ,
    ANSIBLE_COLLECTIONS_PATH='%s:%s' % (COLLECTIONS, ROOT / '.venv' / 'lib' / 'python3.11' / 'site-packages'),
    ANSIBLE_NOCOLOR='1',
    ANSIBLE_RETRY_FILES_ENABLED='0',
    ANSIBLE_LOCALHOST_WARNING='0',
)


def _audit(ports):
    listeners = [{'protocol': 'tcp', 'family': 'ipv4', 'address': '0.0.0.0', 'port': port, 'exposure': 'wildcard',
                  'processes': [{'pid': 100 + port, 'name': 'svc<%d>' % port, 'exe': '/usr/bin/svc', 'user': 'svc',
                                 'unit': 'svc%d.service' % port}]} for port in ports]
    policy = {'allow': [{'index': 0, 'list': 'allow', 'origin': 'test', 'text': '1-65535/tcp', 'expires': None}],
              'deny': [], 'require': []}
    return {'findings': [], 'listeners': listeners, 'verdicts': [{'allowed_by': 'allow#0'} for _p in ports],
            'summary': {'passed': True, 'listeners': len(ports)}, 'effective_policy': policy}


def _big_baseline(path):
    """The previous fleet.json of the same hosts, with one listener fewer on web1, padded past the read-ahead size."""
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build, drift, render
    with build.bulk():
        fleet = build.fleet_report([build.host_report('web1', _audit([80])), build.host_report('web2', _audit([22]))],
                                   generated='last week', provenance={'pad': 'p' * drift.READ_AHEAD_BYTES})
        path.write_text(render.fleet_json(fleet))
    return str(path)


def test_a_large_baseline_is_read_beside_the_reports_under_ansibles_collection_loader(tmp_path):
    baseline = _big_baseline(tmp_path / 'baseline.json')
    program = textwrap.dedent('''
        import json, sys
        sys.path = [p for p in sys.path if 'collections' not in p]  # only Ansible's loader finds the collection
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
        _AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
        from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
        with drift.read_ahead(sys.argv[2], 'baseline') as reader:
            started = reader.started
            state = reader.result()
        print(json.dumps({'started': started, 'same': state == drift.read_previous(sys.argv[2], 'baseline'),
                          'hosts': sorted(state['hosts'])}))
    ''')
    proc = subprocess.run([sys.executable, '-c', program, str(COLLECTIONS), baseline], capture_output=True, text=True,
                          timeout=120, check=True, env=dict(os.environ, PYTHONPATH=''))
    assert json.loads(proc.stdout) == {'started': True, 'same': True, 'hosts': ['web1', 'web2']}, proc.stderr


def test_port_report_drift_against_a_large_baseline_through_ansible_playbook(tmp_path):
    baseline = _big_baseline(tmp_path / 'baseline.json')
    reports = tmp_path / 'reports'
    (tmp_path / 'results.json').write_text(json.dumps({'results': {
        'web1': {'audit': _audit([80, 8080])}, 'web2': {'audit': _audit([22])}}}))
    (tmp_path / 'play.yml').write_text(textwrap.dedent('''
        - hosts: localhost
          gather_facts: false
          vars_files: [results.json]
          tasks:
            - name: Fleet report with drift against the baseline
              hostsec.ports.port_report:
                results: "{{ results }}"
                dest: %s
                formats: [json]
                baseline: %s
    ''' % (reports, baseline)))
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', 'play.yml'], env=ENV,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    drift = json.loads((reports / 'fleet.json').read_text())['drift']
    assert drift['baseline'] == {'name': baseline, 'generated': 'last week'}, drift
    assert drift['hosts'] == {'web1': {'state': 'changed', 'was': 'compliant', 'result': 'compliant',
                                       'listeners_new': ['0.0.0.0:8080/tcp (svc<8080>)']}}, drift
    assert drift['totals']['hosts_unchanged'] == 1
