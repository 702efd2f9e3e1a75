# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import owners

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')

# /proc/PID/stat of a process whose comm holds spaces, parentheses and a newline.
STAT = (b'4242 (my (evil)\n name) S 1 4242 4242 0 -1 4194560 1020 0 0 0 12 3 0 0 20 0 1 0 '
        b'123456 16777216 1200 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n')


@pytest.mark.parametrize('name, unit', [
    ('cgroup_v2_service', 'hostsec-http.service'),
    ('cgroup_hybrid_session', 'session-3.scope'),
    ('cgroup_user_service', None),  # a user manager's unit is never a system unit
    ('cgroup_delegated', 'containerd.service'),
    ('cgroup_hybrid_v1_only', 'ssh.service'),
    ('cgroup_container_root', None),
    ('cgroup_docker', None),
    ('cgroup_podman_hybrid', 'hostsec-http.service'),  # recorded in the molecule container
])
def test_parse_unit(name, unit):
    with open(os.path.join(FIXTURES, name), 'rb') as handle:
        assert owners.cgroup_units(handle.read())[0] == unit


def test_parse_unit_init_scope_and_empty():
    assert owners.cgroup_units('0::/init.scope\n')[0] == 'init.scope'
    assert owners.cgroup_units('')[0] is None


@pytest.mark.parametrize('cgroup, unit, services', [
    # A user names cgroups freely below user@UID.service: a system unit's name there is not that unit.
    ('0::/user.slice/user-1000.slice/user@1000.service/app.slice/postgresql.service\n',
     None, ['postgresql.service (user@1000)']),
    ('0::/user.slice/user-1000.slice/user@1000.service/app.slice/app.service/postgresql.service\n',
     None, ['app.service (user@1000)']),
    ('9:name=systemd:/user.slice/user-1000.slice/user@1000.service/sshd.service\n0::/\n',
     None, ['sshd.service (user@1000)']),
    # The user manager itself, and a process directly in user@UID.service.
    ('0::/user.slice/user-1000.slice/user@1000.service/init.scope\n', None, ['init.scope (user@1000)']),
    ('0::/user.slice/user-1000.slice/user@1000.service\n', None, []),
    # A service's delegated sub-tree (docker, systemd-nspawn): its cgroup names are not units.
    ('0::/system.slice/docker.service/nginx.service\n', 'docker.service', ['docker.service']),
    ('0::/system.slice/hostsec-http.service/payload/ssh.socket\n', 'hostsec-http.service', ['hostsec-http.service']),
    # Session scopes belong to the system manager.
    ('0::/user.slice/user-1000.slice/session-3.scope\n', 'session-3.scope', ['session-3.scope']),
    ('0::/machine.slice/machine-web.scope/system.slice/nginx.service\n', 'machine-web.scope', ['machine-web.scope']),
    # Lines end with \n alone: a user's cgroup named 'x\r0::nginx.service' (str.splitlines() would make it a
    # line of its own, naming a root service), or any other control character, names no unit at all.
    ('0::/user.slice/user-1002.slice/user@1002.service/app.slice/x\r0::/system.slice/nginx.service\n', None, []),
    ('0::/user.slice/user-1002.slice/user@1002.service/x\x1c0::/nginx.service\n', None, []),
    ('0::/system.slice/a\tb.service\n', None, []),
    # A second line of one hierarchy is no file the kernel wrote: it names none.
    ('0::/system.slice/ssh.service\n0::/system.slice/nginx.service\n', None, []),
])
def test_cgroup_units_first_unit_wins(cgroup, unit, services):
    assert owners.cgroup_units(cgroup) == (unit, services)
    assert owners.cgroup_units(cgroup)[0] == unit


def test_user_unit_form_is_no_system_unit_name():
    # systemd unit names allow only [A-Za-z0-9:_.\\-] (plus one '@'), and the policy's
    # owning_unit() stops only names ending in .service/.socket.
    with open(os.path.join(FIXTURES, 'cgroup_user_service'), 'rb') as handle:
        (name,) = owners.cgroup_units(handle.read())[1]
    assert name == 'pipewire.service (user@1000)'
    assert not name.endswith(owners.UNIT_SUFFIXES) and ' ' in name


def test_parse_stat_hostile_comm():
    comm, ticks, state = owners.parse_stat(STAT)
    assert comm == b'my (evil)\n name'
    assert ticks == 123456 and state == 'S'


def test_text_is_json_safe():
    value = owners.text(b'caf\xc3\xa9 \xff\xfe\nx')
    assert value == 'caf\u00e9 \\xff\\xfe\nx'
    assert json.loads(json.dumps(value)) == value


