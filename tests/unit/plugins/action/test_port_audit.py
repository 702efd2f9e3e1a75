# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""hostsec.ports.port_audit driven for real through ansible-playbook on localhost."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[4]
BIN = pathlib.Path(sys.executable).parent
ENV = dict(
    os.environ,
    ANSIBLE_COLLECTIONS_PATH='%s:%s' % (ROOT / '.build' / 'collections',
                                        ROOT / '.venv' / 'lib' / 'python3.11' / 'site-packages'),
    ANSIBLE_NOCOLOR='1',
    ANSIBLE_RETRY_FILES_ENABLED='0',
    ANSIBLE_LOCALHOST_WARNING='0',
    ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
)

LISTENERS = '''
  - {protocol: tcp, family: ipv4, address: 0.0.0.0, scope: null, port: 23, exposure: wildcard, dual_stack: false,
     v6only: null, state: listen, inode: 1, uid: 0, netns: null, services: [telnet.socket],
     processes: [{pid: 1, name: systemd, exe: /usr/lib/systemd/systemd, cmdline: /sbin/init, user: root, uid: 0,
                  start_time: null, unit: init.scope, services: [init.scope, telnet.socket]}]}
  - {protocol: tcp, family: ipv4, address: 127.0.0.1, scope: null, port: 5432, exposure: loopback, dual_stack: false,
     v6only: null, state: listen, inode: 2, uid: 105, netns: null, services: [postgresql.service],
     processes: [{pid: 700, name: postgres, exe: /usr/lib/postgresql/15/bin/postgres, cmdline: postgres, user: postgres,
                  uid: 105, start_time: null, unit: postgresql.service, services: [postgresql.service]}]}
  - {protocol: tcp, family: ipv4, address: 0.0.0.0, scope: null, port: 8080, exposure: wildcard, dual_stack: false,
     v6only: null, state: listen, inode: 3, uid: 1000, netns: null, services: [],
     processes: [{pid: 900, name: java, exe: /usr/bin/java, cmdline: java -jar app.jar, user: app, uid: 1000,
                  start_time: null, unit: null, services: []}]}
'''


def playbook(tmp_path, tasks, play_vars='', args=(), inventory=None, callback='ansible.posix.json', extra_env=None):
    """Run one play on localhost; returns (rc, parsed json or None, stdout + stderr)."""
    play = textwrap.dedent('''\
        - hosts: all
          gather_facts: false
          vars:
            ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
            listeners: {listeners}
        {play_vars}
          tasks:
        {tasks}
        ''').format(listeners=textwrap.indent(LISTENERS, '    '), play_vars=textwrap.indent(play_vars, '    '),
                    tasks=textwrap.indent(textwrap.dedent(tasks), '    '))
    path = tmp_path / 'play.yml'
    path.write_text(play)
    inv = inventory or 'localhost,'
    cmd = [str(BIN / 'ansible-playbook'), '-i', inv, '-c', 'local', str(path), *args]
    env = dict(ENV, ANSIBLE_STDOUT_CALLBACK=callback, **(extra_env or {}))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    data = None
    if callback == 'ansible.posix.json':
        data = json.loads(proc.stdout[proc.stdout.index('{'):])
    return proc.returncode, data, out


def results(data):
    """{task name: result for localhost}."""
    out = {}
    for play in data['plays']:
        for task in play['tasks']:
            out[task['task']['name']] = next(iter(task['hosts'].values()))
    return out


POLICY = '''
policy_under_test:
  allow:
    - {port: 8080, proto: tcp, exposure: loopback}
  deny: [{port: 23, reason: plaintext}]
  require: ["443/tcp"]
'''


