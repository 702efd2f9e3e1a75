# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The iptables backend (iptables-nft or legacy alike), IPv4 and IPv6.

The collection owns, per family, the chain ``HOSTSEC_PORTS`` in the filter
table and the one rule ``-A INPUT ! -i lo -j HOSTSEC_PORTS``, first in INPUT
so a user's ACCEPT cannot shadow a block (loopback stays open, as under ufw
and firewalld). The chain holds one rule per blocked port, in port order::

    -A HOSTSEC_PORTS -p tcp -m tcp --dport 8081 -m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset

Only conntrack state NEW is rejected: replies to the host's own outgoing
traffic whose local port is listed (ntpd from 123, a DHCP client on 68,
ephemeral TCP ports) belong to established flows and pass.

The chain is replaced whole with ``iptables-restore --noflush`` (declaring a
user chain flushes it; every other chain is left as it is), validated with
``--test`` in check mode. Persistence: one restore file per family holding only
that chain, loaded at boot by ``hostsec-ports-iptables.service`` after the
loaders of the user's own rules; /etc/iptables/rules.v4 is never read or written.
"""

from __future__ import annotations

import shlex

from ansible_collections.hostsec.ports.plugins.module_utils._firewall.core import (
    OWNER, STATE_DIR, UNIT_DIR, Op, describe_files, file_ops, restore_files_script)

CHAIN = 'HOSTSEC_PORTS'
JUMP = ['!', '-i', 'lo', '-j', CHAIN]
JUMP_SPEC = '-A INPUT ! -i lo -j %s' % CHAIN
FAMILIES = ('ipv4', 'ipv6')
COMMANDS = {'ipv4': 'iptables', 'ipv6': 'ip6tables'}
UNIT = 'hostsec-ports-iptables.service'
# Where versions before port_block kept the boot files: removed when found.
LEGACY_FILES = ('/var/lib/hostsec-ports/iptables.rules', '/var/lib/hostsec-ports/ip6tables.rules')
UNREACHABLE = {'ipv4': 'icmp-port-unreachable', 'ipv6': 'icmp6-port-unreachable'}


def rule_spec(port, proto, family):
    """The chain rule for one port, exactly as ``iptables -S`` prints it back."""
    reject = 'tcp-reset' if proto == 'tcp' else UNREACHABLE[family]
    return '-p %s -m %s --dport %d -m conntrack --ctstate NEW -j REJECT --reject-with %s' % (
        proto, proto, port, reject)


def restore_text(rules):
    """An ``iptables-restore --noflush`` file that replaces only the owned chain."""
    return '*filter\n:%s - [0:0]\n%sCOMMIT\n' % (CHAIN, ''.join('-A %s %s\n' % (CHAIN, r) for r in rules))


def boot_file_text(rules, family):
    return ('# Managed by %s (module hostsec.ports.port_block); do not edit.\n'
            '# Loaded at boot by %s with `%s-restore --noflush`: only chain %s.\n'
            % (OWNER, UNIT, COMMANDS[family], CHAIN)) + restore_text(rules)


def unit_text(paths, binaries):
    """The boot unit: load each family's file, then put the jump first in INPUT."""
    lines = ['# Managed by %s (module hostsec.ports.port_block); do not edit.' % OWNER,
             '[Unit]',
             'Description=hostsec.ports port blocks (iptables chain %s)' % CHAIN,
             'DefaultDependencies=no',
             'Wants=network-pre.target',
             'Before=network-pre.target shutdown.target',
             # After the loaders of the user's own rules, which may flush the whole table.
             'After=local-fs.target netfilter-persistent.service iptables.service ip6tables.service',
             'Conflicts=shutdown.target',
             '',
             '[Service]',
             'Type=oneshot',
             'RemainAfterExit=yes']
    for family in FAMILIES:
        if family not in paths:
            continue
        ipt = binaries[family]
        lines.append('ExecStart=%s-restore --noflush %s' % (ipt, paths[family]))
        lines.append("ExecStart=/bin/sh -c '%s -C INPUT %s 2>/dev/null || %s -I INPUT 1 %s'"
                     % (ipt, ' '.join(JUMP), ipt, ' '.join(JUMP)))
    lines += ['', '[Install]', 'WantedBy=multi-user.target', '']
    return '\n'.join(lines)


