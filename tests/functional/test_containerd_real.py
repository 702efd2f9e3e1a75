# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""namespaces=all against a real containerd pod laid out as Kubernetes' CRI plugin lays it out.

No kubelet runs here, so `ctr` makes what the CRI plugin would: a sandbox
(pause) container holding the pod's network namespace and a workload
container joining it, each in the cgroup kubelet names
(/kubepods/besteffort/pod<UID>/<ID>) with the CRI's annotations in its OCI
bundle. The gatherer must name the namespace after the workload, with its
image and pod, never after the sandbox. The containerd daemon already running
here is used, or one is started for these tests (`make sysdeps` installs it
with docker.io). The root filesystem is a static busybox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import validate_listener
from published_checks import (BUSYBOX, INSIDE_PORT, daemon_running, listeners_at, netns_of, skip_unless_installed,
                              wait_for_listener)

NAMESPACE = 'hostsec-test'  # containerd's namespace for these containers: never the CRI's own k8s.io

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root (containerd and namespaces)')


def _ctr(*args, check=True):
    return subprocess.run(['ctr', '--namespace', NAMESPACE] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=check)


def _answers():
    return _ctr('version', check=False).returncode == 0


@pytest.fixture(scope='module')
def daemon(tmp_path_factory):
    skip_unless_installed(('containerd', 'ctr', 'containerd-shim-runc-v2'),
                          'make sysdeps installs containerd (with docker.io) and busybox-static')
    with daemon_running(['containerd'], _answers, tmp_path_factory.mktemp('containerd')) as proc:
        yield proc


def _run(rootfs, cid, cgroup, annotations, *command, network=None):
    args = ['run', '-d', '--rootfs', '--cgroup', cgroup]
    for key, value in annotations.items():
        args += ['--annotation', '%s=%s' % (key, value)]
    if network:
        args += ['--with-ns', 'network:' + network]
    _ctr(*(args + [rootfs, cid] + list(command)))
    for line in _ctr('task', 'ls').stdout.splitlines():
        fields = line.split()
        if fields and fields[0] == cid:
            return int(fields[1])
    raise AssertionError('containerd lists no task %s' % cid)


def _remove(cid):
    _ctr('task', 'kill', '--signal', 'SIGKILL', cid, check=False)
    for _attempt in range(50):
        if _ctr('task', 'delete', cid, check=False).returncode == 0:
            break
        time.sleep(0.1)
    _ctr('container', 'delete', cid, check=False)


@pytest.fixture(scope='module')
def pod(daemon, tmp_path_factory):
    rootfs = tmp_path_factory.mktemp('rootfs')
    (rootfs / 'bin').mkdir()
    shutil.copy(BUSYBOX, rootfs / 'bin' / 'busybox')
    pod_uid = str(uuid.uuid4())
    sandbox, workload = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2  # 64 hex digits, as CRI ids are
    parent = '/kubepods/besteffort/pod%s' % pod_uid
    made = []
    try:
        sandbox_pid = _run(str(rootfs), sandbox, '%s/%s' % (parent, sandbox), {
            'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-name': 'web-0',
            'io.kubernetes.cri.sandbox-namespace': 'default'}, BUSYBOX, 'sleep', '3600')
        made.append(sandbox)
        pid = _run(str(rootfs), workload, '%s/%s' % (parent, workload), {
            'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.container-name': 'web',
            'io.kubernetes.cri.image-name': 'registry.example/web:1.2', 'io.kubernetes.cri.sandbox-name': 'web-0'},
            BUSYBOX, 'httpd', '-f', '-p', str(INSIDE_PORT), network='/proc/%d/ns/net' % sandbox_pid)
        made.append(workload)
        inode = netns_of(sandbox_pid)
        wait_for_listener(inode)
        yield {'workload': workload, 'sandbox': sandbox, 'pid': pid, 'inode': inode}
    finally:
        for cid in reversed(made):
            _remove(cid)
        # runc leaves the pod's parent cgroups (kubelet would remove them): empty directories, removed leaf first.
        tops = ['/sys/fs/cgroup'] + [os.path.join('/sys/fs/cgroup', name) for name in os.listdir('/sys/fs/cgroup')]
        for top in tops:  # cgroup v2 has one hierarchy at the top, v1 one per controller below it
            for path in (parent, '/kubepods/besteffort', '/kubepods'):
                try:
                    os.rmdir(top + path)
                except OSError:
                    pass  # not made in this hierarchy, or not empty (a real kubelet's)


def test_a_kubernetes_pod_on_containerd_is_named_after_its_workload(pod):
    result = linux.gather(namespaces='all', protocols=['tcp'])
    found = listeners_at(result, pod['inode'], INSIDE_PORT)
    assert len(found) == 1
    lst = validate_listener(found[0])
    record = {'runtime': 'containerd', 'id': pod['workload'], 'name': 'web', 'image': 'registry.example/web:1.2',
              'pod': 'web-0'}
    assert lst['container'] == record
    assert [p['pid'] for p in lst['processes']] == [pod['pid']]
    summary = [ns for ns in result['namespaces'] if ns['netns'] == pod['inode']]
    assert summary and summary[0]['entered'] is True and summary[0]['container'] == record
    # The default gather stays in the host's namespace.
    assert not listeners_at(linux.gather(protocols=['tcp']), pod['inode'], INSIDE_PORT)
