# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container attribution and DNAT parsing on output recorded on this project's build host (podman 4.3, netavark)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners import containers

CID = '99b3c248fd3a0c93de42b03601e3d5898b1508e778617d958d9b76b240643188'
POD = '8e652f7fa994ea503cb431f8349ad31cb38e9b5e18fd602757de0d0665948398'
INFRA = '808d3d87cabddb91835448cfe9ad8ed3433022f9c7d4fa37eab4eff2a2e888c0'
# /proc/PID/cgroup of a rootful podman container (cgroupfs manager, hybrid hierarchy).
PODMAN_CGROUP = ''.join('%d:%s:/libpod_parent/libpod-%s\n' % (n, c, CID) for n, c in (
    (9, 'name=systemd'), (8, 'pids'), (1, 'cpu'), (0, '')))
IPTABLES = '''*nat
-A NETAVARK-DN-1D8721804F16F -s 10.88.0.0/16 -d 127.0.0.1/32 -p tcp -m tcp --dport 18080 -j NETAVARK-HOSTPORT-SETMARK
-A NETAVARK-DN-1D8721804F16F -d 127.0.0.1/32 -p tcp -m tcp --dport 18080 -j DNAT --to-destination 10.88.0.2:8080
-A NETAVARK-HOSTPORT-DNAT -p tcp -m tcp --dport 18080 -m comment --comment "dnat name: podman id: %s" -j NETAVARK-DN-1D8721804F16F
-A DOCKER ! -i docker0 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.3:53
COMMIT
''' % CID
NFT = (
    '\t\tip saddr 127.0.0.1 ip daddr 127.0.0.1 tcp dport 18080 counter packets 0 bytes 0 jump NETAVARK-HOSTPORT-SETMARK\n'
    '\t\tip daddr 127.0.0.1 tcp dport 18080 counter packets 0 bytes 0 dnat to 10.88.0.2:8080\n'
    '\t\tudp dport 5353 dnat ip to 172.17.0.3:53\n'
)


@pytest.mark.parametrize('cgroup, expected', [
    (PODMAN_CGROUP, ('podman', CID, None)),
    ('0::/machine.slice/libpod-%s.scope\n' % CID, ('podman', CID, None)),
    ('0::/machine.slice/libpod-conmon-%s.scope\n' % CID, None),  # conmon is on the host side
    ('0::/system.slice/docker-%s.scope\n' % CID, ('docker', CID, None)),
    ('12:memory:/docker/%s\n' % CID, ('docker', CID, None)),
    ('0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_0000_1111_2222_333344445555.slice/'
     'cri-containerd-%s.scope\n' % CID, ('containerd', CID, '1b2c3d4e-0000-1111-2222-333344445555')),
    ('0::/kubepods.slice/kubepods-pod1b2c3d4e_0000_1111_2222_333344445555.slice/crio-%s.scope\n' % CID,
     ('cri-o', CID, '1b2c3d4e-0000-1111-2222-333344445555')),
    ('0::/system.slice/ssh.service\n', None),
    # podman pods: cgroupfs (as recorded here, podman 4.3) and systemd cgroup managers
    ('0::/libpod_parent/%s/libpod-%s\n' % (POD, CID), ('podman', CID, POD)),
    ('0::/machine.slice/machine-libpod_pod_%s.slice/libpod-%s.scope\n' % (POD, CID), ('podman', CID, POD)),
    # Lines end with \n alone: a user's cgroup named 'x\r0::docker-ID.scope' plants no line of its own.
    ('0::/user.slice/user-1002.slice/user@1002.service/x\r0::docker-%s.scope\n' % CID, None),
    ('0::/a\x85b/docker-%s.scope\n' % CID, ('docker', CID, None)),  # not a line break: one component
    # Hierarchies naming two ids name no container.
    ('4:pids:/docker/%s\n3:memory:/docker/%s\n' % (CID, INFRA), None),
    # A pod is read above the container's cgroup only: below it, the container's root may name cgroups.
    ('0::/system.slice/docker-%s.scope/kubepods/pod1b2c3d4e-0000-1111-2222-333344445555/x\n' % CID,
     ('docker', CID, None)),
])
def test_from_cgroup(cgroup, expected):
    assert containers.from_cgroup(cgroup) == expected


