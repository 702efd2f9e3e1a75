# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped IANA data holds what the registry of 2025-12-15 holds (facts: port-facts.md)."""

from __future__ import annotations

import collections
import json
import os

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import DATA_DIR, get_kb


def load():
    with open(os.path.join(DATA_DIR, 'iana.json'), encoding='utf-8') as handle:
        data = json.load(handle)
    fields = data['fields']
    return data, [dict(zip(fields, r + [None] * (len(fields) - len(r)))) for r in data['records']]


def test_counts_match_the_registry():
    data, rows = load()
    assert data['source']['updated'] == '2025-12-15'
    assert data['source']['url'].startswith('https://www.iana.org/assignments/service-names-port-numbers/')
    assert len(data['source']['sha256']) == 64
    assert len(rows) == data['source']['records'] == 14496
    protos = collections.Counter(r['protocol'] for r in rows)
    assert protos == {'tcp': 6585, 'udp': 6344, None: 1463, 'sctp': 93, 'dccp': 11}
    # 761 records are written as ranges; 6 of them name one port ("4748-4748"), kept as single ports
    assert sum(1 for r in rows if r['low'] is not None and r['high'] != r['low']) == 755
    singles = {4748, 6345, 6512, 8203, 9989, 20047}
    assert {r['low'] for r in rows if r['low'] in singles and r['high'] == r['low']} == singles
    assert sum(1 for r in rows if r['unauthorized']) == 112
    assert sum(1 for r in rows if r['low'] is None and r['protocol'] is None) + \
        sum(1 for r in rows if r['low'] is None and r['protocol']) == 1055
    assert max(r['high'] for r in rows if r['high'] is not None) == 49151


def test_deassigned_ports_2_and_3():
    dummy, rows = load()
    for port in (2, 3):
        recs = [r for r in rows if r['low'] == port]
        assert {r['protocol'] for r in recs} == {'tcp', 'udp'}
        assert all(r['description'] == 'Reserved' and r['updated'] == '2025-02-13' for r in recs)
        assert all('De-assigned on 2025-02-13' in r['note'] and 'compressnet' in r['note'] for r in recs)
    kb = get_kb()
    assert kb.port(2, 'tcp')['iana_status'] == 'reserved'
    assert kb.port(716, 'tcp')['iana_status'] == 'no record'
    assert kb.port(716, 'udp')['iana'][0]['service'] == 'pana'
    assert kb.port(11500, 'tcp')['iana_status'] == 'unassigned'
    assert [e['service'] for e in kb.port(3011, 'tcp')['iana']] == ['trusted-web']


def test_decommissioned_9006_is_free():
    kb = get_kb()
    assert kb.port(9006, 'tcp')['iana_status'] == 'unassigned'
    assert kb.explain({'port': 9006, 'protocol': 'tcp'}) == \
        '9006/tcp is not assigned by IANA (registered range 1024\u201349151).'


def test_service_name_skips_deregistered_rows():
    # sua: 14001/udp is De-Registered, tcp and sctp are still assigned
    assert [str(s) for s in get_kb().resolve('sua')] == ['14001/sctp', '14001/tcp']


def test_sshd_is_explained_as_openssh_first():
    kb = get_kb()
    uses = [u['id'] for u in kb.port(22, 'tcp')['uses']]
    assert uses[0] == 'openssh-server' and 'citrix-ha-file-sync-ssh' in uses
    text = kb.explain({'port': 22, 'protocol': 'tcp', 'processes': [{'name': 'sshd'}]})
    assert 'Known uses: OpenSSH (OpenBSD project) sshd: Encrypted remote shell' in text
    assert text.index('OpenSSH') < text.index('Citrix')


def test_3011_is_not_called_unassigned():
    kb = get_kb()
    assert 'unassigned-registered-contested' not in [n['id'] for n in kb.port(3011, 'tcp')['security']]
    assert 'unassigned-registered-contested' in [n['id'] for n in kb.port(11500, 'tcp')['security']]


def test_31337_back_orifice_on_udp_only():
    kb = get_kb()
    udp, tcp = kb.port(31337, 'udp'), kb.port(31337, 'tcp')
    assert 'back-orifice' in [u['id'] for u in udp['uses']]
    assert 'back-orifice' not in [u['id'] for u in tcp['uses']]
    assert kb.security_flags(31337, 'udp').severity == 'high'
    flags = kb.security_flags(31337, 'tcp')
    assert 'malware' not in flags and flags.severity == 'low'
    assert 'NodePort' in kb.explain({'port': 31337, 'protocol': 'tcp'})
    assert 'back-orifice-2000' in [u['id'] for u in kb.port(54320, 'tcp')['uses']]


def test_explanations_have_no_double_punctuation():
    kb = get_kb()
    text = kb.explain({'port': 11500, 'protocol': 'tcp'})
    assert '\u2026.' not in text and '\u2026 On a host' in text
    for port, proto in ((22, 'tcp'), (8080, 'tcp'), (3011, 'tcp'), (31337, 'tcp'), (4444, 'tcp'), (23, 'tcp')):
        text = kb.explain({'port': port, 'protocol': proto})
        assert '\u2026.' not in text and '..' not in text, text


