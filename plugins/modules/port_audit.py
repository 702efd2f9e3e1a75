#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: port_audit
short_description: Audit a host's listening ports against a layered port policy
version_added: 0.1.0
description:
  - Gathers every listener on the host (M(hostsec.ports.listening_ports_info) on POSIX hosts,
    M(hostsec.ports.win_listening_ports_info) on Windows hosts), then judges them on the controller against
    the port policy and returns findings. The knowledge base never travels to the managed host.
  - The policy is layered from the host's variables. Every variable named C(<vars_prefix>_allow),
    C(<vars_prefix>_allow__<suffix>), and the same for C(deny) and C(require), adds its rules in sorted-name
    order. C(<vars_prefix>_settings) and C(<vars_prefix>_settings__<suffix>) are merged as dicts in sorted-name
    order. Each rule keeps its origin (the variable name). O(policy) is added last, with origin C(task).
  - When no rule is defined anywhere, the embedded default policy applies. It allows SSH (22/tcp) and
    loopback-only listeners and reports everything else with its explanation.
  - The whole policy is validated before the host is touched. Every error names the rule (list, position,
    text and origin), the field and the value.
  - Read-only. The task never reports C(changed). Gathering also runs in check mode.
  - The policy language is described in the collection's C(docs/policy.md).
author:
  - hostsec.ports maintainers (@hostsec)