def test_catalog_reads_podman_storage(tmp_path):
    store = tmp_path / 'storage'
    (store / 'overlay-containers' / CID / 'userdata').mkdir(parents=True)
    (store / 'overlay-containers' / 'containers.json').write_text(json.dumps([{
        'id': CID, 'names': ['web'], 'image': 'be9d',
        'metadata': json.dumps({'image-name': 'localhost/web:latest', 'name': 'web'})}]))
    (store / 'overlay-containers' / CID / 'userdata' / 'config.json').write_text(json.dumps({'annotations': {}}))
    catalog = containers.Catalog(storage=(str(store),), docker=str(tmp_path / 'none'), tasks=str(tmp_path / 'none'))
    expected = {'runtime': 'podman', 'id': CID, 'name': 'web', 'image': 'localhost/web:latest', 'pod': None}
    assert catalog.describe('podman', CID) == expected
    # Unknown ids still name their runtime and id.
    assert catalog.describe('cri-o', 'ab' * 32, 'uid-1')['pod'] == 'uid-1'


def test_catalog_names_a_podman_pod_from_libpod_state_and_knows_its_infra(tmp_path):
    store = tmp_path / 'storage'
    for cid, notes in ((CID, {'io.container.manager': 'libpod', 'io.kubernetes.cri-o.ContainerType': 'container',
                              'io.kubernetes.cri-o.SandboxID': INFRA}),
                       (INFRA, {'io.container.manager': 'libpod'})):
        (store / 'overlay-containers' / cid / 'userdata').mkdir(parents=True)
        (store / 'overlay-containers' / cid / 'userdata' / 'config.json').write_text(json.dumps({'annotations': notes}))
    (store / 'overlay-containers' / 'containers.json').write_text(json.dumps([
        {'id': CID, 'names': ['web'], 'metadata': json.dumps({'image-name': 'localhost/web:latest'})},
        {'id': INFRA, 'names': ['8e652f7fa994-infra'], 'metadata': json.dumps({'image-name': 'localhost/podman-pause'})}]))
    # libpod's bolt file as recorded here: binary pages with each pod's config JSON inside.
    (store / 'libpod').mkdir()
    (store / 'libpod' / 'bolt_state.db').write_bytes(
        b'\x00\x03allPods\x00' + POD.encode() + b'shop\x00\x10config{"id":"' + POD.encode()
        + b'","name":"shop \\"eu\\"","labels":{},"sharesNet":true}\x00\x00')
    catalog = containers.Catalog(storage=(str(store),), docker=str(tmp_path / 'none'), tasks=str(tmp_path / 'none'))
    assert catalog.describe('podman', CID, POD)['pod'] == 'shop "eu"'
    assert catalog.is_sandbox('podman', INFRA, POD) and not catalog.is_sandbox('podman', CID, POD)
    assert not catalog.is_sandbox('podman', INFRA)  # outside a pod nothing is an infra container
    # A pod id libpod does not know stays an id, never a guess.
    assert catalog.describe('podman', CID, 'ab' * 32)['pod'] == 'ab' * 32


def test_catalog_reads_docker_config(tmp_path):
    (tmp_path / CID).mkdir()
    (tmp_path / CID / 'config.v2.json').write_text(json.dumps({'Name': '/db', 'Config': {'Image': 'postgres:16'}}))
    catalog = containers.Catalog(storage=(), docker=str(tmp_path), tasks=str(tmp_path / 'none'))
    assert catalog.describe('docker', CID)['name'] == 'db' and catalog.describe('docker', CID)['image'] == 'postgres:16'


def test_forwarder_command_lines():
    proxy = '/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80'
    expected = {'via': 'docker-proxy', 'container_id': None, 'address': '172.17.0.2', 'port': 80}
    assert containers.forwarder('docker-proxy', proxy) == expected
    conmon = '/usr/bin/conmon --api-version 1 -c %s -u %s -r /usr/bin/runc -n web' % (CID, CID)
    assert containers.forwarder('conmon', conmon)['container_id'] == CID
    assert containers.forwarder('nginx', 'nginx: master process') is None


