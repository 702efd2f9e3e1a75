# -*- coding: utf-8 -*-
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
import os
import tempfile

FAMILY = 'inet'
TABLE = 'hostsec_ports'
CHAIN = 'input'
PRIORITY = -10
PROTOCOLS = ('tcp', 'udp')
SETS = {'tcp': 'tcp_ports', 'udp': 'udp_ports'}
OWNER = 'hostsec.ports'
DEFAULT_PERSIST_PATH = '/etc/hostsec-ports/nftables.nft'
DEFAULT_UNIT_PATH = '/etc/systemd/system/hostsec-ports-nftables.service'

_LOOPBACK_RULES = (
    ('iif lo', 'ip daddr 127.0.0.0/8', 'return'),
    ('iif lo', 'ip6 daddr ::1', 'return'),
)


class NftError(Exception):
    """Bad input or a failed nft call; the message is meant for the user."""


def normalize_ports(items, field='ports'):
    """[{port, protocol}] -> sorted unique tuple of (port, protocol)."""
    if items is None:
        return ()
    if not isinstance(items, (list, tuple)):
        raise NftError('%s: expected a list of {port, protocol}, got %r' % (field, items))
    out = set()
    for i, item in enumerate(items):
        where = '%s[%d]' % (field, i)
        if not isinstance(item, dict):
            raise NftError('%s: expected a mapping {port, protocol}, got %r' % (where, item))
        port = item.get('port')
        proto = str(item.get('protocol', 'tcp')).lower()
        if isinstance(port, bool):
            raise NftError('%s.port: %r is not a port number' % (where, port))
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise NftError('%s.port: %r is not a port number' % (where, port))
        if not 1 <= port <= 65535:
            raise NftError('%s.port: %r is outside 1-65535' % (where, port))
        if proto not in PROTOCOLS:
            raise NftError('%s.protocol: unknown value %r (expected tcp or udp)' % (where, item.get('protocol')))
        out.add((port, proto))
    return tuple(sorted(out))


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
        raise NftError('nft -j returned output that is not JSON (%s): %r' % (exc, text[:200]))
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
            '# Managed by %s (module hostsec.ports.nft_port_block); do not edit.\n'
            '# Replaces only table %s %s; every other table is left alone.\n'
            % (OWNER, FAMILY, TABLE)) + render_script(model)


def unit_text(persist_path, nft='/usr/sbin/nft'):
    # After nftables.service: Debian's /etc/nftables.conf starts with
    # "flush ruleset", which would wipe our table if it loaded later. For the
    # same reason a restart or reload of nftables.service (which flushes the
    # ruleset again) is propagated here, so the table comes straight back.
    return ('# Managed by %s (module hostsec.ports.nft_port_block); do not edit.\n'
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


def ports_list(model):
    return [{'port': p, 'protocol': proto} for p, proto in (model['ports'] if model else ())]


# ---------------------------------------------------------------- the host


class Nft(object):
    """Thin wrapper over the nft binary; ``run(args, data)`` -> (rc, out, err)."""

    def __init__(self, run, nft):
        self.run = run
        self.nft = nft

    def read(self):
        rc, out, err = self.run([self.nft, '-j', 'list', 'table', FAMILY, TABLE], None)
        if rc != 0:
            if 'No such file or directory' in err or 'does not exist' in err:
                return None
            raise NftError('nft list table %s %s failed (rc=%s): %s' % (FAMILY, TABLE, rc, err.strip()))
        return parse_table(out)

    def load(self, script, check=False):
        args = [self.nft, '-c', '-f', '-'] if check else [self.nft, '-f', '-']
        rc, out, err = self.run(args, script)
        if rc != 0:
            raise NftError('nft %s failed (rc=%s): %s' % ('-c -f' if check else '-f', rc, err.strip()))


def _read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _write_file(path, text, mode=0o644):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o755)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.hostsec-ports.')
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Systemd(object):
    """Enable/disable the persistence unit; a no-op where systemd is not PID 1."""

    def __init__(self, run, systemctl, booted=None):
        self.run = run
        self.systemctl = systemctl
        self.booted = os.path.isdir('/run/systemd/system') if booted is None else booted

    def _call(self, *args):
        return self.run([self.systemctl] + list(args), None)

    def is_enabled(self, unit):
        rc, out, err = self._call('is-enabled', unit)
        return rc == 0 and out.strip() == 'enabled'

    def enable(self, unit):
        self._call('daemon-reload')
        rc, out, err = self._call('enable', unit)
        if rc != 0:
            raise NftError('systemctl enable %s failed (rc=%s): %s' % (unit, rc, err.strip()))

    def disable(self, unit):
        self._call('disable', unit)
        self._call('daemon-reload')


def converge(nft, systemd, ports, state='present', exempt_loopback=True, persist=True,
             persist_path=DEFAULT_PERSIST_PATH, unit_path=DEFAULT_UNIT_PATH, check_mode=False):
    """Make the owned table (and its persistence) match; one run() for check and diff.

    Returns the module result: changed, ports, added, removed, rules_changed,
    persist_changed, table, warnings, diff.
    """
    warnings = []
    desired = make_model(normalize_ports(ports), exempt_loopback) if state == 'present' else None
    current = nft.read()
    rules_changed = current != desired
    before, after = set(current['ports']) if current else set(), set(desired['ports']) if desired else set()

    persist_want = {}
    unit = os.path.basename(unit_path)
    if persist and desired is not None:
        persist_want = {persist_path: persist_text(desired), unit_path: unit_text(persist_path, nft.nft)}
    persist_changed = False
    if persist:
        # persist=false leaves any earlier persistence alone.
        for path in (persist_path, unit_path):
            if _read_file(path) != persist_want.get(path):
                persist_changed = True
        if persist_want and systemd.booted and not systemd.is_enabled(unit):
            persist_changed = True

    before_text = describe(current) if current is None or current['intact'] else _raw_or_empty(nft, current)
    if rules_changed:
        script = render_script(desired)
        # Check mode still asks the kernel whether the script would load.
        nft.load(script, check=check_mode)
    if persist_changed and not check_mode:
        if persist_want:
            for path, text in persist_want.items():
                if _read_file(path) != text:
                    _write_file(path, text)
            if systemd.booted:
                systemd.enable(unit)
            else:
                warnings.append('systemd is not running: %s was written but not enabled' % unit_path)
        else:
            if systemd.booted and os.path.exists(unit_path):
                systemd.disable(unit)
            for path in (unit_path, persist_path):
                if os.path.exists(path):
                    os.unlink(path)

    return {
        'changed': rules_changed or persist_changed,
        'rules_changed': rules_changed,
        'persist_changed': persist_changed,
        'ports': ports_list(desired),
        'added': [{'port': p, 'protocol': pr} for p, pr in sorted(after - before)],
        'removed': [{'port': p, 'protocol': pr} for p, pr in sorted(before - after)],
        'table': describe(desired),
        'warnings': warnings,
        'diff': {
            'before_header': 'table %s %s' % (FAMILY, TABLE),
            'after_header': 'table %s %s' % (FAMILY, TABLE),
            'before': before_text,
            'after': describe(desired),
        },
    }


def _raw_or_empty(nft, current):
    if current is None:
        return ''
    rc, out, err = nft.run([nft.nft, '-s', 'list', 'table', FAMILY, TABLE], None)
    return out if rc == 0 else describe(current)
