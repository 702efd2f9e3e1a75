# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter goss_ports; documentation is in goss_ports.yml next to this file."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hostsec.ports.plugins.plugin_utils._goss import GossError, convert


def goss_ports(document, reason='from goss'):
    """A goss document (or its port: mapping) -> a port policy {allow, deny, require}."""
    try:
        return convert(document, reason=reason)
    except GossError as exc:
        raise AnsibleFilterError('hostsec.ports.goss_ports: %s' % exc)


class FilterModule:

    def filters(self):
        return {'goss_ports': goss_ports}
