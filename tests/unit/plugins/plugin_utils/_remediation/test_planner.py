# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The remediation planner: exactly one status per finding, and the plan every consumer reads."""

from __future__ import annotations

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import make_finding
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation import protect
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation.planner import PlanError, STATUSES, plan


def proc(pid, name, unit=None, services=None):
    return make_process(pid, name, exe='/usr/sbin/' + name, cmdline=name, user='root', uid=0, unit=unit,
                        services=services)


def lst(port, *procs, proto='tcp', address='0.0.0.0'):
    family = 'ipv6' if ':' in address else 'ipv4'
    return make_listener(proto, family, address, port, processes=list(procs))


def finding(listener, action='block', kind='unexpected', reason='no allow rule matches'):
    return make_finding(kind, 'high', ['x'], listener, action=action, action_reason=reason,
                        missing_key=None if listener else 'require|0|x')


def statuses(findings):
    return {(f['listener'] or {}).get('port'): f['remediation']['status'] for f in findings}


def test_every_finding_gets_exactly_one_known_status():
    listeners = [lst(23, proc(10, 'inetd', unit='inetd.service')), lst(8080, proc(11, 'java')),
                 lst(22, proc(12, 'sshd', unit='ssh.service'))]
    findings = [finding(listeners[0]), finding(listeners[1], action='stop'), finding(listeners[2]),
                finding(None, action='none', kind='missing')]
    protected = protect.management_path('ssh')
    result, out = plan(findings, listeners, mode='enforce', protected=protected, backend='nftables')
    for f in out:
        assert f['remediation']['status'] in STATUSES
        assert set(f['remediation']) == {'status', 'action', 'unit', 'reason'}
        assert result['entries'][f['id']] is f['remediation']
    assert statuses(out) == {23: 'block', 8080: 'not remediated', 22: 'protected', None: 'reported'}
    assert result['block'] == [{'port': 23, 'protocol': 'tcp', 'finding_ids': [findings[0]['id']]}]
    assert result['stop'] == []
    assert 'never killed by PID' in out[1]['remediation']['reason']
    assert 'management path: default port of the ssh connection' in out[2]['remediation']['reason']
    assert out[2]['protected'] is True and out[0]['protected'] is False
    # The input is left alone: the planner is pure.
    assert findings[0]['remediation'] == {'action': 'block', 'unit': None, 'reason': 'no allow rule matches'}


def test_protected_specs_keep_their_protocol():
    # 53/udp protected does not protect 53/tcp: the protocol is data, not lost in a string.
    protected = protect.user_specs(['53/udp'])
    assert protected == [{'port': 53, 'end': 53, 'protocol': 'udp', 'reason': 'listed in protect'}]
    tcp, udp = lst(53, proc(5, 'named')), lst(53, proc(5, 'named'), proto='udp')
    _plan, out = plan([finding(tcp), finding(udp)], [tcp, udp], mode='enforce', protected=protected)
    assert [f['remediation']['status'] for f in out] == ['block', 'protected']
    # A spec without protocol covers both, and a range covers its inside.
    protected = protect.user_specs(['8000-8100'])
    assert protected == [{'port': 8000, 'end': 8100, 'protocol': None, 'reason': 'listed in protect'}]
    assert protect.covering(protected, 8050, 'udp') and not protect.covering(protected, 8101, 'tcp')


def test_bad_protect_spec_names_field_and_value():
    with pytest.raises(protect.ProtectError, match=r'protect\[1\].*70000'):
        protect.user_specs(['22', '70000'])
    with pytest.raises(protect.ProtectError, match='SSH_CONNECTION'):
        protect.management_path('ssh', ssh_connection='10.0.0.1 5000 10.0.0.2 ssh')


def test_management_path_sources():
    assert protect.management_path('ssh', ansible_port=2222) == [
        {'port': 2222, 'end': 2222, 'protocol': 'tcp', 'reason': 'management path: ansible_port of the ssh connection'}]
    winrm = protect.management_path('winrm', windows=True)
    assert winrm == [{'port': 5985, 'end': 5986, 'protocol': 'tcp',
                      'reason': 'management path: WinRM over HTTP and HTTPS (winrm connection)'}]
    nat = protect.management_path('ssh', ansible_port=40022, ssh_connection='192.0.2.1 50000 198.51.100.2 22')
    assert [(r['port'], r['reason']) for r in nat] == [
        (40022, 'management path: ansible_port of the ssh connection'),
        (22, 'management path: server port of the current SSH_CONNECTION')]
    assert protect.management_path('local') == [] and protect.management_path('containers.podman.podman') == []


