# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A warning naming a name that is not UTF-8 reaches the result, and the module does not fail over it.

ansible-core 2.17 and 2.18 write each warning to syslog, which refuses lone
surrogates; the real AnsibleModule of the core running these tests is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._warning_text import loggable

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')


@pytest.mark.parametrize('text, expected', [
    ('plain ascii', 'plain ascii'),
    ('caf\u00e9 \u2028 \U0001F600', 'caf\u00e9 \u2028 \U0001F600'),  # valid text is left alone
    ('netns "a\udcffb" unmounted', 'netns "a\\xffb" unmounted'),  # an undecodable byte is named as a byte
    ('\udc80\udcff', '\\x80\\xff'),
    ('half \ud800 pair \udcff', 'half \\ud800 pair \\udcff'),  # a surrogate no byte stands for: its code point
])
def test_loggable(text, expected):
    got = loggable(text)
    assert got == expected
    got.encode('utf-8')  # what syslog needs


PROGRAM = r'''
import sys
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hostsec.ports.plugins.module_utils._warning_text import warn_each
module = AnsibleModule(argument_spec={})
warn_each(module, ['named network namespace "ns\udcff" is not mounted', 'second'])
module.exit_json(changed=False)
'''


def test_a_real_module_warns_and_exits(tmp_path):
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {}}))
    proc = subprocess.run([sys.executable, '-c', PROGRAM, str(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, PYTHONPATH=COLLECTIONS), timeout=120, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()[-3000:]
    result = json.loads(proc.stdout)
    # 2.19 and later send each warning as a structured summary the controller unpacks
    messages = [w['event']['msg'] if isinstance(w, dict) else w for w in result['warnings']]
    assert messages == ['named network namespace "ns\\xff" is not mounted', 'second']
    assert not result.get('failed')
