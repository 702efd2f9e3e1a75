# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The nftables backend: one table the collection owns, converged atomically.

The collection owns exactly ``table inet hostsec_ports`` and nothing else::

    table inet hostsec_ports {
        set tcp_ports { type inet_service; elements = { 8081 } }
        set udp_ports { type inet_service; }
        chain input {
            type filter hook input priority filter - 10; policy accept;
            iif "lo" ip daddr 127.0.0.0/8 return
            iif "lo" ip6 daddr ::1 return
            ct state new tcp dport @tcp_ports counter drop
            ct state new udp dport @udp_ports counter drop
        }
    }

The chain's policy is accept, so the table only ever drops the listed ports
and every other table keeps deciding the rest. Only new connections are
dropped: replies to the host's own outgoing traffic whose local port happens
to be listed (ntpd sending from 123, a DHCP client on 68, an ephemeral TCP
port) are part of an established flow and pass, as ufw and firewalld let
established traffic through before their port rules. Loopback traffic to loopback
addresses is exempt (local clients of a blocked service keep working), while
traffic to the host's own routable address is dropped even when the kernel
routes it over ``lo``.

Convergence reads the table with ``nft -j list table``, turns it into a small
model (the two port sets plus whether the skeleton is exactly ours) and, when
the model differs from the desired one, loads the whole table in one
``nft -f`` transaction (``table``; ``delete table``; ``table {...}``), so the
host never sees a half-written table. The same script is the persistence file
loaded at boot by a dedicated systemd unit; /etc/nftables.conf is never read
or written.
"""

from __future__ import annotations

import json
import shlex

from ansible_collections.hostsec.ports.plugins.module_utils._firewall.core import (
    OWNER, STATE_DIR, UNIT_DIR, FirewallError, Op, describe_files, file_ops, restore_files_script)

FAMILY = 'inet'
TABLE = 'hostsec_ports'
CHAIN = 'input'
PRIORITY = -10
PROTOCOLS = ('tcp', 'udp')
SETS = {'tcp': 'tcp_ports', 'udp': 'udp_ports'}
DEFAULT_PERSIST_PATH = STATE_DIR + '/nftables.nft'
DEFAULT_UNIT_PATH = UNIT_DIR + '/hostsec-ports-nftables.service'

_LOOPBACK_RULES = (
    ('iif lo', 'ip daddr 127.0.0.0/8', 'return'),
    ('iif lo', 'ip6 daddr ::1', 'return'),
)


def make_model(ports, exempt_loopback=True):
    """The desired owned state."""
    return {'ports': tuple(ports), 'exempt_loopback': bool(exempt_loopback), 'intact': True}


# ---------------------------------------------------------------- reading


def _token(expr):
    """One JSON statement -> a short canonical token; '?' when not ours."""
    if not isinstance(expr, dict) or len(expr) != 1:
        return '?'
    key, val = next(iter(expr.items()))
    if key in ('drop', 'return', 'accept') and val is None:
        return key
    if key == 'counter':
        return 'counter'
    if key != 'match' or not isinstance(val, dict):
        return '?'
    left, right, op = val.get('left'), val.get('right'), val.get('op')
    if isinstance(left, dict) and 'ct' in left and op == 'in':
        # ct state is a bitmask, so nft prints the match with op "in".
        if isinstance(right, list):
            right = ','.join(sorted(str(r) for r in right))
        return 'ct %s %s' % (left['ct'].get('key'), right)
    if op != '==':
        return '?'
    if isinstance(left, dict) and 'meta' in left:
        return '%s %s' % (left['meta'].get('key'), right)
    if isinstance(left, dict) and 'payload' in left:
        pay = left['payload']
        if isinstance(right, dict) and 'prefix' in right:
            right = '%s/%s' % (right['prefix'].get('addr'), right['prefix'].get('len'))
        return '%s %s %s' % (pay.get('protocol'), pay.get('field'), right)
    return '?'


def _expected_rules(exempt_loopback):
    rules = [list(r) for r in _LOOPBACK_RULES] if exempt_loopback else []
    for proto in PROTOCOLS:
        rules.append(['ct state new', '%s dport @%s' % (proto, SETS[proto]), 'counter', 'drop'])
    return rules


def _elements(raw):
    out = []
    for elem in raw or ():
        if isinstance(elem, dict) and 'elem' in elem:
            elem = elem['elem']
        if isinstance(elem, dict) and 'val' in elem:
            elem = elem['val']
        if isinstance(elem, bool) or not isinstance(elem, int):
            # Ranges and named services are not something we write: rewrite.
            return None
        out.append(elem)
    return out


def parse_table(text):
    """``nft -j list table inet hostsec_ports`` output -> model.

    ``intact`` is False when the table holds anything we would not have
    written (an extra rule, another chain, a changed hook); the next apply
    then rewrites the table whole.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise FirewallError('nft -j returned output that is not JSON (%s): %r' % (exc, text[:200]))
    items = doc.get('nftables', []) if isinstance(doc, dict) else []
    sets, chains, rules, other = {}, [], [], 0
    for item in items:
        if not isinstance(item, dict):
            continue
        if 'set' in item:
            sets[item['set'].get('name')] = item['set']
        elif 'chain' in item:
            chains.append(item['chain'])
        elif 'rule' in item:
            rules.append(item['rule'])
        elif 'table' in item or 'metainfo' in item:
            continue
        else:
            other += 1
    intact = other == 0
    ports = set()
    for proto in PROTOCOLS:
        raw = sets.pop(SETS[proto], None)
        if raw is None or raw.get('type') != 'inet_service' or raw.get('flags'):
            intact = False
            continue
        elems = _elements(raw.get('elem'))
        if elems is None:
            intact = False
            continue
        ports.update((p, proto) for p in elems)
    if sets:
        intact = False
    if len(chains) != 1:
        intact = False
    else:
        chain = chains[0]
        if (chain.get('name'), chain.get('type'), chain.get('hook'), chain.get('prio'), chain.get('policy')) != \
                (CHAIN, 'filter', 'input', PRIORITY, 'accept'):
            intact = False
    tokens = [[_token(e) for e in r.get('expr', [])] for r in rules]
    exempt = tokens[:2] == [list(r) for r in _LOOPBACK_RULES]
    if tokens != _expected_rules(exempt):
        intact = False
    return {'ports': tuple(sorted(ports)), 'exempt_loopback': exempt, 'intact': intact}


