#!/usr/bin/python
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_block_info
short_description: Which firewall backends work here and which hold objects of hostsec.ports
version_added: 0.2.0
description:
  - For nftables, iptables, ufw and firewalld, says whether M(hostsec.ports.port_block) can use it on this host and
    whether it holds rules, boot files or units the collection owns; and whether a dead-man rollback timer of the role
    C(hostsec.ports.port_policy) is still pending.
  - Reads only; never changes the host.
author:
  - hostsec.ports maintainers (@hostsec)
extends_documentation_fragment:
  - hostsec.ports._attributes
  - hostsec.ports._attributes.INFO_MODULE
  - hostsec.ports._attributes.PLATFORM_LINUX
options:
  rollback_unit:
    description: Name (without C(.timer)) of the transient rollback timer to look for.
    type: str
    default: hostsec-ports-rollback
seealso:
  - module: hostsec.ports.port_block
"""

EXAMPLES = r"""
- name: Find the usable backends
  hostsec.ports.port_block_info:
  register: firewall

- name: Say which ones hold rules of the collection
  ansible.builtin.debug:
    msg: "{{ firewall.owning }}"
"""

RETURN = r"""
backends:
  description: Per backend, whether it is usable (and why not) and whether it holds owned objects.
  returned: always
  type: dict
  sample: {nftables: {usable: true, reason: nft can read the ruleset, owns: false}}
usable:
  description: The usable backends.
  returned: always
  type: list
  elements: str
  sample: [nftables, iptables]
owning:
  description: The backends that hold objects of the collection.
  returned: always
  type: list
  elements: str
  sample: [iptables]
rollback_pending:
  description: Whether the rollback timer is active (an unconfirmed change of an earlier trial run will revert).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostsec.ports.plugins.module_utils._firewall import core, detect


def main():
    module = AnsibleModule(
        argument_spec=dict(rollback_unit=dict(type='str', default='hostsec-ports-rollback')),
        supports_check_mode=True,
    )
    host = core.Host(lambda args, data: module.run_command(args, data=data, binary_data=False), module.get_bin_path)
    try:
        result = detect.detect(host, module.params['rollback_unit'])
    except (core.FirewallError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
