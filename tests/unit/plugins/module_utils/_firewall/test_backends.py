# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""iptables, ufw and firewalld under core.run(), on recorded command output.

Only the program boundary is replaced (a table of argv -> output, shaped like
what iptables 1.8.9, ufw 0.36 and firewalld 1.3 print on Debian 12); every
decision core.run() and the backends make is real. The end-to-end behaviour
is in the molecule scenarios extensions/molecule/enforce-*.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._firewall import core, firewalld, iptables, ufw

RULE_8081 = '-p tcp -m tcp --dport 8081 -m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset'


class Programs:
    def __init__(self, answers, files=None):
        self.answers = answers
        self.files = files or {}
        self.calls = []

    def run(self, args, data):
        self.calls.append(args)
        key = ' '.join(args)
        for prefix, answer in self.answers.items():
            if key == prefix or key.startswith(prefix + ' '):
                return answer
        return 0, '', ''

    def host(self):
        host = core.Host(self.run, lambda name: '/usr/sbin/' + name, booted=False)
        host.read_file = self.files.get
        return host

    def changes(self, *prefixes):
        return [c for c in self.calls if any(' '.join(c).startswith(p) for p in prefixes)]


def ipt(chain_rules=None, input_rules=('-A INPUT -j USER_RULES',)):
    answers = {}
    for cmd in ('/usr/sbin/iptables', '/usr/sbin/ip6tables'):
        answers[cmd + ' -S INPUT'] = (0, '-P INPUT ACCEPT\n' + ''.join(r + '\n' for r in input_rules), '')
        if chain_rules is None:
            answers[cmd + ' -S HOSTSEC_PORTS'] = (1, '', 'iptables: No chain/target/match by that name.')
        else:
            answers[cmd + ' -S HOSTSEC_PORTS'] = (0, '-N HOSTSEC_PORTS\n' + ''.join(
                '-A HOSTSEC_PORTS %s\n' % r for r in chain_rules), '')
    return Programs(answers)


def test_iptables_from_nothing_loads_chain_and_jump_for_both_families():
    progs = ipt()
    res = core.run(iptables.Backend(progs.host(), persist=False), [{'port': 8081}])
    assert res['changed'] and res['added'] == [{'port': 8081, 'protocol': 'tcp'}]
    assert res['operations'] == ['iptables: load chain HOSTSEC_PORTS (1 rules)', 'iptables: jump to HOSTSEC_PORTS first in INPUT',
                                 'ip6tables: load chain HOSTSEC_PORTS (1 rules)', 'ip6tables: jump to HOSTSEC_PORTS first in INPUT']
    assert ['/usr/sbin/iptables', '-I', 'INPUT', '1', '!', '-i', 'lo', '-j', 'HOSTSEC_PORTS'] in progs.calls
    assert 'iptables: -A HOSTSEC_PORTS %s' % RULE_8081 in res['diff']['after'] and res['diff']['before'] == ''


def test_iptables_same_rules_change_nothing_and_check_mode_only_tests():
    progs = ipt([RULE_8081], input_rules=('-A INPUT ! -i lo -j HOSTSEC_PORTS', '-A INPUT -j USER_RULES'))
    assert not core.run(iptables.Backend(progs.host(), persist=False), [{'port': 8081}])['changed']
    progs = ipt([RULE_8081.replace(' -m conntrack --ctstate NEW', '')],
                input_rules=('-A INPUT -j USER_RULES', '-A INPUT ! -i lo -j HOSTSEC_PORTS'))
    res = core.run(iptables.Backend(progs.host(), persist=False), [{'port': 8081}], check_mode=True)
    # The old shape without --ctstate NEW is rewritten, a jump that is not first is moved.
    assert res['changed'] and res['added'] == [] and 'iptables: jump to HOSTSEC_PORTS first in INPUT' in res['operations']
    assert progs.changes('/usr/sbin/iptables -I', '/usr/sbin/iptables -D') == []
    assert progs.changes('/usr/sbin/iptables-restore') == [['/usr/sbin/iptables-restore', '--noflush', '--test']]


