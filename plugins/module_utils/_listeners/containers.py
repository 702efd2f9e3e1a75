# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Which container a network namespace belongs to, and which host ports reach it.

The container is read from the cgroup of a process in the namespace (every
runtime names the cgroup after the container id), then its name, image and pod
from the runtime's own files on disk (no runtime command runs):

- podman / CRI-O: containers/storage ``overlay-containers/containers.json`` and
  the OCI ``config.json`` annotations of the bundle;
- docker: ``/var/lib/docker/containers/ID/config.v2.json``;
- containerd (Kubernetes): the OCI ``config.json`` of the task bundle, whose
  ``io.kubernetes.*`` annotations name the pod.

Published ports: a host listener held by a forwarder names its container on
its command line (docker-proxy ``-container-ip/-container-port``, conmon
``-c ID``); the DNAT rules of iptables or nftables say where a host port goes.
"""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import pwd
import re
import socket
import stat

from .owners import CGROUP_CONTROL
from .schema import make_container

_ID = r'([0-9a-f]{64})'
# Order matters: conmon's own cgroup (libpod-conmon-ID) is on the host side, not the container's.
CGROUP_RUNTIMES = (
    (re.compile(r'libpod-conmon-' + _ID), None),
    (re.compile(r'libpod-' + _ID), 'podman'),
    (re.compile(r'docker-' + _ID + r'\.scope|/docker/' + _ID), 'docker'),
    (re.compile(r'cri-containerd-' + _ID + r'\.scope'), 'containerd'),
    (re.compile(r'crio-(?:conmon-)?' + _ID + r'\.scope'), 'cri-o'),
    (re.compile(r'/kubepods[^\n]*/pod[0-9a-f_-]{36}/' + _ID), 'containerd'),
)
POD_UID = re.compile(r'pod([0-9a-f]{8}[_-][0-9a-f]{4}[_-][0-9a-f]{4}[_-][0-9a-f]{4}[_-][0-9a-f]{12})')
# A podman pod's cgroup: libpod_parent/POD_ID/ (cgroupfs manager) or machine-libpod_pod_POD_ID.slice (systemd).
PODMAN_POD = re.compile(r'libpod_parent/' + _ID + r'/|libpod_pod_' + _ID + r'\.slice')
# libpod keeps its state (pods and containers, as JSON) in a bolt or an SQLite file; each record starts
# with its id and name. Read as bytes, never through podman.
LIBPOD_DBS = ('libpod/bolt_state.db', 'db.sql', 'libpod/db.sql')
LIBPOD_DB_LIMIT = 64 * 1024 * 1024  # bytes; a state file is a few MB even on busy hosts
_LIBPOD_RECORD = re.compile(rb'\{"id":"([0-9a-f]{64})","name":"((?:[^"\\]|\\.){1,253})"')
# A container's port mappings in its libpod config record (podman 4 names them newPortMappings).
_LIBPOD_PORT_MAPPINGS = re.compile(r'"(?:newPortMappings|portMappings)":\[')
MAPPING_WINDOW = 16 * 1024  # characters: one container's list is a few hundred, even with many ports
MAPPING_LISTS = 4096  # per state file: more containers than one user runs
MAPPING_PORTS = 65536  # host ports in all of a user's mappings (bolt keeps each record more than once)
LIBPOD_USER_LIMIT = 16 * 1024 * 1024  # bytes of a user's state file read
PROTOCOLS = frozenset(('tcp', 'udp', 'sctp'))
# OCI annotations saying a container is its pod's sandbox (pause/infra) rather than a workload.
_CONTAINER_TYPE = ('io.kubernetes.cri-o.ContainerType', 'io.kubernetes.cri.container-type')
STORAGE = ('/var/lib/containers/storage', '/run/containers/storage')
DOCKER = '/var/lib/docker/containers'
CONTAINERD_TASKS = '/run/containerd/io.containerd.runtime.v2.task'


def cgroup_lines(data):
    """[(controllers, path)] of /proc/PID/cgroup text, or None when a line holds a control character.

    None means hostile: no container and no unit is read from such a text.
    """
    if isinstance(data, bytes):
        data = data.decode('utf-8', 'replace')
    out = []
    for line in data.split('\n'):
        if not line:
            continue
        if CGROUP_CONTROL.search(line):
            return None
        parts = line.split(':', 2)
        if len(parts) == 3:
            out.append((parts[1], parts[2]))
    return out


def _cgroup_match(data):
    """(runtime, id, pod, [(controllers, path, where the id starts in path)]) or None.

    The first runtime pattern (CGROUP_RUNTIMES order) that matches a line
    decides; every line it matches must name the same id (hierarchies that
    disagree name no container). The pod is read from the path above the
    container's own cgroup only: below it, a user-namespaced container's root
    may make cgroups of any name.
    """
    lines = cgroup_lines(data)
    if not lines:
        return None
    for pattern, runtime in CGROUP_RUNTIMES:
        hits = []
        for controllers, path in lines:
            match = pattern.search(path)
            if match:
                group = next(i for i, g in enumerate(match.groups(), 1) if g)
                hits.append((controllers, path, match.group(group), match.start(group)))
        if not hits:
            continue
        if runtime is None or len({hit[2] for hit in hits}) != 1:
            return None
        _controllers, path, cid, start = hits[0]
        above = path[:path.rfind('/', 0, start) + 1]
        if runtime == 'podman':
            pod = PODMAN_POD.search(above)
            pod = next(g for g in pod.groups() if g) if pod else None
        else:
            pod = POD_UID.search(above)
            pod = pod.group(1).replace('_', '-') if pod else None
        return runtime, cid, pod, [(c, p, at) for c, p, _cid, at in hits]
    return None


def from_cgroup(data):
    """(runtime, id, pod) from /proc/PID/cgroup text, or None when no container runtime made it.

    The pod is a Kubernetes pod UID or a podman pod id, when the cgroup path names one.
    """
    match = _cgroup_match(data)
    return match[:3] if match else None


def cgroup_mounts(mountinfo='/proc/self/mountinfo'):
    """[(root, mount point, controllers)] of the cgroup hierarchies this process sees; controllers is None for v2."""
    out = []
    try:
        with open(mountinfo, 'rb') as handle:
            lines = handle.read().decode('utf-8', 'replace').split('\n')  # \n only: see owners.CGROUP_CONTROL
    except OSError:
        return out
    for line in lines:
        fields = line.split(' ')
        try:
            tail = fields[fields.index('-') + 1:]
        except ValueError:
            continue
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ('cgroup', 'cgroup2'):
            continue
        root, point = (_unescape(f) for f in fields[3:5])
        out.append((root, point, None if tail[0] == 'cgroup2' else frozenset(tail[2].split(','))))
    return out


def _unescape(field):
    # mountinfo writes a space, tab, newline or backslash in a path as \040, \011, \012, \134.
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), field)


def root_made(data, cid, mounts):
    """Whether root alone could have named the cgroup that names ``cid``: True, False, or None when it cannot be told.

    Who can give a directory its name is whoever can write its parent: every
    directory above the one whose name holds the id, up to and including the
    hierarchy's mount, must belong to root and be writable by no group or
    other user. A user handed a subtree (a systemd user manager's
    user@UID.service, a Delegate=yes service, cgroupfs delegation, an
    unprivileged LXC) owns a directory on that path, and could name one in it
    after the id of root's container (cgroup v1 also lets a directory be
    renamed in place). Its record is then the rootless one, never root's
    container's name and image. The directory of the id itself may be anyone's:
    a runtime hands a user-namespaced container its own cgroup. The component
    checked is the one ``from_cgroup`` read the id from, in every hierarchy
    that names it; one of them saying a user could have named it is enough.
    """
    match = _cgroup_match(data)
    if match is None or match[1] != cid:
        return None
    verdicts = set()
    for controllers, path, start in match[3]:
        wanted = None if not controllers else frozenset(controllers.split(','))
        for root, point, has in mounts:
            if (wanted is None) != (has is None) or (wanted is not None and not wanted <= has):
                continue
            if root != '/' and not (path == root or path.startswith(root + '/')):
                continue
            offset = len(root) if root != '/' else 0
            above = [c for c in path[offset:path.rfind('/', 0, start)].split('/') if c]
            if start < offset or any(c in ('.', '..') for c in above):
                continue  # a cgroup outside this gather's cgroup namespace shows as /../...: not under this mount
            verdicts.add(_parents_root_only(point, above))
    if False in verdicts:
        return False
    return True if True in verdicts else None


def _parents_root_only(point, components):
    current = point
    try:
        for component in [None] + components:
            if component is not None:
                current = os.path.join(current, component)
            info = os.lstat(current)
            if info.st_uid != 0 or info.st_mode & 0o022 or not stat.S_ISDIR(info.st_mode):
                return False
    except OSError:
        return None  # gone meanwhile, or a hierarchy this mount namespace does not show
    return True


def open_process(pid, proc='/proc', netns_inode=None):
    """A directory fd of /proc/PID (the caller closes it), or None; with ``netns_inode``, only while in that namespace.

    What is read through the fd is that one process's, even if its pid is
    reused meanwhile (the reads then fail): a pid found in a namespace is
    checked to be still there, not trusted from an earlier pass.
    """
    try:
        fd = os.open('%s/%d' % (proc, pid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    if netns_inode is not None:
        try:
            link = os.readlink('ns/net', dir_fd=fd)
        except OSError:
            link = None
        if link != 'net:[%d]' % netns_inode:
            os.close(fd)
            return None
    return fd


def read_at(dir_fd, name, limit=1024 * 1024):
    """The bytes of ``name`` under ``dir_fd`` (at most ``limit``)."""
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        chunks, size = [], 0
        while size < limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b''.join(chunks)[:limit]
    finally:
        os.close(fd)


def real_root(dir_fd):
    """Whether the process runs as root through and through: real, effective, saved and filesystem uid 0.

    The owner of /proc/PID is the effective uid only: a setuid-root program a
    user starts under a forwarder's name (a symlink called docker-proxy to
    su) has effective uid 0 and the user's real uid.
    """
    if os.fstat(dir_fd).st_uid != 0:
        return False
    # \n only: the kernel escapes it in the Name: line, not \r, so a process named '\rUid:\t0\t0\t0\t0'
    # would otherwise plant a line of its own.
    for line in read_at(dir_fd, 'status').split(b'\n'):
        if line.startswith(b'Uid:'):
            return line.split()[1:5] == [b'0', b'0', b'0', b'0']
    return False


def runs_program(dir_fd, name):
    """Whether the process's executable is called ``name`` (a comm is only the name of what was run)."""
    exe = os.readlink('exe', dir_fd=dir_fd)
    if exe.endswith(' (deleted)'):
        exe = exe[:-len(' (deleted)')]  # upgraded under a running process
    return os.path.basename(exe) == name


