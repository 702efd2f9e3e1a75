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
