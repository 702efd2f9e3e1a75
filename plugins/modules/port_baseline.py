#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: port_baseline
short_description: Propose a layered port policy from what a fleet runs today
version_added: 0.2.0
description:
  - Turns the listeners of the play's hosts (registered results of M(hostsec.ports.port_audit) or
    M(hostsec.ports.listening_ports_info)) into C(group_vars/<group>.yml) and C(host_vars/<host>.yml) files
    in O(dest), in the layered variable families the policy reads (C(<vars_prefix>_allow__group_<group>),
    C(<vars_prefix>_allow__host_<host>)). This is an action plugin; nothing runs on the managed hosts.
  - "Each entry names a knowledge-base profile or, for system ports, an IANA service name where the observed
    port matches it (C({profile: postgresql}) rather than C(5432)), keeps the exposure as a ceiling (a loopback
    listener is allowed on loopback only), and pins the owner by its trusted facts (C(exe), plus the systemd
    unit or the user), never by the process name."
  - What every audited member of a group shares goes into the group file, the rest into host files. A group
    counts only when all its inventory members were audited, since its file applies to all of them.
  - Each entry carries a comment with the knowledge base's one-line explanation and how many hosts had it.
  - Listeners that deserve a look rather than an allow entry (unknown owner, a name its executable
    contradicts, a program that is not a known server of the port's usual service, ports known for malware
    or unauthorized use, ports the knowledge base rates high or critical on a reachable address, plaintext
    protocols rated medium on a reachable address) go into a commented review section and stay findings.
  - UDP sockets in the host's ephemeral port range are client sockets and are left out.
  - Never writes over an existing file unless O(force=true); when any file exists without force, nothing is
    written. Files are written atomically.
author:
  - hostsec.ports maintainers (@hostsec)
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; the changed status and the diff say what would be.
  diff_mode:
    support: full
    description: Shows each file's old and new text.
  platform:
    support: full
    platforms: all
    description: Runs on the controller only.
  action:
    support: full
    description: An action plugin; the files are written on the controller.
options:
  dest:
    description: Inventory directory on the controller that receives C(group_vars/) and C(host_vars/); created when missing.
    type: path
    required: true
  force:
    description: Replace files that exist. Without it an existing file fails the task before anything is written.
    type: bool
    default: false
  hosts:
    description: Hosts to include. Defaults to every host of the play (C(ansible_play_hosts)).
    type: list
    elements: str
  results_var:
    description: Host variable holding each host's registered M(hostsec.ports.port_audit) or gatherer result.
    type: str
    default: port_baseline_audit
  results:
    description:
      - "An explicit mapping C(host: result) instead of reading O(results_var); each result needs a C(listeners) list."
      - With it, group membership comes from O(groups), not from the inventory.
    type: dict
  groups:
    description: "A mapping C(group: [hosts]) to use instead of the inventory's groups."
    type: dict
  vars_prefix:
    description: Prefix of the written variables; the audit reads them with the same C(vars_prefix).
    type: str
    default: port_policy
seealso:
  - module: hostsec.ports.port_audit
  - module: hostsec.ports.listening_ports_info
notes:
  - Read the files before adopting them. A baseline allows what runs today, including what should not run.
  - Applying the generated files to the same hosts gives no C(unexpected) finding except for the listeners
    in the review section (returned in RV(review)).
"""

EXAMPLES = r"""
- name: Audit what the fleet runs (no policy is applied, nothing changes)
  hostsec.ports.port_audit:
    vars_prefix: port_baseline_none
    policy: {allow: [{exposure: any}]}
  become: true
  register: port_baseline_audit

- name: Write the proposed policy next to the inventory
  hostsec.ports.port_baseline:
    dest: "{{ inventory_dir }}/proposed"
  run_once: true
"""

RETURN = r"""
files:
  description: Every file written (or that would be), relative to O(dest), with its number of entries and review items.
  returned: always
  type: dict
  sample: {"group_vars/web.yml": {"entries": 2, "review": 0, "changed": true}}
entries:
  description: The allow entries, each with its file, variable, rule and the hosts that had it.
  returned: always
  type: list
  elements: dict
  sample: [{"file": "group_vars/all.yml", "variable": "port_policy_allow__group_all",
            "rule": {"profile": "ssh", "exe": "/usr/sbin/sshd", "unit": "ssh.service"}, "hosts": ["web1", "web2"]}]
review:
  description: Listeners left for review, with the reason; they stay findings when the policy is applied.
  returned: always
  type: list
  elements: dict
  sample: [{"file": "host_vars/web2.yml", "port": 23, "protocol": "tcp", "reason": "knowledge base rates this port high
            on a reachable address", "rule": {"name": "telnet", "proto": "tcp"}, "hosts": ["web2"]}]
hosts:
  description: Number of hosts the proposal was made from.
  returned: always
  type: int
  sample: 4
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    dest=dict(type='path', required=True),
    force=dict(type='bool', default=False),
    hosts=dict(type='list', elements='str'),
    results_var=dict(type='str', default='port_baseline_audit'),
    results=dict(type='dict'),
    groups=dict(type='dict'),
    vars_prefix=dict(type='str', default='port_policy'),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg='hostsec.ports.port_baseline is an action plugin: run it from a playbook task, '
                         'it writes files on the controller')


if __name__ == '__main__':
    main()
