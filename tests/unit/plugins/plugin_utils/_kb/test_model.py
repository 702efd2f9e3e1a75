# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import shutil

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import KBError, get_kb, load_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import PortSpec


@pytest.mark.parametrize('spec, status', [
    ((22, 'tcp'), 'assigned'),
    ((22, 'sctp'), 'assigned'),
    ((22, 'dccp'), 'no record'),       # 22 has tcp, udp and sctp records only
    ((716, 'udp'), 'assigned'),
    ((716, 'tcp'), 'no record'),       # udp record only
    ((0, 'tcp'), 'reserved'),
    ((2, 'tcp'), 'reserved'),          # de-assigned 2025-02-13
    ((3, 'udp'), 'no record'),         # fixture has 3/tcp only
    ((720, 'tcp'), 'unassigned'),      # protocol-less Unassigned range 717-728
    ((720, 'sctp'), 'unassigned'),
    ((1895, 'tcp'), 'unassigned'),     # "unassigned" with a note
    ((3323, 'sctp'), 'assigned'),      # legacy record without protocol covers every protocol
    ((11500, 'tcp'), 'unassigned'),
    ((50000, 'udp'), 'unassigned'),    # dynamic range: IANA never assigns
    ((30000, 'tcp'), 'no record'),     # no record at all (the fixture is sparse)
])
def test_status_rules(kb, spec, status):
    assert kb.port(*spec)['iana_status'] == status


def test_record_shape(kb):
    rec = kb.port(3011, 'tcp')
    assert set(rec) >= {'port', 'protocol', 'range_class', 'in_ephemeral_range', 'iana_status', 'iana', 'uses',
                        'security', 'related', 'profiles'}
    assert rec['range_class'] == 'user' and rec['in_ephemeral_range'] is None
    entry = rec['iana'][0]
    assert set(entry) >= {'service', 'description', 'protocol', 'low', 'high', 'references', 'note',
                          'unauthorized_use', 'assignee', 'registered', 'updated'}
    assert entry['service'] == 'trusted-web'
    assert [u['id'] for u in rec['uses']] == ['citrix-mep-plain']
    assert [s['id'] for s in rec['security']] == ['citrix-mep-plaintext']
    # its own port is not "related" to itself, the secure alternative is
    assert rec['related'] == ['3009/tcp', '3010/tcp']
    assert rec['profiles'] == ['citrix-gslb', 'citrix-ha', 'gslb-node']
    assert kb.port(3011, 'udp')['uses'] == []
    assert kb.port('3011/tcp') == rec


def test_record_is_a_fresh_copy(kb):
    rec = kb.port(3011, 'tcp')
    rec['uses'].clear()
    rec['iana_status'] = 'x'
    again = kb.port(3011, 'tcp')
    assert again['uses'] and again['iana_status'] == 'assigned'


@pytest.mark.parametrize('port, cls', [(0, 'system'), (1023, 'system'), (1024, 'user'), (49151, 'user'),
                                       (49152, 'dynamic'), (65535, 'dynamic')])
def test_range_class(kb, port, cls):
    assert kb.port(port, 'tcp')['range_class'] == cls


@pytest.mark.parametrize('eph', [[32768, 60999], (32768, 60999), '32768-60999', '32768\t60999'])
def test_ephemeral_range(kb, eph):
    assert kb.port(50000, 'udp', eph)['in_ephemeral_range'] is True
    assert kb.port(32767, 'udp', eph)['in_ephemeral_range'] is False


def test_ranges_in_curated_and_iana(kb):
    assert [u['id'] for u in kb.port(6002, 'tcp')['uses']] == ['demo-range']
    assert kb.port(6004, 'tcp')['uses'] == []
    assert kb.port(3325, 'udp')['iana'][0]['service'] == 'active-net'
    assert kb.port(49150, 'tcp')['iana'][0]['low'] == 48620


def test_unauthorized_use_becomes_a_security_note(kb):
    notes = kb.port(1390, 'tcp')['security']
    assert [n['kind'] for n in notes] == ['unauthorized_use']
    assert 'Known UNAUTHORIZED USE: Port 1390' in notes[0]['text']
    assert notes[0]['sources'][0]['url'].startswith('https://www.iana.org/')
    assert 'unauthorized_use' in kb.security_flags(79, 'tcp')


def test_security_flags_and_severity(kb):
    flags = kb.security_flags(23, 'tcp')
    assert flags == {'plaintext', 'commonly_scanned'} and flags.severity == 'critical'
    flags = kb.security_flags(6001, 'tcp')       # plaintext use, no note
    assert flags == {'plaintext'} and flags.severity is None
    assert kb.security_flags(9, 'dccp') == set() and kb.security_flags(9, 'dccp').severity is None


