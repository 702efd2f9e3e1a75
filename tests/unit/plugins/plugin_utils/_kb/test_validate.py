# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import loader, validate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))


@pytest.fixture
def small(monkeypatch):
    # the fixture data is deliberately small; the real minimums are tested on the shipped data
    monkeypatch.setattr(validate, 'MIN_ENTRIES', 5)
    monkeypatch.setattr(validate, 'MIN_PROFILES', 3)


@pytest.mark.usefixtures('small')
def test_fixture_data_is_valid(kb_dir):
    assert validate.validate(str(kb_dir), check_compiled=False) == []


def test_minimums_are_constants(kb_dir):
    errors = validate.validate(str(kb_dir), check_compiled=False)
    assert errors == ['curated: 7 uses + security entries, at least 150 expected',
                      'curated: 6 profiles, at least 40 expected']


GOOD_USE = ("  - id: {id}\n    ports: [7000/tcp]\n    vendor: V\n    product: P\n    purpose: Does things.\n"
            "    plaintext: false\n    sources: [{{title: T, url: 'https://example.org/'}}]\n    confidence: community\n")


@pytest.mark.parametrize('text, message', [
    ('uses:\n' + GOOD_USE.format(id='citrix-mep-plain'), "id: duplicate 'citrix-mep-plain' (first in curated/"),
    ('uses:\n' + GOOD_USE.format(id='x').replace('confidence: community', 'confidence: sure'),
     "uses[0] (id x): confidence: 'sure' is not one of vendor-doc, third-party, community"),
    ('uses:\n' + GOOD_USE.format(id='x').replace("    sources: [{title: T, url: 'https://example.org/'}]\n", ''),
     'uses[0] (id x): sources: missing'),
    ('uses:\n' + GOOD_USE.format(id='x').replace("title: T, ", ''), r'uses[0] (id x): sources[0].title: missing'),
    ('uses:\n' + GOOD_USE.format(id='x').replace("https://example.org/", 'example.org'),
     "sources[0].url: 'example.org' is not an http(s) or urn: address"),
    ('uses:\n' + GOOD_USE.format(id='x').replace('vendor: V', 'vendor: ""'), "vendor: expected non-empty text"),
    ('uses:\n' + GOOD_USE.format(id='x').replace('plaintext: false', 'plaintext: maybe'),
     "plaintext: 'maybe' is not true, false, null or a list of the plaintext ports"),
    ('uses:\n' + GOOD_USE.format(id='x') + '    colour: red\n', 'colour: unknown field'),
    ('uses:\n' + GOOD_USE.format(id='x') + '    prevalence: often\n', "prevalence: 'often' is not one of common, niche"),
    ('uses:\n' + GOOD_USE.format(id='x').replace('    product: P\n', ''), 'uses[0] (id x): product: missing'),
    ('security:\n  - {id: s, ports: [1/tcp], kind: scary, text: t, sources: [{title: T, url: "https://a.b"}],'
     ' confidence: community}\n', "kind: 'scary' is not one of plaintext"),
    ('security:\n  - {id: s, ports: [1/tcp], kind: legacy, text: t, severity: huge,'
     ' sources: [{title: T, url: "https://a.b"}], confidence: community}\n', "severity: 'huge' is not one of"),
    ('profiles:\n  - {name: web, description: dup, ports: [80/tcp]}\n', "name: duplicate profile 'web'"),
    ('profiles:\n  - {name: Bad_Name, description: d, ports: [80/tcp]}\n', "name: 'Bad_Name' is not a lower-case slug"),
    ('profiles:\n  - {name: p1, description: d, ports: [htps]}\n',
     "profiles[0] (name p1): ports[0]: name: unknown profile or IANA service name 'htps'; closest: https"),
    ('profiles:\n  - {name: p1, description: d, ports: [1/tcp], includes: [citrix-gslbb]}\n',
     "includes[0]: name: unknown profile 'citrix-gslbb'; closest: citrix-gslb"),
    ('profiles:\n  - {name: p1, description: d, ports: [1/tcp], includes: [p2]}\n'
     '  - {name: p2, description: d, ports: [2/tcp], includes: [p1]}\n', "include cycle p1 -> p2 -> p1"),
    ('profiles:\n  - {name: p1, description: d, ports: []}\n', 'the profile allows nothing'),
    ('profiles:\n  - {name: telnet, description: d, ports: [2323/tcp]}\n',
     "shadows_iana: 'telnet' is also the IANA service name for 23/tcp"),
    ('profiles:\n  - {name: p1, description: d, ports: [1/tcp], sources: [{title: T}]}\n', 'sources[0].url'),
])
@pytest.mark.usefixtures('small')
def test_each_failure_is_named(kb_dir, text, message):
    (kb_dir / 'curated' / 'extra.yml').write_text(text, encoding='utf-8')
    errors = validate.validate(str(kb_dir), check_compiled=False)
    assert any(message in e for e in errors), errors
    assert all(e.startswith(('curated/', 'curated:', 'include')) or ' curated/' in e or e for e in errors)


@pytest.mark.usefixtures('small')
def test_structure_error_is_reported_not_raised(kb_dir):
    (kb_dir / 'curated' / 'extra.yml').write_text('uses:\n  - {id: x, ports: [1-0/tcp]}\n', encoding='utf-8')
    assert validate.validate(str(kb_dir)) == [
        "curated/extra.yml: uses[0] (id x): ports[0]: range '1-0/tcp' is reversed (1 > 0)"]


@pytest.mark.usefixtures('small')
def test_stale_compiled_copy_is_reported(kb_dir):
    assert any('curated.json: missing or stale' in e for e in validate.validate(str(kb_dir)))
    (kb_dir / 'curated.json').write_text(loader.compile_curated(str(kb_dir)), encoding='utf-8')
    assert validate.validate(str(kb_dir)) == []


def test_tool(kb_dir):
    tool = [sys.executable, os.path.join(ROOT, 'tools', 'kb_validate.py'), '--data-dir', str(kb_dir)]
    res = subprocess.run(tool, capture_output=True, text=True, check=False)
    assert res.returncode == 1 and 'ERROR curated: 7 uses + security entries, at least 150' in res.stderr
    assert 'Traceback' not in res.stderr


def test_shipped_data_is_valid():
    # the shipped data must pass the real minimums; this is what make test-data runs
    assert validate.validate() == []