def root_forwarder(pid, name, proc='/proc'):
    """Whether ``pid`` is root's own ``name`` (docker-proxy, conmon): real root, running that executable."""
    fd = open_process(pid, proc)
    if fd is None:
        return False
    try:
        return real_root(fd) and runs_program(fd, name)
    except OSError:
        return False
    finally:
        os.close(fd)


def _ppid(dir_fd):
    record = read_at(dir_fd, 'stat')
    return int(record[record.rindex(b')') + 2:].split()[1])  # "pid (comm) state ppid ..."; comm may hold ')'


def conmon_parent(pid, proc='/proc', netns_inode=None):
    """(container id, whether root runs that conmon) when the parent of ``pid`` is conmon, podman's container
    monitor; else None.

    A rootless podman without a systemd user manager makes no cgroup per
    container, so its processes stay in their user's cgroup; their parent,
    conmon (``-c ID``), still names the container. The parent must run
    conmon's executable, not merely be called conmon, and must still be the
    parent once it has been read (a parent that died and whose pid came back
    as another process is not).
    """
    child = open_process(pid, proc, netns_inode)
    if child is None:
        return None
    parent = None
    try:
        ppid = _ppid(child)
        parent = open_process(ppid, proc)
        if parent is None or not runs_program(parent, 'conmon'):
            return None
        argv = read_at(parent, 'cmdline').split(b'\0')
        # A conmon that is not root through and through (a user's, or a setuid program run under its name)
        # is a user's: its container is rootless.
        by_root = real_root(parent)
        if _ppid(child) != ppid:
            return None
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(child)
        if parent is not None:
            os.close(parent)
    for i, arg in enumerate(argv[:-1]):
        if arg in (b'-c', b'--cid') and re.match(rb'[0-9a-f]{64}\Z', argv[i + 1]):
            return argv[i + 1].decode('ascii'), by_root
    return None


