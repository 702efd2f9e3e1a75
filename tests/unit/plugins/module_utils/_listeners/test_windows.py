# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalisation of win_listening_ports_info's raw output, on recorded fixtures.

The fixtures are whole module results as the .ps1 returns them (Ansible.Basic
JSON of the hashtables built in _WinListeners.psm1). The last tests parse the
PowerShell with tree-sitter and check that the keys it emits are exactly
RAW_SCHEMA's, so the fixtures, the schema and the module cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell
import yaml

import ansible_collections.ansible.windows.plugins.modules.win_listen_ports_facts as upstream
from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema, windows

FIXTURES = Path(__file__).parent / 'fixtures' / 'windows'
ROOT = Path(__file__).resolve().parents[5]
PSM1 = ROOT / 'plugins' / 'module_utils' / '_WinListeners.psm1'
PS1 = ROOT / 'plugins' / 'modules' / 'win_listening_ports_info.ps1'


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding='utf-8'))


def raw_of(name):
    return windows.raw_from_result(load(name))


def by(result, protocol, address, port):
    found = [lst for lst in result['listeners']
             if (lst['protocol'], lst['address'], lst['port']) == (protocol, address, port)]
    assert len(found) == 1, (protocol, address, port, found)
    return found[0]


@pytest.fixture(scope='module')
def elevated():
    return windows.normalize(raw_of('server2022_elevated.json'))


@pytest.fixture(scope='module')
def limited():
    return windows.normalize(raw_of('nonelevated.json'))


@pytest.fixture(scope='module')
def fallback():
    return windows.normalize(raw_of('netstat_fallback_de.json'))


@pytest.mark.parametrize('name', sorted(p.name for p in FIXTURES.glob('*.json')))
def test_fixture_fits_raw_schema(name):
    assert windows.check_raw(raw_of(name))


@pytest.mark.parametrize('name', sorted(p.name for p in FIXTURES.glob('*.json')))
def test_result_has_the_linux_gatherer_keys_and_valid_listeners(name):
    result = windows.normalize(raw_of(name))
    # the Linux gatherer's keys, plus two Windows-only flags
    assert set(result) == {'listeners', 'collector', 'attribution_complete', 'privileged', 'unattributed',
                           'netns', 'ephemeral_range', 'platform', 'warnings', 'ansible_facts',
                           'service_attribution_complete', 'domain_controller'}
    assert result['platform'] == 'windows'
    assert result['netns'] is None
    for i, lst in enumerate(result['listeners']):
        schema.validate_listener(lst, 'listeners[%d]' % i)
    assert result['listeners'] == sorted(result['listeners'], key=schema.sort_key)


def test_every_raw_row_becomes_one_listener(elevated):
    raw = raw_of('server2022_elevated.json')
    assert len(elevated['listeners']) == len(raw['tcp']) + len(raw['udp'])
    assert sum(lst['protocol'] == 'udp' for lst in elevated['listeners']) == len(raw['udp'])
    assert all(lst['state'] == ('listen' if lst['protocol'] == 'tcp' else 'unconnected')
               for lst in elevated['listeners'])


def test_ipv4_and_ipv6_wildcards_are_separate_listeners(elevated):
    v4 = by(elevated, 'tcp', '0.0.0.0', 135)
    v6 = by(elevated, 'tcp', '::', 135)
    assert (v4['family'], v4['exposure']) == ('ipv4', 'wildcard')
    assert (v6['family'], v6['exposure']) == ('ipv6', 'wildcard')
    # IPv4 is its own row, so the :: socket must not claim it too.
    assert v6['dual_stack'] is False
    assert v6['v6only'] is None


def test_lone_ipv6_wildcard_is_dual_stack_unknown_and_named_in_a_warning(elevated):
    lone = by(elevated, 'tcp', '::', 5000)
    # never a guessed False: dotnet/Node/Java bind one dual-mode :: socket
    assert lone['dual_stack'] is None and lone['v6only'] is None
    schema.validate_listener(lone)
    [warning] = [w for w in elevated['warnings'] if 'IPV6_V6ONLY' in w]
    assert 'tcp/5000' in warning and 'assume IPv4 exposure' in warning
    # ports with a 0.0.0.0 row are not suspects
    assert 'tcp/135' not in warning and 'udp/500' not in warning


