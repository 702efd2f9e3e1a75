# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-port plaintext, self-referencing alternatives, confidence against sources, name shadowing,
dangerous-port warnings and name suggestions, on the fixture KB plus one extra file per case."""

from __future__ import annotations

import difflib

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import KBError, load_kb, validate
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import PortSpec, parse_port_spec

MQTT = '''uses:
  - id: mqtt-both
    ports: [1883/tcp, 8883/tcp]
    vendor: Eclipse
    product: Mosquitto
    purpose: MQTT broker, plain and over TLS.
    plaintext: {plain}
    secure_alternative: {alt}
    sources: [{{title: "mosquitto.conf(5)", url: "https://mosquitto.org/man/mosquitto-conf-5.html"}}]
    confidence: vendor-doc
'''
NOTE = '''security:
  - id: n1
    ports: [2375/tcp]
    kind: {kind}
    text: Whoever reaches this owns the host. Second sentence.
    severity: {severity}
    sources: [{{title: T, url: "{url}"}}]
    confidence: {confidence}
'''


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(validate, 'MIN_ENTRIES', 5)
    monkeypatch.setattr(validate, 'MIN_PROFILES', 3)


def errors_with(kb_dir, text):
    (kb_dir / 'curated' / 'extra.yml').write_text(text, encoding='utf-8')
    return validate.validate(str(kb_dir), check_compiled=False)


@pytest.mark.usefixtures('small')
def test_per_port_plaintext_is_valid_and_decided_per_port(kb_dir):
    assert errors_with(kb_dir, MQTT.format(plain='[1883/tcp]', alt='8883/tcp')) == []
    kb = load_kb(str(kb_dir))
    plain = kb.port(1883, 'tcp')['uses'][0]
    tls = kb.port(8883, 'tcp')['uses'][0]
    assert plain['plaintext'] is True and tls['plaintext'] is False and tls['plaintext_ports'] == ['1883/tcp']
    assert 'plaintext' in kb.security_flags(1883, 'tcp') and 'plaintext' not in kb.security_flags(8883, 'tcp')
    assert '(plaintext; secure alternative 8883/tcp)' in kb.explain({'port': 1883, 'protocol': 'tcp'})
    assert 'secure alternative' not in kb.explain({'port': 8883, 'protocol': 'tcp'})


@pytest.mark.usefixtures('small')
@pytest.mark.parametrize('plain, alt, message', [
    ('true', '8883/tcp', 'secure_alternative: 8883/tcp is a port of this use, which says every port is plaintext'),
    ('[1883/tcp, 8883/tcp]', '8883/tcp', 'secure_alternative: 8883/tcp is listed as plaintext itself'),
    ('[1884/tcp]', '8883/tcp', "plaintext[0]: 1884/tcp is not one of the use's ports"),
    ('[]', '8883/tcp', 'plaintext: an empty list'),
])
def test_plaintext_and_self_referencing_alternative_rules(kb_dir, plain, alt, message):
    errors = errors_with(kb_dir, MQTT.format(plain=plain, alt=alt))
    assert any('uses[0] (id mqtt-both): ' + message in e for e in errors), errors


@pytest.mark.usefixtures('small')
@pytest.mark.parametrize('confidence, url, severity, message', [
    ('third-party', 'https://learn.microsoft.com/x', 'low', 'confidence: third-party needs a standards'),
    ('vendor-doc', 'https://en.wikipedia.org/wiki/X', 'low', 'confidence: vendor-doc needs a source'),
    ('vendor-doc', 'https://www.rfc-editor.org/rfc/rfc1', 'low', 'confidence: vendor-doc needs a source'),
    ('community', 'https://en.wikipedia.org/wiki/X', 'critical', 'a critical note needs a vendor or third-party'),
])
def test_confidence_must_match_sources(kb_dir, confidence, url, severity, message):
    errors = errors_with(kb_dir, NOTE.format(kind='exposure', severity=severity, url=url, confidence=confidence))
    assert any('security[0] (id n1): ' in e and message in e for e in errors), errors


@pytest.mark.usefixtures('small')
@pytest.mark.parametrize('confidence, url', [
    ('vendor-doc', 'https://docs.docker.com/engine/security/protect-access/'),
    ('third-party', 'https://nvd.nist.gov/vuln/detail/CVE-2014-0659'),
    ('community', 'https://en.wikipedia.org/wiki/X'),
])
def test_matching_confidence_passes(kb_dir, confidence, url):
    assert errors_with(kb_dir, NOTE.format(kind='exposure', severity='low', url=url, confidence=confidence)) == []


def test_source_classes():
    assert validate.source_class('https://en.wikipedia.org/wiki/X') == 'community'
    assert validate.source_class('urn:hostsec-ports:seed:000') == 'community'
    assert validate.source_class('https://isc.sans.edu/port.html?port=1') == 'third-party'
    assert validate.source_class('https://www.rfc-editor.org/rfc/rfc9110') == 'third-party'
    assert validate.source_class('https://learn.microsoft.com/en-us/x') == 'vendor'
    assert validate.source_class('https://notwikipedia.org/x') == 'vendor'


@pytest.mark.usefixtures('small')
def test_shadowing_needs_a_reason_and_only_when_it_shadows(kb_dir):
    errors = errors_with(kb_dir, 'profiles:\n  - {name: telnet, description: d, ports: [2323/tcp]}\n')
    assert any("shadows_iana: 'telnet' is also the IANA service name for 23/tcp" in e for e in errors), errors
    ok = 'profiles:\n  - {name: telnet, description: d, ports: [2323/tcp], shadows_iana: "the lab telnet"}\n'
    assert errors_with(kb_dir, ok) == []
    assert load_kb(str(kb_dir)).resolve('telnet') == [PortSpec(2323, 2323, ('tcp',))]
    needless = 'profiles:\n  - {name: lab, description: d, ports: [2323/tcp], shadows_iana: "x"}\n'
    assert any("shadows_iana: 'lab' shadows no IANA service" in e for e in errors_with(kb_dir, needless))


@pytest.mark.usefixtures('small')
def test_allow_warnings_name_each_dangerous_port(kb_dir):
    text = NOTE.format(kind='exposure', severity='critical', url='https://docs.docker.com/x', confidence='vendor-doc')
    text += ('  - {id: n2, ports: [23/tcp, 2375/tcp], kind: plaintext, text: Clear text.,'
             ' severity: high, sources: [{title: T, url: "https://www.rfc-editor.org/rfc/rfc854"}],'
             ' confidence: third-party}\n'
             '  - {id: n3, ports: [53/udp], kind: amplification, text: Reflects floods.,'
             ' severity: high, sources: [{title: T, url: "https://www.rfc-editor.org/rfc/rfc5358"}],'
             ' confidence: third-party}\n')
    assert errors_with(kb_dir, text) == []
    kb = load_kb(str(kb_dir))
    assert kb.allow_warnings(parse_port_spec('2375/tcp')) == [
        '2375/tcp is marked dangerous by the port knowledge base (critical, exposure): '
        'Whoever reaches this owns the host.']
    # one warning per port, the worst note wins; a spec without protocol covers tcp and udp
    assert [w.split(' ')[0] for w in kb.allow_warnings(parse_port_spec('1-3000'))] == ['23/tcp', '2375/tcp']
    assert kb.allow_warnings(parse_port_spec('2375/udp')) == []
    # a high amplification note is about reachability, which an allow rule states on purpose
    assert kb.allow_warnings(parse_port_spec('53/udp')) == []
    with pytest.raises(KBError, match='spec: expected a PortSpec'):
        kb.allow_warnings('2375/tcp')


def test_bad_port_spec_is_not_an_unknown_name(kb):
    for term in ('/tcp', '-5/udp'):
        with pytest.raises(KBError) as err:
            kb.resolve(term)
        assert 'unknown' not in str(err.value) and repr(term) in str(err.value)


def test_suggestions_match_profile_prefixes(kb):
    # 'gslbb' is far from the whole name gslb-node, but close to its first part
    assert not difflib.get_close_matches('gslbb', ['gslb-node'], cutoff=0.6)
    with pytest.raises(KBError, match=r"'gslbb'; closest: .*gslb-node"):
        kb.resolve('gslbb')