def test_listeners_passed_in_and_fail_on(tmp_path):
    rc, data, out = playbook(tmp_path, '''
        - name: audit
          hostsec.ports.port_audit:
            listeners: "{{ listeners }}"
            now: "2030-01-01"
            policy: "{{ policy_under_test }}"
        - name: gate
          hostsec.ports.port_audit:
            listeners: "{{ listeners }}"
            policy: "{{ policy_under_test }}"
            fail_on: [critical, high]
          ignore_errors: true
    ''', play_vars=POLICY)
    assert rc == 0, out
    res = results(data)
    audit = res['audit']
    assert audit['changed'] is False and not audit.get('failed')
    kinds = sorted((f['kind'], (f['listener'] or {}).get('port')) for f in audit['findings'])
    assert kinds == [('denied', 23), ('missing', None), ('wrong_exposure', 8080)]
    denied = next(f for f in audit['findings'] if f['kind'] == 'denied')
    # Report mode plans what enforce would do; a block names no unit.
    assert denied['remediation']['unit'] is None and denied['remediation']['status'] == 'block'
    exposed = next(f for f in audit['findings'] if f['kind'] == 'wrong_exposure')
    assert audit['plan']['mode'] == 'report'
    assert audit['plan']['block'] == [{'port': 23, 'protocol': 'tcp', 'finding_ids': [denied['id']]},
                                      {'port': 8080, 'protocol': 'tcp', 'finding_ids': [exposed['id']]}]
    assert denied['rule']['origin'] == 'task'
    # The real knowledge base explains the port.
    assert denied['explanation'].startswith('23/tcp')
    summary = audit['summary']
    assert summary['listeners'] == 3 and summary['findings'] == 3 and summary['collector'] == 'given'
    assert summary['by_kind']['denied'] == 1 and summary['passed'] is False
    assert audit['effective_policy']['deny'][0]['origin'] == 'task'
    gate = res['gate']
    assert gate['failed'] is True
    assert gate['msg'].startswith('port_audit: ') and 'at a fail_on severity' in gate['msg']
    assert 'denied: 1' in gate['msg']


def test_layered_inventory_policy(tmp_path):
    inv = tmp_path / 'inventory'
    (inv / 'group_vars').mkdir(parents=True)
    (inv / 'hosts.yml').write_text('web:\n  hosts:\n    localhost:\n')
    (inv / 'group_vars' / 'all.yml').write_text('port_policy_deny: ["23/tcp"]\nport_policy_settings: {unexpected_severity: medium}\n')
    (inv / 'group_vars' / 'web.yml').write_text(
        'port_policy_allow__web: [{port: 8080, proto: tcp}]\nport_policy_settings__web: {allow_loopback: false}\n')
    rc, data, out = playbook(tmp_path, '''
        - name: audit
          hostsec.ports.port_audit:
            listeners: "{{ listeners }}"
    ''', inventory=str(inv))
    assert rc == 0, out
    audit = results(data)['audit']
    eff = audit['effective_policy']
    assert [(r['text'], r['origin']) for r in eff['allow']] == [('{port: 8080, proto: tcp}', 'port_policy_allow__web')]
    assert eff['settings_origin']['allow_loopback'] == 'port_policy_settings__web'
    kinds = sorted((f['kind'], f['listener']['port']) for f in audit['findings'])
    assert kinds == [('denied', 23), ('unexpected', 5432)]
    unexpected = next(f for f in audit['findings'] if f['kind'] == 'unexpected')
    assert 'unexpected findings are at least medium' in unexpected['severity_reasons']


def test_default_policy_and_auto_protect(tmp_path):
    rc, data, out = playbook(tmp_path, '''
        - name: audit
          hostsec.ports.port_audit:
            listeners: "{{ listeners }}"
            protect: ["8080/tcp"]
            ssh_connection: "192.0.2.1 50000 192.0.2.2 23"
    ''')
    assert rc == 0, out
    audit = results(data)['audit']
    assert audit['effective_policy']['source'] == 'default'
    found = {f['listener']['port']: f for f in audit['findings']}
    assert set(found) == {23, 8080}
    assert found[8080]['protected'] and found[8080]['remediation']['status'] == 'protected'
    assert found[23]['protected']
    assert 'SSH_CONNECTION' in found[23]['remediation']['reason']
    # Protected specs are data: port range, protocol and reason.
    assert audit['protected'] == [
        {'port': 8080, 'end': 8080, 'protocol': 'tcp', 'reason': 'listed in protect'},
        {'port': 23, 'end': 23, 'protocol': 'tcp', 'reason': 'management path: server port of the current SSH_CONNECTION'}]
    assert audit['plan']['block'] == [] and audit['plan']['protected'] == audit['protected']


