# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one port-spec parser: examples, round-trips and 'only PortSpecError' on any input."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import (
    PROTOCOLS, PortSpec, PortSpecError, looks_like_port_spec, parse_port_spec, parse_port_specs, parse_protocols,
)


@pytest.mark.parametrize('value, expected', [
    (22, PortSpec(22, 22, ())),
    ('22', PortSpec(22, 22, ())),
    (' 22 / TCP ', PortSpec(22, 22, ('tcp',))),
    ('8000-8100/udp', PortSpec(8000, 8100, ('udp',))),
    ('53/udp+tcp', PortSpec(53, 53, ('tcp', 'udp'))),
    ('53/tcp,udp', PortSpec(53, 53, ('tcp', 'udp'))),
    ('0-65535/any', PortSpec(0, 65535, ())),
    ('0', PortSpec(0, 0, ())),
])
def test_examples(value, expected):
    assert parse_port_spec(value) == expected


@pytest.mark.parametrize('value, message', [
    (65536, 'port: port 65536 is outside 0-65535'),
    (-1, 'port: port -1 is outside 0-65535'),
    ('-1', "port: port '-1' is outside 0-65535"),
    ('70000/tcp', "port: port 70000 in '70000/tcp' is outside 0-65535"),
    ('100-90', "port: range '100-90' is reversed (100 > 90)"),
    ('22/tpc', "port: unknown protocol 'tpc'"),
    ('ssh', "port: 'ssh' is not a port spec"),
    (True, 'port: True is not a port spec'),
    (None, 'port: None is not a port spec'),
    (2.5, 'port: 2.5 is not a port spec'),
])
def test_errors_name_field_and_value(value, message):
    with pytest.raises(PortSpecError) as info:
        parse_port_spec(value)
    assert str(info.value).startswith(message)


def test_protocol_argument_and_lists():
    assert parse_port_spec(22, protocol='udp') == PortSpec(22, 22, ('udp',))
    assert parse_port_spec('22/tcp', protocol='udp') == PortSpec(22, 22, ('tcp',))  # the spec's own wins
    assert parse_port_specs('80,443/tcp') == [PortSpec(80, 80, ()), PortSpec(443, 443, ('tcp',))]
    assert parse_port_specs([22, '53/udp']) == [PortSpec(22, 22, ()), PortSpec(53, 53, ('udp',))]
    with pytest.raises(PortSpecError, match=r"ports\[1\]: 'x'"):
        parse_port_specs([22, 'x'])
    assert parse_protocols(['udp', 'tcp']) == ('tcp', 'udp')
    assert parse_protocols('any') == ()


def test_matches():
    spec = PortSpec(8000, 8100, ('tcp',))
    assert spec.matches(8000, 'tcp') and spec.matches(8100) and not spec.matches(8101, 'tcp')
    assert not spec.matches(8050, 'udp')
    assert PortSpec(53, 53, ()).matches(53, 'udp')


protocols = st.lists(st.sampled_from(PROTOCOLS), unique=True, max_size=3).map(lambda p: tuple(sorted(p)))


@st.composite
def specs(draw):
    low = draw(st.integers(0, 65535))
    high = draw(st.integers(low, 65535))
    return PortSpec(low, high, draw(protocols))


@given(specs())
def test_round_trip(spec):
    assert parse_port_spec(str(spec)) == spec


@given(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 65535))
def test_range_membership(low, high, port):
    if low > high:
        with pytest.raises(PortSpecError):
            parse_port_spec('%d-%d' % (low, high))
        return
    spec = parse_port_spec('%d-%d/tcp' % (low, high))
    assert spec.matches(port, 'tcp') == (low <= port <= high)


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.none(), st.booleans(),
                 st.lists(st.integers(), max_size=2), st.from_regex(r'\A\s*-?\d{1,7}(-\d{1,7})?(/[a-z+,]{0,9})?\s*\Z')))
def test_only_portspec_errors(value):
    try:
        spec = parse_port_spec(value)
    except PortSpecError:
        return
    assert 0 <= spec.low <= spec.high <= 65535
    assert looks_like_port_spec(value)


@given(st.text(max_size=30))
def test_lists_only_portspec_errors(value):
    try:
        parse_port_specs(value)
    except PortSpecError:
        pass