def test_iptables_boot_file_drift_is_repaired_on_a_run_without_rule_changes(tmp_path):
    progs = ipt([RULE_8081], input_rules=('-A INPUT ! -i lo -j HOSTSEC_PORTS',))
    host = progs.host()
    backend = iptables.Backend(host, state_dir=str(tmp_path / 'etc'), unit_dir=str(tmp_path / 'units'))
    wanted = backend.desired(((8081, 'tcp'),))['files']
    progs.files.update(wanted)
    progs.files[str(tmp_path / 'etc' / 'ip6tables.rules')] = '# edited by hand\n'
    res = core.run(backend, [{'port': 8081}])
    assert res['operations'] == ['write %s' % (tmp_path / 'etc' / 'ip6tables.rules')]
    assert res['persist_changed'] and not res['rules_changed']


def test_iptables_absent_removes_jump_and_chain_and_restore_puts_them_back():
    progs = ipt([RULE_8081], input_rules=('-A INPUT ! -i lo -j HOSTSEC_PORTS',))
    res = core.run(iptables.Backend(progs.host(), persist=False), [], state='absent')
    assert res['removed'] == [{'port': 8081, 'protocol': 'tcp'}]
    assert ['/usr/sbin/iptables', '-X', 'HOSTSEC_PORTS'] in progs.calls
    assert '-A HOSTSEC_PORTS %s\n' % RULE_8081 in res['restore_script']
    assert "/usr/sbin/ip6tables -I INPUT 1 '!' -i lo -j HOSTSEC_PORTS || rc=1" in res['restore_script']


def test_protected_range_with_null_protocol_covers_udp_before_any_call():
    progs = ipt()
    with pytest.raises(core.FirewallError, match=r'6000/udp \(protected 5900-6100/tcp\+udp: VNC\)'):
        core.run(iptables.Backend(progs.host(), persist=False), [{'port': 6000, 'protocol': 'udp'}],
                 [{'port': 5900, 'end': 6100, 'protocol': None, 'reason': 'VNC'}])
    assert progs.calls == [['/usr/sbin/iptables', '-S', 'INPUT'], ['/usr/sbin/ip6tables', '-S', 'INPUT']]
    # A protocol-specific spec leaves the other protocol blockable.
    core.normalize_protected([{'port': 53, 'protocol': 'tcp'}])
    core.check_protected(((53, 'udp'),), core.normalize_protected([{'port': 53, 'protocol': 'tcp'}]))


USER_RULES = '''*filter
### RULES ###

### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in
-A ufw-user-input -p tcp --dport 22 -j ACCEPT

### tuple ### allow tcp 8081 0.0.0.0/0 any 0.0.0.0/0 in comment=7573657220616c6c6f77
-A ufw-user-input -p tcp --dport 8081 -j ACCEPT

### END RULES ###
'''


def ufw_programs(v4=USER_RULES, v6=''):
    return Programs({'/usr/sbin/ufw status': (0, 'Status: active\n', '')},
                    {'/etc/ufw/user.rules': v4, '/etc/ufw/user6.rules': v6, '/etc/default/ufw': 'IPV6=yes\n'})


def test_ufw_never_merges_into_a_users_rule_for_the_same_port():
    progs = ufw_programs()
    res = core.run(ufw.Backend(progs.host()), [{'port': 8081}, {'port': 8082}])
    # 8081/tcp has the user's allow: ufw would rewrite it, so ours takes the distinct form.
    assert res['operations'] == [
        'ufw prepend reject 8082/tcp comment hostsec.ports',
        'ufw prepend reject proto tcp from any port 1:65535 to any port 8081 comment hostsec.ports']


def test_ufw_owned_rules_first_are_idempotent_and_foreign_ones_untouched():
    owned = ('### tuple ### reject tcp 8082 0.0.0.0/0 any 0.0.0.0/0 in comment=%s\n' % ufw.COMMENT_HEX)
    v6 = owned.replace('0.0.0.0/0', '::/0')
    progs = ufw_programs(USER_RULES.replace('### RULES ###\n', '### RULES ###\n' + owned), v6)
    res = core.run(ufw.Backend(progs.host()), [{'port': 8082}])
    assert not res['changed'] and res['ports'] == [{'port': 8082, 'protocol': 'tcp'}]
    res = core.run(ufw.Backend(progs.host()), [], state='absent', check_mode=True)
    assert res['operations'] == ['ufw delete reject 8082/tcp comment hostsec.ports'] and progs.changes('/usr/sbin/ufw delete') == []
    assert "prepend reject 8082/tcp comment hostsec.ports" in res['restore_script']


