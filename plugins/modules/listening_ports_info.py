#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: listening_ports_info
short_description: List every listening TCP and bound UDP socket with its owners on Linux
version_added: 0.1.0
description:
  - Lists every listening TCP socket and every bound, unconnected UDP socket, IPv4 and IPv6, in the
    network namespace the module runs in.
  - Needs neither C(ss), C(netstat) nor C(lsof). Sockets come from the kernel through netlink C(sock_diag)
    (which also reports C(IPV6_V6ONLY) and the bound interface), or from C(/proc/net/{tcp,tcp6,udp,udp6}) when
    netlink is unavailable.
  - Owners are found in one pass over C(/proc/*/fd). A socket shared by several processes (prefork workers,
    C(SO_REUSEPORT), a socket inherited across C(fork)) lists all of them. Each process comes with its name,
    executable, command line, user, start time and systemd unit; a socket-activated listener held by systemd
    (PID 1) names its C(.socket) unit.
  - Works unprivileged. Without root only the user's own processes can be attributed; every socket is still
    listed, the result says RV(attribution_complete=false) and a warning names the reason.
  - Never returns a silent empty list. When no collector can read the socket tables the module fails and says why.
  - Also sets C(ansible_facts.tcp_listen) and C(ansible_facts.udp_listen) in the format of
    M(community.general.listen_ports_facts), so playbooks written for it keep working.
author:
  - hostsec.ports maintainers (@hostsec)
extends_documentation_fragment:
  - hostsec.ports._attributes
  - hostsec.ports._attributes.INFO_MODULE
  - hostsec.ports._attributes.FACTS
  - hostsec.ports._attributes.FACTS_SUPPORT
  - hostsec.ports._attributes.PLATFORM_LINUX
options:
  protocols:
    description: Transport protocols to list.
    type: list
    elements: str
    choices: [tcp, udp]
    default: [tcp, udp]
  families:
    description:
      - Address families to list, by the family of the socket.
      - A dual-stack IPv6 wildcard socket (see RV(listeners[].dual_stack)) is an C(ipv6) socket, even though it
        also accepts IPv4 connections.
    type: list
    elements: str
    choices: [ipv4, ipv6]
    default: [ipv4, ipv6]
  include_loopback:
    description: Also list sockets bound to a loopback address (C(127.0.0.0/8), C(::1), C(::ffff:127.0.0.1)).
    type: bool
    default: true
  collector:
    description:
      - Where to read the socket tables from.
      - C(netlink) asks the kernel through C(NETLINK_SOCK_DIAG); it knows C(IPV6_V6ONLY) and the bound interface
        of each socket.
      - C(procfs) reads C(/proc/net/*). It cannot see C(IPV6_V6ONLY) per socket, so RV(listeners[].v6only) and
        RV(listeners[].dual_stack) follow the host default C(net.ipv6.bindv6only) (and a warning says so), and it
        cannot see the interface a socket is bound to.
      - C(auto) uses C(netlink) and falls back to C(procfs) with a warning.
    type: str
    choices: [auto, netlink, procfs]
    default: auto
notes:
  - Only the network namespace the module runs in is listed. To inspect a container, run the module inside it
    (for example with the C(containers.podman.podman) connection); RV(netns) tells namespaces apart.
  - Sockets owned by the kernel itself (inode 0, for example the UDP socket of WireGuard or NFS) are listed
    with no processes and do not count as unattributed.
  - Process names are returned whole; the kernel's 15-byte cut of C(comm) is repaired from the executable or
    C(argv[0]). Bytes that are not valid UTF-8 in names and command lines come back as C(\\xNN).
seealso:
  - module: community.general.listen_ports_facts
    description: The module whose C(tcp_listen)/C(udp_listen) facts this module also sets.
  - module: hostsec.ports.win_listening_ports_info
    description: The same listener schema on Windows.
'''

EXAMPLES = r'''
- name: List every listener with its owning processes and systemd units
  hostsec.ports.listening_ports_info:
  register: ports
  become: true

- name: Show who listens on a network-facing port
  ansible.builtin.debug:
    msg: "{{ item.protocol }}/{{ item.port }} on {{ item.address }}: {{ item.services | join(', ') }}"
  loop: "{{ ports.listeners | rejectattr('exposure', 'equalto', 'loopback') | list }}"
  loop_control:
    label: "{{ item.protocol }}/{{ item.port }}"

- name: Only TCP over IPv4 and IPv6, without loopback listeners
  hostsec.ports.listening_ports_info:
    protocols: [tcp]
    include_loopback: false
  register: exposed

- name: Fail when attribution is incomplete (for example when run without become)
  ansible.builtin.assert:
    that: ports.attribution_complete
    fail_msg: "{{ ports.unattributed }} sockets have no known owner"

- name: Use the community.general.listen_ports_facts compatible facts
  ansible.builtin.debug:
    msg: "{{ ansible_facts.tcp_listen | map(attribute='port') | unique | sort }}"
'''

RETURN = r'''
listeners:
  description: Every listener found, sorted by protocol, port, family and address.
  returned: always
  type: list
  elements: dict
  contains:
    protocol:
      description: C(tcp) or C(udp).
      type: str
      sample: tcp
    family:
      description: C(ipv4) or C(ipv6), the family of the socket.
      type: str
      sample: ipv6
    address:
      description: Bound address without brackets or zone.
      type: str
      sample: "::"
    scope:
      description:
        - The interface a socket is bound to, for a scoped link-local address (C(fe80::1%eth0)) or a socket bound
          with C(SO_BINDTODEVICE). V(null) when unbound, and always V(null) with the C(procfs) collector.
      type: str
      sample: eth0
    port:
      description: Bound port.
      type: int
      sample: 22
    exposure:
      description:
        - C(loopback) (only this host), C(wildcard) (every address), C(link_local) or C(specific) (one address).
        - An IPv4-mapped IPv6 address is judged by its IPv4 part.
      type: str
      sample: wildcard
    dual_stack:
      description: True for an IPv6 wildcard socket without C(IPV6_V6ONLY), which also accepts IPv4.
      type: bool
      sample: true
    v6only:
      description:
        - C(IPV6_V6ONLY) of an IPv6 socket; V(null) for IPv4.
        - With the C(procfs) collector this is the host default C(net.ipv6.bindv6only), not read per socket.
      type: bool
      sample: false
    state:
      description: C(listen) for TCP, C(unconnected) for UDP.
      type: str
      sample: listen
    inode:
      description: Socket inode; V(0) for a socket owned by the kernel.
      type: int
      sample: 23456
    uid:
      description: User ID that created the socket.
      type: int
      sample: 0
    netns:
      description: Network namespace inode (same as RV(netns)).
      type: int
      sample: 4026531840
    services:
      description: Sorted systemd units of the owning processes (the C(.socket) unit for systemd-held sockets).
      type: list
      elements: str
      sample: [ssh.service]
    processes:
      description: Every process holding the socket, by PID. Empty when no owner could be seen.
      type: list
      elements: dict
      contains:
        pid:
          description: Process ID.
          type: int
          sample: 812
        name:
          description: Full program name (the kernel's 15-byte C(comm) cut repaired).
          type: str
          sample: sshd
        exe:
          description: Executable path; V(null) when it cannot be read (another user's process without privileges).
          type: str
          sample: /usr/sbin/sshd
        cmdline:
          description: Arguments joined by spaces; bytes that are not UTF-8 as C(\\xNN). V(null) when empty.
          type: str
          sample: "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"
        user:
          description: Effective user name (the uid as text when it has no passwd entry).
          type: str
          sample: root
        uid:
          description: Effective user ID.
          type: int
          sample: 0
        start_time:
          description: Process start time, ISO 8601 in UTC.
          type: str
          sample: "2026-11-21T16:57:01Z"
        unit:
          description:
            - System manager unit from the process's cgroup (C(ssh.service), C(session-3.scope)), that is the first unit below
              the slices, never a cgroup a service or user created inside its own sub-tree. For systemd (PID 1)
              holding a socket-activated listener, the C(.socket) unit that owns that listener (an active unit).
            - V(null) outside systemd, and for processes of a user's own systemd instance (under C(user@UID.service)).
          type: str
          sample: ssh.service
        services:
          description:
            - The unit as a list (empty when there is none).
            - A process of a user's systemd instance lists its user unit as C(NAME (user@UID)), for example
              C(pipewire.service (user@1000)); this is no system unit name and is never a unit to stop.
          type: list
          elements: str
          sample: [ssh.service]
  sample:
    - protocol: tcp
      family: ipv6
      address: "::"
      scope: null
      port: 22
      exposure: wildcard
      dual_stack: true
      v6only: false
      state: listen
      inode: 23456
      uid: 0
      netns: 4026531840
      services: [ssh.service]
      processes:
        - pid: 812
          name: sshd
          exe: /usr/sbin/sshd
          cmdline: "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"
          user: root
          uid: 0
          start_time: "2026-11-21T16:57:01Z"
          unit: ssh.service
          services: [ssh.service]
collector:
  description: The collector that ran, C(netlink) or C(procfs).
  returned: always
  type: str
  sample: netlink
attribution_complete:
  description: False when some sockets have no known owner (not root, C(hidepid) on C(/proc)); a warning says why.
  returned: always
  type: bool
  sample: true
privileged:
  description: True when the module ran as root.
  returned: always
  type: bool
  sample: true
unattributed:
  description: Number of listeners with no known owning process (kernel-owned sockets not counted).
  returned: always
  type: int
  sample: 0
netns:
  description: Inode of the network namespace that was listed (C(readlink /proc/self/ns/net)).
  returned: always
  type: int
  sample: 4026531840
ephemeral_range:
  description: The ephemeral port range C([low, high]) from C(net.ipv4.ip_local_port_range); V(null) if unreadable.
  returned: always
  type: list
  elements: int
  sample: [32768, 60999]
platform:
  description: Always C(linux).
  returned: always
  type: str
  sample: linux
ansible_facts:
  description: Facts in the format of M(community.general.listen_ports_facts), one row per socket and process.
  returned: always
  type: dict
  contains:
    tcp_listen:
      description: TCP listeners; a socket with no known owner has one row with pid V(0) and empty name and user.
      returned: always
      type: list
      elements: dict
      sample:
        - address: "0.0.0.0"
          name: sshd
          pid: 812
          port: 22
          protocol: tcp
          stime: "Sat Nov 21 16:57:01 2026"
          user: root
    udp_listen:
      description: UDP listeners, same fields as RV(ansible_facts.tcp_listen).
      returned: always
      type: list
      elements: dict
      sample:
        - address: "0.0.0.0"
          name: chronyd
          pid: 601
          port: 123
          protocol: udp
          stime: "Sat Nov 21 16:57:00 2026"
          user: _chrony
'''

import gc

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import GatherError, gather


def main():
    # The result can hold hundreds of thousands of values, and exit_json copies all of them
    # (no_log scrubbing, JSON); they hold no cycles, so the cyclic GC would only slow this short-lived run.
    gc.disable()
    module = AnsibleModule(
        argument_spec=dict(
            protocols=dict(type='list', elements='str', choices=['tcp', 'udp'], default=['tcp', 'udp']),
            families=dict(type='list', elements='str', choices=['ipv4', 'ipv6'], default=['ipv4', 'ipv6']),
            include_loopback=dict(type='bool', default=True),
            collector=dict(type='str', choices=['auto', 'netlink', 'procfs'], default='auto'),
        ),
        supports_check_mode=True,
    )

    def runner(argv):
        return module.run_command(argv, environ_update={'LC_ALL': 'C', 'SYSTEMD_COLORS': '0'})

    try:
        result = gather(
            protocols=module.params['protocols'],
            families=module.params['families'],
            include_loopback=module.params['include_loopback'],
            collector=module.params['collector'],
            runner=runner,
        )
    except GatherError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