options:
  policy:
    description:
      - An explicit policy with the keys C(allow), C(deny), C(require) (lists of rules) and C(settings)
        (a mapping). It is layered after the inventory variables, with origin C(task).
      - A rule is a port spec (C(22/tcp), C(8000-8100/tcp)), a knowledge-base service or profile name (C(ssh)),
        or a mapping with the fields C(port)/C(ports), C(name)/C(profile), C(proto), C(family), C(exposure),
        C(process), C(exe), C(user), C(unit)/C(service), C(reason), C(owner), C(ticket), C(expires),
        C(action) and C(severity).
    type: dict
  vars_prefix:
    description: Prefix of the inventory variables that hold the layered policy.
    type: str
    default: port_policy
  protect:
    description:
      - Port specs of the management path. Findings on these ports get C(remediation.status=protected),
        whatever the policy says.
      - Added to the ports protected automatically (see O(auto_protect)).
    type: list
    elements: raw
    default: []
  auto_protect:
    description:
      - Also protect the port of the current connection. That is C(ansible_port) or C(ansible_ssh_port) when
        set, else 22 for SSH connections and 5985 and 5986 for WinRM and PSRP connections.
      - Also protects the server port in C(SSH_CONNECTION) when environment facts have been gathered
        (C(ansible_facts.env), for example with C(gather_subset=[!all, env])). No extra module runs for it.
    type: bool
    default: true
  fail_on:
    description:
      - Severities that fail the task, for CI gates. The message lists the counts.
      - Empty means the task never fails on findings. RV(summary.passed) then means no finding above C(info).
    type: list
    elements: str
    choices: [critical, high, medium, low, info]
    default: []
  listeners:
    description:
      - Judge these listeners instead of gathering them, in the schema of
        M(hostsec.ports.listening_ports_info) RV(hostsec.ports.listening_ports_info#module:listeners).
        A whole registered gatherer result is accepted too.
      - Every listener is validated. Errors name the listener and the field.
    type: raw
  protocols:
    description: Passed to the Linux gatherer. Protocols to gather.
    type: list
    elements: str
    choices: [tcp, udp]
  families:
    description: Passed to the Linux gatherer. Address families to gather.
    type: list
    elements: str
    choices: [ipv4, ipv6]
  namespaces:
    description:
      - Passed to the Linux gatherer. C(all) also gathers every other network namespace on the host (containers,
        pods, named C(ip netns)); each listener then names its namespace and container.
    type: str
    choices: [current, all]
  collector:
    description:
      - Passed to the gatherer. Linux accepts C(auto), C(netlink) and C(procfs). Windows accepts C(auto),
        C(nettcpip) and C(netstat).
    type: str
  now:
    description:
      - The date (C(YYYY-MM-DD)) used to decide whether rules have expired. Defaults to today on the controller.
    type: str
  ephemeral_range:
    description:
      - The ephemeral port range as C([low, high]) or C(low-high).
      - Defaults to the range reported by the gatherer. If the gatherer reports none, 32768-60999 on Linux and
        49152-65535 on Windows.
    type: raw
  mode:
    description:
      - The mode the plan is made for. C(report) still plans what enforce would do.
    type: str
    choices: [report, enforce]
    default: report
  actions:
    description: Remediation actions allowed. A finding asking for another action is C(not remediated).
    type: list
    elements: str
    choices: [block, stop]
    default: [block, stop]
  protect_units:
    description: Units (or Windows services) never stopped, whatever the policy says.
    type: list
    elements: str
    default: []
  mask_units:
    description: Plan stopped units to be masked too.
    type: bool
    default: false
  backend:
    description: The firewall backend the plan is for (only named in the reasons; the role chooses it).
    type: str
  kb_errors:
    description:
      - C(fail) fails the audit when the knowledge base cannot load or raises while judging a listener.
      - C(tolerate) goes on; every affected finding takes the highest severity its rule allows, and says why.
    type: str
    choices: [fail, tolerate]
    default: fail
  known_vars:
    description:
      - When set, every host variable starting with O(vars_prefix) and an underscore must be one of these
        names or a layered policy variable, or the task fails naming it and the closest known name. The role
        passes its option names.
    type: list
    elements: str
  known_vars_spec:
    description:
      - A role's C(meta/argument_specs.yml) on the controller. The options of its C(main) entry point are known
        names, as in O(known_vars) (both may be given). A file that cannot be read, or holds no options for
        C(main), fails the task. It is read as plain YAML, so a spec with Ansible's own tags (C(!unsafe),
        C(!vault)) fails too.
      - The role passes its own, so its option names have one source.
    type: path
    version_added: 0.3.0
  rollback_timing:
    description:
      - The dead-man rollback's two timeouts, checked before anything else. The task fails unless
        O(rollback_timing.confirm_timeout) is at least 1 and O(rollback_timing.rollback_timeout) is at least
        O(rollback_timing.confirm_timeout). The timer counts from before the change, so a shorter one could
        restore the old rules while the controller is still confirming the change.
      - Each must be a whole number of seconds from 1 to 604800 (a week); C(true) or C(false) is refused, though
        Ansible's int type lets it through. The errors name the variables with O(vars_prefix).
    type: dict
    version_added: 0.3.0
    suboptions:
      confirm_timeout:
        description: Seconds the controller waits for the host to answer after the change.
        type: int
        required: true
      rollback_timeout:
        description: Seconds after which the host restores its old rules unless the change was confirmed.
        type: int
        required: true
  require_all_play_hosts:
    description:
      - Fail when a host of the play (C(ansible_play_hosts_all)) is no longer in it (C(ansible_play_hosts)),
        naming each. A host whose options failed a role's argument spec check has left the play alone. The
        role validates in a block with C(any_errors_fatal), so that host stops every host.
      - A host that an earlier task of the play failed on, or could not reach, has left too. From here it
        looks the same, so it stops the play as well.
      - A host that left after this task passed for it does not count. It may have failed a later task (on
        findings at a O(fail_on) severity, say) or run in an earlier C(serial) batch or play. The task knows
        it by its C(register) variable on that host, which holds RV(role_checks_passed). Without C(register)
        on the task, every host that left counts.
    type: bool
    default: false
    version_added: 0.3.0
  full_listeners:
    description:
      - Return RV(listeners) as full records, each with its C(processes) list, instead of the compact form.
      - By default RV(listeners) is compact, as M(hostsec.ports.listening_ports_info) returns it. Each process is
        once in RV(processes) (a table by pid as text), and each listener names its owners in C(pids). Findings
        always carry their listener in full.
      - At thousands of listeners the full form is several times larger, and Ansible copies every value of a
        result more than once. Ask for it only when a later task reads C(listeners[].processes) directly.
    type: bool
    default: false
    version_added: 0.3.0
  ssh_connection:
    description:
      - The host's C(SSH_CONNECTION) value (C(client_ip client_port server_ip server_port)), read by the caller
        without become. Its server port is protected. A value of another shape fails the task.
      - When not set, see O(read_ssh_connection).
    type: str
  read_ssh_connection:
    description:
      - Under an SSH connection, find the host's C(SSH_CONNECTION) when O(ssh_connection) is not given, and
        protect its server port. This is the sshd port as the host sees it, which behind NAT or port forwarding
        differs from C(ansible_port).
      - The gatherer reads it from its own session's processes, at no extra cost; C(ansible_facts.env) is used
        as well when present (a cached fact may be stale, so both ports are protected). A command without become
        runs only when the gatherer cannot read it, for example for a become user that may not read the
        session's processes. A found value of the wrong shape is left out with a warning; output of login
        scripts before the value is skipped.
      - Other connections (local, podman, docker...) have no SSH session to protect, and the module's
        environment there is the controller's or the image's, so nothing is read. A C(session) in a result
        passed as O(listeners) is never used.
    type: bool
    default: true
    version_added: 0.3.0
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Read-only. Gathering runs in check mode too.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details:
      - This action does not modify state.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix, windows]