@pytest.mark.parametrize('args, message', [
    ((70000, 'tcp'), "port: 70000 is outside 0-65535"),
    ((-1, 'tcp'), "port: -1 is outside 0-65535"),
    (('abc', 'tcp'), "port: 'abc' is not a port spec"),
    (('30-20', 'tcp'), "range '30-20' is reversed"),
    (('20-30/tcp', None), "is a range"),
    ((22, 'icmp'), "unknown protocol 'icmp'"),
    ((22, None), "protocol: None must name one of"),
    ((22, 'tcp+udp'), "must name one of"),
    ((True, 'tcp'), "is not a port spec"),
])
def test_bad_input_names_the_value(kb, args, message):
    with pytest.raises(KBError, match=message.replace('(', r'\(').replace('+', r'\+')):
        kb.port(*args)


def test_bad_ephemeral_range(kb):
    with pytest.raises(KBError, match='ephemeral_range: .*70000'):
        kb.port(22, 'tcp', [1, 70000])
    with pytest.raises(KBError, match="ephemeral_range: 'x'"):
        kb.port(22, 'tcp', 'x')


def test_resolve_services_to_every_protocol(kb):
    assert [str(s) for s in kb.resolve('https')] == ['443/sctp', '443/tcp', '443/udp']
    assert [str(s) for s in kb.resolve('HTTP')] == ['80/tcp']
    assert kb.resolve('active-net') == [PortSpec(3322, 3325, ('tcp',)), PortSpec(3322, 3325, ('udp',))]
    assert kb.resolve('22/tcp') == [PortSpec(22, 22, ('tcp',))]
    with pytest.raises(KBError, match='no port number'):
        kb.resolve('zigbee-ip')


def test_profile_wins_over_service(kb):
    assert [str(s) for s in kb.resolve('ssh')] == ['22/tcp']
    assert [e['protocol'] for e in kb.services('ssh')] == ['tcp', 'udp', 'sctp']


def test_unknown_name_lists_closest(kb):
    with pytest.raises(KBError, match=r"unknown profile or IANA service name 'htps'; closest: .*https"):
        kb.resolve('htps')
    with pytest.raises(KBError, match=r"'citrix-gslbb'; closest: citrix-gslb"):
        kb.resolve('citrix-gslbb')
    with pytest.raises(KBError, match="unknown profile 'nope'"):
        kb.profile('nope')


def test_profile_expansion_with_includes(kb):
    prof = kb.profile('gslb-node')
    assert prof['ports'] == ['22/tcp', '80/tcp', '443/sctp', '443/tcp', '443/udp', '3009/tcp', '3011/tcp']
    assert prof['includes'] == ['admin-host', 'citrix-gslb']
    assert prof['all_includes'] == ['admin-host', 'citrix-gslb', 'web']
    ha = kb.profile('citrix-ha')
    assert ha['optional'] == ['22/tcp'] and '3003/udp' in ha['ports']
    assert '22/tcp' in [str(s) for s in kb.resolve('citrix-ha')]   # resolve allows optional ports too
    assert kb.profiles() == ['admin-host', 'citrix-gslb', 'citrix-ha', 'gslb-node', 'ssh', 'web']
    assert kb.port(443, 'udp')['profiles'] == ['admin-host', 'gslb-node', 'web']


def test_include_cycle_is_an_error(kb_dir):
    (kb_dir / 'curated' / 'cycle.yml').write_text(
        'profiles:\n'
        '  - {name: a, description: A, ports: [1/tcp], includes: [b]}\n'
        '  - {name: b, description: B, ports: [2/tcp], includes: [c]}\n'
        '  - {name: c, description: C, ports: [3/tcp], includes: [a]}\n', encoding='utf-8')
    kb = load_kb(str(kb_dir))
    with pytest.raises(KBError, match="profile 'a': include cycle a -> b -> c -> a"):
        kb.profile('a')
    # one broken profile does not break port lookups
    assert kb.port(1, 'tcp')['profiles'] == []


def test_explain_3011_shows_both_layers(kb):
    listener = make_listener('tcp', 'ipv4', '0.0.0.0', 3011, processes=[make_process(811, 'nsnetsvc')])
    text = kb.explain(listener)
    assert text.startswith('3011/tcp (process nsnetsvc) is assigned by IANA to trusted-web (Trusted Web) '
                           '(registered range 1024\u201349151).')
    assert 'Known use: Citrix NetScaler ADC: Plain GSLB metric exchange between sites' in text
    assert '(plaintext; secure alternative 3009/tcp)' in text
    assert text.endswith('MEP on 3011 sends site metrics in clear.')


def test_explain_11500(kb):
    text = kb.explain({'port': 11500, 'protocol': 'tcp', 'processes': []})
    assert text == ('11500/tcp is not assigned by IANA (registered range 1024\u201349151). '
                    'Known use: Nokia/Alcatel-Lucent 5620 SAM: mapserver (Equipment View) for 9500 MPR '
                    'microwave links. On a host without such equipment, a listener here deserves investigation.')