def test_dnat_rules_from_iptables_and_nft():
    expected = [('tcp', '127.0.0.1', 18080, '10.88.0.2', 8080), ('udp', None, 5353, '172.17.0.3', 53)]
    assert containers.parse_iptables_nat(IPTABLES) == expected
    assert containers.parse_nft(NFT) == expected


# Recorded on the build host: podman 4.3 (netavark) publishing [::1]:18443 to a container on an IPv6 network.
IP6TABLES = (
    '-A NETAVARK-DN-4BB156588E07E -d ::1/128 -p tcp -m tcp --dport 18443 -j DNAT --to-destination [fd42:4242::2]:8080\n'
    '-A NETAVARK-HOSTPORT-DNAT -p tcp -m tcp --dport 18443 -m comment --comment "dnat name: hs-v6test id: %s" '
    '-j NETAVARK-DN-4BB156588E07E\n' % CID)
NFT6 = ('\t\tip6 daddr ::1 tcp dport 18443 counter packets 0 bytes 0 dnat to [fd42:4242::2]:8080\n'
        '\t\tudp dport 5353 dnat ip6 to [fd42:4242:0:0::3]:53\n')
IF_INET6 = ('fe80000000000000acba7afffe82c83c 02 40 20 80     eth0\n'
            'fd424242000000000000000000000002 02 40 00 80     eth0\n'
            'fd424242000000000000000000000009 02 40 00 c0     eth0\n'  # tentative: not usable yet
            'fd424242000000000000000000000008 02 40 00 88     eth0\n'  # failed duplicate detection
            '00000000000000000000000000000001 01 80 10 80       lo\n')


def test_ipv6_dnat_rules_from_ip6tables_and_nft():
    expected = [('tcp', '::1', 18443, 'fd42:4242::2', 8080)]
    assert containers.parse_iptables_nat(IP6TABLES) == expected
    # Addresses are written one way whatever the rule's spelling, as the gatherer writes them.
    assert containers.parse_nft(NFT6) == expected + [('udp', None, 5353, 'fd42:4242::3', 53)]
    # IPv4 rules beside them are still read the same.
    assert containers.parse_iptables_nat(IPTABLES + IP6TABLES)[-1] == expected[0]


@pytest.mark.parametrize('line, expected', [
    # A network destination stays a network; /32 is one address only for IPv4, /128 for IPv6.
    ('-A X -d 2001:db8::/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd42::2]:80',
     [('tcp', '2001:db8::/32', 8080, 'fd42::2', 80)]),
    ('-A X -d 10.0.0.0/24 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
     [('tcp', '10.0.0.0/24', 8080, '172.17.0.2', 80)]),
    ('-A X -d 2001:db8::1/128 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd42::2]:80',
     [('tcp', '2001:db8::1', 8080, 'fd42::2', 80)]),
    # A target without a port keeps the rule's; the start of an IPv6 address is never "address:port".
    ('-A X -p tcp -m tcp --dport 8080 -j DNAT --to-destination 2001:1234::5', [('tcp', None, 8080, '2001:1234::5', 8080)]),
    ('-A X -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2', [('tcp', None, 8080, '172.17.0.2', 8080)]),
    # Every address but one: the port is reachable on the others.
    ('-A X ! -d 127.0.0.0/8 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
     [('tcp', None, 8080, '172.17.0.2', 80)]),
    ('-A X -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080-8090', []),  # a port range: not linked
])
def test_dnat_destinations_and_targets_from_iptables(line, expected):
    assert containers.parse_iptables_nat(line) == expected