notes:
  - Precedence for one listener is deny, then a valid allow or require rule, then an expired allow rule, then
    C(settings.allow_loopback), then wrong exposure, then wrong owner, then unexpected.
  - Without privileges the gatherer cannot attribute every socket (RV(summary.attribution_complete=false)).
    Rules with C(process), C(exe), C(user) or C(unit) cannot match unattributed sockets. Use C(become=true).
seealso:
  - module: hostsec.ports.listening_ports_info
  - module: hostsec.ports.win_listening_ports_info
'''

EXAMPLES = r'''
- name: Audit against the layered inventory policy (or the embedded default)
  hostsec.ports.port_audit:
  become: true
  register: audit

- name: CI gate with an explicit policy
  hostsec.ports.port_audit:
    policy:
      allow:
        - ssh
        - {port: 443, proto: tcp, process: nginx}
        - {port: 5432, proto: tcp, exposure: loopback, reason: local database}
        - {port: 8080, proto: tcp, expires: 2031-01-31, ticket: OPS-1234, owner: web team}
      deny:
        - {ports: [23, 21], reason: plaintext logins}
      require:
        - {port: 443, proto: tcp}
      settings:
        ephemeral: ignore_udp
    fail_on: [critical, high]
  become: true

- name: Judge listeners gathered earlier, protecting a custom management port
  hostsec.ports.port_audit:
    listeners: "{{ gathered.listeners }}"
    protect: ["2222/tcp"]
    now: "2030-01-01"
  register: audit

- name: Show the findings
  ansible.builtin.debug:
    msg: "{{ item.severity }} {{ item.kind }}: {{ item.explanation }}"
  loop: "{{ audit.findings }}"
  loop_control:
    label: "{{ item.id }}"
