# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Windows remediation decisions, on listeners normalised from the recorded module fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import windows as gather
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation import windows

FIXTURES = Path(__file__).resolve().parents[2] / 'module_utils' / '_listeners' / 'fixtures' / 'windows'


def normalised(name):
    raw = gather.raw_from_result(json.loads((FIXTURES / name).read_text(encoding='utf-8')))
    return gather.normalize(raw)


def by(result, protocol, address, port):
    [found] = [lst for lst in result['listeners']
               if (lst['protocol'], lst['address'], lst['port']) == (protocol, address, port)]
    return found


@pytest.fixture(scope='module')
def elevated():
    return normalised('server2022_elevated.json')


@pytest.fixture(scope='module')
def limited():
    return normalised('nonelevated.json')


# --- stop_target: the exact service, or none and why -------------------------

def test_service_tag_names_the_service_not_the_first_of_the_svchost(elevated):
    # pid 1880 hosts CryptSvc, Dnscache, LanmanWorkstation, NlaSvc: the old code stopped CryptSvc
    assert windows.stop_target(by(elevated, 'udp', '0.0.0.0', 5353)) == (
        'Dnscache', "the socket's service tag names Dnscache")
    assert windows.stop_target(by(elevated, 'tcp', '0.0.0.0', 135))[0] == 'RpcSs'


def test_shared_svchost_without_a_tag_is_refused(elevated, limited):
    # lsass hosts KeyIso and Netlogon and has no service tag
    unit, reason = windows.stop_target(by(elevated, 'tcp', '0.0.0.0', 49664))
    assert unit is None
    assert reason.startswith('shared service host, exact service unknown')
    assert 'KeyIso, Netlogon' in reason
    # without elevation there are no tags: every shared svchost listener is refused
    for lst in limited['listeners']:
        procs = lst['processes']
        if len(procs) == 1 and len(procs[0]['services']) > 1:
            assert windows.stop_target(lst)[0] is None, lst


def test_no_listener_of_a_shared_host_is_ever_guessed(elevated, limited):
    for result in (elevated, limited):
        for lst in result['listeners']:
            unit, _reason = windows.stop_target(lst)
            if unit is not None and not lst.get('owner_service'):
                [proc] = lst['processes']
                assert proc['services'] == [unit]


def test_exactly_one_hosted_service_is_the_target(elevated):
    unit, reason = windows.stop_target(by(elevated, 'tcp', '0.0.0.0', 49668))  # spoolsv.exe: Spooler
    assert unit == 'Spooler' and 'hosts exactly one service' in reason


def test_processes_that_are_no_service_kernel_and_unknown_owners_are_refused(elevated):
    unit, reason = windows.stop_target(by(elevated, 'tcp', '::', 5000))  # dotnet.exe
    assert unit is None and 'not a Windows service' in reason and 'never killed by PID' in reason
    unit, reason = windows.stop_target(by(elevated, 'tcp', '0.0.0.0', 445))  # System: SMB
    assert unit is None and 'kernel driver' in reason
    # http.sys: System plus the request queue's svchost; stopping one registrant does not close it
    unit, reason = windows.stop_target(by(elevated, 'tcp', '0.0.0.0', 5985))
    assert unit is None and 'URL registrants: svchost.exe (pid 3608)' in reason
    assert windows.stop_target({'processes': [], 'owner_service': None})[0] is None
    two = {'processes': [{'pid': 10, 'name': 'a.exe', 'services': ['A']},
                         {'pid': 11, 'name': 'b.exe', 'services': ['B']}]}
    unit, reason = windows.stop_target(two)
    assert unit is None and 'several processes' in reason


def test_linux_style_listener_without_owner_service_key():
    lst = {'processes': [{'pid': 7, 'name': 'svc.exe', 'services': ['Svc']}]}
    assert windows.stop_target(lst)[0] == 'Svc'


# --- protected services ------------------------------------------------------

@pytest.mark.parametrize('name', ['Dhcp', 'NlaSvc', 'Dnscache', 'MpsSvc', 'BFE', 'RpcSs', 'RpcEptMapper',
                                  'Winmgmt', 'WinRM', 'sshd', 'TermService', 'Schedule'])
def test_default_protected_services(name):
    assert windows.protected_service(name, domain_controller=False).startswith('protected service %s:' % name)
    # case-insensitive, like the service control manager
    assert windows.protected_service(name.upper(), domain_controller=False)


@pytest.mark.parametrize('name', ['LanmanServer', 'NTDS', 'Netlogon', 'Kdc', 'DNS', 'DFSR'])
def test_domain_controller_services_are_protected_on_dcs_and_when_unknown(name):
    assert windows.protected_service(name, domain_controller=True)
    assert windows.protected_service(name, domain_controller=None)
    assert windows.protected_service(name, domain_controller=False) is None


def test_ordinary_services_are_not_protected():
    for name in ('Spooler', 'SSDPSRV', 'W3SVC', None, ''):
        assert windows.protected_service(name, domain_controller=True) is None