def test_full_name_repairs_comm_cut():
    assert owners.full_name(b'systemd-resolve', b'/usr/lib/systemd/systemd-resolved', []) == b'systemd-resolved'
    assert owners.full_name(b'my-very-long-da', None, [b'/opt/bin/my-very-long-daemon-name', b'-f']) \
        == b'my-very-long-daemon-name'
    assert owners.full_name(b'my-very-long-da', b'/opt/my-very-long-daemon (deleted)', []) == b'my-very-long-daemon'
    # A name set with prctl that matches nothing stays as the kernel has it.
    assert owners.full_name(b'worker: idle ab', b'/usr/bin/python3.11', [b'python3']) == b'worker: idle ab'
    assert owners.full_name(b'sshd', b'/usr/sbin/sshd', [b'sshd: /usr/sbin/sshd -D']) == b'sshd'


def test_parse_cmdline():
    assert owners.parse_cmdline(b'python3\0-m\0http.server\0') == [b'python3', b'-m', b'http.server']
    assert owners.parse_cmdline(b'') == []
    assert owners.parse_cmdline(b'sshd: root [priv]') == [b'sshd: root [priv]']


def fake_proc(root, pid, links, stat=STAT, cgroup=b'0::/system.slice/x.service\n'):
    """A /proc/PID tree on disk with real symlinks, shaped like procfs."""
    base = root / str(pid)
    (base / 'fd').mkdir(parents=True)
    for fd, target in links.items():
        os.symlink(target, str(base / 'fd' / str(fd)))
    (base / 'stat').write_bytes(stat)
    (base / 'cmdline').write_bytes(b'/opt/bin/my (evil)\n name\0--flag\0\xff\0')
    (base / 'status').write_bytes(b'Name:\tx\nUid:\t0\t0\t0\t0\n')
    (base / 'cgroup').write_bytes(cgroup)
    return base


def _tree(tmp_path):
    fake_proc(tmp_path, 10, {0: '/dev/null', 3: 'socket:[111]', 4: 'socket:[222]', 5: 'pipe:[9]', 6: 'socket:[111]'})
    fake_proc(tmp_path, 11, {3: 'socket:[111]', 4: 'socket:[999]'})
    fake_proc(tmp_path, 12, {3: 'socket:[999]'})
    (tmp_path / 'self').mkdir()
    (tmp_path / 'sys').mkdir()


def test_socket_owners_on_tree(tmp_path):
    _tree(tmp_path)
    found, scan = owners.socket_owners([111, 222, 333, 0], proc=str(tmp_path))
    assert found == {111: [10, 11], 222: [10]}
    assert (scan.unreadable, scan.ptrace_denied, scan.skipped, scan.second_pass) == (0, 0, 0, False)


def _with_netns(tmp_path, netns_of):
    _tree(tmp_path)
    for pid, inode in netns_of.items():
        (tmp_path / str(pid) / 'ns').mkdir()
        os.symlink('net:[%d]' % inode, str(tmp_path / str(pid) / 'ns' / 'net'))


def test_socket_owners_skips_other_netns_then_falls_back(tmp_path):
    _with_netns(tmp_path, {10: 1, 11: 1, 12: 2})
    # Everything wanted is held in namespace 1: process 12 (namespace 2) is never read.
    found, scan = owners.socket_owners([111, 222], proc=str(tmp_path), netns={1})
    assert found == {111: [10, 11], 222: [10]}
    assert scan.skipped == 1 and scan.second_pass is False and scan.netns_of == {10: 1, 11: 1, 12: 2}
    # 333 is held by no one in namespace 1: the skipped process is scanned too, and holds nothing.
    found, scan = owners.socket_owners([111, 333], proc=str(tmp_path), netns={1})
    assert found == {111: [10, 11]} and scan.second_pass is True


def test_socket_owners_fallback_finds_socket_held_across_namespaces(tmp_path):
    # Process 11 sits in namespace 2 but holds 999, a socket of namespace 1 (passed over a unix socket).
    _with_netns(tmp_path, {10: 1, 11: 2, 12: 2})
    found, scan = owners.socket_owners([111, 999], proc=str(tmp_path), netns={1})
    assert found == {111: [10, 11], 999: [11, 12]} and scan.second_pass is True


def test_socket_owners_nothing_wanted(tmp_path):
    found, scan = owners.socket_owners([], proc=str(tmp_path))
    assert found == {} and scan.unreadable == 0


