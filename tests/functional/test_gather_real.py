# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostsec.ports.listening_ports_info against real sockets and processes on this host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand, validate_listener

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHILD = os.path.join(HERE, 'gather_child.py')
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
SYSTEM_PYTHON = '/usr/bin/python3'
EXPOSURE = {'127.0.0.1': 'loopback', '::1': 'loopback', '::ffff:127.0.0.1': 'loopback',
            '0.0.0.0': 'wildcard', '::': 'wildcard'}


def gather(**kwargs):
    """linux.gather() with its listeners expanded to full records (what every consumer reads)."""
    result = linux.gather(**kwargs)
    return dict(result, listeners=expand(result))


class Child(object):
    """A process holding known sockets until stop()."""

    def __init__(self, argv, executable=None):
        self.proc = subprocess.Popen(argv, executable=executable, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('child did not start: %r' % (argv,))
        self.info = json.loads(line)

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope='module')
def child():
    kid = Child([sys.executable, CHILD])
    yield kid.info
    kid.stop()


def find(result, protocol, family, address, port):
    return [lst for lst in result['listeners'] if (lst['protocol'], lst['family'], lst['address'], lst['port'])
            == (protocol, family, address, port)]


@pytest.mark.parametrize('collector', ['netlink', 'procfs'])
def test_child_sockets_found(child, collector):
    result = gather(collector=collector, facts=True)
    assert result['collector'] == collector
    default_v6only = open('/proc/sys/net/ipv6/bindv6only').read().strip() == '1'
    for key, spec in child.items():
        if key in ('pid', 'shared_pid', 'udp_connected'):
            continue
        protocol, family, address, port, v6only = spec
        found = find(result, protocol, family, address, port)
        assert len(found) == 1, key
        lst = validate_listener(found[0])
        assert lst['exposure'] == EXPOSURE[address], key
        expected_pids = sorted([child['pid'], child['shared_pid']]) if key == 'shared' else [child['pid']]
        assert [p['pid'] for p in lst['processes']] == expected_pids, key
        if family == 'ipv6':
            # /proc/net cannot show v6only: the host default stands in (documented, warned).
            known = v6only if collector == 'netlink' else default_v6only
            assert lst['v6only'] is known, key
            assert lst['dual_stack'] is (address == '::' and not known), key
        else:
            assert lst['v6only'] is None and lst['dual_stack'] is False
        proc = lst['processes'][0]
        assert proc['uid'] == os.geteuid() and proc['exe'] and os.path.basename(proc['exe']).startswith('python')
        assert proc['cmdline'].endswith('gather_child.py')
        assert proc['start_time'].endswith('Z') and proc['start_time'][:2] == '20'
    protocol, family, address, port = child['udp_connected'][:4]
    assert not find(result, protocol, family, address, port), 'a connected UDP socket is not a listener'
    if collector == 'procfs':
        assert any('bindv6only' in w for w in result['warnings'])
    rows = [r for r in result['ansible_facts']['tcp_listen'] if r['port'] == child['shared'][3]]
    assert sorted(r['pid'] for r in rows) == sorted([child['pid'], child['shared_pid']])
    assert len(rows[0]['stime'].split()) == 5  # ps -o lstart form: 'Sat Nov 21 17:00:13 2026'


def _hostile_link(tmp_path, name):
    link = os.path.join(os.fsencode(str(tmp_path)), name)
    os.symlink(os.path.realpath(SYSTEM_PYTHON), link)
    return link


def _child_listener(info):
    result = gather(protocols=['tcp'], families=['ipv4'])
    found = find(result, 'tcp', 'ipv4', '127.0.0.1', info['tcp4_loop'][3])
    assert len(found) == 1
    return found[0]['processes'][0]


def test_hostile_exec_name_with_comm_cut(tmp_path):
    # Spaces, a newline and a byte that is not UTF-8, longer than the kernel's 15-byte comm.
    name = b'h1 evil\nname\xff-with-a-long-name'
    link = _hostile_link(tmp_path, name)
    kid = Child([link, CHILD.encode(), b'--only-one'], executable=link)
    try:
        proc = _child_listener(kid.info)
        assert proc['name'] == 'h1 evil\nname\\xff-with-a-long-name'
        assert proc['cmdline'].startswith(os.fsdecode(os.fsencode(str(tmp_path))) + '/h1 evil\nname\\xff-with')
        json.dumps(proc)  # JSON-safe
    finally:
        kid.stop()


def test_hostile_prctl_name(tmp_path):
    kid = Child([SYSTEM_PYTHON.encode(), CHILD.encode(), b'--only-one', b'--name', b'w\xffrk er\nx'])
    try:
        proc = _child_listener(kid.info)
        assert proc['name'] == 'w\\xffrk er\nx'
        assert proc['cmdline'].endswith('--name w\\xffrk er\nx')
    finally:
        kid.stop()