def test_explain_other_statuses(kb):
    assert kb.explain({'port': 716, 'protocol': 'tcp'}) == \
        '716/tcp has no IANA record (system range 0\u20131023; IANA lists 716/udp only).'
    assert kb.explain({'port': 2, 'protocol': 'tcp'}) == '2/tcp is reserved by IANA (system range 0\u20131023).'
    text = kb.explain({'port': 50000, 'protocol': 'udp'}, ephemeral_range=[32768, 60999])
    assert 'dynamic range 49152\u201365535' in text and "this host's ephemeral port range" in text
    with pytest.raises(KBError, match='listener: expected a mapping'):
        kb.explain({'port': 1})


def test_loader_errors_name_file_entry_and_field(kb_dir):
    bad = kb_dir / 'curated' / 'bad.yml'
    cases = [
        ('uses: {}\n', 'bad.yml: uses: expected a list'),
        ('extra: []\n', "bad.yml: unknown top-level key"),
        ('uses:\n  - {id: x, ports: [99999/tcp]}\n', r"bad.yml: uses\[0\] \(id x\): ports\[0\]: port 99999"),
        ('security:\n  - {ports: [1/tcp]}\n', r"bad.yml: security\[0\]: id: missing"),
        ('uses:\n  - {id: y, ports: [1/tcp], secure_alternative: abc}\n', "secure_alternative: 'abc'"),
        ('- just a list\n', 'bad.yml: expected a mapping'),
        ('uses: [\n', 'bad.yml: not valid YAML'),
    ]
    for text, message in cases:
        bad.write_text(text, encoding='utf-8')
        with pytest.raises(KBError, match=message):
            load_kb(str(kb_dir))


def test_compiled_curated_is_used_only_when_fresh(kb_dir):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import loader
    (kb_dir / 'curated.json').write_text(loader.compile_curated(str(kb_dir)), encoding='utf-8')
    assert load_kb(str(kb_dir)).port(3011, 'tcp')['uses']
    (kb_dir / 'curated' / 'vendors.yml').write_text('uses: []\n', encoding='utf-8')
    assert load_kb(str(kb_dir)).port(3011, 'tcp')['uses'] == []   # stale compiled copy ignored


def test_missing_iana_data(tmp_path):
    with pytest.raises(KBError, match='cannot read the IANA data'):
        load_kb(str(tmp_path))


def test_get_kb_is_cached_per_directory(kb_dir):
    assert get_kb(str(kb_dir)) is get_kb(str(kb_dir))
    other = kb_dir.parent / 'other'
    shutil.copytree(kb_dir, other)
    assert get_kb(str(other)) is not get_kb(str(kb_dir))


def _mini_kb(records, uses=()):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.iana import FIELDS
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import KnowledgeBase
    return KnowledgeBase({'fields': list(FIELDS), 'records': records}, uses=uses)


def test_service_specs_prefer_live_rows():
    kb = _mini_kb([
        ['sua', 'tcp', 'SUA', 14001, 14001, 'a'],
        ['sua', 'udp', 'De-Registered', 14001, 14001, 'u'],
        ['gone', 'tcp', 'De-registered', 7001, 7001, 'u'],   # nothing live: the freed row is all there is
    ])
    assert kb.service_specs('sua') == [PortSpec(14001, 14001, ('tcp',))]
    assert kb.service_specs('gone') == [PortSpec(7001, 7001, ('tcp',))]


def _use(ident, ports, purpose='Does things.', **extra):
    use = {'id': ident, 'ports': ports, 'vendor': 'V', 'product': ident, 'purpose': purpose, 'plaintext': None}
    use.update(extra)
    return use


def test_uses_ordered_by_prevalence_then_file_order():
    kb = _mini_kb([['ssh', 'tcp', 'SSH', 22, 22, 'a']], uses=[
        _use('niche-ssh', ['22/tcp'], prevalence='niche'),
        _use('plain-ssh', ['22/tcp']),
        _use('range-ssh', ['20-30/tcp']),
        _use('generic-ssh', ['22/tcp'], prevalence='common'),
    ])
    assert [u['id'] for u in kb.port(22, 'tcp')['uses']] == ['generic-ssh', 'plain-ssh', 'range-ssh', 'niche-ssh']
    assert kb.explain({'port': 22, 'protocol': 'tcp'}).count('Known uses: V generic-ssh: Does things; V plain-ssh')


def test_truncated_use_label_gets_no_extra_full_stop():
    long = ' '.join(['word'] * 40) + '.'
    kb = _mini_kb([], uses=[_use('long', ['11500/tcp'], purpose=long)])
    text = kb.explain({'port': 11500, 'protocol': 'tcp'})
    assert '\u2026 On a host without such equipment' in text and '\u2026.' not in text