def test_link_local_with_zone(elevated):
    lst = by(elevated, 'tcp', 'fe80::9d2c:4b1e:77a1:5c3e', 9100)
    assert lst['scope'] == '12'
    assert lst['exposure'] == 'link_local'
    assert lst['processes'][0]['name'] == 'node.exe'
    udp = by(elevated, 'udp', 'fe80::9d2c:4b1e:77a1:5c3e', 1900)
    assert udp['scope'] == '12'


def test_loopback_and_specific(elevated):
    assert by(elevated, 'tcp', '127.0.0.1', 8080)['exposure'] == 'loopback'
    assert by(elevated, 'udp', '::1', 1900)['exposure'] == 'loopback'
    assert by(elevated, 'tcp', '192.168.56.10', 139)['exposure'] == 'specific'


def test_shared_svchost_lists_every_hosted_service(elevated):
    rpc = by(elevated, 'tcp', '0.0.0.0', 135)
    assert rpc['services'] == ['RpcEptMapper', 'RpcSs']
    [proc] = rpc['processes']
    assert proc['pid'] == 1012 and proc['name'] == 'svchost.exe'
    assert proc['cmdline'] == 'C:\\Windows\\system32\\svchost.exe -k RPCSS -p'
    assert proc['user'] == 'NT AUTHORITY\\NETWORK SERVICE'
    assert proc['unit'] is None
    dns = by(elevated, 'udp', '0.0.0.0', 5353)
    assert dns['services'] == ['CryptSvc', 'Dnscache', 'LanmanWorkstation', 'NlaSvc']


def test_system_pid_4(elevated):
    smb = by(elevated, 'tcp', '0.0.0.0', 445)
    [proc] = smb['processes']
    assert smb['owner_service'] is None
    assert proc == {'pid': 4, 'name': 'System', 'exe': None, 'cmdline': None, 'user': 'NT AUTHORITY\\SYSTEM',
                    'uid': None, 'start_time': '2024-05-06T07:58:11+02:00', 'unit': None, 'services': []}
    # WinRM over HTTP is served by http.sys inside System; the request queue names the svchost behind it
    winrm = by(elevated, 'tcp', '0.0.0.0', 5985)
    assert [p['pid'] for p in winrm['processes']] == [4, 3608]
    assert winrm['services'] == ['WinRM']
    assert [p['pid'] for p in by(elevated, 'tcp', '::', 47001)['processes']] == [4, 3608]


def test_elevated_run_is_complete_and_names_protected_fields(elevated):
    assert elevated['attribution_complete'] is True
    assert elevated['privileged'] is True
    assert elevated['unattributed'] == 0
    assert elevated['collector'] == 'nettcpip'
    assert elevated['ephemeral_range'] == [49152, 65535]
    [warning] = [w for w in elevated['warnings'] if w.startswith('could not read')]
    assert 'CommandLine for pid(s) 688' in warning and 'protected' in warning
    assert by(elevated, 'tcp', '0.0.0.0', 49664)['processes'][0]['cmdline'] is None


def test_non_elevated_run_says_what_it_could_not_read(limited):
    assert limited['attribution_complete'] is False
    assert limited['privileged'] is False
    [warning] = [w for w in limited['warnings'] if w.startswith('could not read')]
    for field in ('Owner', 'CommandLine', 'ExecutablePath'):
        assert field + ' for pid(s)' in warning
    assert 'not elevated' in warning or 'did not run elevated' in warning
    assert any(w.startswith('not elevated') for w in limited['warnings'])
    # the user's own process is still fully attributed
    [own] = by(limited, 'tcp', '127.0.0.1', 8080)['processes']
    assert own['user'] == 'WIN-7QH4K2\\alice' and own['exe'].endswith('python.exe')
    # names and services still come through without elevation
    assert by(limited, 'tcp', '0.0.0.0', 135)['services'] == ['RpcEptMapper', 'RpcSs']
    assert by(limited, 'tcp', '0.0.0.0', 135)['processes'][0]['user'] is None


