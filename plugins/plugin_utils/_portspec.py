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

Digits are ASCII only (``"２２"`` and ``"٢٢"`` are errors, not port 22), an
empty item is an error (``"80,,443"``, ``"udp+"``, ``["udp", ""]``), and
``any`` stands alone: a protocol list never silently widens to every protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROTOCOLS = ('tcp', 'udp', 'sctp', 'dccp')
# re.ASCII: \d and \s would otherwise accept any Unicode digit or space.
_SPEC = re.compile(r'^\s*(\d+)\s*(?:-\s*(\d+)\s*)?(?:/\s*([A-Za-z+,]+)\s*)?$', re.ASCII)
_DIGIT_FIRST = re.compile(r'^\s*\d', re.ASCII)
_ANY = ('any', '*')


class PortSpecError(ValueError):
    """Bad port spec; the message names the field and the value."""


@dataclass(frozen=True, order=True, slots=True)
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
    # Any Unicode digit counts as 'shaped like a spec' so that '２２' reaches the parser and its error,
    # and so does a minus sign before one ('-22' is a bad port, not a service name).
    return isinstance(value, str) and bool(re.match(r'^\s*-?\d', value))


def parse_protocols(text, field='proto'):
    """'tcp', 'tcp+udp', 'tcp,udp', 'any' or a list of those -> sorted tuple (empty = any).

    An empty or unknown item is an error, and so is ``any`` next to other items:
    ``"udp+"`` must not mean "every protocol".
    """
    if text is None:
        return ()
    if isinstance(text, (list, tuple)):
        items = list(text)
        if not items:
            raise PortSpecError('%s: [] names no protocol (expected one of %s or any)' % (field, ', '.join(PROTOCOLS)))
    elif isinstance(text, str):
        items = re.split(r'[+,]', text)
    else:
        raise PortSpecError('%s: %r is not a protocol (expected one of %s or any)'
                            % (field, text, ', '.join(PROTOCOLS)))
    protos = set()
    for item in items:
        if not isinstance(item, str):
            raise PortSpecError('%s: %r in %r is not a protocol name' % (field, item, text))
        name = item.strip().lower()
        if name == '':
            raise PortSpecError('%s: empty protocol item in %r (expected one of %s or any)'
                                % (field, text, ', '.join(PROTOCOLS)))
        if name in _ANY:
            if len(items) > 1:
                raise PortSpecError('%s: %r mixes any with other protocols; write any alone' % (field, text))
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
        if any(ch.isdigit() and not '0' <= ch <= '9' for ch in value):
            raise PortSpecError('%s: %r uses digits that are not ASCII 0-9' % (field, value))
        if re.match(r'^\s*-\d', value, re.ASCII):
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
    """A list of specs, or one spec, or a comma-separated string of specs (no empty items)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise PortSpecError('%s: [] names no port' % field)
        return [parse_port_spec(v, '%s[%d]' % (field, i), protocol) for i, v in enumerate(value)]
    if isinstance(value, str) and ',' in value:
        parts = value.split(',')
        if all(_DIGIT_FIRST.match(p) or not p.strip() for p in parts):
            for i, part in enumerate(parts):
                if not part.strip():
                    raise PortSpecError('%s: empty item %d in %r' % (field, i, value))
            return [parse_port_spec(p, field, protocol) for p in parts]
    return [parse_port_spec(value, field, protocol)]