'''

RETURN = r'''
findings:
  description: One record per problem, most severe first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Stable id, a hash of kind, protocol, family, address and port (kind and rule for C(missing)).
      type: str
    kind:
      description: C(unexpected), C(denied), C(missing), C(wrong_exposure), C(wrong_owner) or C(expired).
      type: str
    severity:
      description: C(critical), C(high), C(medium), C(low) or C(info).
      type: str
    severity_reasons:
      description: Short reasons behind the severity.
      type: list
      elements: str
    listener:
      description: The listener (schema of M(hostsec.ports.listening_ports_info)); null for C(missing).
      type: dict
    rule:
      description: The rule that matched or was violated, as C({list, index, text, origin}). Null for C(unexpected).
      type: dict
    nearest_rule:
      description:
        - For C(unexpected), the closest allow rule, either for the same port or for the same process.
        - For C(denied), the allow rule that the deny overrode.
      type: dict
    explanation:
      description: What the knowledge base says about the port, then what the policy says.
      type: str
    remediation:
      description:
        - What happens to the finding, decided once by the remediation planner (see RV(plan)).
        - C(status) is C(block), C(stop), C(protected), C(not remediated) or C(reported). C(action) is what the
          matching rule asked for (C(block), C(stop) or C(none)). C(unit) is the unit or Windows service a stop
          targets, or null. C(reason) says why, in a plain sentence.
      type: dict
    protected:
      description: True when the planner found the port or its unit protected (C(remediation.status=protected)).
      type: bool
summary:
  description: Counts for the host.
  returned: always
  type: dict
  contains:
    host:
      description: Inventory hostname.
      type: str
    platform:
      description: C(linux) or C(windows).
      type: str
    listeners:
      description: Number of listeners judged.
      type: int
    findings:
      description: Number of findings.
      type: int
    ignored:
      description: Unmatched listeners not reported because of C(settings.unexpected) or C(settings.ephemeral).
      type: int
    by_severity:
      description: Findings per severity.
      type: dict
    by_kind:
      description: Findings per kind.
      type: dict
    highest_severity:
      description: The highest severity found, or null.
      type: str
    passed:
      description: No finding at a severity in O(fail_on). With no O(fail_on), no finding above C(info).
      type: bool
    collector:
      description: The gatherer's collector, or C(given) when O(listeners) was passed.
      type: str
    attribution_complete:
      description: Whether every socket has a known owner. Null when O(listeners) was passed.
      type: bool
    warnings:
      description: Policy and gatherer warnings.
      type: list
      elements: str
    ssh_connection_source:
      description:
        - Where the C(SSH_CONNECTION) whose server port is protected came from, or why there is none. One of
          the O(ssh_connection) option, gathered facts, the gatherer (with the process it was read from), or a
          command without become. Null with O(auto_protect=false).
      type: str
      version_added: 0.3.0
effective_policy:
  description: The layered policy with the origin of every rule and setting.
  returned: success
  type: dict
  sample:
    source: inventory
    allow:
      - {rule: "22/tcp", text: "22/tcp", list: allow, index: 0, origin: port_policy_allow, expires: null}
    deny: []
    require: []
    settings: {unexpected: report, allow_loopback: true}
    settings_origin: {unexpected: built-in, allow_loopback: port_policy_settings}
listeners:
  description:
    - The listeners judged, in the order of RV(verdicts).
    - Compact by default, as M(hostsec.ports.listening_ports_info) returns them. Each names its owners by pid in
      C(pids) (look them up in RV(processes)). With O(full_listeners=true), each is a full record with a
      C(processes) list instead.
  returned: success
  type: list
  elements: dict