def test_vanished_process_not_listed():
    kid = Child([sys.executable, CHILD, '--only-one'])
    port = kid.info['tcp4_loop'][3]
    assert _child_listener(kid.info)['pid'] == kid.info['pid']
    kid.stop()
    result = gather()
    assert not find(result, 'tcp', 'ipv4', '127.0.0.1', port)
    assert all(p['pid'] != kid.info['pid'] for lst in result['listeners'] for p in lst['processes'])


def test_churn_no_crash_no_ghosts():
    """Processes start and exit while gathering: every run succeeds and lists only live owners."""
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            kid = Child([sys.executable, CHILD, '--only-one'])
            kid.stop()

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        deadline = time.time() + 4
        runs = 0
        while time.time() < deadline:
            result = gather()
            runs += 1
            for lst in result['listeners']:
                validate_listener(lst)
    finally:
        stop.set()
        thread.join()
    assert runs > 3


def _ss_set():
    out = subprocess.run(['ss', '-tulnH'], stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        local = fields[4]
        host, port = local.rsplit(':', 1)
        host = host.split('%')[0].strip('[]')
        if host == '*':
            host = '::'  # ss writes a dual-stack IPv6 wildcard as '*'
        found.add((fields[0], host, int(port)))
    return found


def _our_set():
    return {(lst['protocol'], lst['address'], lst['port']) for lst in gather()['listeners']}


@pytest.mark.skipif(shutil.which('ss') is None, reason='ss (iproute2) is not installed on this host')
def test_same_set_as_ss(child):
    # Other work runs on this host at the same time (make test runs test files on two workers): ss must lie
    # between two gathers taken around it. A socket that lives only between them can still make one try
    # disagree, so a disagreement must repeat three times to count; a real gap in the gather repeats every time.
    for attempt in range(3):
        before = _our_set()
        theirs = _ss_set()
        after = _our_set()
        if before & after <= theirs and theirs <= before | after:
            break
    assert before & after <= theirs, 'listed by us, missing from ss (%d tries): %s' % (
        attempt + 1, sorted((before & after) - theirs))
    assert theirs <= before | after, 'listed by ss, missing here (%d tries): %s' % (
        attempt + 1, sorted(theirs - (before | after)))
    assert ('tcp', '::', child['tcp6_dual'][3]) in theirs


def _ansible_env():
    env = dict(os.environ)
    env['ANSIBLE_COLLECTIONS_PATH'] = '%s:%s' % (COLLECTIONS, os.path.join(ROOT, '.venv', 'lib', 'python3.11', 'site-packages'))
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_LOCALHOST_WARNING'] = 'False'
    env['ANSIBLE_INVENTORY_UNPARSED_WARNING'] = 'False'
    return env


def _ansible(args):
    ansible = os.path.join(ROOT, '.venv', 'bin', 'ansible')
    proc = subprocess.run([ansible, 'localhost', '-i', 'localhost,', '-c', 'local', '-m', 'hostsec.ports.listening_ports_info']
                          + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ansible_env(),
                          universal_newlines=True, timeout=120, check=False)
    head, sep, body = proc.stdout.partition(' => ')
    assert sep, proc.stdout + proc.stderr
    return head, json.loads(body), proc


def test_module_through_ansible(child):
    head, result = _ansible(['-e', 'ansible_python_interpreter=%s' % SYSTEM_PYTHON,
                             '-a', 'protocols=tcp,udp collector=auto facts=true', '--check'])[:2]
    assert 'SUCCESS' in head and result['changed'] is False
    assert result['collector'] == 'netlink' and result['platform'] == 'linux'
    lst = [x for x in result['listeners'] if x['port'] == child['tcp6_dual'][3] and x['protocol'] == 'tcp']
    assert len(lst) == 1 and lst[0]['dual_stack'] is True and lst[0]['pids'] == [child['pid']]
    assert result['processes'][str(child['pid'])]['pid'] == child['pid'] and 'processes' not in lst[0]
    assert any(r['port'] == child['udp4_any'][3] for r in result['ansible_facts']['udp_listen'])


def test_module_bad_option_fails_cleanly():
    head, result = _ansible(['-e', 'ansible_python_interpreter=%s' % SYSTEM_PYTHON, '-a', 'collector=ss'])[:2]
    assert 'FAILED' in head
    assert 'collector' in result['msg'] and 'ss' in result['msg'] and 'Traceback' not in json.dumps(result)


NOBODY_SCRIPT = r'''
import json
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand
result = gather()
print(json.dumps(dict(result, listeners=expand(result))))
'''


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which('runuser') is None, reason='needs root and runuser')
def test_unprivileged_user_sees_every_socket(child):
    proc = subprocess.run(['runuser', '-u', 'nobody', '--', 'env', 'PYTHONPATH=' + COLLECTIONS, 'PYTHONDONTWRITEBYTECODE=1',
                           SYSTEM_PYTHON, '-c', NOBODY_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, cwd='/', check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result['privileged'] is False
    assert result['attribution_complete'] is False and result['unattributed'] > 0
    assert any('not privileged' in w for w in result['warnings'])
    for key in ('tcp4_any', 'tcp6_dual', 'udp6_only', 'shared'):
        protocol, family, address, port = child[key][:4]
        found = find(result, protocol, family, address, port)
        assert len(found) == 1 and found[0]['processes'] == [], key
    assert find(result, 'tcp', 'ipv6', '::', child['tcp6_dual'][3])[0]['dual_stack'] is True


PID1_SCRIPT = r'''
import json, os, socket
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand
calls = []
def runner(argv):
    calls.append(argv)
    return 1, '', 'System has not been booted with systemd as init system (PID 1). Can\'t operate.'
sock = socket.socket()
sock.bind(('127.0.0.1', 0))
sock.listen()
port = sock.getsockname()[1]
result = gather(protocols=['tcp'], families=['ipv4'], runner=runner)
mine = [l for l in expand(result) if l['port'] == port]
print(json.dumps({'pid': os.getpid(), 'calls': calls, 'warnings': result['warnings'], 'mine': mine}))
'''


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which('unshare') is None, reason='needs root and unshare')
@pytest.mark.skipif(os.path.isdir('/run/systemd/system'), reason='systemd runs this host: PID 1 of a new namespace still sees it')
def test_pid1_without_systemd_asks_no_systemctl():
    # Like a container whose PID 1 is the application (or tini): the listener is PID 1's,
    # but no systemd manages it, so systemctl must not run and no warning is raised.
    proc = subprocess.run(['unshare', '--pid', '--fork', '--mount-proc', 'env', 'PYTHONPATH=' + COLLECTIONS,
                           'PYTHONDONTWRITEBYTECODE=1', SYSTEM_PYTHON, '-c', PID1_SCRIPT],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                          cwd='/', check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out['pid'] == 1
    assert len(out['mine']) == 1 and [p['pid'] for p in out['mine'][0]['processes']] == [1]
    assert out['calls'] == []
    assert not any('socket units' in w for w in out['warnings']), out['warnings']


def test_name_with_a_space_after_the_comm_cut(tmp_path):
    # Started through a symlink, so exe names python and only argv[0] has the name; the
    # space after the 15th byte used to cut it to 'averylongprogram'.
    link = _hostile_link(tmp_path, b'averylongprogram name2')
    kid = Child([link, CHILD.encode(), b'--only-one'], executable=link)
    try:
        assert _child_listener(kid.info)['name'] == 'averylongprogram name2'
    finally:
        kid.stop()


def test_mapped_ipv4_wildcard_accepts_only_ipv4():
    import socket
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(('::ffff:0.0.0.0', 0))
    sock.listen(4)
    port = sock.getsockname()[1]
    try:
        # What the socket really accepts: IPv4, never IPv6.
        socket.create_connection(('127.0.0.1', port), timeout=5).close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(('::1', port), timeout=5)
        found = find(gather(protocols=['tcp'], families=['ipv6']), 'tcp', 'ipv6', '::ffff:0.0.0.0', port)
        assert len(found) == 1
        assert found[0]['exposure'] == 'wildcard' and found[0]['dual_stack'] is False
    finally:
        sock.close()


NOBODY_CHILD = [SYSTEM_PYTHON, CHILD, '--only-one']


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which('runuser') is None, reason='needs root and runuser')
def test_uid_of_a_process_that_dropped_root():
    # A process that setuid()s away from root is no longer dumpable, and the kernel makes its
    # /proc/PID entries root's, all but the directory itself that the uid is read from.
    script = ("import os, runpy, sys; os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534); "
              "sys.argv = [%r, '--only-one']; runpy.run_path(%r, run_name='__main__')" % (CHILD, CHILD))
    kid = Child([SYSTEM_PYTHON, '-c', script])
    try:
        assert os.stat('/proc/%d/status' % kid.info['pid']).st_uid == 0  # non-dumpable indeed
        proc = _child_listener(kid.info)
        assert proc['uid'] == 65534 and proc['user'] == 'nobody'
    finally:
        kid.stop()


NO_PTRACE_SCRIPT = r'''
import json, sys
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand
result = gather(protocols=['tcp'], families=['ipv4'])
print(json.dumps(dict(result, listeners=expand(result))))
'''


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which('setpriv') is None or shutil.which('runuser') is None,
                    reason='needs root, setpriv and runuser')
