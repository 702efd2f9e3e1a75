# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The firewalld backend: one policy object the collection owns, permanent and runtime.

The policy ``hostsec-ports`` goes from ingress ANY to egress HOST, so it sees
traffic from every zone, with a negative priority, so it is evaluated before
the zones' own allows, and target CONTINUE, so whatever it does not reject
goes on to the zones. Its rich rules are the owned rules::

    rule port port="8081" protocol="tcp" reject

User zones and other policies are never edited. ansible.posix.firewalld has
no policy objects, so this drives firewall-cmd through argv. Rules are added
and removed in the permanent configuration (boot) and at runtime (now)
separately; creating the policy needs ``firewall-cmd --reload`` (new policies
are permanent-only), which is refused while the runtime configuration holds
changes the permanent one lacks, because a reload would drop them.
"""

from __future__ import annotations

import re
import shlex

from ansible_collections.hostsec.ports.plugins.module_utils._firewall.core import FirewallError, Op

POLICY = 'hostsec-ports'
PRIORITY = -100
SETTINGS = {'priority': str(PRIORITY), 'target': 'CONTINUE', 'ingress-zones': 'ANY', 'egress-zones': 'HOST'}
SETTING_ARGS = ['--set-priority=%d' % PRIORITY, '--set-target=CONTINUE',
                '--add-ingress-zone=ANY', '--add-egress-zone=HOST']


def rich_rule(port, proto):
    return 'rule port port="%d" protocol="%s" reject' % (port, proto)


_RULE = re.compile(r'^rule port port="(\d+)" protocol="(tcp|udp)" reject$')


def parse_info(text):
    """``firewall-cmd --info-policy`` output -> {settings: {...}, rules: [...]}."""
    settings, rules = {}, []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith('rule '):
            rules.append(stripped)
            continue
        key, sep, value = stripped.partition(':')
        if sep and key in SETTINGS:
            settings[key] = value.strip()
    return {'settings': settings, 'rules': rules}


def _normalise_config(text):
    """A config listing with the owned policy, interfaces and active markers left out."""
    out, skip = [], False
    for line in text.splitlines():
        if line and not line[0].isspace():
            skip = line.split()[0] == POLICY
        if skip or line.startswith('  interfaces:'):
            continue
        out.append(line.replace(' (active)', '').replace(' (default)', ''))
    return out


class Backend:
    """firewalld under core.run()."""

    name = 'firewalld'

    def __init__(self, host):
        self.host = host
        self.cmd = host.which('firewall-cmd')
        self.warnings = []

    def usable(self):
        if not self.cmd:
            return False, 'firewall-cmd is not installed'
        rc, out, err = self.host.run([self.cmd, '--state'])
        if rc != 0:
            return False, 'firewalld is not running (firewall-cmd --state: %s)' % (out or err).strip()
        rc, out, err = self.host.run([self.cmd, '--get-policies'])
        if rc != 0:
            return False, 'this firewalld has no policy objects (0.9 or later is needed)'
        return True, 'firewalld is running'

    def _info(self, permanent):
        flag = ['--permanent'] if permanent else []
        rc, out, err = self.host.run([self.cmd] + flag + ['--info-policy=%s' % POLICY])
        return parse_info(out) if rc == 0 else None

    def read(self):
        if not self.cmd or self.host.run([self.cmd, '--state'])[0] != 0:
            return {'ports': [], 'permanent': None, 'runtime': None}
        permanent, runtime = self._info(True), self._info(False)
        ports = set()
        for conf in (permanent, runtime):
            for rule in (conf or {}).get('rules', ()):
                m = _RULE.match(rule)
                if m:
                    ports.add((int(m.group(1)), m.group(2)))
        return {'ports': [list(p) for p in sorted(ports)], 'permanent': permanent, 'runtime': runtime}

    def desired(self, ports):
        if not ports:
            return {'ports': [], 'permanent': None, 'runtime': None}
        conf = {'settings': dict(SETTINGS), 'rules': [rich_rule(p, proto) for p, proto in ports]}
        return {'ports': [list(p) for p in ports], 'permanent': conf, 'runtime': dict(conf)}

    def _rule_ops(self, flag, have, want, where):
        ops = []
        for rule in have:
            if rule not in want:
                ops.append(Op('%s: remove %s' % (where, rule), lambda r=rule: self.host.must(
                    [self.cmd] + flag + ['--policy=%s' % POLICY, '--remove-rich-rule=%s' % r])))
        for rule in want:
            if rule not in have:
                ops.append(Op('%s: add %s' % (where, rule), lambda r=rule: self.host.must(
                    [self.cmd] + flag + ['--policy=%s' % POLICY, '--add-rich-rule=%s' % r])))
        return ops

    def plan(self, current, desired):
        perm, run = current['permanent'], current['runtime']
        want = desired['permanent']
        ops = []
        if want is None:
            if perm is not None:
                ops.append(Op('permanent: delete policy %s' % POLICY, lambda: self.host.must(
                    [self.cmd, '--permanent', '--delete-policy=%s' % POLICY])))
            if run is not None:
                # A runtime policy goes only with a reload; while the runtime
                # holds other unsaved changes its rules are emptied instead.
                ops.append(Op('runtime: drop policy %s' % POLICY, lambda r=list(run['rules']): self._drop_runtime(r)))
            return ops
        rebuild = perm is None or perm['settings'] != want['settings']
        reload = rebuild or run is None or run['settings'] != want['settings']
        if reload:
            # First, so nothing is half done when the reload has to be refused.
            ops.append(Op('check that the runtime configuration holds no unsaved changes (a reload follows)',
                          self._refuse_if_runtime_drift, self._refuse_if_runtime_drift))
        if rebuild:
            if perm is not None:
                ops.append(Op('permanent: delete policy %s (its settings were changed)' % POLICY,
                              lambda: self.host.must([self.cmd, '--permanent', '--delete-policy=%s' % POLICY])))
            ops.append(Op('permanent: create policy %s (%s)' % (POLICY, ', '.join(SETTING_ARGS)),
                          self._create))
            ops.extend(self._rule_ops(['--permanent'], [], want['rules'], 'permanent'))
        else:
            ops.extend(self._rule_ops(['--permanent'], perm['rules'], want['rules'], 'permanent'))
        if reload:
            ops.append(Op('runtime: firewall-cmd --reload (loads the policy)',
                          lambda: self.host.must([self.cmd, '--reload'])))
        else:
            ops.extend(self._rule_ops([], run['rules'], want['rules'], 'runtime'))
        return ops

    def _create(self):
        self.host.must([self.cmd, '--permanent', '--new-policy=%s' % POLICY])
        for arg in SETTING_ARGS:
            self.host.must([self.cmd, '--permanent', '--policy=%s' % POLICY, arg])

    def _runtime_drift(self):
        listings = []
        for flag in ([], ['--permanent']):
            lines = []
            for what in (['--list-all-zones'], ['--list-all-policies'], ['--direct', '--get-all-rules']):
                lines += _normalise_config(self.host.must([self.cmd] + flag + what))
            listings.append(lines)
        runtime, permanent = listings
        return [line for line in runtime if line not in permanent] + \
               ['(permanent only) ' + line for line in permanent if line not in runtime]

    def _refuse_if_runtime_drift(self):
        drift = self._runtime_drift()
        if drift:
            raise FirewallError(
                'firewalld: the runtime configuration differs from the permanent one, and putting the %s policy in '
                'place needs firewall-cmd --reload, which would drop those runtime-only changes. Make them permanent '
                '(firewall-cmd --runtime-to-permanent) or drop them (firewall-cmd --reload), then run again. '
                'Differences: %s' % (POLICY, ' | '.join(d.strip() for d in drift[:10])))

    def _drop_runtime(self, rules):
        if not self._runtime_drift():
            self.host.must([self.cmd, '--reload'])
            return
        for rule in rules:
            self.host.must([self.cmd, '--policy=%s' % POLICY, '--remove-rich-rule=%s' % rule])
        self.warnings.append('firewalld: the runtime configuration holds unsaved changes, so the emptied %s policy '
                             'stays at runtime until the next firewall-cmd --reload' % POLICY)

    def render(self, state):
        lines = []
        for where in ('permanent', 'runtime'):
            conf = state[where]
            if conf is None:
                continue
            settings = ' '.join('%s=%s' % (k, conf['settings'].get(k, '?')) for k in sorted(SETTINGS))
            lines.append('%s: policy %s %s' % (where, POLICY, settings))
            lines.extend('%s: %s' % (where, rule) for rule in conf['rules'])
        return ''.join(line + '\n' for line in lines)

    def restore_script(self, snapshot, after):
        cmd = shlex.quote(self.cmd or 'firewall-cmd')
        pol = '--policy=%s' % POLICY
        out = []
        snap, now = snapshot['permanent'], after['permanent']
        if snap is None:
            out.append('if %s --permanent --info-policy=%s >/dev/null 2>&1; then '
                       '%s --permanent --delete-policy=%s >/dev/null || rc=1; fi' % (cmd, POLICY, cmd, POLICY))
            for rule in (now or {}).get('rules', ()):
                out.append('%s %s --remove-rich-rule=%s >/dev/null 2>&1' % (cmd, pol, shlex.quote(rule)))
            return '\n'.join(out) + '\n'
        if now is None:
            # The run removed the policy: make it again and load it.
            out.append('%s --permanent --new-policy=%s >/dev/null || rc=1' % (cmd, POLICY))
            for arg in SETTING_ARGS:
                out.append('%s --permanent %s %s >/dev/null || rc=1' % (cmd, pol, arg))
            for rule in snap['rules']:
                out.append('%s --permanent %s --add-rich-rule=%s >/dev/null || rc=1' % (cmd, pol, shlex.quote(rule)))
            out.append('%s --reload >/dev/null || rc=1' % cmd)
            return '\n'.join(out) + '\n'
        for flag in ('--permanent ', ''):
            for rule in now['rules']:
                if rule not in snap['rules']:
                    out.append('%s %s%s --remove-rich-rule=%s >/dev/null || rc=1' % (cmd, flag, pol, shlex.quote(rule)))
            for rule in snap['rules']:
                if rule not in now['rules']:
                    out.append('%s %s%s --add-rich-rule=%s >/dev/null || rc=1' % (cmd, flag, pol, shlex.quote(rule)))
        return '\n'.join(out) + ('\n' if out else '')
