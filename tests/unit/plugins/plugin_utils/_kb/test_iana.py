# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import iana

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))
TOOL = os.path.join(ROOT, 'tools', 'iana_import.py')


def rows(data):
    return [dict(zip(data['fields'], r)) for r in data['records']]


def by(data, port, proto):
    return [r for r in rows(data) if r['low'] == port and r['protocol'] == proto]


def test_source_is_recorded(registry_xml):
    data = iana.convert(registry_xml)
    assert data['source']['updated'] == '2025-12-15'
    assert data['source']['url'] == iana.SOURCE_URL
    assert data['source']['sha256'] == hashlib.sha256(registry_xml).hexdigest()
    assert data['source']['records'] == len(data['records']) == 30
    assert 'CC0' in data['source']['licence']


def test_fields_are_kept(registry_xml):
    data = iana.convert(registry_xml)
    http = by(data, 80, 'tcp')[0]
    assert http['service'] == 'http' and http['description'] == 'World Wide Web HTTP'
    assert http['assignee'] == ['IESG'] and http['contact'] == ['IETF Chair']
    assert http['references'] == ['RFC9110'] and http['updated'] == '2021-10-01'
    ssh_sctp = by(data, 22, 'sctp')[0]
    assert ssh_sctp['registered'] == '2004-09-30'
    assert by(data, 9, 'dccp')[0]['service_code'] == 1145656131
    assert by(data, 1021, 'tcp')[0]['references'][0].startswith('It is only appropriate')


def test_kinds_ranges_and_deassigned(registry_xml):
    data = iana.convert(registry_xml)
    assert by(data, 0, 'tcp')[0]['kind'] == 'r'
    for port in (2, 3):
        rec = by(data, port, 'tcp')[0]
        assert rec['kind'] == 'r'
        assert rec['note'] == 'De-assigned on 2025-02-13, previously compressnet by Bernie Volz'
    free = [r for r in rows(data) if r['low'] == 717]
    assert free[0]['high'] == 728 and free[0]['protocol'] is None and free[0]['kind'] == 'u'
    assert by(data, 1895, 'tcp')[0]['kind'] == 'u'
    assert by(data, 3322, None)[0]['kind'] == 'a' and by(data, 3322, None)[0]['high'] == 3325


def test_unauthorized_and_portless(registry_xml):
    data = iana.convert(registry_xml)
    assert by(data, 1390, 'tcp')[0]['unauthorized'] == 'Known UNAUTHORIZED USE: Port 1390'
    zig = [r for r in rows(data) if r['service'] == 'zigbee-ip'][0]
    assert zig['low'] is None and zig['assignee'] == ['Leslie Mulder (ZigBee Alliance)']


def test_dumps_is_deterministic_json(registry_xml):
    text = iana.dumps(iana.convert(registry_xml))
    assert text == iana.dumps(iana.convert(registry_xml))
    loaded = json.loads(text)
    assert len(loaded['records']) == 30
    assert all(len(r) >= 6 for r in loaded['records'])


@pytest.mark.parametrize('xml, message', [
    (b'<not-xml', 'not well-formed'),
    (b'<registry xmlns="http://www.iana.org/assignments" id="other"/>', 'not the IANA'),
    (b'<registry xmlns="http://www.iana.org/assignments" id="service-names-port-numbers">'
     b'<record><description>x</description><number>70000</number></record></registry>', "record 1: number '70000'"),
    (b'<registry xmlns="http://www.iana.org/assignments" id="service-names-port-numbers">'
     b'<record><description>x</description><number>9-2</number></record></registry>', 'reversed'),
])
def test_bad_input_is_named(xml, message):
    with pytest.raises(iana.IanaImportError, match=message):
        iana.convert(xml)


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True, check=False)


def test_tool_writes_then_checks(tmp_path):
    xml = os.path.join(os.path.dirname(__file__), 'fixtures', 'registry.xml')
    out = str(tmp_path / 'iana.json')
    assert run_tool(xml, '--output', out).returncode == 0
    ok = run_tool(xml, '--output', out, '--check')
    assert ok.returncode == 0 and ok.stdout.startswith('OK')
    with open(out, 'a', encoding='utf-8') as handle:
        handle.write(' ')
    stale = run_tool(xml, '--output', out, '--check')
    assert stale.returncode == 1 and 'does not match' in stale.stderr


def test_tool_check_skips_without_input(tmp_path):
    res = run_tool(str(tmp_path / 'absent.xml'), '--output', str(tmp_path / 'x.json'), '--check')
    assert res.returncode == 0 and res.stdout.startswith('SKIP') and 'absent' in res.stdout


@pytest.mark.parametrize('description, kind', [
    ('De-Commissioned Port', 'u'),      # 9006: the hyphenated spelling was once imported as assigned
    ('Decomissioned', 'u'),
    ('Decommissioned', 'u'),
    ('De-Registered', 'u'),
    ('De-registered', 'u'),
    ('(unassigned', 'u'),
    ('Removed on 2006-05-25', 'u'),
    ('Deprecated', 'u'),
    ('Matter Commissionable Node Discovery', 'a'),   # freed words only count at the start
    ('Thread Mesh Commissioning', 'a'),
    ('RemoteWare Unassigned', 'a'),
])
def test_freed_wordings(description, kind):
    assert iana._kind('x' if kind == 'a' else None, description) == kind


TEXT_XREF = (b'<?xml version="1.0"?><registry xmlns="http://www.iana.org/assignments" id="service-names-port-numbers">'
             b'<title>T</title><updated>2025-12-15</updated>'
             b'<record><name>nlogin</name><protocol>tcp</protocol><description>n/a</description><number>758</number>'
             b'<xref type="text">n/a</xref></record>'
             b'<record><name>x</name><protocol>tcp</protocol><description>X</description><number>9105</number>'
             b'<xref type="text">A Person &lt;someone&amp;example.nl&gt; 15 June 2009</xref>'
             b'<xref type="rfc" data="rfc1"/></record></registry>')


def test_text_references_keep_their_words_without_mail_addresses():
    # type="text" references have no data attribute: the words are the element's text
    data = iana.convert(TEXT_XREF)
    assert by(data, 758, 'tcp')[0]['references'] == ['n/a']
    assert by(data, 9105, 'tcp')[0]['references'] == ['A Person 15 June 2009', 'RFC1']
