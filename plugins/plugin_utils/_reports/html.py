# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The self-contained HTML fleet report (``fleet.html``).

One file, no network: the data is one ``application/json`` block (never
executed), the style and the script are inline and allowed by their hashes
in a Content-Security-Policy that also forbids every fetch and, through
Trusted Types, any string-to-HTML assignment. The script builds the page
with ``textContent``/``createElement`` only, so a host name or process name
is always text, never markup. Strings are stored once in a table and rows
refer to them by index, which keeps 1,000 hosts x 50 findings at a few MB;
the matrix renders only the rows on screen.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build
from ansible_collections.hostsec.ports.plugins.plugin_utils._reports.build import SEVERITIES, group_id, group_key

_ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'assets')
STATES = ('compliant', 'non-compliant', 'not audited')


def _asset(name):
    with open(os.path.join(_ASSETS, name), encoding='utf-8') as handle:
        return handle.read()


class _Strings(dict):
    """One table of every distinct string; data rows hold indexes into it (``strings[value]``).

    A dict whose misses add the value to the table: a hit (most lookups, since
    hosts repeat the same names) costs one C-level dict lookup.
    """

    def __init__(self):
        super().__init__()
        self.table = []
        self[None] = -1

    def __missing__(self, value):
        if not isinstance(value, str):
            # Only text is ever a key: True, 1 and 1.0 are one dict key but three different texts.
            return self[str(value)]
        text = str(value)  # plain text, also for str subclasses (Ansible's unsafe or tagged strings)
        pos = len(self.table)
        self.table.append(text)
        dict.__setitem__(self, text, pos)
        return pos


def report_data(fleet):
    """The compact data block the page reads (see assets/fleet.js for the layout)."""
    s = _Strings()
    sev_code = {name: i for i, name in enumerate(SEVERITIES)}
    groups = fleet.get('groups') or []
    host_pos = {rep['host']: i for i, rep in enumerate(fleet['hosts'])}
    # Findings name their group by id (build.group_findings made each group once).
    group_pos = {g['id']: i for i, g in enumerate(groups)}
    out_groups = [[s[g['title']], s[g['kind']], sev_code.get(g['severity'], len(SEVERITIES)), s[g['explanation']],
                   [host_pos[h] for h in g['hosts'] if h in host_pos], s[g['id']]] for g in groups]
    drift_hosts = (fleet.get('drift') or {}).get('hosts') or {}
    no_sev = len(SEVERITIES)
    # Listeners of a compact audit share their process records, so one owner text serves them all. The
    # records stay alive in the fleet while this runs, so their ids cannot be reused by other records.
    owner_texts = {}
    hosts = []
    for rep in fleet['hosts']:
        listeners = []
        by_finding = {}
        for lst in rep.get('listeners') or ():
            procs = lst.get('processes') or ()
            key = id(procs[0]) if len(procs) == 1 else tuple(id(p) for p in procs)
            owners = owner_texts.get(key)
            if owners is None:
                owners = owner_texts[key] = s[build.processes_text(lst)]
            for fid in lst.get('finding_ids') or ():
                by_finding[fid] = len(listeners)
            listeners.append([s[lst.get('text')], s[lst.get('owner')], owners, s[build.verdict_text(lst)],
                              s[lst.get('exposure')]])
        lpos = None
        findings = []
        for f in rep['findings']:
            li = by_finding.get(f.get('id'))
            if li is None:
                if lpos is None:  # an older audit without verdicts: find the finding's listener by its socket
                    lpos = {build.listener_key(lst): i for i, lst in enumerate(rep.get('listeners') or ())}
                li = lpos.get(build.listener_key(f.get('listener') or {}), -1)
            gi = group_pos.get(f.get('group') or group_id(group_key(f)), -1)
            rule = f.get('rule')
            rule = build.rule_text(rule) if rule else (
                'nearest: ' + build.rule_text(f['nearest_rule']) if f.get('nearest_rule') else None)
            reasons = f.get('severity_reasons')
            findings.append([gi, sev_code.get(f['severity'], no_sev), s[f['status']], s[f['status_reason']],
                             li, s[rule], s['; '.join(reasons) if reasons else ''], s[f['where']]])
        state = 2 if not rep['audited'] else (0 if rep['compliant'] else 1)
        drift = drift_hosts.get(rep['host'])
        hosts.append([s[rep['host']], [s[g] for g in rep.get('groups') or ()], state, s[rep['mode'] + (
            ' (check mode)' if rep.get('check_mode') else '')], s[rep.get('policy_id')],
            [s[e] for e in rep['errors']], findings, listeners,
            [[s[i['listener']], s[i['owner']], s[i['ignored_by']]] for i in rep['ignored_listeners']],
            s[json.dumps(drift, sort_keys=True)] if drift else -1])
    meta = {
        'generated': fleet.get('generated'),
        'provenance': fleet.get('provenance') or {},
        'compliance': fleet.get('compliance') or {},
        'totals': fleet['totals'],
        'drift': {k: v for k, v in (fleet.get('drift') or {}).items() if k != 'hosts'} or None,
        'vanished': sorted(h for h, e in drift_hosts.items() if e.get('state') == 'vanished'),
        'policies': fleet.get('policies') or {},
        'severities': list(SEVERITIES),
        'states': list(STATES),
    }
    return {'meta': meta, 'S': s.table, 'groups': out_groups, 'hosts': hosts}


def _json_block(data):
    text = json.dumps(data, ensure_ascii=False, separators=(',', ':'), default=str, check_circular=False)
    # Neither '</script>' nor '<!--' from a host can end or confuse the data block.
    return text.replace('&', '\\u0026').replace('<', '\\u003c').replace('>', '\\u003e')


def _sha(text):
    return base64.b64encode(hashlib.sha256(text.encode('utf-8')).digest()).decode('ascii')


def html(fleet):
    """The whole fleet.html document as text."""
    style = _asset('fleet.css')
    script = _asset('fleet.js')
    csp = ("default-src 'none'; script-src 'sha256-%s'; style-src 'sha256-%s'; img-src data:; base-uri 'none'; "
           "form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'" % (_sha(script), _sha(style)))
    return ''.join((
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n',
        '<meta http-equiv="Content-Security-Policy" content="%s">\n' % csp,
        '<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<title>Listening-port fleet report</title>\n',
        '<style>', style, '</style>\n</head>\n<body>\n',
        _asset('fleet.body.html'),
        '<script type="application/json" id="data">', _json_block(report_data(fleet)), '</script>\n',
        '<script>', script, '</script>\n</body>\n</html>\n'))