def test_root_without_cap_sys_ptrace_is_blamed_not_hidepid():
    kid = Child(['runuser', '-u', 'nobody', '--'] + NOBODY_CHILD)
    try:
        port = kid.info['tcp4_loop'][3]
        proc = subprocess.run(['setpriv', '--inh-caps=-sys_ptrace', '--bounding-set=-sys_ptrace', '--',
                               'env', 'PYTHONPATH=' + COLLECTIONS, 'PYTHONDONTWRITEBYTECODE=1', SYSTEM_PYTHON, '-c',
                               NO_PTRACE_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60, cwd='/', check=False)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result['privileged'] is True
        found = find(result, 'tcp', 'ipv4', '127.0.0.1', port)
        assert len(found) == 1 and found[0]['processes'] == []
        text = ' '.join(result['warnings'])
        assert 'lacks CAP_SYS_PTRACE' in text and 'hidepid' not in text, text
    finally:
        kid.stop()


def test_a_process_dir_opened_before_the_process_ended_reads_nothing_of_its_successor():
    """process_info reads through one fd of /proc/PID: once that process is gone, a process that
    later takes its pid (or none) cannot lend it fields; the record is left out whole."""
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners import owners

    proc = _started(subprocess.Popen(['sleep', '30']))
    ctx = owners.Context()
    dir_fd = os.open('/proc/%d' % proc.pid, owners.PROCESS_DIR_FLAGS)
    try:
        assert owners._process_info(proc.pid, dir_fd, ctx)['name'] == 'sleep'
        proc.kill()
        proc.wait()  # reaped: the pid is free for the next process
        successor = _started(subprocess.Popen(['sleep', '30']))  # most likely another pid; either way, not this process
        try:
            assert owners._process_info(proc.pid, dir_fd, ctx) is None
            assert owners.process_info(successor.pid, ctx)['name'] == 'sleep'
        finally:
            successor.kill()
            successor.wait()
    finally:
        os.close(dir_fd)


def _started(proc, cmdline=b'sleep\x0030\x00'):
    """Wait until ``proc`` has exec'd: before that, /proc shows the forked Python (or an empty cmdline)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open('/proc/%d/cmdline' % proc.pid, 'rb') as handle:
                if handle.read() == cmdline:
                    return proc
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError('pid %d did not exec %r' % (proc.pid, cmdline))


def _listening_inode(port):
    for line in open('/proc/net/tcp', encoding='ascii'):
        fields = line.split()
        if fields[1].endswith(':%04X' % port) and fields[3] == '0A':
            return int(fields[9])
    return None


def test_a_process_that_took_a_socket_owners_pid_is_not_taken_for_it():
    """The owner pass saw pid N hold the socket; N exits and `sleep` gets pid N before the details are read."""
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners import owners

    for _attempt in range(20):
        kid = Child([sys.executable, CHILD, '--only-one'])
        port = kid.info['tcp4_loop'][3]
        by_inode, scan = owners.socket_owners([_listening_inode(port)])
        [pid] = [pids[0] for pids in by_inode.values()]
        assert pid == kid.info['pid'] and pid in scan.start_ticks
        kid.stop()  # killed and reaped: pid is free
        with open('/proc/sys/kernel/ns_last_pid', 'w', encoding='ascii') as handle:
            handle.write(str(pid - 1))  # the next process gets pid, unless another one forks first
        successor = subprocess.Popen(['sleep', '30'])
        try:
            if successor.pid != pid:
                continue  # another process took it first: try again
            _started(successor)
            assert owners.process_info(pid, owners.Context())['name'] == 'sleep'  # it is there, and it is sleep
            assert owners.processes([pid], start_ticks=scan.start_ticks) == {}  # but it is not the socket's owner
            return
        finally:
            successor.kill()
            successor.wait()
    pytest.skip('no attempt gave the successor the same pid (other processes forked in between)')


def test_a_process_that_exits_mid_read_is_left_out_whole(monkeypatch):
    """Killed after its stat was read and left unreaped (a zombie: exe and cmdline then read empty)."""
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners import owners

    proc = _started(subprocess.Popen(['sleep', '30']))
    real_read = owners._read
    killed = []

    def kill_after_stat(path, dir_fd=None):
        data = real_read(path, dir_fd)
        if path == 'stat' and not killed:
            os.kill(proc.pid, 9)
            killed.append(True)
            deadline = time.time() + 5
            while real_read('stat', dir_fd).split(b') ')[1][:1] != b'Z' and time.time() < deadline:
                time.sleep(0.01)
        return data
    try:
        assert owners.process_info(proc.pid, owners.Context())['cmdline'] == 'sleep 30'
        monkeypatch.setattr(owners, '_read', kill_after_stat)
        assert owners.process_info(proc.pid, owners.Context()) is None
        assert killed
    finally:
        proc.kill()
        proc.wait()