def test_netstat_fallback_keeps_only_listeners_whatever_the_language(fallback):
    raw = raw_of('netstat_fallback_de.json')
    assert fallback['collector'] == 'netstat'
    assert any('collector netstat' in w for w in fallback['warnings'])
    tcp = [lst for lst in fallback['listeners'] if lst['protocol'] == 'tcp']
    udp = [lst for lst in fallback['listeners'] if lst['protocol'] == 'udp']
    assert len(tcp) == sum('ABHÖREN' in line for line in raw['netstat'])
    assert len(udp) == sum(line.split()[:1] == ['UDP'] for line in raw['netstat'])
    ports = {lst['port'] for lst in tcp}
    assert 49170 not in ports  # TIME_WAIT ("WARTEND")
    assert not [lst for lst in tcp if lst['address'] == '10.0.2.15' and lst['port'] == 5985]  # ESTABLISHED
    java = by(fallback, 'tcp', 'fe80::5efe:a00:20f', 9100)
    assert java['scope'] == '11' and java['processes'][0]['name'] == 'java.exe'
    assert by(fallback, 'tcp', '0.0.0.0', 135)['services'] == ['RpcEptMapper', 'RpcSs']
    assert fallback['ephemeral_range'] == [49152, 65535]
    assert fallback['attribution_complete'] is True


def test_parse_netstat_english_rows():
    tcp, udp = windows.parse_netstat([
        '  Proto  Local Address          Foreign Address        State           PID',
        '  TCP    0.0.0.0:22             0.0.0.0:0              LISTENING       3312',
        '  TCP    [::1]:5432             [::]:0                 LISTENING       2210',
        '  TCP    10.1.2.3:22            10.1.2.9:51111         ESTABLISHED     3312',
        '  UDP    [fe80::1%7]:546        *:*                                    1200',
        '  UDP    0.0.0.0:0              *:*                                    900',
        'garbage line',
    ])
    assert tcp == [{'LocalAddress': '0.0.0.0', 'LocalPort': 22, 'OwningProcess': 3312},
                   {'LocalAddress': '::1', 'LocalPort': 5432, 'OwningProcess': 2210}]
    assert udp == [{'LocalAddress': 'fe80::1%7', 'LocalPort': 546, 'OwningProcess': 1200},
                   {'LocalAddress': '0.0.0.0', 'LocalPort': 0, 'OwningProcess': 900}]


def test_dynamic_port_range_sources():
    raw = raw_of('server2022_elevated.json')
    raw['udp_dynamic_port_range'] = None
    raw['dynamic_port_range'] = {'StartPort': 10000, 'NumberOfPorts': 1000}
    assert windows.ephemeral_range(raw) == ([10000, 10999], None)
    raw['dynamic_port_range'] = None
    raw['netsh_dynamicport'] = ['', 'Protocol tcp Dynamic Port Range', '-----', 'Start Port      : 1025',
                                'Number of Ports : 3976', '']
    assert windows.ephemeral_range(raw) == ([1025, 5000], None)
    raw['netsh_dynamicport'] = None
    span, note = windows.ephemeral_range(raw)
    assert span == [49152, 65535] and '49152-65535' in note
    result = windows.normalize(raw)
    assert result['ephemeral_range'] == [49152, 65535]
    assert note in result['warnings']


def test_udp_dynamic_port_range_is_read_and_wins():
    raw = raw_of('server2022_elevated.json')
    raw['udp_dynamic_port_range'] = None
    raw['netsh_dynamicport_udp'] = ['Protocol udp Dynamic Port Range', '-----', 'Start Port      : 10000',
                                    'Number of Ports : 5000']
    span, note = windows.ephemeral_range(raw)
    assert span == [10000, 14999]
    assert 'TCP 49152-65535, UDP 10000-14999' in note
    assert note in windows.normalize(raw)['warnings']