def rootless(runtime, cid):
    """A rootless container's record: its runtime and id only (its name and image are its user's choice)."""
    return make_container(runtime, id=cid)


def _port_mappings(mappings):
    """[(protocol, host_ip, first host port, count, first container port)] of a libpod port mapping list."""
    out = []
    for mapping in mappings if isinstance(mappings, list) else ():
        if not isinstance(mapping, dict):
            continue
        host, inside, count = mapping.get('host_port'), mapping.get('container_port'), mapping.get('range') or 1
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (host, inside, count)):
            continue
        if max(host, inside) + count - 1 > 65535:
            continue  # no such port
        host_ip = mapping.get('host_ip') or ''
        for protocol in set(str(mapping.get('protocol') or 'tcp').split(',')) & PROTOCOLS:
            out.append((protocol, host_ip if isinstance(host_ip, str) else None, host, count, inside))
    return out


def _mount_id(fd):
    """The mount an fd is on, from /proc/self/fdinfo (no call into its filesystem), or None."""
    try:
        with open('/proc/self/fdinfo/%d' % fd, 'rb') as handle:
            for line in handle:
                if line.startswith(b'mnt_id:'):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _open_users_file(uid, home, parts):
    """A read-only file object for home/parts..., or None unless it is the user's own regular file.

    The path is walked one O_PATH|O_NOFOLLOW step at a time from the home's
    parent, and each step must stay on the parent's mount, checked by mount id
    before the next step looks anything up: no symlink of the user's takes
    root to a device (opening one already acts), and no mount of theirs (FUSE
    on the home or below it, an automount) is ever asked a thing, so none can
    hang the gather. A home that is itself a mount point (NFS, autofs) is not
    read either. The file must then be a regular file the user owns, within
    LIBPOD_USER_LIMIT, and only then is it opened for reading.
    """
    path_flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
    fds = []
    try:
        fds.append(os.open(os.path.dirname(home.rstrip('/')) or '/', os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        mount = _mount_id(fds[0])
        if mount is None:
            return None
        for part in (os.path.basename(home.rstrip('/')),) + tuple(parts):
            fds.append(os.open(part, path_flags, dir_fd=fds[-1]))
            if _mount_id(fds[-1]) != mount:
                return None
        info = os.fstat(fds[-1])
        if not stat.S_ISREG(info.st_mode) or info.st_uid != uid or info.st_size > LIBPOD_USER_LIMIT:
            return None
        # The same file, opened for reading now that it is known to be one (O_NONBLOCK: never wait on it).
        return os.fdopen(os.open('/proc/self/fd/%d' % fds[-1], os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY
                                 | os.O_CLOEXEC), 'rb')
    except OSError:
        return None
    finally:
        for fd in fds:
            os.close(fd)


def _user_port_mappings(uid, home):
    """{(protocol, host port): {(host_ip, container port)}} from the user's libpod state files.

    The files are the user's, so they are read as hostile: each mapping list
    is parsed within a bounded window (deep nesting included), a bounded
    number of lists, and at most MAPPING_PORTS host ports in all; past that
    the user's ports are unknown (an empty answer), not partly read.
    """
    decoder = json.JSONDecoder()
    out = {}
    total = 0
    for name in LIBPOD_DBS:
        handle = _open_users_file(uid, home, ('.local', 'share', 'containers', 'storage') + tuple(name.split('/')))
        if handle is None:
            continue
        with handle:
            try:
                data = handle.read(LIBPOD_USER_LIMIT).decode('utf-8', 'replace')
            except OSError:
                continue
        position = 0
        for _count in range(MAPPING_LISTS):
            match = _LIBPOD_PORT_MAPPINGS.search(data, position)
            if match is None:
                break
            start = match.end() - 1
            try:
                mappings, end = decoder.raw_decode(data[start:start + MAPPING_WINDOW])
            except (ValueError, RecursionError):
                position = match.end()  # cut short (a record split across pages), not JSON, or nested too deep
                continue
            position = start + end
            for protocol, host_ip, first, count, inside in _port_mappings(mappings):
                total += count
                if total > MAPPING_PORTS:
                    return {}
                for offset in range(count):
                    out.setdefault((protocol, first + offset), set()).add((host_ip, inside + offset))
    return out


def _load_json(path):
    try:
        with open(path, 'rb') as handle:
            return json.loads(handle.read().decode('utf-8', 'replace'))
    except (OSError, ValueError):
        return None


class Catalog(object):
    """Names and images of containers, read lazily from the runtimes' files, once per run."""

    def __init__(self, storage=STORAGE, docker=DOCKER, tasks=CONTAINERD_TASKS):
        self.storage, self.docker, self.tasks = storage, docker, tasks
        self._storage = None
        self._libpod = None
        self._notes = {}
        self._rootless_ports = {}
        self._cgroup_mounts = None

    def cgroup_mounts(self):
        """This process's cgroup hierarchies (``cgroup_mounts``), read once per run."""
        if self._cgroup_mounts is None:
            self._cgroup_mounts = cgroup_mounts()
        return self._cgroup_mounts

    def _libpod_names(self):
        """{pod or container id: name} from libpod's state files (the only place a pod's name is kept)."""
        if self._libpod is None:
            self._libpod = {}
            for root in self.storage:
                for name in LIBPOD_DBS:
                    try:
                        with open(os.path.join(root, name), 'rb') as handle:
                            if os.fstat(handle.fileno()).st_size > LIBPOD_DB_LIMIT:
                                continue  # pods keep their ids rather than cost the gather this much memory
                            data = handle.read()
                    except OSError:
                        continue
                    for match in _LIBPOD_RECORD.finditer(data):
                        try:
                            self._libpod.setdefault(match.group(1).decode('ascii'),
                                                    json.loads(b'"' + match.group(2) + b'"'))
                        except ValueError:
                            continue
        return self._libpod

    def rootless_port(self, uid, protocol, address, port, home=None):
        """The container port a rootless podman's rootlessport forwards ``address:port`` to, or None.

        rootlessport takes its mappings through a pipe that is closed once it
        runs; they stay in the libpod state file of the user who runs it
        (under their home; a storage moved elsewhere is not found, and the port
        stays unknown). A user's file is read for that user's rootlessport only.
        """
        if uid not in self._rootless_ports:
            if home is None:
                try:
                    home = pwd.getpwuid(uid).pw_dir
                except (KeyError, OverflowError):
                    home = None
            self._rootless_ports[uid] = _user_port_mappings(uid, home) if home else {}
        found = self._rootless_ports[uid].get((protocol, port), set())
        inside = {to for host_ip, to in found if host_ip in ('', address)}
        # Two answers (a removed container's record left beside the running one's): unknown, not a guess.
        return inside.pop() if len(inside) == 1 else None

    def is_sandbox(self, runtime, cid, pod=None):
        """True for a pod's pause/infra container: it holds the namespace, the workload is another container.

        CRI runtimes say so in an annotation. podman marks its pod members
        (ContainerType 'container') but not the infra container, so a podman
        container in a pod without that mark is the infra.
        """
        notes = self._annotations(cid)
        kinds = [notes.get(key) for key in _CONTAINER_TYPE if notes.get(key)]
        if kinds:
            return kinds[0] == 'sandbox'
        return runtime == 'podman' and pod is not None

    def _storage_index(self):
        if self._storage is None:
            self._storage = {}
            for root in self.storage:
                for entry in _load_json(os.path.join(root, 'overlay-containers', 'containers.json')) or ():
                    if isinstance(entry, dict) and entry.get('id'):
                        self._storage[entry['id']] = (root, entry)
        return self._storage

    def _annotations(self, cid):
        if cid in self._notes:
            return self._notes[cid]
        self._notes[cid] = notes = self._read_annotations(cid)
        return notes

    def _read_annotations(self, cid):
        paths = [os.path.join(root, 'overlay-containers', cid, 'userdata', 'config.json') for root in self.storage]
        paths += glob.glob(os.path.join(self.tasks, '*', cid, 'config.json'))
        for path in paths:
            spec = _load_json(path)
            if isinstance(spec, dict):
                return spec.get('annotations') or {}
        return {}

    def describe(self, runtime, cid, pod_uid=None):
        """The schema ``container`` record for one container."""
        name = image = None
        notes = self._annotations(cid)
        pod = notes.get('io.kubernetes.pod.name') or notes.get('io.kubernetes.cri.sandbox-name')
        if pod is None and pod_uid is not None:
            # podman: the cgroup names the pod by id; libpod's state file has its name.
            pod = self._libpod_names().get(pod_uid) if runtime == 'podman' else None
            pod = pod or pod_uid
        if runtime == 'docker':
            config = _load_json(os.path.join(self.docker, cid, 'config.v2.json')) or {}
            name = (config.get('Name') or '').lstrip('/') or None
            image = (config.get('Config') or {}).get('Image')
        else:
            entry = self._storage_index().get(cid)
            if entry is not None:
                names = entry[1].get('names') or []
                name = names[0] if names else None
                try:
                    image = json.loads(entry[1].get('metadata') or '{}').get('image-name')
                except ValueError:
                    image = None
            name = (notes.get('io.kubernetes.container.name') or notes.get('io.kubernetes.cri.container-name')
                    or name)
            image = (notes.get('io.kubernetes.cri.image-name') or notes.get('io.kubernetes.cri-o.ImageName')
                     or image)
        return make_container(runtime, id=cid, name=name, image=image, pod=pod)


def forwarder(name, cmdline):
    """What a port forwarder's command line says: {via, container_id, address, port} or None.

    docker-proxy: ``-container-ip 172.17.0.2 -container-port 80``; conmon: ``-c ID`` (the
    port it holds is a reservation, the DNAT rules say where it goes); rootlessport: none.
    """
    if not cmdline:
        return None
    argv = cmdline.split(' ')
    base = os.path.basename(name or '')

    def arg(flag):
        for i, value in enumerate(argv[:-1]):
            if value in (flag, '-' + flag):
                return argv[i + 1]
        return None

    if base == 'docker-proxy':
        port = arg('-container-port')
        # ASCII digits, at most five, a real port: str.isdigit() takes '²', and int() refuses it.
        port = int(port) if port and re.match(r'[0-9]{1,5}\Z', port) and 0 < int(port) < 65536 else None
        return {'via': 'docker-proxy', 'container_id': None, 'address': _canonical(arg('-container-ip')),
                'port': port}
    if base == 'conmon':
        return {'via': 'conmon', 'container_id': arg('-c') or arg('--cid'), 'address': None, 'port': None}
    if base in ('rootlessport', 'rootlessport-child'):
        return {'via': 'rootlessport', 'container_id': None, 'address': None, 'port': None}
    return None


# A DNAT target as iptables-save and nft print it: 10.88.0.2:8080, [fd42::2]:8080, or an address alone
# (10.88.0.2, fd42::2) when the rule keeps the port. The IPv4 form is a whole dotted quad, so the start of an
# IPv6 address (2001:1234::5) is never read as address 2001, port 1234.
_TO = (r'(?:\[(?P<to6>[0-9A-Fa-f:.]+)\](?::(?P<to6_port>\d+))?'
       r'|(?P<to4>\d{1,3}(?:\.\d{1,3}){3})(?::(?P<to4_port>\d+))?'
       r'|(?P<to6bare>[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*))(?=\s|$)')
_IPT = re.compile(r'^-A \S+ (?P<rest>.*-j DNAT --to-destination ' + _TO + ')')
_NFT = re.compile(r'(?P<proto>tcp|udp) dport (?P<port>\d+) .*dnat(?: ip6?)? to ' + _TO)
# A destination: an address (a zone after % is dropped), or a network (10.0.0.0/24); /32 and /128 are one
# address of their family. "! -d X" and "daddr != X" take every address but X.
_DEST = r'(?P<dest>[0-9A-Fa-f:.]+)(?:%\S+?)?(?:/(?P<prefix>\d{1,3}))?(?=\s|$)'
_IPT_DEST = re.compile(r'(?:^|\s)(?P<neg>!\s+)?-d (?:' + _DEST + r')?')
_NFT_DEST = re.compile(r'\bip6? daddr (?P<neg>!=\s*)?(?:' + _DEST + r')?')
_UNREADABLE = object()


def _target(match, dport):
    """(address, port) of a DNAT target, None when the address is not one; no port keeps the rule's own."""
    address = match.group('to6') or match.group('to4') or match.group('to6bare')
    port = match.group('to6_port') or match.group('to4_port')
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return _canonical(address), int(port) if port else dport


def _canonical(address):
    """One spelling per address, as the gatherer writes it (fd42:0::2 and fd42::2 are one address)."""
    if address is None or ':' not in address:
        return address
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, address))
    except (OSError, ValueError):
        return address