def test_stop_targets_socket_unit_of_pid1_and_refuses_user_units():
    pid1 = proc(1, 'systemd', unit='init.scope', services=['init.scope', 'cups.socket'])
    cupsd = proc(50, 'cupsd', unit='cups.service')
    activated = lst(631, pid1, cupsd)
    user_unit = lst(7000, proc(60, 'app', services=['app.service (user@1000)']))
    scope = lst(7001, proc(61, 'x', unit='session-3.scope'))
    result, out = plan([finding(activated, 'stop'), finding(user_unit, 'stop'), finding(scope, 'stop')],
                       [activated, user_unit, scope], mode='enforce')
    assert out[0]['remediation']['status'] == 'stop' and out[0]['remediation']['unit'] == 'cups.socket'
    assert [f['remediation']['status'] for f in out[1:]] == ['not remediated', 'not remediated']
    assert result['stop'] == [{'unit': 'cups.socket', 'mask': False, 'finding_ids': [out[0]['id']]}]


def test_protected_units_and_owners_of_protected_ports_are_never_stopped():
    sshd = lst(22, proc(12, 'sshd', unit='ssh.service'))
    sshd_extra = lst(2200, proc(12, 'sshd', unit='ssh.service'))
    resolved = lst(5355, proc(13, 'systemd-resolve', unit='systemd-resolved.service'))
    protected = protect.user_specs(['22/tcp'])
    result, out = plan([finding(sshd_extra, 'stop'), finding(resolved, 'stop')], [sshd, sshd_extra, resolved],
                       mode='enforce', protected=protected, protect_units=['systemd-resolved.service'])
    assert [f['remediation']['status'] for f in out] == ['protected', 'protected']
    assert 'owns 22/tcp, which is protected' in out[0]['remediation']['reason']
    assert 'listed in protect_units' in out[1]['remediation']['reason']
    assert result['stop'] == []


def test_stop_refused_when_the_unit_also_serves_allowed_listeners():
    web = proc(20, 'nginx', unit='nginx.service')
    allowed, extra = lst(443, web), lst(8443, web)
    _plan, out = plan([finding(extra, 'stop')], [allowed, extra], mode='enforce')
    assert out[0]['remediation']['status'] == 'not remediated'
    assert 'also serves allowed listener(s) 443/tcp' in out[0]['remediation']['reason']


def test_container_forwarder_is_not_blocked_in_vain():
    published = lst(8080, proc(77, 'docker-proxy', unit='docker.service'))
    plain = lst(8081, proc(78, 'python3', unit='web.service'))
    result, out = plan([finding(published), finding(plain)], [published, plain], mode='enforce')
    assert statuses(out) == {8080: 'not remediated', 8081: 'block'}
    assert 'docker-proxy publishes this port' in out[0]['remediation']['reason']
    assert [b['port'] for b in result['block']] == [8081]


def test_a_user_process_named_like_a_forwarder_is_blocked():
    # Any user can call a process docker-proxy; only root's forwarders publish DNAT'd container ports.
    fake = make_process(80, 'docker-proxy', exe='/home/mallory/docker-proxy', cmdline='docker-proxy', user='mallory',
                        uid=1000)
    impostor = lst(8082, fake)
    # A setuid-root program started through a link of that name: effective uid 0, another executable.
    setuid = lst(8083, make_process(81, 'docker-proxy', exe='/usr/bin/su', cmdline='docker-proxy', user='root', uid=0))
    result, out = plan([finding(impostor), finding(setuid)], [impostor, setuid], mode='enforce')
    assert statuses(out) == {8082: 'block', 8083: 'block'}
    assert [b['port'] for b in result['block']] == [8082, 8083]