# --- fail closed: a failed or empty socket read never passes ----------------

def test_cim_failure_fell_back_to_netstat_and_says_why():
    raw = raw_of('netstat_fallback_de.json')
    raw['fallback_reason'] = 'Get-NetTCPConnection failed (Invalid class)'
    result = windows.normalize(raw)
    assert result['collector'] == 'netstat' and result['listeners']
    assert any('Get-NetTCPConnection failed (Invalid class), so sockets were read from netstat' in w
               for w in result['warnings'])


@pytest.mark.parametrize('name', ['server2022_elevated.json', 'netstat_fallback_de.json'])
def test_failed_socket_read_is_never_a_complete_empty_host(name):
    raw = raw_of(name)
    raw['tcp'], raw['udp'] = [], []
    raw['socket_errors'] = ['Get-NetTCPConnection: Invalid class', 'netstat.exe -anob: exit code 1']
    with pytest.raises(windows.GatherError, match='could not be read .*Invalid class; netstat.exe'):
        windows.normalize(raw)


def test_empty_socket_table_is_a_failed_read_not_a_passing_host():
    raw = raw_of('server2022_elevated.json')
    raw['tcp'], raw['udp'] = [], []
    with pytest.raises(windows.GatherError, match='no listening TCP socket was seen'):
        windows.normalize(raw)
    raw = raw_of('netstat_fallback_de.json')
    raw['netstat'] = ['Aktive Verbindungen', '']
    with pytest.raises(windows.GatherError, match='collector netstat'):
        windows.normalize(raw)


# --- exact owning service ----------------------------------------------------

def test_service_tag_names_the_exact_service_of_a_shared_svchost(elevated):
    # 1880 hosts CryptSvc, Dnscache, LanmanWorkstation, NlaSvc: mDNS/LLMNR are Dnscache's
    for port in (5353, 5355):
        for address in ('0.0.0.0', '::'):
            assert by(elevated, 'udp', address, port)['owner_service'] == 'Dnscache'
    assert by(elevated, 'tcp', '0.0.0.0', 135)['owner_service'] == 'RpcSs'
    assert by(elevated, 'tcp', '0.0.0.0', 3389)['owner_service'] == 'TermService'
    # lsass (KeyIso, Netlogon) has no service tag: unknown, never guessed
    assert by(elevated, 'tcp', '0.0.0.0', 49664)['owner_service'] is None
    # a process that is no service has none either
    assert by(elevated, 'tcp', '::', 5000)['owner_service'] is None
    assert elevated['service_attribution_complete'] is False
    [warning] = [w for w in elevated['warnings'] if w.startswith('exact service unknown')]
    assert 'tcp/49664 (pid 688: KeyIso, Netlogon)' in warning and 'never planned' in warning
    assert 'udp/5353' not in warning


def test_service_tag_must_be_a_service_the_process_hosts():
    tags = windows.parse_netstat_owner([
        '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1012',
        '  Spooler',
        ' [svchost.exe]',
    ])
    assert tags == {('tcp', '0.0.0.0', 135, 1012): ['Spooler']}
    raw = raw_of('server2022_elevated.json')
    raw['netstat_owner'] = ['  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1012',
                            '  Spooler', ' [svchost.exe]']
    result = windows.normalize(raw)
    assert by(result, 'tcp', '0.0.0.0', 135)['owner_service'] is None


def test_parse_netstat_owner_reads_listeners_only_and_ignores_messages():
    tags = windows.parse_netstat_owner([
        '  TCP    0.0.0.0:445            0.0.0.0:0              LISTENING       4',
        ' Can not obtain ownership information',
        '  TCP    10.0.0.5:50000         10.0.0.9:443           ESTABLISHED     1880',
        '  Dnscache',
        ' [svchost.exe]',
        '  UDP    [fe80::1%7]:5353       *:*                                    1880',
        '  dnscache',
        ' [svchost.exe]',
    ])
    assert tags == {('tcp', '0.0.0.0', 445, 4): [], ('udp', 'fe80::1%7', 5353, 1880): ['dnscache']}


