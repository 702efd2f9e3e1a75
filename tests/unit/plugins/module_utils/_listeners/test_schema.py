# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import time

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import schema


@pytest.mark.parametrize('address, family, exposure', [
    ('0.0.0.0', 'ipv4', 'wildcard'),
    ('::', 'ipv6', 'wildcard'),
    ('127.0.0.1', 'ipv4', 'loopback'),
    ('127.0.0.53', 'ipv4', 'loopback'),
    ('::1', 'ipv6', 'loopback'),
    ('::ffff:127.0.0.1', 'ipv6', 'loopback'),
    ('::ffff:0.0.0.0', 'ipv6', 'wildcard'),
    ('::ffff:192.0.2.7', 'ipv6', 'specific'),
    ('fe80::1', 'ipv6', 'link_local'),
    ('169.254.1.1', 'ipv4', 'link_local'),
    ('192.0.2.10', 'ipv4', 'specific'),
    ('2001:db8::5', 'ipv6', 'specific'),
])
def test_classify(address, family, exposure):
    assert schema.classify(address, family) == exposure
    assert schema.classify(address, family) == exposure  # cached answer is the same


def test_split_scope():
    assert schema.split_scope('fe80::1%eth0') == ('fe80::1', 'eth0')
    assert schema.split_scope('[fe80::1%eth0]') == ('fe80::1', 'eth0')
    assert schema.split_scope(' 127.0.0.1 ') == ('127.0.0.1', None)
    assert schema.split_scope('fe80::1%') == ('fe80::1', None)


def test_make_listener_scoped_and_dual_stack():
    lst = schema.make_listener('tcp', 'ipv6', 'fe80::1%eth0', 8080, v6only=True)
    assert (lst['address'], lst['scope'], lst['exposure'], lst['dual_stack']) == ('fe80::1', 'eth0', 'link_local', False)
    dual = schema.make_listener('tcp', 'ipv6', '::', 22, v6only=False)
    assert dual['dual_stack'] is True and dual['v6only'] is False and dual['state'] == 'listen'
    v6only = schema.make_listener('udp', 'ipv6', '::', 53, v6only=True)
    assert v6only['dual_stack'] is False and v6only['state'] == 'unconnected'
    unknown = schema.make_listener('tcp', 'ipv6', '::', 23)
    assert unknown['dual_stack'] is False and unknown['v6only'] is None
    v4 = schema.make_listener('tcp', 'ipv4', '0.0.0.0', 65535, v6only=False)
    assert v4['v6only'] is None and v4['port'] == 65535


def test_make_listener_orders_processes_and_unions_services():
    procs = [schema.make_process(20, 'b', unit='b.service'), schema.make_process(3, 'a', unit='a.service'),
             schema.make_process(7, 'c', services=['x', 'a.service'])]
    lst = schema.make_listener('tcp', 'ipv4', '0.0.0.0', 80, procs)
    assert [p['pid'] for p in lst['processes']] == [3, 7, 20]
    assert lst['services'] == ['a.service', 'b.service', 'x']
    schema.validate_listener(lst)


@pytest.mark.parametrize('args, message', [
    (('sctp', 'ipv4', '0.0.0.0', 1), "protocol: unknown value 'sctp'"),
    (('tcp', 'inet', '0.0.0.0', 1), "family: unknown value 'inet'"),
    (('tcp', 'ipv4', 'localhost', 1), "address: 'localhost' is not an IP address"),
    (('tcp', 'ipv4', '0.0.0.0', 65536), 'port: 65536 is outside 0-65535'),
])
def test_make_listener_errors(args, message):
    with pytest.raises(schema.SchemaError) as info:
        schema.make_listener(*args)
    assert message in str(info.value)


def test_make_process_defaults():
    proc = schema.make_process('42', 'x')
    assert proc == {'pid': 42, 'name': 'x', 'exe': None, 'cmdline': None, 'user': None, 'uid': None,
                    'start_time': None, 'unit': None, 'services': []}
    assert list(proc) == list(schema.PROCESS_FIELDS)