@pytest.mark.parametrize('line, expected', [
    ('ip6 daddr 2001:db8::/32 tcp dport 8080 dnat ip6 to [fd42::2]:80', [('tcp', '2001:db8::/32', 8080, 'fd42::2', 80)]),
    ('tcp dport 8080 dnat ip6 to 2001:1234::5', [('tcp', None, 8080, '2001:1234::5', 8080)]),
    ('tcp dport 8080 dnat to :8080', []),  # no address: nothing to link
    ('ip daddr != 10.0.0.1 tcp dport 9 dnat to 10.88.0.2:9', [('tcp', None, 9, '10.88.0.2', 9)]),
    ('ip daddr { 10.0.0.1, 10.0.0.2 } tcp dport 9 dnat to 10.88.0.2:9', []),  # a set: not guessed
    ('ip6 daddr fe80::1%eth0 tcp dport 1 dnat ip6 to [fd42::2]:80', [('tcp', 'fe80::1', 1, 'fd42::2', 80)]),
])
def test_dnat_destinations_and_targets_from_nft(line, expected):
    assert containers.parse_nft(line) == expected


def test_destination_covers_addresses_and_networks():
    assert containers.destination_covers(None, '192.0.2.1')
    assert containers.destination_covers('10.0.0.0/24', '10.0.0.7')
    assert not containers.destination_covers('10.0.0.0/24', '10.0.1.7')
    assert containers.destination_covers('::1', '::1') and not containers.destination_covers('::1', '::2')
    assert not containers.destination_covers('2001:db8::/32', '10.0.0.1')


def test_namespace_ipv6_addresses_leave_out_loopback_and_link_local(tmp_path):
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners import netns
    path = tmp_path / 'if_inet6'
    path.write_text(IF_INET6)
    assert netns.ipv6_addresses(str(path)) == {'fd42:4242::2'}
    assert netns.ipv6_addresses(str(tmp_path / 'absent')) == set()  # a kernel without IPv6


def test_an_oversized_libpod_state_file_is_not_read(tmp_path, monkeypatch):
    # A pod then keeps its id: the gather must not load hundreds of MB to name it.
    store = tmp_path / 'storage'
    (store / 'libpod').mkdir(parents=True)
    (store / 'libpod' / 'bolt_state.db').write_bytes(b'config{"id":"' + POD.encode() + b'","name":"shop"}' + b'\0' * 4096)
    catalog = containers.Catalog(storage=(str(store),), docker=str(tmp_path / 'none'), tasks=str(tmp_path / 'none'))
    monkeypatch.setattr(containers, 'LIBPOD_DB_LIMIT', 1024)
    assert catalog.describe('podman', CID, POD)['pod'] == POD
    fresh = containers.Catalog(storage=(str(store),), docker=str(tmp_path / 'none'), tasks=str(tmp_path / 'none'))
    monkeypatch.setattr(containers, 'LIBPOD_DB_LIMIT', 1024 * 1024)
    assert fresh.describe('podman', CID, POD)['pod'] == 'shop'


def test_a_target_address_shared_by_two_namespaces_or_with_the_host_is_not_linked(monkeypatch):
    # Rootless pasta copies the host's addresses into containers, and two namespaces can hold one address:
    # a DNAT to such an address names no single container, so it is linked to none (recorded rules: no pasta here).
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux, netns, schema
    host_ips = sorted(ip for ip in netns.own_addresses() if not ip.startswith('127.'))

    def listener(ns_inode):
        return schema.strip_to_compact(schema.make_listener('tcp', 'ipv4', '0.0.0.0', 8080, netns=ns_inode))
    twin_a, twin_b, single, on_host = listener(111), listener(222), listener(333), listener(444)
    sources = [(111, [], {}, None, {'10.88.0.2'}), (222, [], {}, None, {'10.88.0.2'}),
               (333, [], {}, None, {'10.88.0.3'}), (444, [], {}, None, set(host_ips[:1]))]
    rules = ('tcp dport 18080 dnat to 10.88.0.2:8080\n'
             'tcp dport 18081 dnat to 10.88.0.3:8080\n')
    if host_ips:
        rules += 'tcp dport 18082 dnat to %s:8080\n' % host_ips[0]
    monkeypatch.setattr(containers, 'dnat_rules', lambda runner: [(r, 'nftables') for r in containers.parse_nft(rules)])
    linux._link_published([twin_a, twin_b, single, on_host], {}, sources, 1, runner=None)
    assert 'published' not in twin_a and 'published' not in twin_b and 'published' not in on_host
    assert single['published'] == [{'address': '0.0.0.0', 'port': 18081, 'protocol': 'tcp', 'via': 'nftables',
                                    'netns': 1}]


