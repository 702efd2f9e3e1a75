# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""goss ``port:`` entries -> a port policy (``allow``, ``deny``, ``require``).

A goss entry is keyed ``tcp:22``, ``tcp6:22``, ``udp:53`` or ``udp6:53`` and holds
``listening`` (bool), optionally ``ip`` (the addresses it listens on) and ``skip``.
goss's ``tcp``/``udp`` are IPv4 sockets and ``tcp6``/``udp6`` IPv6 sockets, so each
entry keeps its family:

- ``listening: true`` -> a ``require`` rule: the port must listen, as goss
  asserted, and (a require rule also allows what it matches) it may, with its
  exposure limited to ``ip`` when given (``0.0.0.0`` and ``::`` become ``wildcard``).
- ``listening: false`` -> a ``deny`` rule.
- ``skip: true`` -> nothing.

What goss cannot say, the policy adds by itself: anything not allowed is an
``unexpected`` finding. Entries that use goss matchers (``ip: {contain-element: ...}``)
or templates have no exact translation and are errors naming the entry, as is
anything else this converter does not understand: a check silently dropped
in a migration is a check lost.
"""

from __future__ import annotations

import re

from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import PortSpecError, parse_port_spec

_KEY = re.compile(r'^(tcp|tcp6|udp|udp6):(.+)$')
_FAMILY = {'tcp': ('tcp', 'ipv4'), 'tcp6': ('tcp', 'ipv6'), 'udp': ('udp', 'ipv4'), 'udp6': ('udp', 'ipv6')}
_WILDCARDS = ('0.0.0.0', '::', '[::]')
_ATTRIBUTES = ('listening', 'ip', 'skip', 'title', 'meta')


class GossError(ValueError):
    """A goss port entry that has no exact translation; the message names the entry."""


def _entries(document):
    """The ``port:`` mapping from a whole goss document or the mapping itself."""
    if not isinstance(document, dict):
        raise GossError('expected a goss document or its port: mapping, got %s' % type(document).__name__)
    if 'port' in document:
        ports = document['port']
        if not isinstance(ports, dict):
            raise GossError('port: expected a mapping of entries like tcp:22, got %s' % type(ports).__name__)
        return ports
    if any(not _KEY.match(str(key)) for key in document):
        others = sorted(str(k) for k in document if not _KEY.match(str(k)))
        raise GossError('no port: section, and %s %s not goss port keys (tcp:N, tcp6:N, udp:N, udp6:N)'
                        % (', '.join(others), 'is' if len(others) == 1 else 'are'))
    return document


def _exposure(key, ips):
    if not isinstance(ips, list) or not ips or not all(isinstance(ip, str) and ip.strip() for ip in ips):
        raise GossError('port %s: ip must be a non-empty list of addresses, got %r (goss matchers have no exact '
                        'translation: write the exposure by hand)' % (key, ips))
    out = []
    for ip in ips:
        ip = ip.strip()
        value = 'wildcard' if ip in _WILDCARDS else ip
        if value not in out:
            out.append(value)
    return out[0] if len(out) == 1 else out


def convert(document, reason='from goss'):
    """{'allow': [...], 'deny': [...], 'require': [...]} for the entries of one goss document.

    Rules are sorted by port, protocol and family; each carries ``reason`` and the goss key,
    so the origin of every rule stays visible in findings.
    """
    converted = []
    errors = []
    for key, spec in _entries(document).items():
        key = str(key)
        try:
            converted.append(_convert_one(key, spec, reason))
        except GossError as exc:
            errors.append(str(exc))
    if errors:
        raise GossError('; '.join(errors))
    policy = {'allow': [], 'deny': [], 'require': []}
    for _order, rules in sorted((c for c in converted if c), key=lambda c: c[0]):
        for list_name, rule in rules:
            policy[list_name].append(rule)
    return policy


def _convert_one(key, spec, reason):
    match = _KEY.match(key)
    if not match:
        raise GossError('port %s: expected a key like tcp:22, tcp6:22, udp:53 or udp6:53' % key)
    protocol, family = _FAMILY[match.group(1)]
    try:
        port = parse_port_spec(match.group(2).strip(), field='port %s' % key)
    except PortSpecError as exc:
        raise GossError(str(exc))
    if port.low != port.high or port.protocols:
        raise GossError('port %s: expected one port number after %s:' % (key, match.group(1)))
    if not isinstance(spec, dict):
        raise GossError('port %s: expected a mapping with listening, got %r' % (key, spec))
    unknown = sorted(set(spec) - set(_ATTRIBUTES))
    if unknown:
        raise GossError('port %s: unknown attribute(s) %s (known: %s)' % (key, ', '.join(unknown), ', '.join(_ATTRIBUTES)))
    if spec.get('skip') is True:
        return None
    listening = spec.get('listening')
    if not isinstance(listening, bool):
        raise GossError('port %s: listening must be true or false, got %r' % (key, listening))
    base = {'port': port.low, 'proto': protocol, 'family': family}
    text = '%s (goss %s)' % (reason, key)
    if not listening:
        if 'ip' in spec:
            raise GossError('port %s: ip with listening: false has no exact translation (a deny rule covers every '
                            'address): remove ip or write the rule by hand' % key)
        return ((port.low, protocol, family), [('deny', dict(base, reason=text))])
    require = dict(base, reason=text)
    if 'ip' in spec:
        require['exposure'] = _exposure(key, spec['ip'])
    return ((port.low, protocol, family), [('require', require)])