def test_only_an_ssh_session_exempts_a_port(tmp_path):
    # Under a local (or podman, docker...) connection the module's environment is the controller's or the
    # image's: an SSH_CONNECTION there must not exempt a port (the gatherer reports it; port_audit ignores it).
    # The ssh path, under sudo and as a become user that may not read the session, is tested in molecule lockout.
    rc, data, out = playbook(tmp_path, '''
        - name: local
          hostsec.ports.port_audit:
            policy: {deny: ["2299/tcp"]}
        - name: forged
          hostsec.ports.port_audit:
            listeners: {listeners: [], session: {ssh_connection: "192.0.2.1 1 192.0.2.2 4444", source: forged}}
          vars:
            ansible_connection: ssh
            ansible_port: 2222
    ''', extra_env={'SSH_CONNECTION': '192.0.2.1 50000 192.0.2.2 2299'})
    assert rc == 0, out
    res = results(data)
    assert all(p['port'] != 2299 for p in res['local']['protected'])
    assert res['local']['summary']['ssh_connection_source'].startswith('none: local connection')
    # A session passed in with the listeners is not this task's: never trusted.
    assert all(p['port'] != 4444 for p in res['forged']['protected'])
    assert 'forged' not in str(res['forged']['summary']['ssh_connection_source'])


BAD = [
    ('policy: {allow: [{port: 70000}]}', 'port_audit: allow[0] {port: 70000} (task): port: port 70000 is outside 0-65535'),
    ('policy: {deny: [sshh]}', "port_audit: deny[0] sshh (task): name: unknown profile or IANA service name 'sshh'; closest: ssh"),
    ('policy: {allow: [{port: 22, exposure: everywhere}]}', "exposure: 'everywhere' is not loopback"),
    ('policy: {settings: {ephemeral: yes}}', "settings: ephemeral: True is not one of ignore_udp, report, allow"),
    ('listeners: [{port: 22}]', 'port_audit: listeners[0]: missing field(s) protocol, family'),
    ('listeners: "{{ listeners | map(\'combine\', {\'port\': 99999}) }}"', 'listeners[0].port: invalid value 99999'),
    ('now: soon', "port_audit: now: 'soon' is not a date (expected YYYY-MM-DD)"),
    ('protect: [ssh]', "port_audit: protect[0]: 'ssh' is not a port spec"),
    ('fail_on: [urgent]', 'value of fail_on must be one or more of'),
    ('ephemeral_range: [10, 5]', 'ephemeral_range: [10, 5] is outside 0-65535 or reversed'),
    ('protect: ["22", "70000"]', 'port_audit: protect[1]'),
    ('mode: enforced', 'value of mode must be one of: report, enforce'),
    ('kb_errors: ignore', 'value of kb_errors must be one of: fail, tolerate'),
    ('ssh_connection: "192.0.2.1 5000 192.0.2.2 ssh"', "SSH_CONNECTION: 'ssh' is not a port number"),
    ('ssh_connection: "welcome 192.0.2.1 5000 192.0.2.2 22"', 'is not "client_ip client_port server_ip server_port"'),
    ('listeners: {listeners: [{pids: "700"}], processes: {}}', 'listeners: listeners[0].pids: expected a list'),
]


def test_bad_input_is_a_clear_message_never_a_traceback(tmp_path):
    tasks = ''.join('''
        - name: bad{i}
          hostsec.ports.port_audit:
            {arg}
          ignore_errors: true
    '''.format(i=i, arg=bad[0]) for i, bad in enumerate(BAD))
    rc, data, out = playbook(tmp_path, tasks)
    assert rc == 0, out
    res = results(data)
    for i, (_arg, message) in enumerate(BAD):
        assert res['bad%d' % i]['failed'] is True
        assert message in res['bad%d' % i]['msg'], res['bad%d' % i]['msg']
    out = playbook(tmp_path, tasks, callback='ansible.builtin.default')[2]
    assert 'Traceback' not in out and 'internal error' not in out