ROOTLESS_CGROUP = ('0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-%s.scope/container\n' % CID)


def _hierarchy(tmp_path, owner_of=None):
    """A cgroup v2 mount and a v1 pids mount (mountinfo as the kernel writes it), with directories in them."""
    v2, v1 = tmp_path / 'unified', tmp_path / 'pids dir'
    manager = v2 / 'user.slice' / 'user-1000.slice' / 'user@1000.service'
    for top in (v2, v1):
        (top / 'libpod_parent' / ('libpod-%s' % CID)).mkdir(parents=True)
    (manager / 'user.slice' / ('libpod-%s.scope' % CID) / 'container').mkdir(parents=True)
    if owner_of is not None:  # what systemd hands the user, and what the user made in it
        for path in (manager, manager / 'user.slice', manager / 'user.slice' / ('libpod-%s.scope' % CID)):
            os.chown(path, owner_of, -1)
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text('30 25 0:26 / %s rw,nosuid shared:4 - cgroup2 cgroup2 rw\n'
                         '31 25 0:27 / %s rw,nosuid shared:5 - cgroup cgroup rw,pids\n'
                         '32 25 8:1 / / rw - ext4 /dev/sda1 rw\n' % (v2, str(v1).replace(' ', '\\040')))
    return containers.cgroup_mounts(str(mountinfo))


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to hand a directory to another user')
def test_a_cgroup_a_user_made_names_no_root_container(tmp_path):
    # The user chose that path, so the id it names may be root's container's: the record keeps the id only.
    mounts = _hierarchy(tmp_path, owner_of=1000)
    assert containers.from_cgroup(ROOTLESS_CGROUP) == ('podman', CID, None)
    assert containers.root_made(ROOTLESS_CGROUP, CID, mounts) is False
    assert containers.root_made(ROOTLESS_CGROUP.encode(), CID, mounts) is False
    # Root's own cgroups, in the v1 hierarchy (a mount point with a space in its name) and in v2.
    assert containers.root_made('4:pids:/libpod_parent/libpod-%s\n' % CID, CID, mounts) is True
    assert containers.root_made('0::/libpod_parent/libpod-%s\n' % CID, CID, mounts) is True
    # A hierarchy this mount namespace does not show, a cgroup gone, one outside this cgroup namespace: cannot
    # be told, so not root's.
    assert containers.root_made('5:memory:/libpod_parent/libpod-%s\n' % CID, CID, mounts) is None
    assert containers.root_made('0::/gone/libpod-%s\n' % CID, CID, mounts) is None
    assert containers.root_made('0::/../../libpod_parent/libpod-%s\n' % CID, CID, mounts) is None
    # A root-owned parent any user may write: cgroup v1 lets a directory in it be renamed after root's id.
    v1 = tmp_path / 'pids dir'
    (v1 / 'shared' / ('libpod-%s' % CID)).mkdir(parents=True)
    os.chmod(v1 / 'shared', 0o777)
    assert containers.root_made('4:pids:/shared/libpod-%s\n' % CID, CID, mounts) is False
    # A user-namespaced container's own cgroup is handed to its root user; the parents say who named it.
    os.chown(v1 / 'libpod_parent' / ('libpod-%s' % CID), 100000, -1)
    assert containers.root_made('4:pids:/libpod_parent/libpod-%s\n' % CID, CID, mounts) is True
    # ... and what that root makes below its own cgroup, a podman-like cgroup inside a docker container's, is
    # checked where the id was read (the podman pattern comes first): its parents hold the container's own
    # directory, which is not root's. Neither the runtime nor the pod it names is taken.
    outer = v1 / 'docker' / CID
    (outer / 'libpod_parent' / POD / ('libpod-%s' % CID)).mkdir(parents=True)
    os.chown(outer, 100000, -1)
    inner = '4:pids:/docker/%s/libpod_parent/%s/libpod-%s\n' % (CID, POD, CID)
    assert containers.from_cgroup(inner) == ('podman', CID, POD)
    assert containers.root_made(inner, CID, mounts) is False
    # A planted line is no line (see test_from_cgroup), so no verdict either.
    assert containers.root_made('0::/user.slice/x\r0::/libpod_parent/libpod-%s\n' % CID, CID, mounts) is None
    assert containers.rootless('podman', CID) == {'runtime': 'podman', 'id': CID, 'name': None, 'image': None,
                                                  'pod': None}


