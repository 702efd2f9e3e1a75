# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The baseline generator with the real knowledge base: naming, exposure, identity, group/host split, review, writing."""

from __future__ import annotations

import datetime
import os

import pytest
import yaml

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
from ansible_collections.hostsec.ports.plugins.plugin_utils._baseline import propose, write
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy

TODAY = datetime.date(2026, 12, 1)
SSHD = make_process(600, 'sshd', exe='/usr/sbin/sshd', user='root', uid=0, unit='ssh.service')
PG = make_process(700, 'postgres', exe='/usr/lib/postgresql/15/bin/postgres', user='postgres', uid=105,
                  unit='postgresql@15-main.service')
WEB = make_process(800, 'python3', exe='/usr/bin/python3.11', user='root', uid=0, unit='web8081.service')
STRAY = make_process(801, 'python3', exe='/usr/bin/python3.11', user='app', uid=1000)
TELNET = make_process(1, 'systemd', exe='/usr/lib/systemd/systemd', user='root', uid=0, unit='init.scope',
                      services=['init.scope', 'telnet.socket'])
RESOLVED = make_process(401, 'systemd-resolved', exe='/usr/lib/systemd/systemd-resolved', user='systemd-resolve',
                        uid=101, unit='systemd-resolved.service')


def lst(proto, address, port, *procs):
    return make_listener(proto, 'ipv6' if ':' in address else 'ipv4', address, port, list(procs))


def fleet():
    return {
        'web1': [lst('tcp', '0.0.0.0', 22, SSHD), lst('tcp', '::', 22, SSHD), lst('tcp', '0.0.0.0', 8081, WEB),
                 lst('udp', '127.0.0.53', 53, RESOLVED), lst('udp', '0.0.0.0', 41000, STRAY)],
        'web2': [lst('tcp', '0.0.0.0', 22, SSHD), lst('tcp', '0.0.0.0', 8081, WEB), lst('tcp', '0.0.0.0', 23, TELNET),
                 lst('udp', '0.0.0.0', 161, STRAY)],
        'db1': [lst('tcp', '0.0.0.0', 22, SSHD), lst('tcp', '127.0.0.1', 5432, PG), lst('tcp', '0.0.0.0', 9999)],
    }


GROUPS = {'all': ['web1', 'web2', 'db1'], 'web': ['web1', 'web2'], 'db': ['db1'], 'ungrouped': []}


@pytest.fixture(scope='module')
def proposal():
    return propose.propose({h: {'listeners': ls} for h, ls in fleet().items()}, GROUPS, kb=get_kb(), today=TODAY)


def load(text):
    return yaml.safe_load(text) or {}


def test_files_split_group_and_host(proposal):
    assert sorted(proposal['files']) == ['group_vars/all.yml', 'group_vars/web.yml', 'host_vars/db1.yml',
                                         'host_vars/web1.yml', 'host_vars/web2.yml']
    assert load(proposal['files']['group_vars/all.yml']) == {
        'port_policy_allow__group_all': [{'profile': 'ssh', 'exe': '/usr/sbin/sshd', 'unit': 'ssh.service'}]}
    assert load(proposal['files']['group_vars/web.yml']) == {'port_policy_allow__group_web': [
        {'port': 8081, 'proto': 'tcp', 'exe': '/usr/bin/python3.11', 'unit': 'web8081.service'}]}
    # db is a one-host group: its entries are the host's own
    assert load(proposal['files']['host_vars/db1.yml']) == {'port_policy_allow__host_db1': [
        {'profile': 'postgresql', 'exposure': 'loopback', 'exe': '/usr/lib/postgresql/15/bin/postgres',
         'unit': 'postgresql@15-main.service'}]}
    assert load(proposal['files']['host_vars/web1.yml']) == {'port_policy_allow__host_web1': [
        {'name': 'domain', 'proto': 'udp', 'exposure': 'loopback', 'exe': '/usr/lib/systemd/systemd-resolved',
         'unit': 'systemd-resolved.service'}]}


def test_comments_carry_the_kb_one_liner_and_host_counts(proposal):
    text = proposal['files']['group_vars/all.yml']
    assert text.startswith('---\n# Proposed by hostsec.ports.port_baseline on 2026-12-01 from 3 audited hosts.')
    assert '# 22/tcp is assigned by IANA to ssh (The Secure Shell (SSH) Protocol)' in text
    assert text.rstrip().endswith('On 3 of 3 hosts.')
    assert 'On 1 of 3 hosts (db1).' in proposal['files']['host_vars/db1.yml']
    assert 'Plaintext protocol. On 2 of 3 hosts.' in proposal['files']['group_vars/web.yml']


