# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of the nftables backend, on ``nft -j`` output recorded from nftables 1.0.6.

Fixtures: nft_owned_table.json is the table the module writes (22/tcp,
8081/tcp, 53/udp); nft_tampered_table.json the same after
``nft add rule inet hostsec_ports input tcp dport 8082 drop``;
nft_old_shape_table.json the table written before the drops carried
``ct state new`` (it dropped replies to the host's own outgoing traffic);
nft_foreign_layout.json a table of the same name with an interval set and
another priority. The end-to-end behaviour is in tests/functional/test_nft_port_block.py.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._firewall import core, nftables

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_parse_owned_table_round_trips():
    model = nftables.parse_table(fixture('nft_owned_table.json'))
    assert model == nftables.make_model([(22, 'tcp'), (53, 'udp'), (8081, 'tcp')])
    assert model['intact']


def test_extra_rule_marks_table_not_intact():
    model = nftables.parse_table(fixture('nft_tampered_table.json'))
    assert not model['intact']
    assert model != nftables.make_model(model['ports'])


def test_old_shape_without_ct_state_is_rewritten():
    # Same ports, but the drops lack ct state new: not ours, so the next apply rewrites it.
    model = nftables.parse_table(fixture('nft_old_shape_table.json'))
    assert model['ports'] == ((22, 'tcp'), (53, 'udp'), (8081, 'tcp'))
    assert not model['intact']
    assert model != nftables.make_model(model['ports'])


def test_drops_match_only_new_connections():
    text = nftables.render(nftables.make_model([(123, 'udp')]))
    assert '\t\tct state new tcp dport @tcp_ports counter drop\n' in text
    assert '\t\tct state new udp dport @udp_ports counter drop\n' in text
    assert text.count(' dport @') == text.count('ct state new ') == 2


def test_other_ct_states_are_not_ours():
    doc = fixture('nft_owned_table.json').replace('"right": "new"', '"right": ["established", "new"]', 1)
    assert not nftables.parse_table(doc)['intact']


def test_foreign_layout_is_not_intact():
    model = nftables.parse_table(fixture('nft_foreign_layout.json'))
    assert not model['intact']


def test_render_is_what_nft_prints_back():
    # nft -s list table prints the same text we load (tabs, blank lines).
    model = nftables.make_model([(22, 'tcp'), (53, 'udp'), (8081, 'tcp')])
    text = nftables.render(model)
    assert 'elements = { 22, 8081 }' in text and 'elements = { 53 }' in text
    assert 'type filter hook input priority filter - 10; policy accept;' in text
    assert nftables.render_script(None) == ('table inet hostsec_ports\n'
                                            'delete table inet hostsec_ports\n')


def test_render_without_loopback_exemption():
    text = nftables.render(nftables.make_model([], exempt_loopback=False))
    assert 'iif "lo"' not in text and 'elements' not in text


def test_normalize_sorts_and_dedups():
    ports = core.normalize_ports([{'port': '8081'}, {'port': 53, 'protocol': 'UDP'}, {'port': 8081, 'protocol': 'tcp'}])
    assert ports == ((53, 'udp'), (8081, 'tcp'))


@pytest.mark.parametrize('items, message', [
    ([{'port': 70000}], 'ports[0].port: 70000 is outside 1-65535'),
    ([{'port': 22}, {'port': 'ssh'}], "ports[1].port: 'ssh' is not a port number"),
    ([{'port': 22, 'protocol': 'icmp'}], "ports[0].protocol: unknown value 'icmp'"),
    ([22], 'ports[0]: expected a mapping'),
    ('22', 'ports: expected a list'),
    ([{'port': True}], 'ports[0].port: True is not a port number'),
])
def test_bad_ports_name_field_and_value(items, message):
    with pytest.raises(core.FirewallError, match=None) as err:
        core.normalize_ports(items)
    assert message in str(err.value)


def test_unit_orders_after_nftables_service():
    unit = nftables.unit_text('/etc/hostsec-ports/nftables.nft')
    assert 'After=local-fs.target nftables.service' in unit
    assert 'ExecStart=/usr/sbin/nft -f /etc/hostsec-ports/nftables.nft' in unit
    assert 'RemainAfterExit=yes' in unit
    # systemctl restart/reload nftables flushes the ruleset: ours follows it.
    assert 'PartOf=nftables.service' in unit and 'ReloadPropagatedFrom=nftables.service' in unit
    assert 'ExecReload=/usr/sbin/nft -f /etc/hostsec-ports/nftables.nft' in unit


class FakeNft:
    """A recorded nft: answers ``list table`` from a fixture and records loads.

    Only the program boundary is replaced; everything core.run() decides is real.
    """

    def __init__(self, listing):
        self.listing = listing
        self.loaded = []

    def run(self, args, data):
        if args[1:3] == ['-j', 'list']:
            if self.listing is None:
                return 1, '', 'Error: No such file or directory\nlist table inet hostsec_ports'
            return 0, self.listing, ''
        if args[1:3] == ['-s', 'list']:
            return 0, 'raw listing', ''
        self.loaded.append((args, data))
        return 0, '', ''


def converge(nft, ports, tmp_path, state='present', check_mode=False):
    host = core.Host(nft.run, lambda name: '/usr/sbin/' + name, booted=False)
    backend = nftables.Backend(host, persist_path=str(tmp_path / 'p.nft'), unit_path=str(tmp_path / 'u.service'))
    return core.run(backend, ports, state=state, check_mode=check_mode)


def test_converge_from_absent_loads_whole_table(tmp_path):
    host = FakeNft(None)
    res = converge(host, [{'port': 8081, 'protocol': 'tcp'}], tmp_path)
    assert res['changed'] and res['added'] == [{'port': 8081, 'protocol': 'tcp'}]
    (args, script), = host.loaded
    assert args == ['/usr/sbin/nft', '-f', '-']
    assert script.startswith('table inet hostsec_ports\ndelete table inet hostsec_ports\ntable inet hostsec_ports {')
    assert (tmp_path / 'p.nft').read_text().endswith(script)
    assert res['warnings'] == ['systemd is not running: %s was written but not enabled' % (tmp_path / 'u.service')]
    # The rollback of this run deletes the table and the boot files again.
    assert 'delete table inet hostsec_ports\nHOSTSEC_PORTS_EOF' in res['restore_script']
    assert 'rm -f %s' % (tmp_path / 'p.nft') in res['restore_script']


def test_converge_check_mode_validates_only(tmp_path):
    host = FakeNft(fixture('nft_owned_table.json'))
    res = converge(host, [{'port': 22, 'protocol': 'tcp'}], tmp_path, check_mode=True)
    assert res['changed'] and res['removed'] == [{'port': 53, 'protocol': 'udp'}, {'port': 8081, 'protocol': 'tcp'}]
    assert [a for a, dummy in host.loaded] == [['/usr/sbin/nft', '-c', '-f', '-']]
    assert not (tmp_path / 'p.nft').exists()
    assert '-\t\telements = { 22, 8081 }' not in res['diff']['after']


def test_converge_same_ports_changes_nothing(tmp_path):
    host = FakeNft(fixture('nft_owned_table.json'))
    want = [{'port': 53, 'protocol': 'udp'}, {'port': 22, 'protocol': 'tcp'}, {'port': 8081, 'protocol': 'tcp'}]
    converge(host, want, tmp_path)  # writes the persistence files
    host.loaded = []
    res = converge(host, want, tmp_path)
    assert not res['changed'] and host.loaded == [] and res['operations'] == []


def test_converge_repairs_a_deleted_boot_file(tmp_path):
    host = FakeNft(fixture('nft_owned_table.json'))
    want = [{'port': 53, 'protocol': 'udp'}, {'port': 22, 'protocol': 'tcp'}, {'port': 8081, 'protocol': 'tcp'}]
    converge(host, want, tmp_path)
    (tmp_path / 'p.nft').unlink()
    res = converge(host, want, tmp_path)
    assert res['persist_changed'] and not res['rules_changed']
    assert res['operations'] == ['write %s' % (tmp_path / 'p.nft')]
    assert '# boot file %s: absent' % (tmp_path / 'p.nft') in res['diff']['before']


def test_converge_rewrites_old_shape_with_same_ports(tmp_path):
    host = FakeNft(fixture('nft_old_shape_table.json'))
    want = [{'port': 53, 'protocol': 'udp'}, {'port': 22, 'protocol': 'tcp'}, {'port': 8081, 'protocol': 'tcp'}]
    res = converge(host, want, tmp_path)
    assert res['rules_changed'] and res['added'] == [] and res['removed'] == []
    (args, script), = host.loaded
    assert 'ct state new tcp dport @tcp_ports counter drop' in script


def test_converge_absent_on_absent_is_a_no_op(tmp_path):
    host = FakeNft(None)
    res = converge(host, [], tmp_path, state='absent')
    assert not res['changed'] and host.loaded == []


def test_protected_port_is_refused_before_nft_runs(tmp_path):
    host = FakeNft(None)
    with pytest.raises(core.FirewallError, match=r'22/tcp \(protected 22/tcp\+udp: SSH_CONNECTION\)'):
        core.run(nftables.Backend(core.Host(host.run, lambda n: '/usr/sbin/' + n, booted=False)),
                 [{'port': 22}], [{'port': 22, 'end': None, 'protocol': None, 'reason': 'SSH_CONNECTION'}])
    assert host.loaded == []
