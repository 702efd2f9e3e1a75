# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""namespaces=all against real network namespaces: a named `ip netns` and a podman container."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand, validate_listener
from published_checks import assert_found_and_published, free_host_port, netns_of, wait_for_listener

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHILD = os.path.join(HERE, 'gather_child.py')
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
SYSTEM_PYTHON = '/usr/bin/python3'
IMAGE = 'localhost/hostsec-ports-debian12:latest'
LOCK = '/tmp/hostsec-molecule.lock'

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which('ip') is None, reason='needs root and iproute2')


@pytest.fixture(scope='module')
def named_ns():
    """A named network namespace with a child holding 127.0.0.1:PORT/tcp inside it."""
    name = 'hostsec-t-%d' % os.getpid()
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    child = None
    try:
        subprocess.run(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'], check=True)
        child = subprocess.Popen(['ip', 'netns', 'exec', name, sys.executable, CHILD, '--only-one'],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        info = json.loads(child.stdout.readline())
        yield {'name': name, 'inode': os.stat('/run/netns/' + name).st_ino, 'pid': info['pid'],
               'port': info['tcp4_loop'][3]}
    finally:
        if child is not None:
            child.stdin.close()
            child.wait(timeout=30)
        subprocess.run(['ip', 'netns', 'del', name], check=False)


def _in(result, netns, port):
    return [lst for lst in expand(result) if lst['netns'] == netns and lst['port'] == port]


def test_default_gather_stays_in_its_own_namespace(named_ns):
    result = linux.gather()
    assert 'namespaces' not in result
    assert {lst['netns'] for lst in result['listeners']} == {result['netns']}
    assert not _in(result, named_ns['inode'], named_ns['port'])
    assert all('container' not in lst for lst in result['listeners'])


def test_all_namespaces_find_and_attribute_a_named_netns(named_ns):
    result = linux.gather(namespaces='all', protocols=['tcp'])
    found = _in(result, named_ns['inode'], named_ns['port'])
    assert len(found) == 1
    lst = validate_listener(found[0])
    assert lst['address'] == '127.0.0.1' and lst['exposure'] == 'loopback'
    assert [p['pid'] for p in lst['processes']] == [named_ns['pid']]
    assert lst['container'] == {'runtime': 'netns', 'id': None, 'name': named_ns['name'], 'image': None, 'pod': None}
    summary = [ns for ns in result['namespaces'] if ns['netns'] == named_ns['inode']]
    assert summary and summary[0]['entered'] is True and summary[0]['error'] is None
    # The host's own listeners are still there, and still without a container.
    assert all('container' not in lst for lst in result['listeners'] if lst['netns'] == result['netns'])


NOBODY_SCRIPT = r'''
import json
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.linux import gather
print(json.dumps(gather(namespaces='all')))
'''


@pytest.mark.skipif(shutil.which('runuser') is None, reason='needs runuser')
def test_non_root_says_which_namespaces_it_could_not_enter(named_ns):
    proc = subprocess.run(['runuser', '-u', 'nobody', '--', 'env', 'PYTHONPATH=' + COLLECTIONS,
                           'PYTHONDONTWRITEBYTECODE=1', SYSTEM_PYTHON, '-c', NOBODY_SCRIPT],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                          cwd='/', check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert not _in(result, named_ns['inode'], named_ns['port'])
    summary = [ns for ns in result['namespaces'] if ns['netns'] == named_ns['inode']]
    assert summary and summary[0]['entered'] is False and 'CAP_SYS_ADMIN' in summary[0]['error']
    text = ' '.join(result['warnings'])
    assert 'could not be read' in text and 'not root' in text and named_ns['name'] in text, text


LOCK_WAIT = 900  # seconds: molecule scenarios hold the podman lock for minutes


def _podman(*args, check=False):
    # Serialised with every molecule scenario through one lock; flock exits 1 if it waited in vain. -o: the
    # daemons podman starts (conmon, aardvark-dns for a network with DNS) must not inherit the lock's file:
    # they outlive the command and would hold the lock for good.
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, 'extensions', 'molecule', 'containers.conf'))
    return subprocess.run(['flock', '-o', '-w', str(LOCK_WAIT), LOCK, 'podman'] + list(args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=LOCK_WAIT + 300, check=check)


def _podman_ready():
    if shutil.which('podman') is None or shutil.which('flock') is None:
        return False
    return _podman('image', 'exists', IMAGE).returncode == 0


@pytest.fixture(scope='module')
def container():
    if not _podman_ready():
        pytest.skip('podman or the test image %s is missing (make image), or the podman lock %s stayed busy'
                    % (IMAGE, LOCK))
    name = 'hostsec-netns-%s' % uuid.uuid4().hex[:8]
    host_port = free_host_port()
    run = _podman('run', '-d', '--name', name, '-p', '127.0.0.1:%d:8080' % host_port, IMAGE,
                  'python3', '-m', 'http.server', '8080')
    if run.returncode != 0:
        pytest.skip('podman run failed: %s' % run.stderr[-300:])
    try:
        cid = run.stdout.strip().splitlines()[-1]
        pid = int(_podman('inspect', '-f', '{{.State.Pid}}', name, check=True).stdout.strip())
        inode = netns_of(pid)
        wait_for_listener(inode)
        yield {'name': name, 'id': cid, 'pid': pid, 'inode': inode, 'host_port': host_port}
    finally:
        _podman('rm', '-f', '-t', '0', name)


def test_podman_container_listener_found_attributed_and_published(container):
    record = {'runtime': 'podman', 'id': container['id'], 'name': container['name'], 'image': IMAGE, 'pod': None}
    assert_found_and_published(container, record, via='conmon', forwarder='conmon')


# Two listeners on one port in the container: 0.0.0.0:8080 (IPv4 only) and [::]:8080 with IPV6_V6ONLY. IPv6
# traffic reaches the second only, so that is the one a port published over IPv6 must be linked to.
TWO_FAMILIES = """
import socket, time
v4 = socket.socket(socket.AF_INET)
v4.bind(('0.0.0.0', 8080))
v4.listen(8)
v6 = socket.socket(socket.AF_INET6)
v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
v6.bind(('::', 8080))
v6.listen(8)
time.sleep(3600)
"""


@pytest.fixture(scope='module')
def container_v6():
    """A container on an IPv6 podman network, its port published on [::1] (netavark writes ip6 DNAT rules)."""
    if not _podman_ready():
        pytest.skip('podman or the test image %s is missing (make image), or the podman lock %s stayed busy'
                    % (IMAGE, LOCK))
    tag = uuid.uuid4().hex[:8]
    network, name = 'hostsec-v6-%s' % tag, 'hostsec-v6c-%s' % tag
    # A unique-local /64 and a private IPv4 /24 of this test's own; neither is routed anywhere.
    made = _podman('network', 'create', '--disable-dns', '--ipv6', '--subnet', 'fd42:%s::/64' % tag[:4],
                   '--subnet', '10.%d.%d.0/24' % (200 + int(tag[0], 16) % 50, int(tag[1:3], 16)), network)
    if made.returncode != 0:
        pytest.skip('podman network create --ipv6 failed: %s' % made.stderr[-300:])
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(('::1', 0))
        host_port = probe.getsockname()[1]
    try:
        run = _podman('run', '-d', '--name', name, '--network', network, '-p', '[::1]:%d:8080' % host_port, IMAGE,
                      'python3', '-c', TWO_FAMILIES)
        if run.returncode != 0:
            pytest.skip('podman run on an IPv6 network failed: %s' % run.stderr[-300:])
        pid = int(_podman('inspect', '-f', '{{.State.Pid}}', name, check=True).stdout.strip())
        inode = int(os.readlink('/proc/%d/ns/net' % pid)[5:-1])
        for _attempt in range(200):
            if len(_in(linux.gather(namespaces='all', protocols=['tcp']), inode, 8080)) == 2:
                break
            time.sleep(0.1)
        yield {'name': name, 'inode': inode, 'host_port': host_port}
    finally:
        _podman('rm', '-f', '-t', '0', name)
        _podman('network', 'rm', '-f', network)


def test_ipv6_published_port_is_linked_through_the_ip6_dnat_rule(container_v6):
    result = linux.gather(namespaces='all', protocols=['tcp'])
    inside = {lst['family']: lst for lst in _in(result, container_v6['inode'], 8080)}
    assert sorted(inside) == ['ipv4', 'ipv6'] and inside['ipv6']['container']['name'] == container_v6['name']
    assert inside['ipv6']['published'] == [{'address': '::1', 'port': container_v6['host_port'], 'protocol': 'tcp',
                                            'via': 'conmon', 'netns': result['netns']}]
    assert 'published' not in inside['ipv4']  # IPv4 only: the IPv6 DNAT cannot reach it
    host = _in(result, result['netns'], container_v6['host_port'])
    assert len(host) == 1 and host[0]['address'] == '::1'
    forwards = host[0]['forwards_to']
    assert forwards['netns'] == container_v6['inode'] and forwards['port'] == 8080
    assert forwards['address'].startswith('fd42:') and forwards['container']['name'] == container_v6['name']


@pytest.fixture(scope='module')
def pod():
    if not _podman_ready():
        pytest.skip('podman or the test image %s is missing (make image), or the podman lock %s stayed busy'
                    % (IMAGE, LOCK))
    name = 'hostsec-pod-%s' % uuid.uuid4().hex[:8]
    if _podman('pod', 'create', '--name', name).returncode != 0:
        pytest.skip('podman pod create failed')
    try:
        members = {}
        for role, port in (('web', 8081), ('sidecar', 8082)):  # two workloads share the pod's namespace
            member = '%s-%s' % (name, role)
            run = _podman('run', '-d', '--pod', name, '--name', member, IMAGE, 'python3', '-m', 'http.server', str(port))
            if run.returncode != 0:
                pytest.skip('podman run in a pod failed: %s' % run.stderr[-300:])
            pid = int(_podman('inspect', '-f', '{{.State.Pid}}', member, check=True).stdout.strip())
            members[port] = {'name': member, 'id': run.stdout.strip().splitlines()[-1], 'pid': pid}
        inode = int(os.readlink('/proc/%d/ns/net' % members[8081]['pid'])[5:-1])
        for _attempt in range(200):
            result = linux.gather(namespaces='all', protocols=['tcp'])
            if _in(result, inode, 8081) and _in(result, inode, 8082):
                break
            time.sleep(0.1)
        yield {'pod': name, 'members': members, 'inode': inode}
    finally:
        _podman('pod', 'rm', '-f', '-t', '0', name)


def test_podman_pod_listeners_name_their_own_container_and_the_pod(pod):
    result = linux.gather(namespaces='all', protocols=['tcp'])
    for port, member in pod['members'].items():
        found = _in(result, pod['inode'], port)
        assert len(found) == 1, port
        # Not the pod's infra (pause) container, and not the other workload in the same namespace.
        assert found[0]['container'] == {'runtime': 'podman', 'id': member['id'], 'name': member['name'],
                                         'image': IMAGE, 'pod': pod['pod']}
    summary = [ns for ns in result['namespaces'] if ns['netns'] == pod['inode']]
    assert summary and summary[0]['container']['pod'] == pod['pod'] and summary[0]['entered']


def test_an_interface_name_that_is_not_utf8_costs_nothing(tmp_path):
    # The owner of a namespace (any user, in one of their own) may name its interfaces any bytes: if_inet6 then
    # holds them, and the gather must read the namespace, not crash.
    name = 'hostsec-t8-%d' % os.getpid()
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    child = None
    try:
        subprocess.run(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'name', b'\xff\xfe'], check=True)
        subprocess.run(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', b'\xff\xfe', 'up'], check=True)
        child = subprocess.Popen(['ip', 'netns', 'exec', name, sys.executable, CHILD, '--only-one'],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        info = json.loads(child.stdout.readline())
        inode = os.stat('/run/netns/' + name).st_ino
        with open('/proc/%d/net/if_inet6' % info['pid'], 'rb') as handle:
            assert b'\xff\xfe' in handle.read()
        result = linux.gather(namespaces='all', protocols=['tcp'])
        assert _in(result, inode, info['tcp4_loop'][3])
        summary = [ns for ns in result['namespaces'] if ns['netns'] == inode]
        assert summary and summary[0]['entered'] is True and summary[0]['error'] is None
    finally:
        if child is not None:
            child.stdin.close()
            child.wait(timeout=30)
        subprocess.run(['ip', 'netns', 'del', name], check=False)


@pytest.fixture()
def undecodable_names():
    """A named netns and a file left in /run/netns, both named with bytes that are not UTF-8."""
    tag = str(os.getpid()).encode()
    named, stale = b'hostsec-t-\xff' + tag, b'/run/netns/hostsec-u-\xfe' + tag
    subprocess.run([b'ip', b'netns', b'add', named], check=True)
    child = None
    try:
        with open(stale, 'wb'):
            pass  # a plain file: no namespace is mounted on it
        subprocess.run([b'ip', b'netns', b'exec', named, b'ip', b'link', b'set', b'lo', b'up'], check=True)
        child = subprocess.Popen([b'ip', b'netns', b'exec', named, sys.executable.encode(), CHILD.encode(),
                                  b'--only-one'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        json.loads(child.stdout.readline())
        yield {'inode': os.stat(b'/run/netns/' + named).st_ino, 'named': 'hostsec-t-\\xff' + tag.decode(),
               'stale': '/run/netns/hostsec-u-\\xfe' + tag.decode()}
    finally:
        if child is not None:
            child.stdin.close()
            child.wait(timeout=30)
        subprocess.run([b'ip', b'netns', b'del', named], check=False)
        if os.path.exists(stale):
            os.unlink(stale)


def test_namespace_names_that_are_not_utf8_reach_the_controller_as_text(undecodable_names, tmp_path):
    """ansible-core 2.19 refuses a module result with a lone surrogate in it: the whole task would fail."""
    result = linux.gather(namespaces='all', protocols=['tcp'])
    json.dumps(result, ensure_ascii=False).encode('utf-8')  # no lone surrogate anywhere
    names = {lst['container']['name'] for lst in result['listeners'] if lst['netns'] == undecodable_names['inode']}
    assert names == {undecodable_names['named']}
    assert any(undecodable_names['stale'] in warning for warning in result['warnings']), result['warnings']

    # Through ansible-core itself (the controller decodes strictly), as a play would run it.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH='%s:%s' % (COLLECTIONS, os.path.join(
        ROOT, '.venv', 'lib', 'python3.11', 'site-packages')), ANSIBLE_LOAD_CALLBACK_PLUGINS='1',
        ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-i', 'localhost,',
                           '-c', 'local', '-e', 'ansible_python_interpreter=' + sys.executable,
                           '-m', 'hostsec.ports.listening_ports_info', '-a', 'namespaces=all protocols=tcp'],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    host = json.loads(proc.stdout[proc.stdout.index('{'):])['plays'][0]['tasks'][0]['hosts']['localhost']
    assert not host.get('failed'), host.get('msg')
    assert {lst['container']['name'] for lst in host['listeners']
            if lst['netns'] == undecodable_names['inode']} == {undecodable_names['named']}