def test_ufw_refuses_when_both_forms_match_users_rules():
    clash = USER_RULES.replace('### END', '### tuple ### deny tcp 8081 0.0.0.0/0 1:65535 0.0.0.0/0 in\n### END')
    with pytest.raises(core.FirewallError, match='taking over a rule of your own'):
        core.run(ufw.Backend(ufw_programs(clash).host()), [{'port': 8081}])


INFO = '''hostsec-ports (active)
  priority: -100
  target: CONTINUE
  ingress-zones: ANY
  egress-zones: HOST
  services:
  ports:
  rich rules:
\trule port port="8081" protocol="tcp" reject
'''


def fwd(permanent=INFO, runtime=INFO):
    return Programs({
        '/usr/sbin/firewall-cmd --state': (0, 'running\n', ''),
        '/usr/sbin/firewall-cmd --permanent --info-policy=hostsec-ports': (0, permanent, '') if permanent else (1, '', 'INVALID_POLICY'),
        '/usr/sbin/firewall-cmd --info-policy=hostsec-ports': (0, runtime, '') if runtime else (1, '', 'INVALID_POLICY'),
    })


def test_firewalld_adds_and_removes_rich_rules_permanent_and_runtime():
    progs = fwd()
    res = core.run(firewalld.Backend(progs.host()), [{'port': 8082}])
    assert res['operations'] == [
        'permanent: remove rule port port="8081" protocol="tcp" reject', 'permanent: add rule port port="8082" protocol="tcp" reject',
        'runtime: remove rule port port="8081" protocol="tcp" reject', 'runtime: add rule port port="8082" protocol="tcp" reject']
    assert not core.run(firewalld.Backend(fwd().host()), [{'port': 8081}])['changed']


def test_firewalld_create_refuses_a_reload_that_would_drop_runtime_changes():
    progs = fwd(None, None)
    progs.answers['/usr/sbin/firewall-cmd --list-all-zones'] = (0, 'public\n  ports: 9999/tcp\n', '')
    with pytest.raises(core.FirewallError, match='runtime-only changes'):
        core.run(firewalld.Backend(progs.host()), [{'port': 8081}], check_mode=True)
    assert progs.changes('/usr/sbin/firewall-cmd --permanent --new-policy') == []


SHELLCHECK = shutil.which('shellcheck')


def restore_scripts():
    """A restore script of every backend, both directions (put back, take away)."""
    owned_v4 = '### tuple ### reject tcp 8082 0.0.0.0/0 any 0.0.0.0/0 in comment=%s\n' % ufw.COMMENT_HEX
    cases = [
        (iptables.Backend(ipt([RULE_8081], ('-A INPUT ! -i lo -j HOSTSEC_PORTS',)).host()), [{'port': 8082}]),
        (iptables.Backend(ipt().host()), [{'port': 8081}]),
        (ufw.Backend(ufw_programs(owned_v4).host()), [{'port': 8081}]),
        (firewalld.Backend(fwd().host()), [{'port': 8082}]),
        (firewalld.Backend(fwd(None, None).host()), []),
        (firewalld.Backend(fwd().host()), []),
    ]
    for backend, ports in cases:
        yield core.run(backend, ports, state='present' if ports else 'absent', check_mode=True)['restore_script']


@pytest.mark.parametrize('script', list(restore_scripts()))
def test_restore_scripts_are_valid_sh(script, tmp_path):
    path = tmp_path / 'rollback.sh'
    path.write_text('#!/bin/sh\nrc=0\n' + script + 'exit $rc\n')
    assert subprocess.run(['sh', '-n', str(path)], capture_output=True, text=True, check=False).returncode == 0, script
    if SHELLCHECK:
        res = subprocess.run([SHELLCHECK, '-s', 'sh', str(path)], capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout
