# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SSH_CONNECTION found in a real process ancestry (the shape sshd -> shell -> sudo -> python has)."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import session

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
VALUE = '192.0.2.10 51234 192.0.2.20 2222'
# The child prints what session.ssh_connection() finds from inside it.
PROBE = ('import json; from ansible_collections.hostsec.ports.plugins.module_utils._listeners import session; '
         'print(json.dumps(session.ssh_connection()))')


def _run(argv, env, **kwargs):
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True, **kwargs)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env(**extra):
    env = {'PATH': '/usr/bin:/bin', 'PYTHONPATH': COLLECTIONS}
    env.update(extra)
    return env


def test_own_environment_first():
    assert session.ssh_connection(environ={'SSH_CONNECTION': VALUE}) == (VALUE, 'environment')


def test_found_in_a_parent_when_the_child_lost_it():
    # sh holds SSH_CONNECTION; python is started without it, as sudo's env_reset starts a module.
    shell = 'env -u SSH_CONNECTION %s -c "%s"' % (sys.executable, PROBE)
    value, source = _run(['/bin/sh', '-c', shell], _env(SSH_CONNECTION=VALUE))
    assert value == VALUE and source.startswith('environment of parent process ')


def test_nearest_parent_wins_and_ipv6_is_accepted():
    inner = 'fe80::1%eth0 40000 2001:db8::2 2200'
    shell = ('SSH_CONNECTION="%s" /bin/sh -c \'env -u SSH_CONNECTION %s -c "%s"\'' % (inner, sys.executable, PROBE))
    assert _run(['/bin/sh', '-c', shell], _env(SSH_CONNECTION=VALUE))[0] == inner


def test_none_in_the_ancestry_says_so():
    if session.ssh_connection(environ={})[0] is not None:
        pytest.skip('the tests themselves run inside an SSH session, so every child has one in its ancestry')
    value, why = _run([sys.executable, '-c', PROBE], _env())
    assert value is None and why.startswith('no SSH_CONNECTION in this process or its ')


@pytest.mark.parametrize('bad', ['garbage', '1.2.3.4 22', '1.2.3.4 x 5.6.7.8 22', '1.2.3.4 1 5.6.7.8 123456'])
def test_a_malformed_value_is_not_a_port(bad):
    value, why = session.ssh_connection(environ={'SSH_CONNECTION': bad})
    assert value is None and 'malformed' in why
    shell = 'env -u SSH_CONNECTION %s -c "%s"' % (sys.executable, PROBE)
    value, why = _run(['/bin/sh', '-c', shell], _env(SSH_CONNECTION=bad))
    assert value is None and 'malformed' in why


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to start a process as nobody')
def test_an_unprivileged_child_cannot_read_root_s_session_and_says_so():
    nobody = pwd.getpwnam('nobody')

    def drop():
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    # /usr/bin/python3: the test interpreter may live under root's 0700 home.
    shell = 'env -u SSH_CONNECTION /usr/bin/python3 -c "%s"' % PROBE
    # The sh that starts python runs as nobody; its parent (pytest, root) and grandparents are root's.
    value, why = _run(['/bin/sh', '-c', shell], _env(), preexec_fn=drop, cwd='/')
    assert value is None and 'could not be read by this user' in why


def test_a_pid_loop_in_a_fake_proc_ends(tmp_path):
    for pid, ppid in ((10, 11), (11, 10)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / 'stat').write_bytes(b'%d (a) b) S %d 0 0' % (pid, ppid))
        (tmp_path / str(pid) / 'environ').write_bytes(b'HOME=/\0')
    value, why = session.ssh_connection(proc_root=str(tmp_path), pid=10, environ={})
    assert value is None and 'its 2 parent(s)' in why