def test_non_elevated_has_no_service_tags(limited):
    assert by(limited, 'udp', '0.0.0.0', 5353)['owner_service'] is None
    assert limited['service_attribution_complete'] is False
    assert any('netstat -anob was not read: it needs elevation' in w for w in limited['warnings'])


def test_http_sys_request_queues():
    queues = windows.parse_http_requestq([
        'Snapshot of HTTP service state (Request Queue View):',
        '-----',
        'Request queue name: DefaultAppPool',
        '    Controller process ID: 2952',
        '    Processes:',
        '        ID: 4120, image: c:\\windows\\system32\\inetsrv\\w3wp.exe',
        '',
        '    Registered URLs:',
        '        HTTP://*:80/',
        '        HTTPS://[::1]:8443/APP/',
        'Request queue name: Request queue is unnamed.',
        '    Processes:',
        '        ID: 3608, image: C:\\Windows\\System32\\svchost.exe',
        '    Registered URLs:',
        '        HTTP://+:5985/WSMAN/',
        'Request queue name: idle',
        '    Registered URLs:',
        '        HTTP://+:8080/',
    ])
    # the controller process is not the registrant; a queue with no process names nobody
    assert queues == {80: [4120], 8443: [4120], 5985: [3608]}


def test_domain_controller_flag():
    raw = raw_of('server2022_elevated.json')
    assert windows.normalize(raw)['domain_controller'] is False
    raw['domain_role'] = 5
    assert windows.normalize(raw)['domain_controller'] is True
    raw['domain_role'] = None
    assert windows.normalize(raw)['domain_controller'] is None


def test_owner_gone_is_unattributed_not_dropped():
    raw = raw_of('server2022_elevated.json')
    raw['tcp'].append({'LocalAddress': '0.0.0.0', 'LocalPort': 7777, 'OwningProcess': 9999})
    result = windows.normalize(raw)
    lst = by(result, 'tcp', '0.0.0.0', 7777)
    assert lst['processes'] == [] and lst['services'] == []
    assert result['unattributed'] == 1
    assert result['attribution_complete'] is False
    assert any('1 listener(s) have no owning process' in w for w in result['warnings'])
    assert result['ansible_facts']['tcp_listen'][-1] == {
        'address': '0.0.0.0', 'name': None, 'pid': 9999, 'port': 7777, 'protocol': 'tcp', 'stime': None, 'user': None}


def test_kernel_owner_known_without_win32_process():
    raw = raw_of('server2022_elevated.json')
    raw['processes'] = []
    raw['unreadable'] = ['Name']
    raw['errors'] = ['Win32_Process: Access denied']
    result = windows.normalize(raw)
    assert by(result, 'tcp', '0.0.0.0', 445)['processes'][0]['name'] == 'System'
    assert by(result, 'tcp', '0.0.0.0', 135)['processes'] == []
    assert result['attribution_complete'] is False
    assert 'Win32_Process: Access denied (collector nettcpip)' in result['warnings']