def test_policy_is_validated_before_the_host_is_touched(tmp_path):
    # An unreachable ssh host: a bad policy must fail before any connection is attempted.
    inv = tmp_path / 'hosts.ini'
    inv.write_text('target ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_user=nobody\n')
    rc, data, out = playbook(tmp_path, '''
        - name: bad
          hostsec.ports.port_audit:
            policy: {allow: [{port: 70000}]}
          ignore_errors: true
          ignore_unreachable: true
    ''', inventory=str(inv))
    res = results(data)['bad']
    assert res.get('unreachable') is not True
    assert 'allow[0] {port: 70000} (task): port: port 70000 is outside 0-65535' in res['msg']


def test_warnings_returned_and_displayed(tmp_path):
    tasks = '''
        - name: audit
          hostsec.ports.port_audit:
            listeners: "{{ listeners }}"
            policy:
              allow: ["20-30/tcp", "20-30/tcp"]
              deny: ["23/tcp"]
    '''
    rc, data, out = playbook(tmp_path, tasks)
    audit = results(data)['audit']
    text = '\n'.join(audit['summary']['warnings'])
    assert 'allow[1] 20-30/tcp (task) duplicates allow[0] 20-30/tcp (task)' in text
    assert 'deny[0] 23/tcp (task) overlaps allow[0] 20-30/tcp (task): deny wins' in text
    out = playbook(tmp_path, tasks, callback='ansible.builtin.default')[2]
    assert '[WARNING]: allow[1] 20-30/tcp (task) duplicates' in out


@pytest.mark.parametrize('check', [False, True])
def test_real_gathering_in_and_out_of_check_mode(tmp_path, check):
    rc, data, out = playbook(tmp_path, '''
        - name: audit
          hostsec.ports.port_audit:
            policy: {allow: ["0-65535"]}
    ''', args=['--check'] if check else [])
    assert rc == 0, out
    audit = results(data)['audit']
    assert audit['changed'] is False and not audit.get('failed'), audit
    assert audit['check_mode'] is check
    assert audit['summary']['collector'] in ('netlink', 'procfs')
    assert audit['summary']['platform'] == 'linux'
    assert audit['summary']['listeners'] == len(audit['listeners'])
    assert [f for f in audit['findings'] if f['kind'] != 'wrong_owner'] == []
    # Compact by default: every owner once in the processes table, listeners naming them by pid.
    assert all('processes' not in lst and all(str(pid) in audit['processes'] for pid in lst['pids'])
               for lst in audit['listeners'])


def test_check_mode_is_the_task_s_effective_one_not_just_the_command_line(tmp_path):
    # The role reads it instead of probing the host: a block's check_mode keyword counts, both ways.
    rc, data, out = playbook(tmp_path, '''
        - name: keyword on
          check_mode: true
          block:
            - name: forced on
              hostsec.ports.port_audit:
                listeners: []
        - name: keyword off
          check_mode: false
          block:
            - name: forced off
              hostsec.ports.port_audit:
                listeners: []
        - name: inherited
          hostsec.ports.port_audit:
            listeners: []
    ''', args=['--check'])
    assert rc == 0, out
    res = results(data)
    assert (res['forced on']['check_mode'], res['forced off']['check_mode'], res['inherited']['check_mode']) == (True, False, True)


