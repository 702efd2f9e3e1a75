# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The port-spec parser: written once, used by the KB, the policy engine,
the action plugin, the lookup and the filters.

Accepted forms: ``22``, ``"22"``, ``"22/tcp"``, ``"8000-8100/udp"``,
``"53/tcp+udp"``, ``"0-65535/any"``. No protocol means any protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROTOCOLS = ('tcp', 'udp', 'sctp', 'dccp')
_SPEC = re.compile(r'^\s*(\d+)\s*(?:-\s*(\d+)\s*)?(?:/\s*([A-Za-z+,]+)\s*)?$')


class PortSpecError(ValueError):
    """Bad port spec; the message names the field and the value."""


@dataclass(frozen=True, order=True)
class PortSpec:
    low: int
    high: int
    protocols: tuple = ()  # empty: any protocol

    def matches(self, port, protocol=None):
        if not self.low <= port <= self.high:
            return False
        return not self.protocols or protocol is None or protocol in self.protocols

    def __str__(self):
        ports = str(self.low) if self.low == self.high else '%d-%d' % (self.low, self.high)
        return ports + ('/' + '+'.join(self.protocols) if self.protocols else '')


def looks_like_port_spec(value):
    """True when value is shaped like a port spec (digits first), not a name."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and bool(re.match(r'^\s*\d', value))


def parse_protocols(text, field='proto'):
    """'tcp', 'tcp+udp', 'tcp,udp', 'any' or a list of those -> sorted tuple (empty = any)."""
    if text is None:
        return ()
    items = text if isinstance(text, (list, tuple)) else re.split(r'[+,]', str(text))
    protos = set()
    for item in items:
        name = str(item).strip().lower()
        if name in ('any', '*', ''):
            return ()
        if name not in PROTOCOLS:
            raise PortSpecError('%s: unknown protocol %r (expected one of %s or any)'
                                % (field, item, ', '.join(PROTOCOLS)))
        protos.add(name)
    return tuple(sorted(protos))


def _port(text, value, field):
    port = int(text)
    if port > 65535:
        raise PortSpecError('%s: port %s in %r is outside 0-65535' % (field, text, value))
    return port


def parse_port_spec(value, field='port', protocol=None):
    """Parse one port spec; ``protocol`` applies when the spec names none."""
    if isinstance(value, bool) or value is None:
        raise PortSpecError('%s: %r is not a port spec (expected e.g. 22, "22/tcp", "8000-8100/udp")'
                            % (field, value))
    if isinstance(value, int):
        if not 0 <= value <= 65535:
            raise PortSpecError('%s: port %r is outside 0-65535' % (field, value))
        return PortSpec(value, value, parse_protocols(protocol, field))
    if not isinstance(value, str):
        raise PortSpecError('%s: %r is not a port spec (expected e.g. 22, "22/tcp", "8000-8100/udp")'
                            % (field, value))
    match = _SPEC.match(value)
    if not match:
        if re.match(r'^\s*-\d', value):
            raise PortSpecError('%s: port %r is outside 0-65535' % (field, value))
        raise PortSpecError('%s: %r is not a port spec (expected e.g. 22, "22/tcp", "8000-8100/udp")'
                            % (field, value))
    low = _port(match.group(1), value, field)
    high = _port(match.group(2), value, field) if match.group(2) else low
    if high < low:
        raise PortSpecError('%s: range %r is reversed (%d > %d)' % (field, value, low, high))
    protos = parse_protocols(match.group(3), field) if match.group(3) else parse_protocols(protocol, field)
    return PortSpec(low, high, protos)


def parse_port_specs(value, field='ports', protocol=None):
    """A list of specs, or one spec, or a comma-separated string of specs."""
    if isinstance(value, (list, tuple)):
        return [parse_port_spec(v, '%s[%d]' % (field, i), protocol) for i, v in enumerate(value)]
    if isinstance(value, str) and ',' in value:
        parts = [p for p in value.split(',') if p.strip()]
        if all(re.match(r'^\s*\d', p) for p in parts):
            return [parse_port_spec(p, field, protocol) for p in parts]
    return [parse_port_spec(value, field, protocol)]
