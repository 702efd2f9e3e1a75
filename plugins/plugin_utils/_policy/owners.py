# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The programs that usually serve a well-known port, so severity can judge what listens.

The knowledge base says what a port is for (161/udp: SNMP, plaintext). That
is true of snmpd, not of a python3 process that happens to hold 161/udp: its
risk is that of an unknown program on a service port. Only the executable
(trusted, see identity.py) is compared, never the claimed process name.
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.identity import program_of

# (service, ports, executables that serve it). 'systemd', 'inetd' and 'xinetd'
# hold sockets for the services they start (socket activation).
_ACTIVATORS = ('systemd', 'inetd', 'xinetd')
SERVICES = (
    ('SSH', ('22/tcp',), ('sshd', 'dropbear') + _ACTIVATORS),
    ('Telnet', ('23/tcp',), ('telnetd', 'in.telnetd', 'inetutils-telnetd', 'busybox') + _ACTIVATORS),
    ('FTP', ('21/tcp',), ('vsftpd', 'proftpd', 'pure-ftpd', 'in.ftpd') + _ACTIVATORS),
    ('SMTP', ('25/tcp', '587/tcp'), ('master', 'exim4', 'exim', 'sendmail', 'smtpd', 'opensmtpd')),
    ('DNS', ('53/udp', '53/tcp'), ('named', 'unbound', 'dnsmasq', 'systemd-resolved', 'coredns', 'pdns_server',
                                   'pdns_recursor', 'knotd', 'nsd', 'dns')),
    ('TFTP', ('69/udp',), ('in.tftpd', 'tftpd', 'atftpd', 'dnsmasq') + _ACTIVATORS),
    ('NTP', ('123/udp',), ('ntpd', 'chronyd', 'systemd-timesyncd', 'ntpsec', 'openntpd', 'svchost')),
    ('NetBIOS', ('137/udp', '138/udp', '139/tcp'), ('nmbd', 'smbd', 'system')),
    ('SNMP', ('161/udp', '162/udp'), ('snmpd', 'snmptrapd', 'snmp')),
    ('LDAP', ('389/tcp',), ('slapd', 'ns-slapd', 'lsass')),
    ('SMB', ('445/tcp',), ('smbd', 'system')),
    ('syslog', ('514/udp',), ('rsyslogd', 'syslog-ng', 'syslogd', 'systemd-journald')),
    ('rsync', ('873/tcp',), ('rsync',) + _ACTIVATORS),
    ('MySQL', ('3306/tcp',), ('mysqld', 'mariadbd')),
    ('RDP', ('3389/tcp',), ('svchost', 'xrdp', 'gnome-remote-desktop-daemon')),
    ('PostgreSQL', ('5432/tcp',), ('postgres', 'postmaster', 'pgbouncer')),
    ('VNC', ('5900/tcp',), ('xvnc', 'x11vnc', 'vino-server', 'winvnc', 'tvnserver')),
    ('Redis', ('6379/tcp',), ('redis-server', 'redis-sentinel', 'keydb-server', 'valkey-server')),
    ('Memcached', ('11211/tcp', '11211/udp'), ('memcached',)),
    ('MongoDB', ('27017/tcp',), ('mongod', 'mongos')),
)
_BY_PORT = {}
for _service, _ports, _programs in SERVICES:
    for _spec in _ports:
        _port, _proto = _spec.split('/')
        _BY_PORT[(int(_port), _proto)] = (_service, _programs)


def usual_service(port, protocol):
    """(service, programs) for a port with a well-known server program, else None."""
    return _BY_PORT.get((port, protocol))


def stranger(listener):
    """(service, programs, process) when the owner's executable is not a known server of the port, else None.

    None as well when no executable is known: an unknown owner has its own reason.
    """
    usual = usual_service(listener['port'], listener['protocol'])
    if usual is None:
        return None
    procs = [p for p in listener.get('processes') or () if p.get('exe')]
    if not procs:
        return None
    service, programs = usual
    for proc in procs:
        if program_of(proc['exe']) in programs:
            return None
    return service, programs, procs[0]