def test_full_listeners_on_request_and_compact_given_listeners_round_trip(tmp_path):
    rc, data, out = playbook(tmp_path, '''
        - name: compact
          hostsec.ports.port_audit:
            listeners: "{{ listeners }}"
            policy: {allow: [22/tcp]}
          register: compact
        - name: full
          hostsec.ports.port_audit:
            listeners: "{{ listeners }}"
            policy: {allow: [22/tcp]}
            full_listeners: true
          register: full
        - name: again
          hostsec.ports.port_audit:
            listeners: {listeners: "{{ compact.listeners }}", processes: "{{ compact.processes }}"}
            policy: {allow: [22/tcp]}
            full_listeners: true
          register: again
    ''')
    assert rc == 0, out
    res = results(data)
    full, compact, again = res['full'], res['compact'], res['again']
    assert 'processes' not in full and [lst['processes'][0]['pid'] for lst in full['listeners']] == [1, 700, 900]
    assert sorted(compact['processes']) == ['1', '700', '900'] and [lst['pids'] for lst in compact['listeners']] == [[1], [700], [900]]
    assert compact['listeners'][0]['services'] == ['telnet.socket']  # the record's own units, not its processes'
    assert again['listeners'] == full['listeners'] and again['findings'] == full['findings']
    # Findings always carry their listener in full.
    assert all(f['listener']['processes'] for f in compact['findings'] if f['listener'])


def test_misspelt_role_variable_fails_before_the_host_is_touched(tmp_path):
    inv = tmp_path / 'hosts.ini'
    inv.write_text('target ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_user=nobody '
                   'port_policy_alow=\'["8080/tcp"]\' port_policy_allow__web=\'["443/tcp"]\'\n')
    rc, data, out = playbook(tmp_path, '''
        - name: bad
          hostsec.ports.port_audit:
            listeners: []
            known_vars: [port_policy_allow, port_policy_mode]
          ignore_errors: true
          ignore_unreachable: true
    ''', inventory=str(inv))
    res = results(data)['bad']
    assert res.get('unreachable') is not True and res['failed'] is True
    assert 'variable port_policy_alow is not an option of the role (did you mean port_policy_allow?)' in res['msg']
    assert 'port_policy_allow__web' not in res['msg']


def test_unreadable_knowledge_base_fails_closed(monkeypatch):
    """Injected: the KB cannot load. The audit fails, unless the user tolerates it, and says so."""
    from ansible_collections.hostsec.ports.plugins.action import port_audit
    from ansible_collections.hostsec.ports.plugins.plugin_utils import _kb

    def broken():
        raise OSError('curated.json: permission denied')
    monkeypatch.setattr(_kb, 'get_kb', broken)
    with pytest.raises(port_audit.AuditError, match='could not be loaded .*permission denied.*fails closed'):
        port_audit._load_kb('fail')
    kb, warning = port_audit._load_kb('tolerate')
    assert kb is None and 'highest severity their rule allows' in warning


@pytest.mark.parametrize('spec, message', [
    (None, 'known_vars_spec=%s: cannot be read'),
    ('argument_specs: {main: {short_description: no options}}\n',
     'known_vars_spec=%s: argument_specs.main.options is not a mapping of option names'),
])
def test_a_spec_that_names_no_options_fails_instead_of_knowing_nothing(tmp_path, spec, message):
    path = tmp_path / 'argument_specs.yml'
    if spec is not None:
        path.write_text(spec)
    rc, data, out = playbook(tmp_path, '''
        - name: bad
          hostsec.ports.port_audit:
            listeners: []
            known_vars_spec: %s
          ignore_errors: true
    ''' % path)
    res = results(data)['bad']
    assert res['failed'] is True and message % path in res['msg'], res


def test_a_host_that_cannot_be_reached_is_unreachable_not_an_internal_error(tmp_path):
    # Port 1 on loopback: the SSH connection is refused. Ansible's own verdict stands (the recap's
    # unreachable count, ignore_unreachable, the retry file), not a failed task that blames a bug.
    inv = tmp_path / 'hosts.ini'
    inv.write_text('target ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_user=nobody\n')
    rc, data, out = playbook(tmp_path, '''
        - name: gather
          hostsec.ports.port_audit:
            policy: {allow: [22/tcp]}
          ignore_unreachable: true
    ''', inventory=str(inv))
    res = results(data)['gather']
    assert res.get('unreachable') is True, res
    assert 'internal error' not in res.get('msg', ''), res