def test_review_section_is_commented_and_explains(proposal):
    web2 = proposal['files']['host_vars/web2.yml']
    assert load(web2) == {}  # nothing allowed there: all of it is commented review
    assert '# Review: these listeners are NOT allowed above' in web2
    reasons = {(r['port'], r['protocol']): r['reason'] for r in proposal['review']}
    assert reasons == {
        (23, 'tcp'): 'knowledge base rates this port high on a reachable address',
        (161, 'udp'): 'port is usually SNMP, but /usr/bin/python3.11 is not a known SNMP server',
        (9999, 'tcp'): 'owner unknown (gather as root to see it)',
    }
    # socket activation: PID 1 holds telnet, so the unit it serves is the identity
    assert '#  - {name: telnet, proto: tcp, exe: /usr/lib/systemd/systemd, unit: telnet.socket}' in web2
    assert all('process' not in e['rule'] for e in proposal['entries'] + proposal['review'])
    assert all(e['rule'].get('port') != 41000 for e in proposal['entries'] + proposal['review'])  # ephemeral UDP


def host_policy(files, host, groups):
    """What Ansible would load for ``host``: its groups' files and its own file."""
    task_vars = {}
    for name in ['all'] + [g for g, members in groups.items() if host in members and g != 'all']:
        task_vars.update(load(files.get('group_vars/%s.yml' % name, '')))
    task_vars.update(load(files.get('host_vars/%s.yml' % host, '')))
    return task_vars


def test_round_trip_only_review_items_remain(proposal):
    kb = get_kb()
    review = {(r['port'], r['protocol']) for r in proposal['review']}
    for host, listeners in fleet().items():
        policy = build_policy(host_policy(proposal['files'], host, GROUPS), kb=kb)
        found = {(f['listener']['port'], f['listener']['protocol']): f['kind']
                 for f in evaluate(policy, listeners, kb=kb)['findings']}
        assert set(found) <= review, (host, found)
        newcomer = lst('tcp', '0.0.0.0', 7777, make_process(990, 'nc', exe='/usr/bin/nc.openbsd', uid=0, user='root'))
        after = evaluate(policy, listeners + [newcomer], kb=kb)['findings']
        assert len(after) == len(found) + 1 and any(f['listener']['port'] == 7777 for f in after)


def test_group_counts_only_when_every_member_was_audited():
    hosts = {h: {'listeners': ls} for h, ls in fleet().items() if h != 'web2'}
    out = propose.propose(hosts, GROUPS, kb=get_kb(), today=TODAY)
    assert 'group_vars/web.yml' not in out['files'] and 'group_vars/all.yml' not in out['files']
    assert 'host_vars/web1.yml' in out['files']


def test_prefix_and_bad_input():
    out = propose.propose({'h-1': {'listeners': [lst('tcp', '0.0.0.0', 22, SSHD)]}}, {}, kb=get_kb(),
                          prefix='baseline')
    assert list(load(out['files']['host_vars/h-1.yml'])) == ['baseline_allow__host_h_1']
    with pytest.raises(propose.BaselineError, match='no audited host'):
        propose.propose({}, {}, kb=get_kb())
    with pytest.raises(propose.BaselineError, match='h1: no listeners list'):
        propose.propose({'h1': {'msg': 'unreachable'}}, {}, kb=get_kb())
    with pytest.raises(propose.BaselineError, match=r'h1: listeners\[0\] is not a listener record'):
        propose.propose({'h1': {'listeners': [{'port': 1}]}}, {}, kb=get_kb())


def test_never_overwrites_without_force_and_writes_all_or_nothing(tmp_path, proposal):
    dest = str(tmp_path)
    write.apply_writes(write.plan_writes(dest, proposal['files']))
    assert sorted(os.listdir(tmp_path / 'group_vars')) == ['all.yml', 'web.yml']
    assert write.plan_writes(dest, proposal['files']) == []  # same content: nothing to do
    changed = dict(proposal['files'], **{'group_vars/web.yml': '---\n# edited\n', 'host_vars/new.yml': '---\n'})
    with pytest.raises(write.BaselineWriteError, match=r'1 file\(s\) exist and force is false, nothing was written: '
                                                       r'.*group_vars/web.yml'):
        write.plan_writes(dest, changed)
    assert not (tmp_path / 'host_vars' / 'new.yml').exists()
    write.apply_writes(write.plan_writes(dest, changed, force=True))
    assert (tmp_path / 'group_vars' / 'web.yml').read_text() == '---\n# edited\n'
    (tmp_path / 'file').write_text('x')
    with pytest.raises(write.BaselineWriteError, match='is not a directory'):
        write.plan_writes(str(tmp_path / 'file'), proposal['files'])