def test_risk_sentence_is_labelled_as_the_port_s():
    # 8080: the listed use is the generic http-alt one, the worst note (open proxy) concerns the port
    text = get_kb().explain({'port': 8080, 'protocol': 'tcp'})
    assert 'Risk on this port: A forward proxy' in text


NMAP_SERVICES = '/tmp/nmap/usr/share/nmap/nmap-services'


def test_the_ports_people_find_open_name_their_software():
    kb = get_kb()
    for port, proto, product in ((80, 'tcp', 'nginx'), (443, 'tcp', 'Caddy'), (25, 'tcp', 'Postfix'),
                                 (110, 'tcp', 'Dovecot'), (143, 'tcp', 'Dovecot'), (53, 'udp', 'BIND'),
                                 (993, 'tcp', 'Dovecot'), (995, 'tcp', 'Dovecot'), (587, 'tcp', 'Postfix'),
                                 (465, 'tcp', 'Postfix')):
        uses = kb.port(port, proto)['uses']
        assert uses and uses[0].get('prevalence') == 'common' and product in uses[0]['product'], (port, uses)
    assert 'nginx, Apache httpd, Microsoft IIS, Caddy, Traefik' in kb.explain({'port': 80, 'protocol': 'tcp'})
    # frequent for another reason: the Windows dynamic ranges say so
    assert 'dynamic port range started at 1025' in kb.port(1026, 'tcp')['uses'][0]['purpose']
    assert 'from 49152 up' in kb.port(49152, 'udp')['uses'][0]['purpose']


def test_coverage_of_the_most_often_open_ports():
    if not os.path.exists(NMAP_SERVICES):
        import pytest
        pytest.skip('%s is absent (apt-get download nmap-common; dpkg-deb -x it into /tmp/nmap)' % NMAP_SERVICES)
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import validate
    frequent = validate.frequent_ports(NMAP_SERVICES)
    assert len(frequent['tcp']) == 300 and len(frequent['udp']) == 100
    assert validate.coverage(get_kb(), frequent) == []


def test_issue_15_facts():
    kb = get_kb()
    oracle = [u for u in kb.port(1521, 'tcp')['uses'] if u['id'] == 'oracle-tns-listener'][0]
    assert 'ttc (2483)' in oracle['purpose'] and 'ttc-ssl (2484' in oracle['purpose'] and 'ora-srv' not in oracle['purpose']
    assert [s['service'] for s in kb.services('orasrv')][:1] == ['orasrv'] and kb.service_specs('orasrv')[0].low == 1525
    kinds = {n['id']: n['kind'] for n in kb.port(11500, 'tcp')['security']}
    assert kinds['unassigned-registered-contested'] != 'unauthorized_use'
    assert not any(n['confidence'] == 'registry' for n in kb.port(11500, 'tcp')['security'])
    for port in (550, 7202, 9105, 9877, 13818, 13822):
        assert all(e['references'] and all(e['references']) for e in kb.port(port, 'tcp')['iana']), port
    for port, proto in ((8883, 'tcp'), (8729, 'tcp'), (5684, 'udp')):
        assert 'plaintext' not in kb.security_flags(port, proto) or any(
            n['kind'] == 'plaintext' for n in kb.port(port, proto)['security']), (port, proto)


def test_expected_profiles_exist_and_docker_warns_about_2375():
    kb = get_kb()
    for name in ('docker', 'containerd', 'kubernetes', 'nomad', 'elasticsearch', 'opensearch', 'cassandra',
                 'clickhouse', 'couchdb', 'influxdb', 'galera', 'mariadb', 'vnc', 'cilium', 'coredns',
                 'node-exporter', 'blackbox-exporter', 'mysqld-exporter', 'postgres-exporter', 'redis-exporter',
                 'process-exporter', 'windows-exporter', 'oracle', 'dc'):
        assert name in kb.profiles() and kb.profile(name)['sources'], name
    docker = kb.profile('docker')
    assert docker['ports'] == ['2376/tcp'] and docker['deny_suggested'] == ['2375/tcp']
    assert {'kubernetes-control-plane', 'kubernetes-worker', 'etcd', 'kubelet', 'kube-proxy'} <= \
        set(kb.profile('kubernetes')['all_includes'])
    from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import parse_port_spec
    [warning] = kb.allow_warnings(parse_port_spec('2375/tcp'))
    assert warning.startswith('2375/tcp is marked dangerous by the port knowledge base (critical')
    assert kb.allow_warnings(parse_port_spec('2376/tcp')) == []


def test_shadowing_table_in_the_guide_is_current():
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import pages
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))
    with open(os.path.join(root, 'docs', 'knowledge-base.md'), encoding='utf-8') as handle:
        doc = handle.read()
    assert pages.with_shadowing_table(doc, get_kb()) == doc
    for name in ('docker', 'nomad', 'oracle', 'dc'):
        assert '| `%s` |' % name in doc
