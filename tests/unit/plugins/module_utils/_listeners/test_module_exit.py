# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exit_with_result prints what exit_json prints, for a real gather and for hostile values.

Each case runs a real AnsibleModule in a fresh interpreter (as a module runs on a
host) and leaves it twice over the same result: once through exit_json, once
through exit_with_result. The two texts must decode to the same result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')

PROGRAM = r'''
import contextlib, copy, io, json, sys
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hostsec.ports.plugins.module_utils._listeners import module_exit
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
from ansible_collections.hostsec.ports.plugins.module_utils._warning_text import warn_each

case = sys.argv.pop()
module = AnsibleModule(argument_spec={}, supports_check_mode=True)
if case == 'gather':
    import socket
    held = socket.socket()
    held.bind(('127.0.0.1', 0))
    held.listen()
    result = gather()
    warn_each(module, result.pop('warnings'))
else:
    hostile = ['\udcff\udc80', '\x00\x1b[31m', '"\\', '</script><img src=x onerror=alert(1)>', '\u00e9\u2028',
               '\U0001F600', '\ufeff']
    result = {
        'listeners': [{'address': name, 'port': 2 ** 70, 'pids': [-1, 0], 'services': [], 'scope': None,
                       'dual_stack': True} for name in hostile],
        'processes': {name: {'cmdline': name * 3, 'pid': 1, 'ratio': 0.5} for name in hostile},
        'ansible_facts': {'tcp_listen': [{'name': name} for name in hostile]},
        'session': {'ssh_connection': hostile[0], 'source': None},
    }
    if case == 'refused':  # a set is no JSON: the standard encoder refuses it, ansible-core's writes a list
        result['processes']['set'] = {'pids': {3, 1, 2}}
    if case == 'converted':  # no JSON either, but remove_values (the walk skipped) makes them JSON on the way
        import collections.abc, datetime

        class ReadOnly(collections.abc.Mapping):
            def __init__(self, data):
                self.data = data
            def __getitem__(self, key):
                return self.data[key]
            def __iter__(self):
                return iter(self.data)
            def __len__(self):
                return len(self.data)

        result['session']['since'] = datetime.date(2024, 1, 2)
        result['listeners'].append(ReadOnly({'address': 'read-only'}))
    if case == 'no_log':
        module.no_log_values.add('secret-value')
        result['listeners'].append({'address': 'secret-value'})
warn_each(module, ['a warning with \u00e9 and \udcff in it'])

def leave(how):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            how(copy.deepcopy(result))
        except SystemExit as exc:
            assert exc.code == 0, exc.code
    return buffer.getvalue()

normal = leave(lambda res: module.exit_json(changed=False, **res))
calls = []
original = module_exit.split_encode
module_exit.split_encode = lambda *args: calls.append(1) or original(*args)
fast = leave(lambda res: module_exit.exit_with_result(module, res))
has_recorder = hasattr(module, '_record_module_result')
json.dump({'normal': normal, 'fast': fast, 'split_called': bool(calls), 'has_recorder': has_recorder}, sys.stderr)
'''


def leave_both(tmp_path, case):
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {}}))
    proc = subprocess.run([sys.executable, '-c', PROGRAM, str(args), case], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=COLLECTIONS), timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return json.loads(proc.stderr.decode().strip().splitlines()[-1])


def decoded(text):
    assert text.startswith('\n{') and text.endswith('}\n'), text[:80]
    return json.loads(text)


@pytest.mark.parametrize('case', ['gather', 'hostile'])
def test_same_result_as_exit_json(tmp_path, case):
    got = leave_both(tmp_path, case)
    normal, fast = decoded(got['normal']), decoded(got['fast'])
    assert fast == normal
    assert normal['listeners'] and normal['processes']
    assert normal['warnings'], 'the warning must travel with the result'
    if got['has_recorder']:  # ansible-core 2.19 and later: the split path ran, and its text differs only in key order
        assert got['split_called']
        assert sorted(got['fast']) == sorted(got['normal'])
    if case == 'hostile':
        assert normal['listeners'][0]['address'] == '\udcff\udc80'
        assert normal['listeners'][0]['port'] == 2 ** 70


def test_a_value_json_refuses_takes_the_normal_path(tmp_path):
    got = leave_both(tmp_path, 'refused')
    assert got['fast'] == got['normal']
    assert decoded(got['fast'])['processes']['set']['pids'] == [1, 2, 3]


def test_a_value_only_the_skipped_walk_converts_takes_the_normal_path(tmp_path):
    got = leave_both(tmp_path, 'converted')
    assert decoded(got['fast']) == decoded(got['normal'])
    assert decoded(got['fast'])['session']['since'] == '2024-01-02'
    assert decoded(got['fast'])['listeners'][-1] == {'address': 'read-only'}


def test_no_log_values_are_still_blanked(tmp_path):
    got = leave_both(tmp_path, 'no_log')
    assert got['fast'] == got['normal']
    assert 'secret-value' not in got['fast']
    assert not got['split_called']