def test_cgroup_mounts_read_only_cgroup_hierarchies(tmp_path):
    mounts = _hierarchy(tmp_path)
    assert [(root, point.endswith('pids dir'), has) for root, point, has in mounts] == [
        ('/', False, None), ('/', True, frozenset(('rw', 'pids')))]


def _process(proc, pid, ppid, comm='x', exe='/usr/bin/x', argv=('x',), uids='0\t0\t0\t0'):
    (proc / str(pid)).mkdir()
    (proc / str(pid) / 'stat').write_bytes(b'%d (%s) S %d 1 1 0 -1\n' % (pid, comm.encode(), ppid))
    (proc / str(pid) / 'status').write_text('Name:\t%s\nUid:\t%s\nGid:\t0\t0\t0\t0\n' % (comm, uids))
    (proc / str(pid) / 'exe').symlink_to(exe)
    (proc / str(pid) / 'cmdline').write_bytes(b'\0'.join(a.encode() for a in argv) + b'\0')


def test_conmon_parent_names_the_container_only_for_the_real_conmon(tmp_path):
    proc = tmp_path / 'proc'
    proc.mkdir()
    _process(proc, 10, 1, 'conmon', '/usr/bin/conmon', ('/usr/bin/conmon', '--api-version', '1', '-c', CID, '-n', 'web'))
    _process(proc, 11, 10, 'httpd) S 99 (', '/bin/busybox')  # a comm holding ') S 99 (' reads no other ppid
    _process(proc, 20, 1, 'conmon', '/home/u/conmon (deleted)', ('conmon', '-c', CID), uids='1000\t1000\t1000\t1000')
    _process(proc, 21, 20)
    _process(proc, 30, 1, 'conmon', '/tmp/fake', ('conmon', '-c', CID))  # called conmon, runs something else
    _process(proc, 31, 30)
    _process(proc, 40, 1, 'conmon', '/usr/bin/conmon', ('conmon', '-c', 'not-an-id'))
    _process(proc, 41, 40)
    # A setuid-root program run by a user through a link named conmon: effective uid 0, real uid the user's.
    _process(proc, 50, 1, 'conmon', '/home/u/conmon', ('conmon', '-c', CID), uids='1000\t0\t0\t0')
    _process(proc, 51, 50)
    assert containers.conmon_parent(11, str(proc)) == (CID, True)
    assert containers.conmon_parent(21, str(proc)) == (CID, False)  # a user's conmon: a rootless container
    assert containers.conmon_parent(31, str(proc)) is None
    assert containers.conmon_parent(41, str(proc)) is None
    assert containers.conmon_parent(51, str(proc)) == (CID, False)
    # A name that plants a Uid: line of its own (the kernel does not escape \r in status): the real line counts.
    _process(proc, 60, 1, '\rUid:\t0\t0\t0\t0', '/home/u/conmon', ('conmon', '-c', CID), uids='1002\t1002\t1002\t1002')
    _process(proc, 61, 60)
    assert containers.conmon_parent(61, str(proc)) == (CID, False)
    assert containers.conmon_parent(99, str(proc)) is None  # gone


def test_a_forwarder_is_roots_own_program_run_by_root(tmp_path):
    proc = tmp_path / 'proc'
    proc.mkdir()
    _process(proc, 10, 1, 'docker-proxy', '/usr/sbin/docker-proxy')
    _process(proc, 11, 1, 'docker-proxy', '/usr/bin/su', uids='1000\t0\t0\t0')  # su started as docker-proxy
    _process(proc, 12, 1, 'docker-proxy', '/home/u/docker-proxy', uids='1000\t1000\t1000\t1000')
    _process(proc, 13, 1, 'docker-proxy', '/usr/bin/python3.11')  # root's, but another program
    assert containers.root_forwarder(10, 'docker-proxy', str(proc)) is True
    assert [containers.root_forwarder(pid, 'docker-proxy', str(proc)) for pid in (11, 12, 13, 99)] == [False] * 4