# ---------------------------------------------------------------- writing


def render(model):
    """The table definition, as nft would load it."""
    lines = ['table %s %s {' % (FAMILY, TABLE)]
    for proto in PROTOCOLS:
        elems = [str(p) for p, pr in model['ports'] if pr == proto]
        lines.append('\tset %s {' % SETS[proto])
        lines.append('\t\ttype inet_service')
        if elems:
            lines.append('\t\telements = { %s }' % ', '.join(elems))
        lines.append('\t}')
        lines.append('')
    lines.append('\tchain %s {' % CHAIN)
    lines.append('\t\ttype filter hook input priority filter - %d; policy accept;' % -PRIORITY)
    if model['exempt_loopback']:
        lines.append('\t\tiif "lo" ip daddr 127.0.0.0/8 return')
        lines.append('\t\tiif "lo" ip6 daddr ::1 return')
    for proto in PROTOCOLS:
        lines.append('\t\tct state new %s dport @%s counter drop' % (proto, SETS[proto]))
    lines.append('\t}')
    lines.append('}')
    return '\n'.join(lines) + '\n'


def render_script(model):
    """A script for ``nft -f`` replacing the owned table in one transaction.

    ``table`` first makes ``delete table`` valid when the table is absent.
    ``model=None`` removes the table.
    """
    head = 'table %s %s\ndelete table %s %s\n' % (FAMILY, TABLE, FAMILY, TABLE)
    return head if model is None else head + render(model)


def persist_text(model):
    return ('#!/usr/sbin/nft -f\n'
            '# Managed by %s (module hostsec.ports.port_block); do not edit.\n'
            '# Replaces only table %s %s; every other table is left alone.\n'
            % (OWNER, FAMILY, TABLE)) + render_script(model)


def unit_text(persist_path, nft='/usr/sbin/nft'):
    # After nftables.service: Debian's /etc/nftables.conf starts with
    # "flush ruleset", which would wipe our table if it loaded later. For the
    # same reason a restart or reload of nftables.service (which flushes the
    # ruleset again) is propagated here, so the table comes straight back.
    return ('# Managed by %s (module hostsec.ports.port_block); do not edit.\n'
            '[Unit]\n'
            'Description=hostsec.ports port blocks (nftables table %s %s)\n'
            'Documentation=https://example.invalid/hostsec/ports/docs/remediation.md\n'
            'DefaultDependencies=no\n'
            'After=local-fs.target nftables.service\n'
            'PartOf=nftables.service\n'
            'ReloadPropagatedFrom=nftables.service\n'
            'Before=network-pre.target shutdown.target\n'
            'Wants=network-pre.target\n'
            'Conflicts=shutdown.target\n'
            'ConditionPathExists=%s\n'
            '\n'
            '[Service]\n'
            'Type=oneshot\n'
            'RemainAfterExit=yes\n'
            'ExecStart=%s -f %s\n'
            'ExecReload=%s -f %s\n'
            '\n'
            '[Install]\n'
            'WantedBy=sysinit.target\n' % (OWNER, FAMILY, TABLE, persist_path, nft, persist_path, nft, persist_path))