def parse_chain(text):
    """``iptables -S HOSTSEC_PORTS`` -> the rule specs after ``-A HOSTSEC_PORTS``."""
    prefix = '-A %s ' % CHAIN
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def parse_input(text):
    """``iptables -S INPUT`` -> (number of owned jumps, whether the first rule is one)."""
    rules = [line for line in text.splitlines() if line.startswith('-A INPUT ')]
    jumps = sum(1 for line in rules if line == JUMP_SPEC)
    return jumps, bool(rules) and rules[0] == JUMP_SPEC


class Backend:
    """iptables and ip6tables under core.run()."""

    name = 'iptables'

    def __init__(self, host, persist=True, state_dir=STATE_DIR, unit_dir=UNIT_DIR):
        self.host = host
        self.persist = persist
        self.bin = {f: host.which(COMMANDS[f]) for f in FAMILIES}
        self.restore_bin = {f: host.which(COMMANDS[f] + '-restore') for f in FAMILIES}
        self.paths = {f: '%s/%s.rules' % (state_dir, COMMANDS[f]) for f in FAMILIES}
        self.unit_path = '%s/%s' % (unit_dir, UNIT)
        self.families = [f for f in FAMILIES if self._works(f)]
        self.warnings = []

    def _works(self, family):
        if not (self.bin[family] and self.restore_bin[family]):
            return False
        rc, out, err = self.host.run([self.bin[family], '-S', 'INPUT'])
        return rc == 0

    def usable(self):
        if 'ipv4' in self.families:
            return True, 'iptables can read the filter table'
        if not self.bin['ipv4']:
            return False, 'iptables is not installed'
        return False, 'iptables -S INPUT failed (no iptables-restore, or no CAP_NET_ADMIN)'

    def read(self):
        live = {}
        ports = set()
        for family in self.families:
            ipt = self.bin[family]
            rc, out, err = self.host.run([ipt, '-S', CHAIN])
            rules = parse_chain(out) if rc == 0 else None
            jumps, first = parse_input(self.host.must([ipt, '-S', 'INPUT']))
            live[family] = {'chain': rules is not None, 'rules': rules or [], 'jumps': jumps, 'first': first}
            for rule in rules or ():
                parts = rule.split()
                if len(parts) > 5 and parts[0] == '-p' and parts[4] == '--dport' and parts[5].isdigit():
                    ports.add((int(parts[5]), parts[1]))
        files = {}
        if self.persist:
            files = {self.paths[f]: self.host.read_file(self.paths[f]) for f in FAMILIES}
            files[self.unit_path] = self.host.read_file(self.unit_path)
        legacy = {path: self.host.read_file(path) for path in LEGACY_FILES} if self.persist else {}
        return {'ports': [list(p) for p in sorted(ports)], 'live': live, 'files': files,
                'legacy': {path: text for path, text in legacy.items() if text is not None},
                'unit_enabled': self.host.unit_enabled(UNIT) if self.persist else False}

    def desired(self, ports):
        live, files = {}, {}
        for family in self.families:
            rules = [rule_spec(p, proto, family) for p, proto in ports or ()]
            live[family] = {'chain': bool(ports), 'rules': rules, 'jumps': 1 if ports else 0, 'first': bool(ports)}
        if self.persist:
            files = {self.paths[f]: boot_file_text(live[f]['rules'], f) if ports and f in live else None
                     for f in FAMILIES}
            files[self.unit_path] = unit_text({f: self.paths[f] for f in live},
                                              {f: self.bin[f] for f in live}) if ports else None
        return {'ports': [list(p) for p in ports or ()], 'live': live, 'files': files, 'legacy': {},
                'unit_enabled': bool(ports)}

    def plan(self, current, desired):
        ops = []
        for family in self.families:
            ops.extend(self._family_ops(family, current['live'].get(family), desired['live'][family]))
        ops.extend(file_ops(self.host, current['files'], desired['files'], UNIT, current['unit_enabled']))
        ops.extend(file_ops(self.host, current.get('legacy', {}), {path: None for path in current.get('legacy', {})}))
        return ops

    def _family_ops(self, family, have, want):
        ipt, restore = self.bin[family], self.restore_bin[family]
        ops = []
        if want['chain']:
            if not have['chain'] or have['rules'] != want['rules']:
                text = restore_text(want['rules'])
                ops.append(Op('%s: load chain %s (%d rules)' % (COMMANDS[family], CHAIN, len(want['rules'])),
                              lambda: self.host.must([restore, '--noflush'], text),
                              lambda: self.host.must([restore, '--noflush', '--test'], text)))
            if have['jumps'] != 1 or not have['first']:
                # Every stray copy goes, then one jump first in INPUT.
                ops.append(Op('%s: jump to %s first in INPUT' % (COMMANDS[family], CHAIN),
                              lambda n=have['jumps']: self._put_jump_first(ipt, n)))
        elif have['chain'] or have['jumps']:
            ops.append(Op('%s: remove chain %s and its jump' % (COMMANDS[family], CHAIN),
                          lambda n=have['jumps'], c=have['chain']: self._drop(ipt, n, c)))
        return ops

    def _put_jump_first(self, ipt, jumps):
        for _i in range(jumps):
            self.host.must([ipt, '-D', 'INPUT'] + JUMP)
        self.host.must([ipt, '-I', 'INPUT', '1'] + JUMP)

    def _drop(self, ipt, jumps, chain):
        for _i in range(jumps):
            self.host.must([ipt, '-D', 'INPUT'] + JUMP)
        if chain:
            self.host.must([ipt, '-F', CHAIN])
            self.host.must([ipt, '-X', CHAIN])

    def render(self, state):
        lines = []
        for family in FAMILIES:
            live = state['live'].get(family)
            if not live or not (live['chain'] or live['jumps']):
                continue
            cmd = COMMANDS[family]
            if live['jumps']:
                where = 'first' if live['first'] else 'not first'
                copies = ', %d copies' % live['jumps'] if live['jumps'] > 1 else ''
                lines.append('%s: %s (%s in INPUT%s)' % (cmd, JUMP_SPEC, where, copies))
            if live['chain']:
                lines.append('%s: -N %s' % (cmd, CHAIN))
                lines.extend('%s: -A %s %s' % (cmd, CHAIN, r) for r in live['rules'])
        return ''.join(line + '\n' for line in lines) + describe_files(state['files'])

    def restore_script(self, snapshot, after):
        out = []
        for family in self.families:
            ipt, restore = shlex.quote(self.bin[family]), shlex.quote(self.restore_bin[family])
            live = snapshot['live'].get(family) or {'chain': False, 'rules': [], 'jumps': 0}
            jump = ' '.join(shlex.quote(a) for a in JUMP)
            out.append('while %s -D INPUT %s 2>/dev/null; do :; done' % (ipt, jump))
            if live['chain']:
                out.append("%s --noflush <<'HOSTSEC_PORTS_EOF' || rc=1\n%sHOSTSEC_PORTS_EOF"
                           % (restore, restore_text(live['rules'])))
                if live['jumps']:
                    out.append('%s -I INPUT 1 %s || rc=1' % (ipt, jump))
            else:
                out.append('if %s -S %s >/dev/null 2>&1; then %s -F %s && %s -X %s || rc=1; fi'
                           % (ipt, CHAIN, ipt, CHAIN, ipt, CHAIN))
        script = '\n'.join(out) + '\n'
        if self.persist:
            script += restore_files_script(snapshot['files'], UNIT if self.host.booted else None)
        return script
