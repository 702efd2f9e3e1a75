# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Windows filters of hostsec.ports.

* win_listeners: raw win_listening_ports_info output -> normalised gather result.
* win_firewall_effectiveness: the firewall state of win_port_block -> why block rules do not apply, or None.
* win_service_protection: a Windows service name -> why it is never stopped, or None.

Documentation is in the .yml file of each filter next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import SchemaError
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.windows import GatherError, normalize, raw_from_result
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation import windows as remediation


def win_listeners(value):
    """The same normalisation port_audit applies on the controller."""
    try:
        return normalize(raw_from_result(value))
    except (SchemaError, GatherError) as exc:
        raise AnsibleFilterError('hostsec.ports.win_listeners: %s' % exc) from None


def win_firewall_effectiveness(value):
    """Accepts the registered win_port_block result or its ``firewall`` value."""
    if isinstance(value, dict) and 'firewall' in value:
        value = value['firewall']
    return remediation.firewall_effectiveness(value)


def win_service_protection(value, domain_controller=None):
    return remediation.protected_service(value, domain_controller=domain_controller)


class FilterModule:
    def filters(self):
        return {
            'win_listeners': win_listeners,
            'win_firewall_effectiveness': win_firewall_effectiveness,
            'win_service_protection': win_service_protection,
        }