def test_compat_facts_match_win_listen_ports_facts(elevated):
    documented = yaml.safe_load(upstream.RETURN)
    raw = raw_of('server2022_elevated.json')
    facts = elevated['ansible_facts']
    assert set(facts) == set(documented)
    for key in ('tcp_listen', 'udp_listen'):
        sample = documented[key]['sample'][0]
        assert len(facts[key]) == len(raw[key[:3]])
        for row, ep in zip(facts[key], raw[key[:3]]):
            assert set(row) == set(sample)
            # same order and values as Windows listed the sockets
            assert (row['address'], row['port'], row['pid']) == (
                ep['LocalAddress'], ep['LocalPort'], ep['OwningProcess'])
            assert row['protocol'] == key[:3]
            for field in ('name', 'stime', 'user'):
                assert row[field] is None or isinstance(row[field], str)
    tcp = facts['tcp_listen']
    assert tcp[0] == {'address': '::', 'name': 'services.exe', 'pid': 672, 'port': 49669, 'protocol': 'tcp',
                      'stime': 'Mon May 06 07:58:19 2024', 'user': 'NT AUTHORITY\\SYSTEM'}
    # that module keeps the zone in the address and gets no owner for System
    assert {'address': 'fe80::9d2c:4b1e:77a1:5c3e%12', 'port': 9100} == {
        k: v for k, v in tcp[12].items() if k in ('address', 'port')}
    [smb] = [r for r in tcp if r['port'] == 445 and r['address'] == '0.0.0.0']
    assert smb['user'] is None and smb['name'] == 'System'


def test_compat_stime_is_uformat_c():
    assert windows.compat_stime('2021-11-18T15:27:42+01:00') == 'Thu Nov 18 15:27:42 2021'
    assert windows.compat_stime('2024-02-29T00:00:05-05:00') == 'Thu Feb 29 00:00:05 2024'
    assert windows.compat_stime(None) is None


@pytest.mark.parametrize('mutate, message', [
    (lambda r: r['tcp'][0].__setitem__('LocalPort', '135'), "raw.tcp[0].LocalPort: expected int, got '135'"),
    (lambda r: r['tcp'][0].__setitem__('OwningProcess', True), 'raw.tcp[0].OwningProcess: expected int, got True'),
    (lambda r: r['udp'][1].pop('LocalAddress'), 'raw.udp[1]: missing field(s) LocalAddress'),
    (lambda r: r['processes'][0].__setitem__('Sid', 'S-1-5-18'), 'raw.processes[0]: unknown field(s) Sid'),
    (lambda r: r.__setitem__('collector', 'ss'), "raw.collector: unknown value 'ss'"),
    (lambda r: r.__setitem__('elevated', None), 'raw.elevated: must not be null'),
    (lambda r: r.__setitem__('unreadable', ['Password']), "raw.unreadable[0]: unknown value 'Password'"),
    (lambda r: r.__setitem__('services', {}), 'raw.services: expected a list'),
    (lambda r: r.pop('errors'), 'raw: missing field(s) errors'),
    (lambda r: r['tcp'][0].__setitem__('LocalAddress', 'localhost'), "raw.tcp: address: 'localhost' is not an IP"),
    (lambda r: r['tcp'][0].__setitem__('LocalPort', 70000), 'raw.tcp: port: 70000 is outside 0-65535'),
])
def test_bad_raw_names_field_and_value(mutate, message):
    raw = copy.deepcopy(raw_of('server2022_elevated.json'))
    mutate(raw)
    with pytest.raises(schema.SchemaError) as err:
        windows.normalize(raw)
    assert message in str(err.value)


def test_raw_from_result_accepts_result_or_raw_and_rejects_others():
    result = load('nonelevated.json')
    assert windows.raw_from_result(result) is result['raw']
    assert windows.raw_from_result(result['raw']) is result['raw']
    with pytest.raises(schema.SchemaError, match='raw: expected the result of hostsec.ports.win_listening_ports_info'):
        windows.raw_from_result(['not', 'a', 'result'])


def test_netstat_collector_needs_lines():
    raw = raw_of('netstat_fallback_de.json')
    raw['netstat'] = None
    with pytest.raises(schema.SchemaError, match='raw.netstat: must be a list of lines'):
        windows.normalize(raw)


# --- the PowerShell emits exactly RAW_SCHEMA -------------------------------

def _tree(path):
    source = path.read_bytes()
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(source)
    assert not tree.root_node.has_error, path
    return tree.root_node, source


def _nodes(node, kind):
    stack = [node]
    while stack:
        node = stack.pop()
        if node.type == kind:
            yield node
        stack.extend(node.children)