def test_validate_listener_names_field():
    good = schema.make_listener('tcp', 'ipv4', '0.0.0.0', 22, [schema.make_process(1, 'init')])
    assert schema.validate_listener(good) is good
    with pytest.raises(schema.SchemaError, match=r"listener: expected a mapping, got \[\]"):
        schema.validate_listener([])
    with pytest.raises(schema.SchemaError, match='missing field'):
        schema.validate_listener({'protocol': 'tcp'})
    for field, value in (('port', True), ('port', 70000), ('exposure', 'public'), ('dual_stack', 'yes'),
                         ('address', ''), ('state', 'open'), ('processes', None)):
        bad = dict(good, **{field: value})
        with pytest.raises(schema.SchemaError, match=r'item\.%s: invalid value' % field):
            schema.validate_listener(bad, where='item')
    with pytest.raises(schema.SchemaError, match=r'listener\.processes\[0\]\.pid'):
        schema.validate_listener(dict(good, processes=[dict(good['processes'][0], pid='1')]))
    with pytest.raises(schema.SchemaError, match=r'processes\[0\]: missing field'):
        schema.validate_listener(dict(good, processes=[{'pid': 1}]))


def test_sort_key():
    items = [schema.make_listener('udp', 'ipv4', '0.0.0.0', 53), schema.make_listener('tcp', 'ipv6', '::', 22),
             schema.make_listener('tcp', 'ipv4', '0.0.0.0', 22)]
    assert [(i['protocol'], i['family']) for i in sorted(items, key=schema.sort_key)] == \
        [('tcp', 'ipv4'), ('tcp', 'ipv6'), ('udp', 'ipv4')]


def test_lstart_matches_ps_form():
    # ps -o lstart prints local time in ctime form.
    expected = time.ctime(1486042185)
    assert schema.lstart('2017-02-02T13:29:45Z') == expected
    assert schema.lstart('2017-02-02T15:29:45.1234567+02:00') == expected
    assert schema.lstart('2017-02-02 13:29:45') == expected
    assert schema.lstart('') == '' and schema.lstart(None) == ''
    assert schema.lstart('yesterday') == 'yesterday'


def test_compat_facts_rows():
    procs = [schema.make_process(10, 'nginx', user='root', start_time='2017-02-02T13:29:45Z'),
             schema.make_process(11, 'nginx', user='www-data', start_time='2017-02-02T13:29:45Z')]
    facts = schema.compat_facts([schema.make_listener('tcp', 'ipv6', '::', 80, procs),
                                 schema.make_listener('udp', 'ipv4', '0.0.0.0', 53)])
    assert facts['tcp_listen'] == [
        {'address': '::', 'name': 'nginx', 'pid': 10, 'port': 80, 'protocol': 'tcp',
         'stime': time.ctime(1486042185), 'user': 'root'},
        {'address': '::', 'name': 'nginx', 'pid': 11, 'port': 80, 'protocol': 'tcp',
         'stime': time.ctime(1486042185), 'user': 'www-data'},
    ]
    unowned = {'address': '0.0.0.0', 'name': '', 'pid': 0, 'port': 53, 'protocol': 'udp', 'stime': '', 'user': ''}
    assert facts['udp_listen'] == [unowned]


def test_mapped_ipv4_wildcard_is_not_dual_stack():
    # '::ffff:0.0.0.0' accepts IPv4 on every address and no IPv6 at all.
    lst = schema.make_listener('tcp', 'ipv6', '::ffff:0.0.0.0', 80, v6only=False)
    assert lst['exposure'] == 'wildcard' and lst['dual_stack'] is False
    assert schema.make_listener('tcp', 'ipv6', '::', 80, v6only=False)['dual_stack'] is True


def _full_listeners():
    web = schema.make_process(10, 'nginx', unit='nginx.service')
    worker = schema.make_process(11, 'nginx', unit='nginx.service')
    init = schema.make_process(1, 'systemd', unit='init.scope')
    held = dict(init, unit='echo.socket', services=['echo.socket'])
    return [
        schema.make_listener('tcp', 'ipv4', '0.0.0.0', 80, [web, worker], inode=5, uid=0, netns=7),
        schema.make_listener('tcp', 'ipv6', '::', 80, [web], v6only=True, inode=6, uid=0, netns=7),
        schema.make_listener('udp', 'ipv4', '127.0.0.1', 53, [], inode=8, uid=0, netns=7),
        schema.make_listener('tcp', 'ipv4', '0.0.0.0', 7777, [held], inode=9, uid=0, netns=7),
        schema.make_listener('tcp', 'ipv4', '0.0.0.0', 22, [init], inode=10, uid=0, netns=7),
    ]


