#!/usr/bin/python
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_block
short_description: Block inbound ports with the rules hostsec.ports owns in nftables, iptables, ufw or firewalld
version_added: 0.2.0
description:
  - Converges the firewall objects the collection owns on one backend so that they drop new inbound connections to
    exactly the listed ports, IPv4 and IPv6. A port left out of O(ports) loses its rule; a second run changes nothing.
    Rules, chains, tables, zones and policies of the user are never edited.
  - C(nftables) owns the table C(inet hostsec_ports), loaded atomically with C(nft -f) and at boot by
    C(hostsec-ports-nftables.service), which follows restarts and reloads of C(nftables.service).
  - C(iptables) owns the chain C(HOSTSEC_PORTS) of iptables and ip6tables and one jump first in C(INPUT)
    (C(! -i lo)), with C(--ctstate NEW) REJECT rules, restore files under C(/etc/hostsec-ports/) and
    C(hostsec-ports-iptables.service) that loads them at boot. Boot files that drifted are rewritten on every run.
  - C(ufw) owns the rules commented C(hostsec.ports), kept first in the list. A rule of the user's that ufw would merge
    with the collection's is never taken over (see the notes).
  - C(firewalld) owns the policy C(hostsec-ports) (ingress ANY, egress HOST, priority -100, target CONTINUE) with one
    reject rich rule per port, permanent and runtime.
  - The ports are checked against O(protected) before anything on the host is read or changed.
author:
  - hostsec.ports maintainers (@hostsec)
requirements:
  - The backend's command line tool (nft, iptables and iptables-restore, ufw, firewall-cmd), run as root.
extends_documentation_fragment:
  - hostsec.ports._attributes
  - hostsec.ports._attributes.PLATFORM_LINUX
attributes:
  check_mode:
    support: full
    details:
      - Nothing is applied; the result, the diff and the change are the same as without check mode.
      - nftables and iptables also ask the kernel whether the new rules would load (C(nft -c), C(iptables-restore --test)).
  diff_mode:
    support: full
    details:
      - The owned rules (and their boot files) before and after, for every backend.
options:
  backend:
    description: The firewall that holds the rules. M(hostsec.ports.port_block_info) says which ones work on a host.
    type: str
    required: true
    choices: [nftables, iptables, ufw, firewalld]
  ports:
    description: The complete list of inbound ports to block. Every other port loses its owned rule.
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
      finding_ids:
        description: The findings behind this block, as the remediation plan lists them. Carried for the record only.
        type: list
        elements: str
  protected:
    description:
      - Port ranges that must never be blocked (the management path). A port of O(ports) inside one fails the task
        before anything on the host changes.
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: First port of the range.
        type: int
        required: true
      end:
        description: Last port of the range; the same as O(protected[].port) when not set.
        type: int
      protocol:
        description: V(tcp), V(udp), or null for both.
        type: str
        choices: [tcp, udp]
      reason:
        description: Why the range is protected; quoted in the error.
        type: str
  state:
    description:
      - V(present) makes the owned rules block exactly O(ports).
      - V(absent) removes everything the collection owns on O(backend), boot files and units included.
    type: str
    choices: [present, absent]
    default: present
  baseline:
    description:
      - A RV(snapshot) returned by an earlier run. RV(restore_script) then restores that state instead of the one
        found now (a rollback of an earlier trial run that is still pending).
    type: dict
notes:
  - ufw treats two rules that differ only in action, log type or comment as one rule. When a rule of the user's would
    be merged with the plain owned form (C(reject 8081/tcp)), the owned rule takes the form
    C(reject proto tcp from any port 1:65535 to any port 8081), which ufw keeps apart; when both forms match rules
    of the user's, the task fails and names them.
  - Creating the firewalld policy needs C(firewall-cmd --reload); it is refused while the runtime configuration holds
    changes the permanent one lacks.
  - The role C(hostsec.ports.port_policy) arms a dead-man rollback with RV(restore_script) before applying; see
    docs/remediation.md.
seealso:
  - module: hostsec.ports.port_block_info
  - module: hostsec.ports.port_audit
"""

EXAMPLES = r"""
- name: Drop inbound 8081/tcp and 5353/udp with iptables, never the SSH port
  hostsec.ports.port_block:
    backend: iptables
    ports:
      - {port: 8081, protocol: tcp}
      - {port: 5353, protocol: udp}
    protected:
      - {port: 22, protocol: tcp, reason: SSH management path}

- name: Remove every rule the collection owns in ufw
  hostsec.ports.port_block:
    backend: ufw
    state: absent
"""

RETURN = r"""
backend:
  description: The backend converged.
  returned: always
  type: str
  sample: nftables
ports:
  description: The ports blocked after this run.
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
operations:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: ["load table inet hostsec_ports", "write /etc/hostsec-ports/nftables.nft"]
rules_changed:
  description: Whether the live rules changed (or would change in check mode).
  returned: always
  type: bool
persist_changed:
  description: Whether boot files or units changed (or would change in check mode).
  returned: always
  type: bool
rules:
  description: The owned rules after this run, as text.
  returned: always
  type: str
snapshot:
  description: What the collection owned on the backend before this run, as data (pass it back as O(baseline)).
  returned: always
  type: dict
restore_script:
  description: Shell (run by C(/bin/sh), no Ansible needed) that puts back RV(snapshot), or O(baseline) when given.
    It sets C(rc=1) when a step fails.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostsec.ports.plugins.module_utils._firewall import core, detect
from ansible_collections.hostsec.ports.plugins.module_utils._warning_text import warn_each


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type='str', required=True, choices=list(detect.BACKENDS)),
            ports=dict(type='list', elements='dict', default=[], options=dict(
                port=dict(type='int', required=True),
                protocol=dict(type='str', choices=['tcp', 'udp'], default='tcp'),
                finding_ids=dict(type='list', elements='str'),
            )),
            protected=dict(type='list', elements='dict', default=[], options=dict(
                port=dict(type='int', required=True),
                end=dict(type='int'),
                protocol=dict(type='str', choices=['tcp', 'udp']),
                reason=dict(type='str'),
            )),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            baseline=dict(type='dict'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = core.Host(lambda args, data: module.run_command(args, data=data, binary_data=False),
                     module.get_bin_path, move=module.atomic_move)
    try:
        backend = detect.make_backend(p['backend'], host)
        if p['state'] == 'present':
            # absent works without it: it only removes what is there.
            usable, reason = backend.usable()
            if not usable:
                module.fail_json(msg='backend %s is not usable on this host: %s' % (p['backend'], reason))
        result = core.run(backend, p['ports'], p['protected'], p['state'], module.check_mode, p['baseline'])
    except (core.FirewallError, OSError) as exc:
        module.fail_json(msg=str(exc))
    warn_each(module, result.pop('warnings'))
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