def test_rootless_podman_port_is_blocked_like_any_host_listener():
    # rootlessport accepts on its own host socket (no DNAT rule): the host's input filter reaches it.
    rootless = lst(18090, proc(79, 'rootlessport', unit='user@1000.service'))
    result, out = plan([finding(rootless)], [rootless], mode='enforce')
    assert statuses(out) == {18090: 'block'}
    assert [b['port'] for b in result['block']] == [18090]


def test_actions_not_allowed_and_action_none():
    a, b = lst(9000, proc(1, 'x', unit='x.service')), lst(9001)
    _plan, out = plan([finding(a, 'stop'), finding(b, 'none', reason='wrong owner')], [a, b], mode='enforce',
                      actions=['block'])
    assert out[0]['remediation']['status'] == 'not remediated'
    assert out[0]['remediation']['reason'] == 'the policy asks to stop, but the allowed actions are block'
    assert out[1]['remediation'] == {'status': 'reported', 'action': 'none', 'unit': None,
                                     'reason': 'wrong owner; the policy asks for no remediation'}


def test_report_mode_plans_what_enforce_would_do():
    a = lst(23, proc(10, 'inetd', unit='inetd.service'))
    result, out = plan([finding(a)], [a], mode='report', backend=None)
    assert result['mode'] == 'report' and out[0]['remediation']['status'] == 'block'
    assert result['block'][0]['port'] == 23


def test_one_block_entry_per_port_and_protocol():
    v4, v6 = lst(23, address='0.0.0.0'), lst(23, address='::')
    f4, f6 = finding(v4), finding(v6, kind='denied')
    result, _out = plan([f4, f6], [v4, v6], mode='enforce')
    assert result['block'] == [{'port': 23, 'protocol': 'tcp', 'finding_ids': sorted([f4['id'], f6['id']])}]


@pytest.mark.parametrize('kwargs, match', [
    ({'mode': 'enforced'}, "mode: 'enforced'"),
    ({'platform': 'bsd'}, "platform: 'bsd'"),
    ({'actions': ['kill']}, "actions: 'kill'"),
])
def test_bad_planner_input_names_the_field(kwargs, match):
    with pytest.raises(PlanError, match=match):
        plan([], [], **kwargs)


# Windows: the planner decides with the Windows rules (plugins/plugin_utils/_remediation/windows.py).

def win_lst(port, *procs, proto='tcp', owner_service=None):
    record = lst(port, *procs, proto=proto)
    record['owner_service'] = owner_service
    return record


def test_windows_shared_svchost_without_exact_service_is_never_stopped():
    # Dnscache and CryptSvc share one svchost: stopping "the first" would hit the wrong service.
    shared = proc(1240, 'svchost.exe', services=['CryptSvc', 'Dnscache', 'NlaSvc'])
    llmnr = win_lst(5355, shared, proto='udp')
    result, out = plan([finding(llmnr, 'stop')], [llmnr], platform='windows', mode='enforce')
    assert out[0]['remediation']['status'] == 'not remediated'
    assert 'shared service host, exact service unknown' in out[0]['remediation']['reason']
    assert result['stop'] == []


def test_windows_exact_service_is_stopped_and_protected_services_never_are():
    shared = proc(900, 'svchost.exe', services=['Dnscache', 'upnphost'])
    upnp = win_lst(2869, shared, owner_service='upnphost')
    dns = win_lst(5353, shared, proto='udp', owner_service='Dnscache')
    lone = win_lst(8080, proc(901, 'app.exe', services=['AppSvc']))
    result, out = plan([finding(upnp, 'stop'), finding(dns, 'stop'), finding(lone, 'stop')], [upnp, dns, lone],
                       platform='windows', mode='enforce', backend='windows_firewall')
    assert [(f['remediation']['status'], f['remediation']['unit']) for f in out] == [
        ('stop', 'upnphost'), ('protected', 'Dnscache'), ('stop', 'AppSvc')]
    assert [s['unit'] for s in result['stop']] == ['AppSvc', 'upnphost']
    # Case does not matter for Windows service names, in protect_units either.
    _plan, out = plan([finding(lone, 'stop')], [lone], platform='windows', mode='enforce', protect_units=['appsvc'])
    assert out[0]['remediation']['status'] == 'protected'