def describe(model):
    """Text for diff output: the owned table as it is (empty when absent)."""
    return '' if model is None else render(model)


# ---------------------------------------------------------------- the host


def _key(model):
    """A model in comparable form (JSON round trips turn tuples into lists)."""
    if model is None:
        return None
    return (tuple(tuple(p) for p in model['ports']), bool(model['exempt_loopback']), bool(model['intact']))


class Backend:
    """nftables under core.run(): the table, its boot file and its unit."""

    name = 'nftables'

    def __init__(self, host, exempt_loopback=True, persist=True,
                 persist_path=DEFAULT_PERSIST_PATH, unit_path=DEFAULT_UNIT_PATH):
        self.host = host
        self.nft = host.which('nft') or '/usr/sbin/nft'
        self.exempt_loopback = exempt_loopback
        self.persist = persist
        self.persist_path = persist_path
        self.unit_path = unit_path
        self.unit = unit_path.rsplit('/', 1)[-1]
        self.warnings = []

    def usable(self):
        if not self.host.which('nft'):
            return False, 'nft is not installed'
        rc, out, err = self.host.run([self.nft, 'list', 'tables'])
        return (True, 'nft can read the ruleset') if rc == 0 else (False, 'nft list tables failed: %s' % err.strip())

    def _list(self, *flags):
        rc, out, err = self.host.run([self.nft] + list(flags) + ['list', 'table', FAMILY, TABLE])
        if rc != 0:
            if 'No such file or directory' in err or 'does not exist' in err:
                return None
            raise FirewallError('nft list table %s %s failed (rc=%s): %s' % (FAMILY, TABLE, rc, err.strip()))
        return out

    def read(self):
        listing = self._list('-j')
        model = parse_table(listing) if listing is not None else None
        files = {}
        if self.persist:
            files = {self.persist_path: self.host.read_file(self.persist_path),
                     self.unit_path: self.host.read_file(self.unit_path)}
        return {
            'ports': [list(p) for p in model['ports']] if model else [],
            'table': model,
            # As nft prints it: what diff shows for a table edited by hand, and
            # what a rollback loads back.
            'raw': self._list('-s') if model is not None else None,
            'files': files,
            'unit_enabled': self.host.unit_enabled(self.unit) if self.persist else False,
        }

    def desired(self, ports):
        model = make_model(ports, self.exempt_loopback) if ports is not None else None
        files = {}
        if self.persist:
            files = {self.persist_path: persist_text(model) if model else None,
                     self.unit_path: unit_text(self.persist_path, self.nft) if model else None}
        return {'ports': [list(p) for p in model['ports']] if model else [], 'table': model,
                'raw': None, 'files': files, 'unit_enabled': bool(model) and self.persist}

    def plan(self, current, desired):
        ops = []
        if _key(current['table']) != _key(desired['table']):
            script = render_script(desired['table'])
            ops.append(Op('load table %s %s' % (FAMILY, TABLE) if desired['table'] else
                          'delete table %s %s' % (FAMILY, TABLE),
                          lambda: self.host.must([self.nft, '-f', '-'], script, 'nft -f'),
                          # Check mode still asks the kernel whether the script would load.
                          lambda: self.host.must([self.nft, '-c', '-f', '-'], script, 'nft -c -f')))
        ops.extend(file_ops(self.host, current['files'], desired['files'], self.unit, current['unit_enabled']))
        if self.persist and desired['table'] and not self.host.booted and \
                any(op.text.startswith('write') for op in ops):
            self.warnings.append('systemd is not running: %s was written but not enabled' % self.unit_path)
        return ops

    def render(self, state):
        model = state['table']
        if model is None:
            text = ''
        elif model['intact'] or not state.get('raw'):
            text = render(model)
        else:
            text = state['raw']
        return text + describe_files(state['files'])

    def restore_script(self, snapshot, after):
        head = render_script(None)
        body = snapshot.get('raw') or (render(snapshot['table']) if snapshot.get('table') else '')
        script = "%s -f - <<'HOSTSEC_PORTS_EOF' || rc=1\n%s%sHOSTSEC_PORTS_EOF\n" % (shlex.quote(self.nft), head, body)
        if self.persist:
            script += restore_files_script(snapshot['files'], self.unit if self.host.booted else None)
        return script
