# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters port_profile and port_explain; documentation is in the .yml files next to this one."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import KBError, get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import split_specs


def port_profile(names):
    """Profile names, IANA service names and port specs -> sorted 'N/proto' strings (one per protocol)."""
    if isinstance(names, (str, int)):
        names = [names]
    if not isinstance(names, (list, tuple)):
        raise AnsibleFilterError('hostsec.ports.port_profile: expected a name, a port spec or a list of them, got %r'
                                 % (names,))
    kb = get_kb()
    specs = []
    try:
        for name in names:
            specs.extend(kb.resolve(name))
    except KBError as exc:
        raise AnsibleFilterError('hostsec.ports.port_profile: %s' % exc)
    return [str(s) for s in split_specs(specs)]


def port_explain(listener, ephemeral_range=None):
    """One listener (hostsec.ports listener schema) -> the knowledge base's plain explanation."""
    try:
        return get_kb().explain(listener, ephemeral_range)
    except KBError as exc:
        raise AnsibleFilterError('hostsec.ports.port_explain: %s' % exc)


class FilterModule:

    def filters(self):
        return {'port_profile': port_profile, 'port_explain': port_explain}
