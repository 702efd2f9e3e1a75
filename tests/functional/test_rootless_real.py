# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""namespaces=all against a real rootless podman container (slirp4netns, rootlessport, no systemd).

The container runs as an unprivileged user this module creates (with
subordinate ids) and removes again; a user that exists already is kept. Its
image is a static busybox imported from a tarball made here.
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import subprocess
import tarfile
import time
import uuid

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.engine import evaluate
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy
from published_checks import assert_found_and_published, free_host_port, listeners_at, netns_of, wait_for_listener

USER = 'hostsec-rootless'
HOME = '/var/lib/hostsec-rootless'
SUBIDS = '400000-465535'
BUSYBOX = '/bin/busybox'
IMAGE = 'localhost/hostsec-ports-test/busybox:latest'
TOOLS = ('podman', 'runuser', 'newuidmap', 'newgidmap', 'slirp4netns', 'useradd', 'userdel', 'pkill')

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root (to run a user and enter namespaces)')


@pytest.fixture(scope='module')
def user():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing or not os.path.exists(BUSYBOX):
        pytest.skip('%s missing (make sysdeps)' % ', '.join(missing + ([] if os.path.exists(BUSYBOX) else [BUSYBOX])))
    try:
        pwd.getpwnam(USER)
        created = False
    except KeyError:
        subprocess.run(['useradd', '--system', '--create-home', '--home-dir', HOME, '--shell', '/usr/sbin/nologin',
                        USER], check=True)
        created = True
    entry = pwd.getpwnam(USER)
    try:
        with open('/etc/subuid') as subuid:
            if not any(line.split(':')[0] == USER for line in subuid):
                subprocess.run(['usermod', '--add-subuids', SUBIDS, '--add-subgids', SUBIDS, USER], check=True)
        runtime = os.path.join('/run/user', str(entry.pw_uid))  # XDG_RUNTIME_DIR, as a login would make it
        os.makedirs(runtime, exist_ok=True)
        os.chown(runtime, entry.pw_uid, entry.pw_gid)
        os.chmod(runtime, 0o700)
        yield {'name': USER, 'uid': entry.pw_uid, 'home': entry.pw_dir, 'runtime': runtime}
    finally:
        subprocess.run(['pkill', '-KILL', '-u', USER], check=False)  # podman's pause process outlives the test
        time.sleep(0.5)
        if created:
            subprocess.run(['userdel', '--remove', USER], check=False)
            shutil.rmtree('/run/user/%d' % entry.pw_uid, ignore_errors=True)


def _podman(user, *args, stdin=None, check=False):
    env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': user['home'], 'XDG_RUNTIME_DIR': user['runtime']}
    return subprocess.run(['runuser', '-u', user['name'], '--', 'env', '-i'] + ['%s=%s' % kv for kv in env.items()]
                          + ['podman', '--runtime', 'runc', '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs']
                          + list(args), input=stdin, cwd=user['home'], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=180, check=check)


def _busybox_tar():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w') as tar:
        tar.add(BUSYBOX, arcname='bin/busybox')
    return out.getvalue()


@pytest.fixture(scope='module')
def container(user):
    made = _podman(user, 'import', '-', IMAGE, stdin=_busybox_tar())
    if made.returncode != 0:
        pytest.skip('rootless podman cannot run here: %s' % made.stderr.decode(errors='replace')[-300:])
    name = 'hostsec-rootless-%s' % uuid.uuid4().hex[:8]
    host_port = free_host_port()
    run = _podman(user, 'run', '-d', '--name', name, '-p', '127.0.0.1:%d:8080' % host_port, IMAGE,
                  BUSYBOX, 'httpd', '-f', '-p', '8080')
    if run.returncode != 0:
        pytest.skip('rootless podman run failed here: %s' % run.stderr.decode(errors='replace')[-300:])
    try:
        cid = run.stdout.decode().strip().splitlines()[-1]
        pid = int(_podman(user, 'inspect', '-f', '{{.State.Pid}}', name, check=True).stdout.decode().strip())
        inode = netns_of(pid)
        wait_for_listener(inode)
        yield {'name': name, 'id': cid, 'pid': pid, 'inode': inode, 'host_port': host_port}
    finally:
        _podman(user, 'rm', '-f', '-t', '0', name)


def test_rootless_container_found_named_by_id_and_its_rootlessport_linked(user, container):
    # No cgroup names it (cgroupfs, no systemd): its parent conmon does. Its name is its user's choice, not kept.
    record = {'runtime': 'podman', 'id': container['id'], 'name': None, 'image': None, 'pod': None}
    lst = assert_found_and_published(container, record, via='rootlessport', forwarder='rootlessport',
                                     forwards_to_address=None)
    assert [p['user'] for p in lst['processes']] == [user['name']]


def test_a_container_rule_never_allows_a_name_any_user_can_choose(container):
    listeners = listeners_at(linux.gather(namespaces='all', protocols=['tcp']), container['inode'], 8080)
    findings = evaluate(build_policy(policy={'allow': [{'port': 8080, 'container': container['name']}]}),
                        listeners)['findings']
    assert [f['kind'] for f in findings] == ['wrong_owner']
    # Pinned by the user who runs it, the listener is allowed.
    assert evaluate(build_policy(policy={'allow': [{'port': 8080, 'user': USER}]}), listeners)['findings'] == []