def _libpod_state(home, text):
    state = home / '.local' / 'share' / 'containers' / 'storage' / 'libpod'
    state.mkdir(parents=True, exist_ok=True)
    path = state / 'bolt_state.db'
    path.write_bytes(b'\x00\x13bolt page\x00' + text.encode() + b'\x00\xff')
    return path


def test_rootless_port_reads_the_users_libpod_mappings(tmp_path):
    home = tmp_path / 'home'
    record = ('{"spec":{},"id":"%s","name":"web","newPortMappings":[{"host_ip":"127.0.0.1","container_port":8080,'
              '"host_port":18090,"range":1,"protocol":"tcp"},{"host_ip":"","container_port":53,"host_port":5300,'
              '"range":3,"protocol":"tcp,udp"}],"other":1}' % CID)
    _libpod_state(home, record + record)  # bolt may hold a record twice
    uid = os.getuid()
    catalog = containers.Catalog()
    assert catalog.rootless_port(uid, 'tcp', '127.0.0.1', 18090, home=str(home)) == 8080
    assert catalog.rootless_port(uid, 'tcp', '0.0.0.0', 18090) is None  # published on 127.0.0.1 only
    assert catalog.rootless_port(uid, 'udp', '0.0.0.0', 5302) == 55  # a range, both protocols
    assert catalog.rootless_port(uid, 'tcp', '::', 5303) is None
    # A removed container's record beside the running one's, with another container port: unknown, not a guess.
    _libpod_state(home, record + record.replace('"container_port":8080', '"container_port":80'))
    assert containers.Catalog().rootless_port(uid, 'tcp', '127.0.0.1', 18090, home=str(home)) is None


def _mapping(host_port, inside=80, count=1, protocol='tcp'):
    return ('"newPortMappings":[{"host_ip":"","container_port":%d,"host_port":%d,"range":%d,"protocol":"%s"}]'
            % (inside, host_port, count, protocol))


def test_rootless_port_reads_only_a_regular_file_the_user_owns(tmp_path):
    owned = tmp_path / 'owned'
    path = _libpod_state(owned, _mapping(18091))
    uid = os.getuid()
    assert containers.Catalog().rootless_port(uid, 'tcp', '0.0.0.0', 18091, home=str(owned)) == 80
    # Another user's file (root's, behind a symlink in the home) is not this user's state.
    assert containers.Catalog().rootless_port(uid + 1, 'tcp', '0.0.0.0', 18091, home=str(owned)) is None
    path.unlink()
    os.mkfifo(path)  # would hang a plain open() until someone writes
    assert containers.Catalog().rootless_port(uid, 'tcp', '0.0.0.0', 18091, home=str(owned)) is None
    # A symlink is never followed, at the file or at any directory: opening a device already acts.
    path.unlink()
    path.symlink_to('/dev/null')
    assert containers.Catalog().rootless_port(uid, 'tcp', '0.0.0.0', 18091, home=str(owned)) is None
    elsewhere = tmp_path / 'elsewhere'
    _libpod_state(elsewhere, _mapping(18091))
    storage = owned / '.local' / 'share' / 'containers' / 'storage'
    (storage / 'libpod').unlink() if (storage / 'libpod').is_symlink() else shutil.rmtree(storage / 'libpod')
    (storage / 'libpod').symlink_to(elsewhere / '.local' / 'share' / 'containers' / 'storage' / 'libpod')
    assert containers.Catalog().rootless_port(uid, 'tcp', '0.0.0.0', 18091, home=str(owned)) is None


