# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/policy.md examples run: every YAML block parses; marked blocks compile, judge or fail as the page says.

Markers (an HTML comment on the line before the block):
  <!-- example: compiles -->        the block is inventory variables; the policy compiles
  <!-- example: judge -->           {policy, listeners, expect}: findings are exactly `expect`
  <!-- example: error "TEXT" -->    variables (+ optional task `policy`) fail validation with TEXT
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import PolicyError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy

DOC = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'docs', 'policy.md')
BLOCK = re.compile(r'(?:<!-- example: (?P<marker>[^\n]*?) -->\n)?```yaml\n(?P<body>.*?)```', re.S)


def blocks():
    with open(DOC, encoding='utf-8') as handle:
        text = handle.read()
    out = []
    for match in BLOCK.finditer(text):
        line = text.count('\n', 0, match.start('body')) + 1
        out.append(pytest.param(match.group('marker'), match.group('body'), id='line%d' % line))
    return out


BLOCKS = blocks()


def listener(short):
    """{port, address, proto?, name?, exe?, user?} -> a schema listener record."""
    procs = []
    if short.get('name'):
        procs.append(make_process(1000 + short['port'], short['name'], exe=short.get('exe'), user=short.get('user', 'root'),
                                  uid=0 if short.get('user', 'root') == 'root' else 1000))
    address = short['address']
    return make_listener(short.get('proto', 'tcp'), 'ipv6' if ':' in address else 'ipv4', address, short['port'], procs)


def test_the_page_has_runnable_examples():
    markers = [b.values[0] for b in BLOCKS if b.values[0]]
    assert len(markers) >= 5 and {m.split()[0] for m in markers} == {'compiles', 'judge', 'error'}


@pytest.mark.parametrize('marker, body', BLOCKS)
def test_example(marker, body):
    data = yaml.safe_load(body)  # every block on the page is valid YAML
    if not marker:
        return
    kb = get_kb()
    kind = marker.split()[0]
    if kind == 'compiles':
        policy = build_policy(data, kb=kb)
        assert policy.rules
    elif kind == 'judge':
        policy = build_policy(policy=data['policy'], kb=kb)
        result = evaluate(policy, [listener(item) for item in data['listeners']], kb=kb)
        got = [{'port': f['listener']['port'], 'kind': f['kind'], 'severity': f['severity']} for f in result['findings']]
        want = data['expect'] or []
        assert [{k: g[k] for k in w} for g, w in zip(got, want)] == want and len(got) == len(want), got
    elif kind == 'error':
        expected = re.match(r'error "(.*)"$', marker).group(1)
        task_vars = dict(data)
        task_policy = task_vars.pop('policy', None)
        with pytest.raises(PolicyError) as info:
            build_policy(task_vars, policy=task_policy, kb=kb)
        assert expected in str(info.value)
    else:
        raise AssertionError('unknown example marker %r' % marker)