def test_windows_rdp_listening_is_protected_and_never_blocked():
    rdp = win_lst(3389, proc(1100, 'svchost.exe', services=['TermService']), owner_service='TermService')
    result, out = plan([finding(rdp)], [rdp], platform='windows', mode='enforce')
    assert out[0]['remediation']['status'] == 'protected'
    assert result['block'] == [] and any(p['port'] == 3389 for p in result['protected'])


def test_windows_kernel_owned_socket_is_not_stopped():
    http = win_lst(80, proc(4, 'System'))
    _plan, out = plan([finding(http, 'stop')], [http], platform='windows', mode='enforce')
    assert out[0]['remediation']['status'] == 'not remediated'
    assert 'kernel driver' in out[0]['remediation']['reason']


def test_a_malformed_given_ssh_connection_is_bad_input():
    with pytest.raises(protect.ProtectError, match='is not "client_ip client_port server_ip server_port"'):
        protect.management_path('ssh', ssh_connection='banner text 192.0.2.1 5000 192.0.2.2 2222')


def test_discovered_ssh_connections_keep_every_good_port_and_warn_on_the_rest():
    records, warnings, used = protect.session_ports([
        ('Welcome to host\n10.0.0.1 5000 10.0.0.2 2222', 'a command without become'),  # login banner first
        ('10.0.0.1 1 10.0.0.2 22', 'gathered facts (ansible_env)'),  # stale facts keep their port too
        ('192.0.2.1 5000 192.0.2.2', 'gatherer: environment'),
        ('1.2.3.4 1 5.6.7.8 99999', 'gatherer: environment of parent process 9')])
    assert [r['port'] for r in records] == [2222, 22]
    assert used == ['a command without become', 'gathered facts (ansible_env)']
    assert len(warnings) == 2 and all('only ansible_port (or 22) is protected' in w for w in warnings)


def test_listeners_in_containers_are_never_planned_for_the_host_firewall_or_units():
    web = lst(8080, proc(900, 'nginx', unit='libpod-abc.scope'))
    web.update(netns=4026532300, container={'runtime': 'podman', 'id': 'a' * 64, 'name': 'web', 'image': 'nginx',
                                            'pod': None})
    host = lst(8080, proc(901, 'java', unit='app.service'))
    found = [finding(web), finding(web, action='stop'), finding(host), finding(web, action='none')]
    result, out = plan(found, [web, host], mode='enforce')
    assert [f['remediation']['status'] for f in out] == ['not remediated', 'not remediated', 'block', 'reported']
    assert 'inside podman web, another network namespace' in out[0]['remediation']['reason']
    assert result['block'] == [{'port': 8080, 'protocol': 'tcp', 'finding_ids': [out[2]['id']]}]
    assert result['stop'] == []
    # The same socket in a container and on the host are two findings with two ids.
    assert out[0]['id'] != out[2]['id']


def test_no_block_of_a_port_an_allowed_listener_also_holds():
    # A block drops the port on every address and family: anyone's [::]:8080 must not take root's nginx down.
    nginx = lst(8080, proc(30, 'nginx', unit='nginx.service'))
    other = lst(8080, make_process(31, 'python3', exe='/usr/bin/python3', cmdline='python3', user='mallory', uid=1000),
                address='::')
    result, out = plan([finding(other)], [nginx, other], mode='enforce')
    assert out[0]['remediation']['status'] == 'not remediated' and result['block'] == []
    assert 'also serves allowed listener(s) 0.0.0.0:8080/tcp (nginx)' in out[0]['remediation']['reason']


def test_a_job_runner_unit_is_never_stopped():
    # A user's cron or at job stays in cron's or atd's cgroup: its listener names a unit the user did not make.
    for unit in ('cron.service', 'atd.service'):
        job = lst(9100, make_process(40, 'xmrig', exe='/tmp/xmrig', cmdline='xmrig', user='mallory', uid=1000,
                                     unit=unit, services=[unit]))
        result, out = plan([finding(job, 'stop')], [job], mode='enforce')
        assert out[0]['remediation']['status'] == 'protected' and result['stop'] == []
        assert "runs other users' jobs" in out[0]['remediation']['reason']
