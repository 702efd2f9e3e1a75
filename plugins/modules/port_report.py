#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: port_report
short_description: Write host and fleet listening-port reports on the controller
version_added: 0.1.0
description:
  - Turns the M(hostsec.ports.port_audit) results of the play's hosts into reports on the controller
    (this is an action plugin, nothing runs on the managed hosts).
  - Per host, a JSON report (C(<dest>/hosts/<host>.json)), with V(markdown) in O(formats) a Markdown one
    (C(<dest>/hosts/<host>.md)), and a readable table returned in RV(lines) for the play output.
  - For the fleet, with O(fleet=true), a JSON report (C(fleet.json)), JUnit XML for CI (C(fleet.junit.xml)),
    Markdown (C(fleet.md)), a self-contained HTML report (C(fleet.html)) with a hosts x findings matrix,
    filters, findings grouped across hosts and a drill-down per host, and C(fleet.csv) (one row per finding, cells
    that a spreadsheet would take for a formula prefixed with a quote). See C(docs/reports.md).
  - Host files are named so that distinct inventory names never share a file, also on a case-insensitive file system
    (C(web/1) is C(web%2F1.json), C(WEB) is C(%57%45%42.json)).
  - Each finding carries a status saying what happened to it (C(blocked), C(stopped), C(would block),
    C(would stop), C(protected), C(reported), C(not remediated), C(not confirmed) or C(no plan)) and the reason.
    The status comes from the remediation planner (C(finding.remediation.status)) and the role's outcome; the
    report only words it.
  - Each run is compared with the previous C(fleet.json) in O(dest), or with O(baseline), for new and gone listeners
    and findings, and hosts that appeared, vanished or changed result, in every fleet format.
  - The audit result of each host is read from the host variable named by O(audit_var), and what the
    C(hostsec.ports.port_policy) role did about it from O(outcome_var); both are set by that role. O(results)
    passes them explicitly instead.
  - Never reports C(changed); the files are written in check mode too, since a report is what check mode is for.
author:
  - hostsec.ports maintainers (@hostsec)
attributes:
  check_mode:
    support: full
    description: Runs in check mode and writes the reports, which change nothing on managed hosts.
  diff_mode:
    support: none
    description: Reports are files on the controller, shown in full; there is nothing to diff.
  platform:
    support: full
    platforms: all
    description: Runs on the controller only.
  action:
    support: full
    description: An action plugin; the reports are written on the controller.
options:
  dest:
    description:
      - Directory on the controller for the report files; created when missing.
      - When omitted, nothing is written and only RV(lines) and RV(totals) are returned.
    type: path
  hosts:
    description:
      - Hosts to report on. Defaults to every host of the play (C(ansible_play_hosts_all)); a host that failed
        or was unreachable before the audit appears as not audited.
      - With that default, in a play run in C(serial) batches, the task reports only after the last batch.
        Until then hosts of later batches are still in the play with no O(audit_var), and RV(pending_hosts)
        names them. Nothing is written, so drift compares the whole play with the previous run, never one
        batch with another.
    type: list
    elements: str
  audit_var:
    description: Host variable holding the host's M(hostsec.ports.port_audit) result.
    type: str
    default: __port_policy_audit
  outcome_var:
    description:
      - Host variable holding what the role did on the host (C(mode), C(check_mode), C(backend), C(trial),
        C(errors), C(applied), C(not_effective)).
      - When the host has no such variable, or O(outcome_var) is empty, or the outcome's mode is not the audit
        plan's (an outcome left by an earlier run in the same play), the mode is that of the audit's plan and the
        check mode the audit's own (nothing was enforced). The role sets the variable in enforce mode only.
    type: str
    default: __port_policy_outcome
  results:
    description:
      - Explicit results instead of host variables, keyed by host name. Each value is a mapping with C(audit)
        (a port_audit result) and optionally C(outcome) and C(groups) (inventory groups, for the HTML filter).
    type: dict
  fleet:
    description: Also write the fleet reports (O(formats)) when O(dest) is set.
    type: bool
    default: true
  formats:
    description: Fleet report formats to write.
    type: list
    elements: str
    choices: [json, junit, markdown, html, csv]
    default: [json, junit, markdown, html, csv]
  junit_fail_on:
    description:
      - Severities that make a JUnit testcase fail; findings at other severities pass with their text in system-out.
      - A host with a finding at one of these severities is called non-compliant in every report.
    type: list
    elements: str
    choices: [critical, high, medium, low, info]
    default: [critical, high, medium, low]
  junit_by:
    description: One JUnit testcase per host and finding (V(finding)), or one per host listing its failing findings (V(host)).
    type: str
    choices: [finding, host]
    default: finding
  stats_name:
    description:
      - Name under which RV(stats) is published as the play's custom stats (see M(ansible.builtin.set_stats)).
        Empty publishes nothing.
    type: str
    default: hostsec_ports
    version_added: 0.3.0
  junit_drift_fails:
    description: Make the JUnit C(drift) testcase fail when there are findings that the baseline did not have.
    type: bool
    default: false
  play_fail_on:
    description:
      - The severities at which the play fails a host (the role passes C(port_policy_fail_on)). Only used to explain,
        in the reports, how "non-compliant" relates to the play recap.
    type: list
    elements: str
    choices: [critical, high, medium, low, info]
    default: []
  baseline:
    description:
      - A fleet report (C(fleet.json) of an earlier run) to compare with. Without it, the C(fleet.json) already in
        O(dest) is the baseline, before it is replaced; without either, this run is the baseline.
    type: path
  mode:
    description:
      - File mode of the report files (they hold every command line of every host). New directories get the same
        bits plus search (x) wherever read is set, so V(0600) gives V(0700) directories; existing directories keep
        their mode.
    type: raw
    default: '0600'
  query:
    description:
      - A JMESPath expression over C(hosts), C(groups), C(findings) and C(listeners) (the last two flat, each item
        with its C(host)); the selection is returned in RV(query_result) and written to C(query.json) in O(dest).
      - Needs the C(jmespath) Python package on the controller.
    type: str
