# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures: a tiny in-memory stand-in for the KB boundary, and realistic listeners."""

from __future__ import annotations

import pytest

from ansible_collections.hostsec.ports.plugins.module_utils._listeners.schema import make_listener, make_process
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import PortSpec


class FakeKB:
    """Same methods as the knowledge base, with a handful of names (pure unit tests only)."""

    NAMES = {
        'ssh': [PortSpec(22, 22, ('tcp',))],
        'https': [PortSpec(443, 443, ('tcp',)), PortSpec(443, 443, ('udp',))],
        'citrix-gslb': [PortSpec(3008, 3008, ('tcp',)), PortSpec(3009, 3011, ('tcp',))],
    }
    FLAGS = {(23, 'tcp'): {'plaintext'}, (31337, 'tcp'): {'malware'}}

    def resolve(self, name):
        if name in self.NAMES:
            return list(self.NAMES[name])
        import difflib
        close = difflib.get_close_matches(name, list(self.NAMES), n=3, cutoff=0.6)
        raise ValueError('name: unknown profile or IANA service name %r; closest: %s'
                         % (name, ', '.join(close) or 'none'))

    def security_flags(self, port, protocol=None):
        return frozenset(self.FLAGS.get((port, protocol), ()))

    def port(self, port, protocol=None, ephemeral_range=None):
        return {'port': port, 'protocol': protocol, 'iana_status': 'assigned' if port < 10000 else 'no record'}

    def explain(self, listener):
        return 'KB says %d/%s.' % (listener['port'], listener['protocol'])

    def allow_warnings(self, spec):
        return ['%d/tcp is dangerous' % port for (port, proto) in self.FLAGS
                if proto == 'tcp' and spec.matches(port, proto) and 'plaintext' in self.FLAGS[(port, proto)]]


@pytest.fixture
def kb():
    return FakeKB()


def proc(pid, name, exe=None, user='root', uid=0, unit=None, services=None):
    return make_process(pid, name, exe=exe or '/usr/sbin/' + name, cmdline=name, user=user, uid=uid,
                        start_time='2026-01-01T00:00:00Z', unit=unit, services=services)


def lst(proto, address, port, *procs, family=None, v6only=None):
    family = family or ('ipv6' if ':' in address else 'ipv4')
    return make_listener(proto, family, address, port, processes=list(procs), v6only=v6only)


@pytest.fixture
def host():
    """Listeners as a typical Debian web host shows them (recorded shape, via the schema builders)."""
    return [
        lst('tcp', '0.0.0.0', 22, proc(612, 'sshd', unit='ssh.service')),
        lst('tcp', '::', 22, proc(612, 'sshd', unit='ssh.service'), v6only=True),
        lst('tcp', '0.0.0.0', 80, proc(901, 'nginx', unit='nginx.service'),
            proc(902, 'nginx', user='www-data', uid=33, unit='nginx.service')),
        lst('tcp', '127.0.0.1', 5432, proc(700, 'postgres', exe='/usr/lib/postgresql/15/bin/postgres',
                                           user='postgres', uid=105, unit='postgresql@15-main.service')),
        lst('tcp', '0.0.0.0', 6379, proc(733, 'redis-server', exe='/usr/bin/redis-server', user='redis',
                                         uid=106, unit='redis-server.service')),
        lst('udp', '127.0.0.53', 53, proc(401, 'systemd-resolved', exe='/lib/systemd/systemd-resolved',
                                          user='systemd-resolve', uid=101, unit='systemd-resolved.service')),
        lst('udp', '0.0.0.0', 5353, proc(733, 'avahi-daemon', user='avahi', uid=107, unit='avahi-daemon.service')),
        lst('tcp', '0.0.0.0', 23, proc(1, 'systemd', exe='/usr/lib/systemd/systemd', unit='init.scope',
                                       services=['init.scope', 'telnet.socket'])),
        lst('tcp', '10.0.0.5', 8080, proc(1500, 'java', exe='/usr/lib/jvm/bin/java', user='app', uid=1000,
                                          unit='app.service')),
        lst('tcp', 'fe80::1%eth0', 9100, proc(1600, 'node_exporter', user='prometheus', uid=108,
                                              unit='prometheus-node-exporter.service')),
    ]


@pytest.fixture
def mk():
    """Builders for listeners and processes: mk.lst('tcp', '0.0.0.0', 80, mk.proc(1, 'nginx'))."""
    import types
    return types.SimpleNamespace(lst=lst, proc=proc)
