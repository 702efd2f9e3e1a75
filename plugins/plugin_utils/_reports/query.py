# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""JMESPath selections over a fleet report.

The expression sees ``hosts`` (the host reports), ``groups`` (findings
grouped across hosts), and two flat lists that make most questions one
filter: ``findings`` and ``listeners``, each item with its ``host``.
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.rules import optional_library


def compile_query(text):
    jmespath = optional_library('jmespath')  # when a query is given: most report runs have none
    if jmespath is None:
        raise ValueError('query: needs the jmespath Python package on the controller (pip install jmespath)')
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError('query: %r is not a JMESPath expression: %s' % (text, exc))


def view(fleet):
    findings, listeners = [], []
    for rep in fleet['hosts']:
        findings.extend(dict(f, host=rep['host']) for f in rep['findings'])
        listeners.extend(dict(lst, host=rep['host']) for lst in rep['listeners'])
    return {'hosts': fleet['hosts'], 'groups': fleet.get('groups') or [], 'findings': findings, 'listeners': listeners,
            'totals': fleet['totals'], 'drift': fleet.get('drift')}


def run(expression, fleet):
    try:
        return expression.search(view(fleet))
    except optional_library('jmespath').exceptions.JMESPathError as exc:
        raise ValueError('query: %s' % exc)
