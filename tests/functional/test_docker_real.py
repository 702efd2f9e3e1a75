# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""namespaces=all against a real docker container: found, attributed, its published port linked.

`make sysdeps` installs Debian's docker.io. The test uses the docker daemon
already running on this machine, or starts one for the module's tests and
stops it after them (no systemd runs here). A daemon started here adds no
iptables rules (--iptables=false): the published port is docker-proxy's, the
userland proxy every docker host runs unless told otherwise. The image is
a static busybox imported from a tarball made here, so nothing is pulled.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import uuid

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux, netns
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy
from published_checks import (BUSYBOX, assert_found_and_published, daemon_running, free_host_port, listeners_at,
                              netns_of, skip_unless_installed, wait_for_listener)

IMAGE = 'hostsec-ports-test/busybox:latest'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root (docker and namespaces)')


def _docker(*args, check=True, stdin=None):
    return subprocess.run(['docker'] + list(args), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=check, timeout=120)


def _answers():
    return _docker('info', '--format', '{{.ServerVersion}}', check=False).returncode == 0


@pytest.fixture(scope='module')
def daemon(tmp_path_factory):
    """The docker daemon: the one running here, else one started for these tests."""
    skip_unless_installed(('docker', 'dockerd', 'docker-proxy'), 'make sysdeps installs docker.io and busybox-static')
    with daemon_running(['dockerd', '--iptables=false', '--ip6tables=false'], _answers,
                        tmp_path_factory.mktemp('dockerd')) as proc:
        yield proc


@pytest.fixture(scope='module')
def image(daemon, tmp_path_factory):
    if _docker('image', 'inspect', IMAGE, check=False).returncode != 0:
        tarball = tmp_path_factory.mktemp('rootfs') / 'busybox.tar'
        with tarfile.open(tarball, 'w') as tar:
            tar.add(BUSYBOX, arcname='bin/busybox')
        _docker('import', str(tarball), IMAGE)
    return IMAGE


@pytest.fixture(scope='module')
def container(image):
    name = 'hostsec-docker-%s' % uuid.uuid4().hex[:8]
    host_port = free_host_port()
    cid = _docker('run', '-d', '--name', name, '-p', '127.0.0.1:%d:8080' % host_port, image,
                  BUSYBOX, 'httpd', '-f', '-p', '8080').stdout.decode().strip()
    try:
        pid, address = _docker('inspect', '-f', '{{.State.Pid}} {{.NetworkSettings.IPAddress}}',
                               name).stdout.decode().split()
        inode = netns_of(int(pid))
        wait_for_listener(inode)
        yield {'name': name, 'id': cid, 'pid': int(pid), 'inode': inode, 'host_port': host_port, 'address': address}
    finally:
        _docker('rm', '-f', name, check=False)


def test_docker_container_listener_found_attributed_and_published(container):
    record = {'runtime': 'docker', 'id': container['id'], 'name': container['name'], 'image': IMAGE, 'pod': None}
    lst = assert_found_and_published(container, record, via='docker-proxy', forwarder='docker-proxy',
                                     forwards_to_address=container['address'])
    assert [p['name'] for p in lst['processes']] == ['busybox']


def test_policy_allows_by_docker_container_name_and_image(container):
    listeners = listeners_at(linux.gather(namespaces='all', protocols=['tcp']), container['inode'], 8080)

    def kinds(policy):
        return [f['kind'] for f in evaluate(build_policy(policy=policy), listeners)['findings']]
    assert kinds({'allow': [{'port': 8080, 'container': 'hostsec-docker-*'}]}) == []
    assert kinds({'allow': [{'port': 8080, 'container': 'hostsec-ports-test/busybox:*'}]}) == []
    assert kinds({'allow': [{'port': 8080, 'container': 'db-*'}]}) == ['wrong_owner']


def test_a_netns_mount_point_without_its_namespace_is_no_namespace(tmp_path):
    # What docker leaves in /run/docker/netns when a container fails to start: the file, not the mount.
    stale, live = tmp_path / 'stale', tmp_path / 'live'
    stale.touch()
    live.touch()
    subprocess.run(['mount', '--bind', '/proc/self/ns/net', str(live)], check=True)
    try:
        found, _unreadable, unmounted = netns.discover(named_dirs=[str(tmp_path)])
    finally:
        subprocess.run(['umount', str(live)], check=True)
    assert os.stat(stale).st_ino not in found and unmounted == [str(stale)]
    named = [ns for ns in found.values() if ns.named is not None]
    assert [(ns.named, ns.inode) for ns in named] == [('live', os.stat('/proc/self/ns/net').st_ino)]