def test_compact_writes_each_process_once_and_expand_restores_records():
    full = _full_listeners()
    result = schema.compact(full)
    assert sorted(result['processes']) == ['1', '10', '11']
    assert [lst['pids'] for lst in result['listeners']] == [[10, 11], [10], [], [1], [1]]
    assert all('processes' not in lst and 'state' not in lst for lst in result['listeners'])
    # PID 1 holding a socket-activated listener: the table keeps the first version seen and the
    # listener holding the other says what differs for it.
    assert result['processes']['1']['unit'] == 'echo.socket'
    assert result['listeners'][4]['process_overrides'] == {'1': {'unit': 'init.scope', 'services': ['init.scope']}}
    assert 'process_overrides' not in result['listeners'][3]
    assert schema.expand(result) == full
    assert [list(lst) for lst in schema.expand(result)] == [list(lst) for lst in full]  # field order too


def test_expand_survives_json_and_passes_full_records_through():
    import json
    full = _full_listeners()
    assert schema.expand(json.loads(json.dumps(schema.compact(full)))) == full
    assert schema.expand({'listeners': full}) == full


def test_compact_keeps_a_record_s_own_services():
    """A listener passed in (or from Windows) may name units its processes do not: the round trip is exact."""
    full = _full_listeners()
    full[1] = dict(full[1], services=['given.service'])
    result = schema.compact(full)
    assert result['listeners'][1]['services'] == ['given.service']
    assert schema.expand(result) == full


def test_expand_names_a_missing_pid():
    result = schema.compact(_full_listeners())
    del result['processes']['11']
    with pytest.raises(schema.SchemaError, match=r"listeners\[0\]\.pids: pid 11 is not in the processes table"):
        schema.expand(result)


def test_container_field_is_optional_and_checked():
    lst = _full_listeners()[0]
    schema.validate_listener(lst)
    schema.validate_listener(dict(lst, container=None))
    schema.validate_listener(dict(lst, container=schema.make_container('podman', id='ab', name='web')))
    with pytest.raises(schema.SchemaError, match='container: invalid value'):
        schema.validate_listener(dict(lst, container={'runtime': 'lxc'}))
    with pytest.raises(schema.SchemaError, match="container.runtime: unknown value 'lxc'"):
        schema.make_container('lxc')


@pytest.mark.parametrize('protocol, family, address, port, v6only, scope', [
    ('tcp', 'ipv4', '0.0.0.0', 22, None, None),
    ('udp', 'ipv4', '192.0.2.7', 53, None, None),
    ('tcp', 'ipv6', '::', 8080, False, None),
    ('tcp', 'ipv6', '::', 8080, True, None),
    ('tcp', 'ipv6', '::', 8080, None, None),
    ('tcp', 'ipv6', '::ffff:0.0.0.0', 9000, False, None),
    ('tcp', 'ipv6', '::ffff:127.0.0.1', 9001, False, None),
    ('udp', 'ipv6', 'fe80::1', 546, True, 'eth0'),
    ('tcp', 'ipv6', '::1', 631, False, None),
])
def test_compact_listener_built_directly_is_the_stripped_full_record(protocol, family, address, port, v6only, scope):
    direct = schema.make_compact_listener(protocol, family, address, port, v6only=v6only, inode=77, uid=0,
                                          netns=4026531840, scope=scope)
    stripped = schema.strip_to_compact(schema.make_listener(protocol, family, address, port, (), v6only=v6only,
                                                            inode=77, uid=0, netns=4026531840, scope=scope))
    assert direct == stripped
    assert list(direct) == list(stripped)  # same keys in the same order: the module's JSON does not change
    assert [type(v) for v in direct.values()] == [type(v) for v in stripped.values()]
