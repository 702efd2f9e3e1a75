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
  - The result is compact, each process once in RV(processes) (a table by pid) and each listener naming its
    owners by pid in RV(listeners[].pids); the C(hostsec.ports) plugins read it through one schema module.
  - With O(facts=true) it also sets C(ansible_facts.tcp_listen) and C(ansible_facts.udp_listen) in the format of
    M(community.general.listen_ports_facts), so playbooks written for it keep working. They are off by default,
    as for every C(_info) module.
  - With O(namespaces=all) it also lists every other network namespace of the host (containers of podman, docker,
    containerd and CRI-O, Kubernetes pods, named C(ip netns)), each listener with its RV(listeners[].netns) and
    RV(listeners[].container), and links host ports published to a container to the listener they reach.
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
  namespaces:
    description:
      - C(current) lists the network namespace the module runs in.
      - C(all) also enters every other network namespace of the host (found through C(/proc/*/ns/net),
        C(/run/netns) and C(/run/docker/netns)) and lists its sockets with netlink. Listeners of a container carry
        RV(listeners[].container) (runtime, id, name, image, pod, read from the runtime's files on disk). A
        namespace no runtime claims (a named C(ip netns) or an unnamed one) is runtime C(netns). In a pod, each
        listener names the workload container of its owning process, never the pause/infra container. Host ports published to a container (docker-proxy, conmon,
        iptables or nftables DNAT) are linked both ways, RV(listeners[].forwards_to) on the host listener and
        RV(listeners[].published) on the container's. Needs root (C(CAP_SYS_ADMIN) to enter a namespace);
        without it a warning names every namespace that could not be read. The procfs collector is used for the
        current namespace only.
    type: str
    choices: [current, all]
    default: current
  facts:
    description:
      - Also return C(ansible_facts.tcp_listen) and C(ansible_facts.udp_listen) in the format of
        M(community.general.listen_ports_facts).
      - Off by default since 0.2.0; they add one row per socket and process to the result.
    type: bool
    default: false
notes:
  - By default only the network namespace the module runs in is listed (see O(namespaces)); RV(netns) tells
    namespaces apart.
  - To turn a result into full listener records (each with its C(processes) list), the collection's plugins use
    C(schema.expand()); in a playbook, look owners up with C(ports.processes[pid | string]).
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

- name: Name the owners of each listener from the process table
  ansible.builtin.debug:
    msg: "{{ item.port }}: {{ item.pids | map('string') | map('extract', ports.processes) | map(attribute='name') | list }}"
  loop: "{{ ports.listeners }}"
  loop_control:
    label: "{{ item.protocol }}/{{ item.port }}"

- name: Every container's listeners too
  hostsec.ports.listening_ports_info:
    namespaces: all
  become: true
  register: everywhere

- name: Set the community.general.listen_ports_facts compatible facts
  hostsec.ports.listening_ports_info:
    facts: true

- name: Use them
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
      description:
        - True for an IPv6 wildcard socket (C(::)) without C(IPV6_V6ONLY), which also accepts IPv4.
        - False for C(::ffff:0.0.0.0), a wildcard that accepts IPv4 only.
      type: bool
      sample: true
    v6only:
      description:
        - C(IPV6_V6ONLY) of an IPv6 socket; V(null) for IPv4.
        - With the C(procfs) collector this is the host default C(net.ipv6.bindv6only), not read per socket.
      type: bool
      sample: false
    inode:
      description: Socket inode; V(0) for a socket owned by the kernel.
      type: int
      sample: 23456
    uid:
      description: User ID that created the socket.
      type: int
      sample: 0
    netns:
      description: Network namespace inode of the socket (RV(netns) unless gathered with O(namespaces=all)).
      type: int
      sample: 4026531840
    services:
      description: Sorted systemd units of the owning processes (the C(.socket) unit for systemd-held sockets).
      type: list
      elements: str
      sample: [ssh.service]
    pids:
      description: PIDs of every process holding the socket, sorted; each is a key (as text) of RV(processes).
        Empty when no owner could be seen.
      type: list
      elements: int
      sample: [812]
    process_overrides:
      description:
        - Only when an owner differs for this socket from its RV(processes) entry, by pid (as text). Today that is
          systemd (PID 1) holding a socket-activated listener, whose C(unit) and C(services) are the C(.socket)
          unit of that listener.
      type: dict
      returned: when needed
      sample: {"1": {"unit": "echo.socket", "services": ["echo.socket"]}}
    container:
      description:
        - The container (or C(ip netns)) whose namespace holds the socket, with O(namespaces=all). Every listener
          outside the host's own namespace has one, so policy rules, remediation and reports can tell them apart.
          Host listeners have none.
        - In a pod whose namespace holds several workload containers, a listener whose owner is unknown (not root)
          names only the pod (C(id) and C(name) V(null)).
      type: dict
      returned: for sockets outside the host's network namespace
      contains:
        runtime:
          description: C(podman), C(docker), C(containerd), C(cri-o) or C(netns).
          type: str
        id:
          description: Container id (V(null) for C(netns)).
          type: str
        name:
          description:
            - Container name, or the C(ip netns) name (V(null) for an unnamed namespace); bytes of a netns name
              that are not UTF-8 come back as C(\\xNN).
            - V(null) for a rootless container (one whose cgroup root alone could not have named, or whose
              parent is a conmon not run by root). Its user chose the name, and a policy rule
              (C(container:)) must never match what any local user can name. Its C(runtime) and C(id) are
              still given.
          type: str
        image:
          description: Image name when the runtime's files say it; V(null) for a rootless container, as C(name).
          type: str
        pod:
          description:
            - The pod's name when in a pod. Kubernetes names it in annotations, podman in libpod's state file.
              When neither names it, this is the pod uid or id from the cgroup.
          type: str
    published:
      description:
        - Host ports that reach this container listener, with O(namespaces=all).
        - Found from the forwarder's command line (docker-proxy) or from the DNAT rules of C(iptables-save),
          C(ip6tables-save) and C(nft list ruleset), IPv4 and IPv6 alike.
        - For rootless podman's C(rootlessport), which has no DNAT rule, from the namespace that process runs in
          and the port mappings in its user's libpod state file (C(~/.local/share/containers/storage)).
      type: list
      elements: dict
      returned: when a forwarder or DNAT rule reaches the listener
      sample: [{address: 0.0.0.0, port: 8080, protocol: tcp, via: conmon, netns: 4026531840}]
    forwards_to:
      description: On a host listener held by docker-proxy, conmon or rootlessport, the container listener it
        reaches (C(netns), C(address), C(port), C(container)), with O(namespaces=all).
      type: dict
      returned: on forwarder listeners
      sample: {netns: 4026532178, address: 10.88.0.2, port: 80, container: null}
  sample:
    - protocol: tcp
      family: ipv6
      address: "::"
      scope: null
      port: 22
      exposure: wildcard
      dual_stack: true
      v6only: false
      inode: 23456
      uid: 0
      netns: 4026531840
      services: [ssh.service]
      pids: [812]
processes:
  description: Every process that owns a listener, once, by pid as text.
  returned: always
  type: dict
  sample:
    "812":
      pid: 812
      name: sshd
      exe: /usr/sbin/sshd
      cmdline: "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"
      user: root
      uid: 0
      start_time: "2026-11-21T16:57:01Z"
      unit: ssh.service
      services: [ssh.service]
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
session:
  description:
    - The SSH session the module runs in. C(ssh_connection) is the C(SSH_CONNECTION) value
      (C(client_ip client_port server_ip server_port)), or V(null) when there is none. It is read from the
      module's own environment, else from the nearest parent process that has it. Under become, sudo drops it
      from the module's environment, but the session's shell still holds it. C(source) says where it came
      from, or why there is none.
    - M(hostsec.ports.port_audit) protects the server port, so the path the controller uses is never blocked,
      without an extra command per host.
  returned: always
  type: dict
  version_added: 0.3.0
  sample: {ssh_connection: "10.0.0.5 51234 10.0.0.9 2222", source: environment of parent process 1432}
namespaces:
  description: With O(namespaces=all), every other network namespace found and whether it could be read.
  returned: when O(namespaces=all)
  type: list
  elements: dict
  sample: [{netns: 4026532178, container: {runtime: podman, id: 99b3c248fd3a, name: web, image: "localhost/web:latest",
            pod: null}, entered: true, error: null, processes: 3, listeners: 1}]
ansible_facts:
  description: Facts in the format of M(community.general.listen_ports_facts), one row per socket and process.
  returned: when O(facts=true)
  type: dict
  contains:
    tcp_listen:
      description: TCP listeners; a socket with no known owner has one row with pid V(0) and empty name and user.
      returned: when O(facts=true)
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
      returned: when O(facts=true)
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
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.module_exit import exit_with_result
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.session import ssh_connection
from ansible_collections.hostsec.ports.plugins.module_utils._warning_text import warn_each


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
            namespaces=dict(type='str', choices=['current', 'all'], default='current'),
            facts=dict(type='bool', default=False),
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
            namespaces=module.params['namespaces'],
            facts=module.params['facts'],
        )
    except GatherError as exc:
        module.fail_json(msg=str(exc))
    warn_each(module, result.pop('warnings'))
    value, source = ssh_connection()
    result['session'] = {'ssh_connection': value, 'source': source}
    exit_with_result(module, result)


if __name__ == '__main__':
    main()