def _destination(match):
    """A rule's destination: None (any address), one address, a network as 'address/prefix', or _UNREADABLE."""
    if match is None or match.group('neg'):
        return None  # no destination, or every address but one: the port is reachable more widely
    address, prefix = match.group('dest'), match.group('prefix')
    try:
        ipaddress.ip_address(address or '')
    except ValueError:
        return _UNREADABLE  # a destination this parser does not read (a set, a map): never guess it
    if prefix is None or int(prefix) == (128 if ':' in address else 32):
        return _canonical(address)
    return '%s/%s' % (_canonical(address), int(prefix))


def destination_covers(destination, address):
    """Whether a rule's destination (None, an address or a network) takes traffic sent to ``address``."""
    if destination is None:
        return True
    if '/' not in destination:
        return destination == address
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(destination, strict=False)
    except ValueError:
        return False


def parse_iptables_nat(text):
    """DNAT rules from ``iptables-save -t nat`` or ``ip6tables-save -t nat``.

    [(protocol, destination, host port, ip, port)]: the destination is None (any address),
    an address or a network 'address/prefix'; addresses of either family.
    """
    rules = []
    for line in text.split('\n'):
        match = _IPT.match(line.strip())
        if not match:
            continue
        rest = match.group('rest')
        proto = re.search(r'-p (tcp|udp)\b', rest)
        dport = re.search(r'--dport (\d+)\b', rest)
        if not proto or not dport:
            continue
        dport = int(dport.group(1))
        target, destination = _target(match, dport), _destination(_IPT_DEST.search(rest))
        if target is not None and destination is not _UNREADABLE:
            rules.append((proto.group(1), destination, dport) + target)
    return rules


