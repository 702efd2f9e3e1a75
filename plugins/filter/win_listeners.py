# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""hostsec.ports.win_listeners: raw win_listening_ports_info output -> normalised gather result.

Documentation is in win_listeners.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import SchemaError
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.windows import normalize, raw_from_result


def win_listeners(value):
    """The same normalisation port_audit applies on the controller."""
    try:
        return normalize(raw_from_result(value))
    except SchemaError as exc:
        raise AnsibleFilterError('hostsec.ports.win_listeners: %s' % exc) from None


class FilterModule:
    def filters(self):
        return {'win_listeners': win_listeners}
