# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Windows-specific remediation decisions, as pure functions the planner calls.

* :data:`PROTECTED_SERVICES` - services never stopped, each with the reason.
* :func:`protected_service` - the reason a service is protected, or None.
* :func:`stop_target` - the one service a stop of a listener may name, or
  None and why (the contract rule: ``owner_service``, or a process that hosts
  exactly one service; never a guess among the services of a shared svchost).
* :func:`protected_ports` - ports protected because of what listens there
  (RDP, WinRM), as protected specs ``{port, end, protocol, reason}``.
* :func:`firewall_effectiveness` - why local block rules would not (or did
  not) take effect, from the raw firewall state that
  ``hostsec.ports.win_port_block`` reports, or None when they do.

Windows service names are case-insensitive; every comparison here is.
"""

from __future__ import annotations

# Kernel pseudo-processes: their sockets belong to drivers (http.sys, srv2.sys, NetBT).
KERNEL_PIDS = (0, 4)

SHARED_HOST = 'shared service host, exact service unknown'

_ALWAYS = 'always'
_DC = 'domain_controller'

PROTECTED_SERVICES = {
    # name: (when, reason)
    'Dhcp': (_ALWAYS, 'DHCP client: the address is lost when the lease expires, locking the host out hours later'),
    'NlaSvc': (_ALWAYS, 'network location awareness: without it the network falls to the Public profile and '
                        'management rules scoped to Domain/Private stop applying'),
    'Dnscache': (_ALWAYS, 'DNS client: name resolution for the host and its management tools'),
    'nsi': (_ALWAYS, 'network store interface: the network stack\'s configuration service'),
    'MpsSvc': (_ALWAYS, 'Windows Defender Firewall: the backend that enforces the block rules'),
    'BFE': (_ALWAYS, 'base filtering engine: the firewall and IPsec depend on it'),
    'RpcSs': (_ALWAYS, 'RPC: every COM/DCOM and most management calls need it'),
    'RpcEptMapper': (_ALWAYS, 'RPC endpoint mapper: every RPC client needs it'),
    'DcomLaunch': (_ALWAYS, 'DCOM server process launcher: core RPC/DCOM'),
    'Winmgmt': (_ALWAYS, 'WMI: the audit itself and most management reads need it'),
    'WinRM': (_ALWAYS, 'WinRM: the Ansible management connection'),
    'HTTP': (_ALWAYS, 'http.sys: serves the WinRM listeners, stopping it stops WinRM'),
    'sshd': (_ALWAYS, 'OpenSSH server: a management connection'),
    'TermService': (_ALWAYS, 'Remote Desktop: the human way back into the host'),
    'Schedule': (_ALWAYS, 'Task Scheduler: runs the dead-man rollback of hostsec.ports'),
    'EventLog': (_ALWAYS, 'event log: auditing and troubleshooting'),
    'SamSs': (_ALWAYS, 'security accounts manager: local logons'),
    'KeyIso': (_ALWAYS, 'CNG key isolation: private keys of TLS and logon'),
    'CryptSvc': (_ALWAYS, 'cryptographic services: certificate validation and Windows Update'),
    'LanmanServer': (_DC, 'SMB server on a domain controller: SYSVOL and NETLOGON shares'),
    'NTDS': (_DC, 'Active Directory Domain Services (domain controller role)'),
    'Netlogon': (_DC, 'Netlogon: domain controller locator and secure channel (domain controller role)'),
    'Kdc': (_DC, 'Kerberos key distribution centre (domain controller role)'),
    'DNS': (_DC, 'DNS server (domain controller role)'),
    'DFSR': (_DC, 'DFS replication: SYSVOL replication (domain controller role)'),
    'IsmServ': (_DC, 'intersite messaging (domain controller role)'),
    'W32Time': (_DC, 'Windows Time: the domain time hierarchy that Kerberos needs (domain controller role)'),
}
"""Services never stopped. 'domain_controller' ones only on a domain controller (or when unknown)."""

_PROTECTED_LOWER = {name.lower(): (name, when, reason) for name, (when, reason) in PROTECTED_SERVICES.items()}

# RDP is protected by its port too: TermService may be unattributed (no elevation).
RDP_PORT = 3389
_REASON_RDP = 'Remote Desktop (3389/tcp) is listening: the human way back into a Windows host'


def protected_service(name, domain_controller=None):
    """The reason service ``name`` is never stopped, or None.

    ``domain_controller`` None (unknown) protects the domain controller
    services too: a wrong "no" would stop a DC's roles.
    """
    entry = _PROTECTED_LOWER.get(str(name or '').lower())
    if entry is None:
        return None
    canonical, when, reason = entry
    if when == _DC and domain_controller is False:
        return None
    return 'protected service %s: %s' % (canonical, reason)


def _pid_text(proc):
    return '%s (pid %s)' % (proc.get('name') or 'unknown process', proc.get('pid'))


def stop_target(listener):
    """(service or None, reason): the one Windows service a stop of ``listener`` may name.

    The socket's own service tag (``owner_service``) wins. Otherwise the
    owning process must host exactly one service. Never a guess: a shared
    svchost whose exact service is unknown, a kernel-owned socket, several
    owners or a process that is no service all give None and the reason.
    """
    owner_service = listener.get('owner_service')
    if owner_service:
        return owner_service, 'the socket\'s service tag names %s' % owner_service
    processes = listener.get('processes') or []
    if not processes:
        return None, 'no owning process is known; a process is never killed by PID'
    kernel = [p for p in processes if p.get('pid') in KERNEL_PIDS]
    if kernel:
        others = [p for p in processes if p.get('pid') not in KERNEL_PIDS]
        detail = (' (URL registrants: %s)' % ', '.join(_pid_text(p) for p in others)) if others else ''
        return None, ('the socket belongs to a kernel driver of %s (http.sys, SMB or NetBT)%s; '
                      'stopping one service does not close it' % (_pid_text(kernel[0]), detail))
    if len(processes) > 1:
        return None, 'several processes share the socket (%s)' % ', '.join(_pid_text(p) for p in processes)
    proc = processes[0]
    services = sorted(set(proc.get('services') or ()), key=str.lower)
    if len(services) == 1:
        return services[0], 'the owning process %s hosts exactly one service' % _pid_text(proc)
    if not services:
        return None, ('the owning process %s is not a Windows service; a process is never killed by PID'
                      % _pid_text(proc))
    return None, '%s: %s hosts %s' % (SHARED_HOST, _pid_text(proc), ', '.join(services))


def _listener_services(listener):
    names = set(listener.get('services') or ())
    if listener.get('owner_service'):
        names.add(listener['owner_service'])
    return {n.lower() for n in names}


def protected_ports(listeners):
    """Protected specs for what listens here: RDP 3389/tcp when listening, and the ports of TermService and WinRM.

    Returns ``[{port, end, protocol, reason}]`` sorted by port and protocol, one per port and protocol.
    """
    found = {}
    for lst in listeners or ():
        port, protocol = lst.get('port'), lst.get('protocol')
        services = _listener_services(lst)
        if protocol == 'tcp' and port == RDP_PORT:
            found.setdefault((port, protocol), _REASON_RDP)
        if 'termservice' in services:
            found.setdefault((port, protocol), 'Remote Desktop (TermService) listens on %d/%s' % (port, protocol))
        if 'winrm' in services:
            found.setdefault((port, protocol), 'WinRM listens on %d/%s: the management connection' % (port, protocol))
    return [{'port': port, 'end': port, 'protocol': protocol, 'reason': reason}
            for (port, protocol), reason in sorted(found.items())]


# NetworkCategory of Get-NetConnectionProfile -> firewall profile name.
_CATEGORY_PROFILE = {'domainauthenticated': 'Domain', 'private': 'Private', 'public': 'Public'}


def _gpo_false(value):
    """A GpoBoolean as PowerShell stringifies it: only an explicit False is False."""
    return value is False or str(value).strip().lower() == 'false'


def firewall_effectiveness(state):
    """Why local block rules do not take effect on the host, or None when they do.

    ``state`` is the ``firewall`` return of hostsec.ports.win_port_block:
    ``{profiles: [{Name, Enabled, AllowLocalFirewallRules}], active_profiles:
    [NetworkCategory], expected_rules: [Name] | None, active_rules: [Name],
    errors: [str]}``, the profiles and rules read from the ActiveStore.
    ``expected_rules`` None means "before the change": the rules are not checked.
    Fails closed: a state that could not be read is a reason, not a pass.
    """
    if not isinstance(state, dict):
        return 'the firewall state could not be read (got %r)' % (type(state).__name__,)
    errors = [str(e) for e in state.get('errors') or ()]
    if errors:
        return 'the firewall state could not be read: %s' % '; '.join(errors)
    profiles = {str(p.get('Name')): p for p in state.get('profiles') or () if isinstance(p, dict)}
    if not profiles:
        return 'no firewall profile could be read from the active store'
    active = []
    for category in state.get('active_profiles') or ():
        name = _CATEGORY_PROFILE.get(str(category).lower(), str(category))
        if name not in active:
            active.append(name)
    # No connected network known: every profile may become the active one.
    considered = active or sorted(profiles)
    reasons = []
    for name in considered:
        profile = profiles.get(name)
        if profile is None:
            reasons.append('the active %s profile is missing from the active store' % name)
        elif _gpo_false(profile.get('Enabled')):
            reasons.append('the Windows Firewall is off for the active %s profile' % name)
        elif _gpo_false(profile.get('AllowLocalFirewallRules')):
            reasons.append('Group Policy does not apply local firewall rules in the active %s profile '
                           '(AllowLocalFirewallRules=False); enforce the block through Group Policy' % name)
    expected = state.get('expected_rules')
    if expected is not None:
        missing = sorted(set(expected) - set(state.get('active_rules') or ()))
        if missing:
            reasons.append('rule(s) %s are not in the active store' % ', '.join(missing))
    return '; '.join(reasons) or None