def _text(node, source):
    return source[node.start_byte:node.end_byte].decode('utf-8')


def _functions(root, source):
    found = {}
    for fn in _nodes(root, 'function_statement'):
        [name] = [c for c in fn.children if c.type == 'function_name']
        found[_text(name, source)] = fn
    return found


def _hash_keys(fn, source):
    return {_text(key, source) for key in _nodes(fn, 'key_expression')}


@pytest.fixture(scope='module')
def psm1():
    root, source = _tree(PSM1)
    return root, source, _functions(root, source)


@pytest.mark.parametrize('function, fields', [
    ('New-HostsecRawResult', windows.RAW_SCHEMA),
    ('ConvertTo-HostsecEndpoint', windows.ENDPOINT_SCHEMA),
    ('ConvertTo-HostsecProcess', windows.PROCESS_SCHEMA),
    ('ConvertTo-HostsecService', windows.SERVICE_SCHEMA),
    ('ConvertTo-HostsecPortRange', windows.PORT_RANGE_SCHEMA),
])
def test_powershell_record_keys_are_the_schema(psm1, function, fields):
    _root, source, functions = psm1
    assert _hash_keys(functions[function], source) == set(fields)


def test_powershell_writes_only_schema_keys_into_raw(psm1):
    root, source, _functions_ = psm1
    written = set()
    for access in _nodes(root, 'member_access'):
        parts = [c for c in access.children if c.type in ('variable', 'member_name')]
        if len(parts) == 2 and _text(parts[0], source).lower() == '$raw':
            written.add(_text(parts[1], source))
    assert written, 'no $Raw.<key> found: the test no longer sees the module code'
    assert written <= set(windows.RAW_SCHEMA), written - set(windows.RAW_SCHEMA)
    # every key filled after creation is a key of the raw result
    assert {'tcp', 'udp', 'netstat', 'processes', 'services', 'unreadable', 'errors',
            'dynamic_port_range', 'netsh_dynamicport', 'collector'} <= written


def test_powershell_unreadable_names_are_schema_fields():
    text = PSM1.read_text(encoding='utf-8')
    added = set(re.findall(r"(?i)\$(?:raw\.)?unreadable\.Add\('(\w+)'\)", text))
    assert added == set(windows.UNREADABLE_FIELDS)


def test_powershell_reads_the_cim_properties_it_emits():
    text = PSM1.read_text(encoding='utf-8')
    for cls, fields in (('Win32_Process', set(windows.PROCESS_SCHEMA) - {'Owner'}),
                        ('Win32_Service', set(windows.SERVICE_SCHEMA))):
        [props] = re.findall(r"-ClassName %s -Property ([^-]+?) -ErrorAction" % cls, text)
        assert fields <= set(re.findall(r"'(\w+)'", props)), cls


def test_module_returns_raw_from_the_module_util():
    root, source = _tree(PS1)
    text = source.decode('utf-8')
    assert '#AnsibleRequires -PowerShell ..module_utils._WinListeners' in text
    assigned = [_text(a, source) for a in _nodes(root, 'assignment_expression')]
    assert any(a.startswith('$module.Result.raw = Get-HostsecListenerRaw') for a in assigned), assigned


def test_pester_and_integration_tests_expect_the_same_raw_keys():
    pester = (ROOT / 'tests' / 'windows' / 'win_listening_ports_info.Tests.ps1').read_text(encoding='utf-8')
    block = re.search(r'\$script:RawKeys = @\((.*?)\)', pester, re.S).group(1)
    assert re.findall(r"'(\w+)'", block) == list(windows.RAW_SCHEMA)
    target = yaml.safe_load((ROOT / 'tests' / 'integration' / 'targets' / 'win_listening_ports_info' / 'tasks'
                             / 'main.yml').read_text())
    [keys] = [t['vars']['raw_keys'] for t in target[1]['block'] if 'raw_keys' in t.get('vars', {})]
    assert sorted(keys) == sorted(windows.RAW_SCHEMA)