def test_every_exact_target_of_the_fixture_is_checked_against_the_protected_list(elevated):
    # what a planner does: target first, then protection; Dnscache and RpcSs are never stopped
    for port, protocol, address in ((5353, 'udp', '0.0.0.0'), (135, 'tcp', '0.0.0.0'), (3389, 'tcp', '0.0.0.0')):
        unit, _reason = windows.stop_target(by(elevated, protocol, address, port))
        assert windows.protected_service(unit, elevated['domain_controller']), unit


# --- protected ports ---------------------------------------------------------

def test_rdp_and_winrm_ports_are_protected_when_listening(elevated):
    specs = windows.protected_ports(elevated['listeners'])
    assert {'port': 3389, 'end': 3389, 'protocol': 'tcp',
            'reason': 'Remote Desktop (3389/tcp) is listening: the human way back into a Windows host'} in specs
    # RDP's UDP transport is TermService's too
    assert [s for s in specs if (s['port'], s['protocol']) == (3389, 'udp')]
    # WinRM behind http.sys (System + the WinRM svchost)
    assert [s for s in specs if (s['port'], s['protocol']) == (5985, 'tcp')]
    assert [s for s in specs if (s['port'], s['protocol']) == (47001, 'tcp')]
    assert specs == sorted(specs, key=lambda s: (s['port'], s['protocol']))
    assert len({(s['port'], s['protocol']) for s in specs}) == len(specs)


def test_rdp_on_a_custom_port_and_no_rdp():
    custom = {'port': 13389, 'protocol': 'tcp', 'owner_service': 'TermService', 'services': ['TermService']}
    assert windows.protected_ports([custom])[0]['port'] == 13389
    assert windows.protected_ports([{'port': 8080, 'protocol': 'tcp', 'services': []}]) == []
    assert windows.protected_ports([]) == []


# --- firewall effectiveness --------------------------------------------------

def state(**over):
    base = {
        'profiles': [{'Name': 'Domain', 'Enabled': 'True', 'AllowLocalFirewallRules': 'NotConfigured'},
                     {'Name': 'Private', 'Enabled': 'True', 'AllowLocalFirewallRules': 'True'},
                     {'Name': 'Public', 'Enabled': 'True', 'AllowLocalFirewallRules': 'True'}],
        'active_profiles': ['DomainAuthenticated'],
        'expected_rules': None,
        'active_rules': [],
        'errors': [],
    }
    base.update(over)
    return base


def test_effective_firewall_is_none():
    assert windows.firewall_effectiveness(state()) is None
    assert windows.firewall_effectiveness(state(expected_rules=['a'], active_rules=['a', 'b'])) is None


def test_gpo_that_ignores_local_rules_in_the_active_profile():
    public = state(active_profiles=['Public'], profiles=[
        {'Name': 'Domain', 'Enabled': 'True', 'AllowLocalFirewallRules': 'True'},
        {'Name': 'Public', 'Enabled': 'True', 'AllowLocalFirewallRules': 'False'}])
    reason = windows.firewall_effectiveness(public)
    assert 'Group Policy does not apply local firewall rules in the active Public profile' in reason
    # the same GPO on a profile that is not active does not matter
    assert windows.firewall_effectiveness(dict(public, active_profiles=['DomainAuthenticated'])) is None


def test_profile_off_and_unknown_active_profile():
    off = state(profiles=[{'Name': 'Domain', 'Enabled': 'False', 'AllowLocalFirewallRules': 'True'}])
    assert windows.firewall_effectiveness(off) == 'the Windows Firewall is off for the active Domain profile'
    # no connected network known: every profile counts
    none_active = state(active_profiles=[], profiles=[
        {'Name': 'Domain', 'Enabled': 'True', 'AllowLocalFirewallRules': 'True'},
        {'Name': 'Public', 'Enabled': False, 'AllowLocalFirewallRules': True}])
    assert 'off for the active Public profile' in windows.firewall_effectiveness(none_active)


def test_rules_missing_from_the_active_store_after_the_change():
    after = state(expected_rules=['hostsec.ports block 23/tcp', 'hostsec.ports block 69/udp'],
                  active_rules=['hostsec.ports block 23/tcp'])
    assert windows.firewall_effectiveness(after) == 'rule(s) hostsec.ports block 69/udp are not in the active store'


@pytest.mark.parametrize('bad, message', [
    (None, 'could not be read'),
    (state(errors=['Get-NetFirewallProfile: Access denied']), 'could not be read: Get-NetFirewallProfile'),
    (state(profiles=[]), 'no firewall profile could be read'),
    (state(active_profiles=['Private'], profiles=[{'Name': 'Domain', 'Enabled': 'True'}]),
     'the active Private profile is missing'),
])
def test_unreadable_state_fails_closed(bad, message):
    assert message in windows.firewall_effectiveness(bad)