def parse_nft(text):
    """DNAT rules from ``nft list ruleset`` (ip and ip6 tables): same tuples as parse_iptables_nat."""
    rules = []
    for line in text.split('\n'):
        match = _NFT.search(line)
        if not match:
            continue
        dport = int(match.group('port'))
        target, destination = _target(match, dport), _destination(_NFT_DEST.search(line))
        if target is not None and destination is not _UNREADABLE:
            rules.append((match.group('proto'), destination, dport) + target)
    return rules


def dnat_rules(runner):
    """(rules, via) from iptables-save or nft, whichever answers (both when both do)."""
    found = []
    for argv, parse, via in ((['iptables-save', '-t', 'nat'], parse_iptables_nat, 'iptables'),
                             (['ip6tables-save', '-t', 'nat'], parse_iptables_nat, 'iptables'),
                             (['nft', 'list', 'ruleset'], parse_nft, 'nftables')):
        path = _which(argv[0])
        if path is None:
            continue
        rc, out, _err = runner([path] + argv[1:])
        if rc == 0:
            found.extend((rule, via) for rule in parse(out))
    return found


def _which(command):
    for directory in ('/usr/sbin', '/sbin', '/usr/bin', '/bin'):
        path = os.path.join(directory, command)
        if os.access(path, os.X_OK):
            return path
    return None