def test_rootless_port_reads_a_hostile_state_file_in_bounded_time_and_memory(tmp_path):
    home, uid = tmp_path / 'home', os.getuid()

    def port(text, host_port=18091):
        _libpod_state(home, text)
        return containers.Catalog().rootless_port(uid, 'tcp', '0.0.0.0', host_port, home=str(home))
    # Unterminated lists: one bounded window each, a bounded number of times.
    assert port('"newPortMappings":["' * 200000 + _mapping(18091)) is None
    # Nested deeper than the parser's recursion limit, then a good list: the bad one is skipped.
    assert port('"newPortMappings":' + '[' * 15000 + ' ' + _mapping(18091)) == 80
    # Only real protocols: a list of made-up ones makes no mappings.
    assert port(_mapping(18091, protocol=','.join('p%d' % i for i in range(5000)))) is None
    assert port(_mapping(18091, protocol='udp,tcp')) == 80
    # No port above 65535, and past MAPPING_PORTS ports in all the user's ports are unknown.
    assert port(_mapping(65535, count=2)) is None
    assert port(_mapping(1, count=40000) + _mapping(40001, count=30000) + _mapping(18091)) is None


def test_forwarders_not_roots_and_rootless_twins_of_an_id_link_nothing(monkeypatch):
    # A user's process named docker-proxy or conmon, or a rootless record naming the id of root's container,
    # must not link a host port to a container (nor take the link from the real one).
    from ansible_collections.hostsec.ports.plugins.module_utils._listeners import linux, schema

    def listener(ns_inode, port, pid=None, container=None):
        lst = schema.strip_to_compact(schema.make_listener('tcp', 'ipv4', '0.0.0.0', port, netns=ns_inode))
        lst['pids'] = [pid] if pid else []
        if container:
            lst['container'] = container
        return lst
    root_web = listener(333, 8080, container={'runtime': 'podman', 'id': CID, 'name': 'web', 'image': None,
                                              'pod': None})
    users_twin = listener(222, 8080, container=containers.rootless('podman', CID))
    proxy = listener(1, 18080, pid=10)
    conmon = listener(1, 18081, pid=11)
    table = {'10': {'pid': 10, 'name': 'docker-proxy', 'uid': 1000,
                    'cmdline': 'docker-proxy -container-ip 10.88.0.3 -container-port 8080'},
             '11': {'pid': 11, 'name': 'conmon', 'uid': 0, 'cmdline': 'conmon -c %s' % CID}}
    sources = [(333, [], {}, None, {'10.88.0.3'}), (222, [], {}, None, {'10.0.2.100'})]
    monkeypatch.setattr(containers, 'dnat_rules', lambda runner: [])
    # Which pids are root's own forwarders is read from /proc (test_a_forwarder_is_roots_own_program_run_by_root).
    monkeypatch.setattr(containers, 'root_forwarder', lambda pid, name, proc: pid == 11)
    linux._link_published([root_web, users_twin, proxy, conmon], table, sources, 1, runner=None)
    assert 'forwards_to' not in proxy and 'published' not in root_web and 'published' not in users_twin
    # root's conmon still names root's container's namespace: the rootless twin neither takes nor shares it.
    assert conmon['forwards_to']['netns'] == 333


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('mount'), reason='needs root to mount')
def test_rootless_port_never_looks_into_a_mount_in_or_on_the_home(tmp_path):
    # A user may mount FUSE on their home or below it; one that never answers would hang whatever asks it.
    # Here a bind mount stands for it: the walk stops at the mount without looking anything up in it.
    home, uid = tmp_path / 'home', os.getuid()
    _libpod_state(home, _mapping(18091))
    assert containers.Catalog().rootless_port(uid, 'tcp', '0.0.0.0', 18091, home=str(home)) == 80
    for mounted in (home / '.local' / 'share', home):
        subprocess.run(['mount', '--bind', str(mounted), str(mounted)], check=True)
        try:
            assert containers.Catalog().rootless_port(uid, 'tcp', '0.0.0.0', 18091, home=str(home)) is None
        finally:
            subprocess.run(['umount', str(mounted)], check=True)


def test_a_docker_proxy_port_that_is_no_port_is_none():
    base = 'docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port '
    for port, expected in (('80', 80), ('\u00b2', None), ('9' * 5000, None), ('99999', None), ('0', None)):
        assert containers.forwarder('docker-proxy', base + port)['port'] == expected, port
