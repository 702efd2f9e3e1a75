# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The ufw backend: the rules whose comment is ``hostsec.ports``, first in the list.

ufw stops at the first matching rule, so the owned rules sit at the top (a
user's allow must not shadow a block). ufw keeps its rules in
/etc/ufw/user.rules and user6.rules and loads them at boot itself.

Ownership is the comment, read from the ``### tuple ###`` lines of those
files (the comment is stored hex-encoded). ufw treats two rules that differ
only in action, log type or comment as the same rule: adding ``reject
8081/tcp`` next to a user's ``allow 8081/tcp`` would rewrite the user's rule,
and a later removal would delete it. The collection never adopts a user's
rule that way: when a rule of the user's matches the plain form, the owned
rule takes a distinct form that ufw keeps apart (source port 1:65535, which
every TCP and UDP connection that can be answered has); when that matches a
user's rule too, the run fails and says which rule.
"""

from __future__ import annotations

import binascii
import shlex

from ansible_collections.hostsec.ports.plugins.module_utils._firewall.core import OWNER, FirewallError, Op

RULES_FILES = {'ipv4': '/etc/ufw/user.rules', 'ipv6': '/etc/ufw/user6.rules'}
ANY = {'ipv4': '0.0.0.0/0', 'ipv6': '::/0'}
COMMENT_HEX = binascii.hexlify(OWNER.encode('utf-8')).decode('ascii')
DISTINCT_SPORT = '1:65535'


def spec(port, proto, form):
    """The ufw command-line rule (without the comment) for one owned port."""
    if form == 'plain':
        return ['reject', '%d/%s' % (port, proto)]
    return ['reject', 'proto', proto, 'from', 'any', 'port', DISTINCT_SPORT, 'to', 'any', 'port', str(port)]


def parse_rules(text, family):
    """The ``### tuple ###`` lines of one user*.rules file -> rule dicts, in order."""
    rules = []
    for line in (text or '').splitlines():
        if not line.startswith('### tuple ### '):
            continue
        body, comment = line[len('### tuple ### '):], ''
        if ' comment=' in body:
            body, comment = body.split(' comment=', 1)
        fields = body.split()
        if len(fields) not in (7, 9):
            rules.append({'family': family, 'key': tuple(fields), 'comment': comment.strip(), 'raw': line})
            continue
        action, proto, dport, dst, sport, src = fields[:6]
        rules.append({
            'family': family, 'action': action, 'proto': proto, 'dport': dport, 'dst': dst,
            'sport': sport, 'src': src, 'rest': fields[6:],
            # What ufw compares to decide that two rules are the same rule.
            'key': (proto, dport, dst, sport, src) + tuple(fields[6:]),
            'comment': comment.strip(), 'raw': line,
        })
    return rules


def owned_port(rule):
    """(port, proto, form) of an owned rule in one of our two shapes, else None."""
    if rule.get('action') != 'reject' or rule.get('rest') != ['in'] or not rule['dport'].isdigit():
        return None
    any_addr = ANY[rule['family']]
    if rule['dst'] != any_addr or rule['src'] != any_addr or rule['proto'] not in ('tcp', 'udp'):
        return None
    form = {'any': 'plain', DISTINCT_SPORT: 'distinct'}.get(rule['sport'])
    return (int(rule['dport']), rule['proto'], form) if form else None


def key_of(port, proto, form, family):
    sport = 'any' if form == 'plain' else DISTINCT_SPORT
    return (proto, str(port), ANY[family], sport, ANY[family], 'in')


class Backend:
    """ufw under core.run()."""

    name = 'ufw'

    def __init__(self, host):
        self.host = host
        self.ufw = host.which('ufw')
        self.warnings = []
        # With IPV6=no in /etc/default/ufw, ufw writes IPv4 rules only.
        defaults = host.read_file('/etc/default/ufw') or 'IPV6=yes'
        ipv6 = any(line.strip().replace('"', '') == 'IPV6=yes' for line in defaults.splitlines())
        self.families = ('ipv4', 'ipv6') if ipv6 else ('ipv4',)

    def usable(self):
        if not self.ufw:
            return False, 'ufw is not installed'
        rc, out, err = self.host.run([self.ufw, 'status'])
        if rc != 0 or 'Status: active' not in out:
            return False, 'ufw is not active (ufw status does not say Status: active)'
        return True, 'ufw is active'

    def _rules(self):
        out = []
        for family in self.families:
            out.extend(parse_rules(self.host.read_file(RULES_FILES[family]), family))
        return out

    def read(self):
        rules = self._rules()
        owned, foreign, order_ok = [], [], True
        for family in self.families:
            seen_foreign = False
            for rule in (r for r in rules if r['family'] == family):
                if rule['comment'] == COMMENT_HEX:
                    shape = owned_port(rule)
                    owned.append({'family': family, 'port': shape[0] if shape else None,
                                  'proto': shape[1] if shape else None, 'form': shape[2] if shape else None,
                                  'raw': rule['raw']})
                    if seen_foreign:
                        order_ok = False
                else:
                    seen_foreign = True
                    foreign.append(rule)
        self._foreign = foreign
        ports = sorted({(o['port'], o['proto']) for o in owned if o['port']})
        return {'ports': [list(p) for p in ports], 'owned': owned, 'first': order_ok}

    def _form(self, port, proto):
        """plain, unless a rule of the user's would make ufw merge ours into it."""
        keys = {r['key'] for r in getattr(self, '_foreign', ())}
        for form in ('plain', 'distinct'):
            if not any(key_of(port, proto, form, f) in keys for f in ('ipv4', 'ipv6')):
                return form
        clash = [r['raw'] for r in self._foreign
                 if r['key'] in {key_of(port, proto, fm, f) for fm in ('plain', 'distinct') for f in ('ipv4', 'ipv6')}]
        raise FirewallError(
            'ufw: cannot block %d/%s without taking over a rule of your own: ufw treats rules that differ only in '
            'action or comment as one rule, and both forms the collection uses match yours (%s). Change or delete '
            'that rule, or allow the port in the policy.' % (port, proto, '; '.join(clash)))

    def desired(self, ports):
        forms = {(port, proto): self._form(port, proto) for port, proto in ports or ()}
        # In file order: per family, in port order (each insert goes to the top, in reverse).
        owned = [{'family': family, 'port': port, 'proto': proto, 'form': forms[(port, proto)], 'raw': None}
                 for family in self.families for port, proto in ports or ()]
        return {'ports': [list(p) for p in ports or ()], 'owned': owned, 'first': True}

    @staticmethod
    def _items(state):
        """Owned rules as (port, proto, form) in order, one per rule pair."""
        seen, out = set(), []
        for o in state['owned']:
            item = (o['port'], o['proto'], o['form'])
            if item not in seen:
                seen.add(item)
                out.append(item)
        return out

    def plan(self, current, desired):
        have = [(o['port'], o['proto'], o['form'], o['family']) for o in current['owned']]
        want = [(o['port'], o['proto'], o['form'], o['family']) for o in desired['owned']]
        odd = [o['raw'] for o in current['owned'] if o['port'] is None]
        if odd:
            raise FirewallError('ufw: rule(s) carry the comment %s in a shape the collection never writes (%s); '
                                'delete them by hand (ufw status numbered, ufw delete N) and run again'
                                % (OWNER, '; '.join(odd)))
        if sorted(have) == sorted(want) and current['first']:
            return []
        ops = []
        # Simplest correct change: take every owned rule out, then insert the
        # wanted ones at the top. ufw applies each command at once.
        for item in self._items(current):
            if item[0] is None:
                continue
            ops.append(Op('ufw delete %s' % ' '.join(self._cmd(*item)),
                          lambda i=item: self.host.must([self.ufw, 'delete'] + self._cmd(*i))))
        for item in reversed(self._items(desired)):
            ops.append(Op('ufw prepend %s' % ' '.join(self._cmd(*item)),
                          lambda i=item: self._insert_first(i)))
        return ops

    @staticmethod
    def _cmd(port, proto, form):
        return spec(port, proto, form) + ['comment', OWNER]

    def _insert_first(self, item):
        # prepend, not "insert 1": ufw places the IPv6 half of "insert 1" before
        # the IPv6 twin of the first IPv4 rule, or last when that rule has none.
        self.host.must([self.ufw, 'prepend'] + self._cmd(*item))

    def render(self, state):
        lines = []
        for o in state['owned']:
            if o['port'] is None:
                lines.append('%s: %s' % (o['family'], o['raw']))
            else:
                lines.append('%s: ufw %s' % (o['family'], ' '.join(self._cmd(o['port'], o['proto'], o['form']))))
        if state['owned'] and not state['first']:
            lines.append('# a rule of the user comes before an owned rule')
        return ''.join(line + '\n' for line in lines)

    def restore_script(self, snapshot, after):
        ufw = shlex.quote(self.ufw or 'ufw')
        out = []
        for item in self._items(after):
            out.append('%s delete %s >/dev/null || rc=1' % (ufw, ' '.join(shlex.quote(a) for a in self._cmd(*item))))
        for item in reversed(self._items(snapshot)):
            if item[0] is None:
                continue
            args = ' '.join(shlex.quote(a) for a in self._cmd(*item))
            out.append('%s prepend %s >/dev/null || rc=1' % (ufw, args))
        return '\n'.join(out) + ('\n' if out else '')
