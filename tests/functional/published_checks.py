# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every real-container test needs and checks: the runtime's daemon, and the container's listener found,
attributed and linked to its host port.

Shared by the podman (rootful), rootless podman, docker and containerd tests,
whose containers all serve 8080/tcp inside (and publish it on 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux
from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import expand, validate_listener

INSIDE_PORT = 8080
UNCHECKED = object()
BUSYBOX = '/bin/busybox'  # the containers' whole root filesystem: a static binary, nothing pulled
DAEMON_WAIT = 60  # seconds for a daemon started here to answer


def skip_unless_installed(tools, hint):
    """Skip, naming what is missing, unless every tool and the static busybox are installed."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    missing += [] if os.path.exists(BUSYBOX) else [BUSYBOX]
    if missing:
        pytest.skip('%s missing: %s' % (', '.join(missing), hint))


@contextlib.contextmanager
def daemon_running(argv, answers, log_dir):
    """The daemon that already answers (yields None), or ``argv`` started for the tests and stopped after them.

    A daemon that cannot run here fails the tests with its own log, never skips them.
    """
    if answers():
        yield None
        return
    log = log_dir / ('%s.log' % os.path.basename(argv[0]))
    with open(log, 'wb') as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + DAEMON_WAIT
        while not answers():
            assert proc.poll() is None and time.monotonic() < deadline, (
                '%s did not start (exit %s); its log:\n%s' % (argv[0], proc.poll(), log.read_text()[-3000:]))
            time.sleep(0.2)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)  # it stops its containers (and a containerd of its own)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def listeners_at(result, netns, port):
    """The listeners of a gather result in namespace ``netns`` on ``port``, in full."""
    return [lst for lst in expand(result) if lst['netns'] == netns and lst['port'] == port]


def free_host_port():
    """A free 127.0.0.1 TCP port to publish a container's port on."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def netns_of(pid):
    return int(os.readlink('/proc/%d/ns/net' % pid)[5:-1])


def wait_for_listener(netns, port=INSIDE_PORT, attempts=200):
    """Until the server in the container listens: it binds right after start, up to 20 s on a loaded machine."""
    for _attempt in range(attempts):
        if listeners_at(linux.gather(namespaces='all', protocols=['tcp']), netns, port):
            return
        time.sleep(0.1)


def assert_found_and_published(container, record, via, forwarder, forwards_to_address=UNCHECKED):
    """The container's listener carries ``record`` and its published port; the host's forwarder links back to it.

    ``container``: {'pid', 'inode', 'host_port'} of the running container.
    Returns the container listener, for checks of its own.
    """
    result = linux.gather(namespaces='all', protocols=['tcp'])
    found = listeners_at(result, container['inode'], INSIDE_PORT)
    assert len(found) == 1, found
    lst = validate_listener(found[0])
    assert lst['container'] == record
    assert [p['pid'] for p in lst['processes']] == [container['pid']]
    assert lst['published'] == [{'address': '127.0.0.1', 'port': container['host_port'], 'protocol': 'tcp',
                                 'via': via, 'netns': result['netns']}]
    host = listeners_at(result, result['netns'], container['host_port'])
    assert len(host) == 1 and [p['name'] for p in host[0]['processes']] == [forwarder], host
    expected = {'netns': container['inode'], 'port': INSIDE_PORT, 'container': record}
    if forwards_to_address is not UNCHECKED:  # a DNAT target or proxy's address; rootlessport names none
        expected['address'] = forwards_to_address
    assert {k: host[0]['forwards_to'][k] for k in expected} == expected
    summary = [ns for ns in result['namespaces'] if ns['netns'] == container['inode']]
    assert summary and summary[0]['entered'] is True and summary[0]['container'] == record
    # The default gather sees the published host port only, unlinked, as before.
    default = linux.gather(protocols=['tcp'])
    assert not listeners_at(default, container['inode'], INSIDE_PORT)
    host = listeners_at(default, default['netns'], container['host_port'])
    assert len(host) == 1 and 'forwards_to' not in host[0]
    return lst