seealso:
  - module: hostsec.ports.port_audit
"""

EXAMPLES = r"""
- name: Audit every host
  hostsec.ports.port_audit:
  register: audit

- name: Write the fleet reports once, from all hosts' audit results
  hostsec.ports.port_report:
    dest: "{{ playbook_dir }}/reports"
    audit_var: audit
  run_once: true

- name: Readable table of one host's findings
  hostsec.ports.port_report:
    hosts: ["{{ inventory_hostname }}"]
    audit_var: audit
  register: table

- name: Show it
  ansible.builtin.debug:
    msg: "{{ table.lines }}"

- name: Every wildcard listener owned by root, across the fleet
  hostsec.ports.port_report:
    audit_var: audit
    query: "listeners[?exposure=='wildcard' && contains(processes[].user, 'root')].[host, text]"
  run_once: true
  register: root_wildcards
"""

RETURN = r"""
lines:
  description: A readable table per host (per finding a line with severity, kind, listener and status, then its explanation in full).
  returned: always
  type: list
  elements: str
  sample: ["web1: 9 listener(s), 1 finding(s), highest medium, FAILED - mode report",
           "  SEVERITY  KIND        LISTENER                 STATUS",
           "  medium    unexpected  0.0.0.0:8080/tcp (python3)  reported",
           "      8080/tcp is assigned by IANA to http-alt (registered range 1024-49151). No allow rule matches it."]
files:
  description: Paths of the files written.
  returned: always
  type: list
  elements: str
  sample: [reports/hosts/web1.json, reports/fleet.json, reports/fleet.junit.xml, reports/fleet.md, reports/fleet.html]
totals:
  description: Fleet totals (hosts, hosts_compliant, hosts_noncompliant, hosts_not_audited, findings, listeners, by_severity, ...).
  returned: always
  type: dict
hosts:
  description: Per host, whether it passed, whether it is compliant and its finding count.
  returned: always
  type: dict
  sample: {web1: {passed: false, compliant: false, findings: 1, audited: true}}
drift:
  description: Comparison with the baseline (state, text, totals, warnings); per-host detail is in the fleet reports.
  returned: always
  type: dict
stats:
  description:
    - The short fleet summary. It is also published as custom stats under O(stats_name), as
      M(ansible.builtin.set_stats) would (not per host, not aggregated). It appears in the job's artifacts in
      AWX/AAP and in ansible-runner's C(artifacts/<id>/job_events). With O(stats_name) empty it is only returned.
  returned: always
  type: dict
query_result:
  description: What O(query) selected.
  returned: when O(query) is set
  type: raw
pending_hosts:
  description:
    - Hosts of later C(serial) batches still to run. The task then writes nothing, and RV(totals), RV(hosts),
      RV(drift) and RV(stats) are empty; RV(lines) says so.
  returned: when the play runs in serial batches and this is not the last one
  type: list
  elements: str
  version_added: 0.3.0
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    dest=dict(type='path'),
    hosts=dict(type='list', elements='str'),
    audit_var=dict(type='str', default='__port_policy_audit'),
    outcome_var=dict(type='str', default='__port_policy_outcome'),
    stats_name=dict(type='str', default='hostsec_ports'),
    results=dict(type='dict'),
    fleet=dict(type='bool', default=True),
    formats=dict(type='list', elements='str', choices=['json', 'junit', 'markdown', 'html', 'csv'],
                 default=['json', 'junit', 'markdown', 'html', 'csv']),
    junit_fail_on=dict(type='list', elements='str', choices=['critical', 'high', 'medium', 'low', 'info'],
                       default=['critical', 'high', 'medium', 'low']),
    junit_by=dict(type='str', choices=['finding', 'host'], default='finding'),
    junit_drift_fails=dict(type='bool', default=False),
    play_fail_on=dict(type='list', elements='str', choices=['critical', 'high', 'medium', 'low', 'info'], default=[]),
    baseline=dict(type='path'),
    mode=dict(type='raw', default='0600'),
    query=dict(type='str'),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg='hostsec.ports.port_report is an action plugin: run it from a playbook task, '
                         'it writes reports on the controller')


if __name__ == '__main__':
    main()
