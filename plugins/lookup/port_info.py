# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: port_info
author: hostsec.ports maintainers (@hostsec)
version_added: 0.1.0
short_description: Look up ports, services and profiles in the hostsec.ports knowledge base
description:
  - Returns the knowledge-base record of each port a term names - range class, IANA status and entries,
    curated unofficial uses, security notes, related ports and the profiles that include it.
  - A term is a port (V(3011)), a port with protocol (V(3011/tcp)), a small range (V(3000-3011/tcp)),
    an IANA service name (V(https)) or a profile name (V(citrix-gslb)). A profile wins over a service
    of the same name (V(ssh) gives 22/tcp only, V(docker) the TLS port 2376/tcp, not IANA's 2375/tcp).
  - A term with a slash or a leading sign (V(/tcp), V(-5/udp)) is a port spec and fails as a bad one;
    an unknown name fails with the closest profile and service names.
  - A port without protocol gives one record for V(tcp) and one for V(udp), plus V(sctp) and V(dccp)
    when IANA has a record for that port under them. A service name gives every protocol IANA assigns it.
  - At most O(max_ports) records per term, so a typo such as V(1-65535) fails fast instead of
    returning a huge list.
  - The knowledge base runs on the controller only; nothing is sent to managed hosts.
options:
  _terms:
    description: Ports, port specs, service names or profile names.
    required: true
    type: list
    elements: str
  ephemeral_range:
    description:
      - The host's ephemeral port range, as V([low, high]) or V("low-high")
        (for example the RV(ignore:ephemeral_range) returned by M(hostsec.ports.listening_ports_info)).
      - When set, each record's RV(_raw[].in_ephemeral_range) says whether the port lies in it.
    type: raw
  max_ports:
    description: Most records one term may expand to.
    type: int
    default: 256
seealso:
  - plugin: hostsec.ports.port_profile
    plugin_type: filter
  - plugin: hostsec.ports.port_explain
    plugin_type: filter
"""

EXAMPLES = r"""
- name: What is known about 3011/tcp
  ansible.builtin.debug:
    msg: "{{ lookup('hostsec.ports.port_info', '3011/tcp') }}"

- name: IANA status of every port of a profile
  ansible.builtin.debug:
    msg: "{{ item.port }}/{{ item.protocol }}: {{ item.iana_status }}"
  loop: "{{ query('hostsec.ports.port_info', 'citrix-ha') }}"

- name: Is 50000/udp in this host's ephemeral range
  ansible.builtin.debug:
    msg: "{{ lookup('hostsec.ports.port_info', '50000/udp', ephemeral_range=[32768, 60999]).in_ephemeral_range }}"
"""

RETURN = r"""
_raw:
  description: One record per port and protocol.
  type: list
  elements: dict
  contains:
    port:
      description: The port.
      type: int
    protocol:
      description: V(tcp), V(udp), V(sctp) or V(dccp).
      type: str
    range_class:
      description: V(system) (0-1023), V(user) (1024-49151) or V(dynamic) (49152-65535), per RFC 6335.
      type: str
    in_ephemeral_range:
      description: Whether the port is in O(ephemeral_range); null when that option is not set.
      type: bool
    iana_status:
      description: V(assigned), V(reserved), V(unassigned) or V(no record) (IANA has nothing for this protocol).
      type: str
    iana:
      description: IANA registry entries for this port and protocol (service, description, references, note,
        unauthorized_use, assignee, contact, registered, updated, status, low, high, protocol).
      type: list
      elements: dict
    iana_other_protocols:
      description: Protocols for which IANA has records on this port when this protocol has none of its own.
      type: list
      elements: str
    uses:
      description:
        - Curated uses (vendor, product, purpose, plaintext, secure_alternative, prevalence, sources, confidence).
        - C(plaintext) is decided for this port; a use whose ports differ (1883 MQTT, 8883 MQTT over TLS) also
          has C(plaintext_ports), the list of its plaintext ports.
      type: list
      elements: dict
    security:
      description: Security notes (kind, text, severity, sources, confidence), including IANA unauthorized-use notes.
      type: list
      elements: dict
    related:
      description: Related ports as V(N/proto) strings.
      type: list
      elements: str
    profiles:
      description: Names of the profiles that allow this port.
      type: list
      elements: str
"""

import copy

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import KBError, get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import parse_ephemeral


def records(kb, term, ephemeral_range=None, max_ports=256):
    """KB records for one lookup term (shared with tests)."""
    if isinstance(term, str):
        term = term.strip()
    specs = kb.resolve(term)
    pairs = []
    for spec in specs:
        for port in range(spec.low, spec.high + 1):
            protos = spec.protocols
            if not protos:
                extra = {e['protocol'] for p in ('sctp', 'dccp') for e in kb.port(port, p)['iana'] if e['protocol']}
                protos = ('tcp', 'udp') + tuple(sorted(extra))
            pairs.extend((port, p) for p in protos)
            if len(pairs) > max_ports:
                raise KBError('%r expands to more than %d port records (max_ports); name a smaller range'
                              % (term, max_ports))
    seen, out = set(), []
    for pair in sorted(set(pairs)):
        if pair not in seen:
            seen.add(pair)
            out.append(copy.deepcopy(kb.port(pair[0], pair[1], ephemeral_range)))
    return out


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        max_ports = self.get_option('max_ports')
        try:
            eph = parse_ephemeral(self.get_option('ephemeral_range'))
            kb = get_kb()
            result = []
            for term in terms:
                result.extend(records(kb, term, eph, max_ports))
        except KBError as exc:
            raise AnsibleLookupError('hostsec.ports.port_info: %s' % exc)
        return result