def test_full_name_keeps_a_space_after_the_cut(tmp_path):
    # '/x/averylongprogram name2' exists (a symlink to another binary, so exe does not help).
    path = tmp_path / 'averylongprogram name2'
    path.write_bytes(b'')
    argv0 = os.fsencode(str(path))
    assert owners.full_name(b'averylongprogra', b'/usr/bin/python3.11', [argv0]) == b'averylongprogram name2'
    # A title written over argv[0] names no file: only its first word counts.
    assert owners.full_name(b'averylongprogra', None, [b'averylongprogram: worker 3']) == b'averylongprogram:'


def test_process_info_from_tree(tmp_path):
    fake_proc(tmp_path, 4242, {})
    ctx = owners.Context(proc=str(tmp_path))
    ctx.btime, ctx.hz = 1700000000, 100
    info = owners.process_info(4242, ctx)
    assert info['pid'] == 4242
    assert info['name'] == 'my (evil)\n name'
    assert info['cmdline'] == '/opt/bin/my (evil)\n name --flag \\xff'
    assert info['uid'] == 0 and info['user'] == 'root'
    assert info['start_time'] == '2023-11-14T22:33:54Z'  # 1700000000 + 1234.56 s
    assert info['unit'] == 'x.service' and info['services'] == ['x.service']
    assert info['exe'] is None  # no exe link in the tree


def test_process_info_user_manager_has_no_system_unit(tmp_path):
    cgroup = b'0::/user.slice/user-1000.slice/user@1000.service/app.slice/postgresql.service\n'
    fake_proc(tmp_path, 4243, {}, cgroup=cgroup)
    info = owners.process_info(4243, owners.Context(proc=str(tmp_path)))
    assert info['unit'] is None
    assert info['services'] == ['postgresql.service (user@1000)']


def test_process_info_vanished_and_zombie(tmp_path):
    ctx = owners.Context(proc=str(tmp_path))
    assert owners.process_info(777, ctx) is None
    fake_proc(tmp_path, 778, {}, stat=STAT.replace(b') S ', b') Z '))
    assert owners.process_info(778, ctx) is None
    assert owners.processes([777, 778], ctx) == {}


def test_context_reads_real_boot_time():
    ctx = owners.Context()
    assert ctx.btime and ctx.btime > 1e9
    assert ctx.user(0) == 'root'
    assert ctx.user(4000000) == '4000000'


def test_full_name_looks_argv0_up_only_when_exe_did_not_name_the_program(tmp_path, monkeypatch):
    # argv[0] is the process's own text: a path into a FUSE mount could stall a lookup, so exe goes first.
    looked_up = []
    real_lstat = os.lstat

    def spy(path, *args, **kwargs):
        looked_up.append(path)
        return real_lstat(path, *args, **kwargs)
    monkeypatch.setattr(owners.os, 'lstat', spy)
    argv0 = b'/fuse/averylongprogram name2'
    assert owners.full_name(b'averylongprogra', b'/usr/bin/averylongprogram name2', [argv0], root=b'/proc/1/root') \
        == b'averylongprogram name2'
    assert looked_up == []
    assert owners.full_name(b'averylongprogra', b'/usr/bin/python3.11', [argv0], root=str(tmp_path).encode()) \
        == b'averylongprogram'
    assert looked_up == [str(tmp_path).encode() + argv0]


def test_full_name_looks_a_relative_argv0_up_in_the_processs_working_directory(tmp_path):
    # /proc/PID/cwd and /proc/PID/root side by side; the gatherer's own working directory plays no part.
    (tmp_path / 'cwd' / 'bin').mkdir(parents=True)
    (tmp_path / 'cwd' / 'bin' / 'averylongprogram name2').write_bytes(b'')
    (tmp_path / 'root').mkdir()
    root = str(tmp_path / 'root').encode()
    assert owners.full_name(b'averylongprogra', None, [b'bin/averylongprogram name2'], root=root) \
        == b'averylongprogram name2'
    assert owners.full_name(b'averylongprogra', None, [b'/bin/averylongprogram name2'], root=root) == b'averylongprogram'
    # '/..' does not climb out of the process's root to reach the file beside it.
    assert owners.full_name(b'averylongprogra', None, [b'/../cwd/bin/averylongprogram name2'], root=root) \
        == b'averylongprogram'
    dir_fd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert owners.full_name(b'averylongprogra', None, [b'bin/averylongprogram name2'], b'root', dir_fd) \
            == b'averylongprogram name2'
    finally:
        os.close(dir_fd)