processes:
  description:
    - The owning processes of RV(listeners), once each, keyed by pid as text (the gatherer's C(processes) table).
    - Not returned with O(full_listeners=true).
  returned: success and O(full_listeners=false)
  type: dict
  version_added: 0.3.0
protected:
  description:
    - The protected set, as data. Each item is C({port, end, protocol, reason}), an inclusive port range and
      C(tcp), C(udp) or null for both.
  returned: success
  type: list
  elements: dict
  sample:
    - {port: 22, end: 22, protocol: tcp, reason: "management path: default port of the ssh connection"}
plan:
  description:
    - The remediation plan the C(hostsec.ports.port_policy) role executes and the reports show. In O(mode=report)
      it says what enforce would do.
    - C(block) is the complete block list C([{port, protocol, finding_ids}]); C(stop) the units to stop
      C([{unit, mask, finding_ids}]); C(protected) the protected set; C(entries) maps each finding id to its
      C(remediation).
  returned: success
  type: dict
  sample:
    platform: linux
    mode: enforce
    backend: auto
    block: [{port: 23, protocol: tcp, finding_ids: [4f0c2d1e9a8b7c6d]}]
    stop: []
    protected: [{port: 22, end: 22, protocol: tcp, reason: "management path: default port of the ssh connection"}]
    entries: {}
verdicts:
  description:
    - One item per listener in RV(listeners), in the same order, holding exactly one of C(allowed_by),
      C(ignored_by) or C(finding_ids). That is the rule that allowed the listener, the setting that ignored it,
      or the finding it caused.
    - C(allowed_by) names the rule by its place in RV(effective_policy), C(allow#3) being the item at position 3
      (from 0) of its C(allow) list, which holds the rule's text, origin and expiry. It is not the rule's
      C(index), which counts within the variable the rule came from. Only allow and require rules allow a
      listener. Before 0.3.0 each verdict held all three keys and a copy of the rule.
  returned: success
  type: list
  elements: dict
  sample:
    - {allowed_by: "allow#0"}
    - {ignored_by: "settings.ephemeral: ignore_udp"}
    - {finding_ids: [4f0c2d1e9a8b7c6d]}
ignored_listeners:
  description: The listeners left out of the findings by a setting, each C({listener, ignored_by}).
  returned: success
  type: list
  elements: dict
check_mode:
  description:
    - Whether this task ran in check mode, as Ansible resolved it for the task (C(--check), or the C(check_mode)
      keyword of the task, a block, an C(include_role) or the play). C(ansible_check_mode) reflects C(--check)
      only. The C(hostsec.ports.port_policy) role reads this instead of probing the host.
  returned: success
  type: bool
  version_added: 0.3.0
role_checks_passed:
  description:
    - C(true) when O(require_all_play_hosts) was set and this host passed the checks. The same task, run
      again for a later C(serial) batch or in a later play, reads it from its C(register) variable on this
      host, after this host has left the play.
  returned: when O(require_all_play_hosts) is set and the audit succeeded
  type: bool
  version_added: 0.3.0
'''

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    policy=dict(type='dict'),
    vars_prefix=dict(type='str', default='port_policy'),
    protect=dict(type='list', elements='raw', default=[]),
    auto_protect=dict(type='bool', default=True),
    fail_on=dict(type='list', elements='str', default=[], choices=['critical', 'high', 'medium', 'low', 'info']),
    listeners=dict(type='raw'),
    protocols=dict(type='list', elements='str', choices=['tcp', 'udp']),
    families=dict(type='list', elements='str', choices=['ipv4', 'ipv6']),
    namespaces=dict(type='str', choices=['current', 'all']),
    collector=dict(type='str'),
    now=dict(type='str'),
    ephemeral_range=dict(type='raw'),
    mode=dict(type='str', default='report', choices=['report', 'enforce']),
    actions=dict(type='list', elements='str', default=['block', 'stop'], choices=['block', 'stop']),
    protect_units=dict(type='list', elements='str', default=[]),
    mask_units=dict(type='bool', default=False),
    backend=dict(type='str'),
    kb_errors=dict(type='str', default='fail', choices=['fail', 'tolerate']),
    known_vars=dict(type='list', elements='str'),
    known_vars_spec=dict(type='path'),
    rollback_timing=dict(type='dict', options=dict(confirm_timeout=dict(type='int', required=True),
                                                   rollback_timeout=dict(type='int', required=True))),
    require_all_play_hosts=dict(type='bool', default=False),
    ssh_connection=dict(type='str'),
    read_ssh_connection=dict(type='bool', default=True),
    full_listeners=dict(type='bool', default=False),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg='hostsec.ports.port_audit is an action plugin: run it from a playbook task, '
                         'it judges listeners on the controller')


if __name__ == '__main__':
    main()
