#!/usr/bin/python
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nft_port_block
short_description: Block inbound ports in an nftables table owned by hostsec.ports (deprecated)
version_added: 0.1.0
deprecated:
  removed_in: 1.0.0
  why: M(hostsec.ports.port_block) serves all four Linux firewall backends with the same options and results.
  alternative: Use M(hostsec.ports.port_block) with O(hostsec.ports.port_block#module:backend=nftables).
description:
  - The nftables half of M(hostsec.ports.port_block), kept under its old name; both run the same code.
  - Converges the nftables table C(inet hostsec_ports) so that it drops inbound traffic to exactly the
    listed ports, for IPv4 and IPv6. A port left out of O(ports) loses its rule; a second run changes nothing.
  - Only new connections are dropped (C(ct state new)); replies to the host's own outgoing traffic whose local port
    is listed (ntpd from 123, a DHCP client on 68, ephemeral TCP ports) still arrive. A table of an older shape
    without that match is rewritten.
  - The table has one C(input) hook chain with policy C(accept), so it only ever drops the listed ports;
    every other table, chain and rule on the host is left untouched, and C(/etc/nftables.conf) is never read or written.
  - Changes are loaded in one C(nft -f) transaction that deletes and re-adds the whole table, so the host never
    sees a half-written table.
  - With O(persist=true) the same table definition is written to O(persist_path) and loaded at boot by a
    dedicated systemd unit (O(unit_path)), ordered after C(nftables.service) so a C(flush ruleset) there cannot wipe it,
    and restarted or reloaded along with C(nftables.service) (C(PartOf=), C(ReloadPropagatedFrom=)).
author:
  - hostsec.ports maintainers (@hostsec)
requirements:
  - nft (the nftables command line tool), run as root or with CAP_NET_ADMIN.
attributes:
  check_mode:
    support: full
    description: In check mode the new table is validated with C(nft -c) and nothing is changed.
  diff_mode:
    support: full
    description: Shows the owned table before and after.
  platform:
    support: full
    platforms: posix
    description: Linux hosts with nftables.
options:
  ports:
    description:
      - The complete list of inbound ports to drop. Every other port is not blocked by this table.
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: Port number, 1-65535.
        type: int
        required: true
      protocol:
        description: Transport protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
  state:
    description:
      - V(present) makes the table hold exactly O(ports) (an empty list leaves an empty table).
      - V(absent) removes the table and, with O(persist=true), the persistence file and unit.
    type: str
    choices: [present, absent]
    default: present
  exempt_loopback:
    description:
      - Let traffic arriving on C(lo) for a loopback address (127.0.0.0/8, ::1) through, so local clients of a
        blocked service keep working. Traffic to the host's own routable addresses is dropped either way.
    type: bool
    default: true
  persist:
    description:
      - Write the table to O(persist_path) and enable a systemd unit that loads it at boot.
      - When false, existing persistence files are left as they are.
    type: bool
    default: true
  persist_path:
    description: The nft script loaded at boot. Holds only the collection's table.
    type: path
    default: /etc/hostsec-ports/nftables.nft
  unit_path:
    description: The systemd unit that loads O(persist_path) at boot; its file name is the unit name.
    type: path
    default: /etc/systemd/system/hostsec-ports-nftables.service
notes:
  - Where systemd is not running (containers without systemd, chroots) the persistence files are written and a
    warning says the unit was not enabled.
  - The role C(hostsec.ports.port_policy) arms a dead-man rollback before calling this module; see docs/remediation.md.
seealso:
  - module: hostsec.ports.port_audit
  - name: The nftables wiki
    description: Atomic rule replacement with nft -f.
    link: https://wiki.nftables.org/wiki-nftables/index.php/Atomic_rule_replacement
"""

EXAMPLES = r"""
- name: Drop inbound 8081/tcp and 5353/udp, nothing else
  hostsec.ports.nft_port_block:
    ports:
      - {port: 8081, protocol: tcp}
      - {port: 5353, protocol: udp}

- name: Remove every block the collection owns (table, persistence file and unit)
  hostsec.ports.nft_port_block:
    state: absent
"""

RETURN = r"""
ports:
  description: The ports the table drops after this run.
  returned: always
  type: list
  elements: dict
  sample: [{port: 8081, protocol: tcp}]
added:
  description: Ports that were not blocked before this run.
  returned: always
  type: list
  elements: dict
  sample: [{port: 8081, protocol: tcp}]
removed:
  description: Ports that were blocked before this run and are not any more.
  returned: always
  type: list
  elements: dict
  sample: []
rules_changed:
  description: Whether the live ruleset changed (or would change in check mode).
  returned: always
  type: bool
persist_changed:
  description: Whether the persistence file or unit changed (or would change in check mode).
  returned: always
  type: bool
table:
  description: The owned table as loaded (empty when O(state=absent)).
  returned: always
  type: str
  sample: "table inet hostsec_ports {\n\tset tcp_ports {\n..."
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostsec.ports.plugins.module_utils._firewall import core, nftables
from ansible_collections.hostsec.ports.plugins.module_utils._warning_text import warn_each


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ports=dict(type='list', elements='dict', default=[], options=dict(
                port=dict(type='int', required=True),
                protocol=dict(type='str', choices=['tcp', 'udp'], default='tcp'),
            )),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            exempt_loopback=dict(type='bool', default=True),
            persist=dict(type='bool', default=True),
            persist_path=dict(type='path', default=nftables.DEFAULT_PERSIST_PATH),
            unit_path=dict(type='path', default=nftables.DEFAULT_UNIT_PATH),
        ),
        supports_check_mode=True,
    )
    if not module.get_bin_path('nft'):
        module.fail_json(msg='nft was not found on this host: install the nftables package, '
                             'or choose another port_policy_firewall_backend')
    p = module.params
    host = core.Host(lambda args, data: module.run_command(args, data=data, binary_data=False),
                     module.get_bin_path, move=module.atomic_move)
    backend = nftables.Backend(host, exempt_loopback=p['exempt_loopback'], persist=p['persist'],
                               persist_path=p['persist_path'], unit_path=p['unit_path'])
    try:
        result = core.run(backend, p['ports'], state=p['state'], check_mode=module.check_mode)
    except (core.FirewallError, OSError) as exc:
        module.fail_json(msg=str(exc))
    wanted = core.normalize_ports(p['ports']) if p['state'] == 'present' else None
    result['table'] = nftables.describe(nftables.make_model(wanted, p['exempt_loopback']) if wanted is not None else None)
    for key in ('snapshot', 'restore_script', 'operations', 'rules', 'backend', 'state'):
        result.pop(key)
    warn_each(module, result.pop('warnings'))
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
