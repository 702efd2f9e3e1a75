# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Socket units for listeners held by systemd (PID 1, socket activation).

`systemctl list-sockets` is the one place that says which .socket unit owns
an address PID 1 listens on; it is run once per gather, and only when PID 1
holds a listener.
"""

from __future__ import annotations

import os

from .schema import split_scope

# Exists exactly when systemd is the running init (what sd_booted() tests).
BOOTED = '/run/systemd/system'
SYSTEMCTL_PATHS = ('/usr/bin/systemctl', '/bin/systemctl', '/usr/sbin/systemctl', '/sbin/systemctl')
# Only active units: --all would add inactive and failed .socket units that list the same
# address (a unit that lost the bind to another one fails), and lookup() might name one of them.
COMMAND = ['list-sockets', '--state=active', '--no-legend', '--no-pager', '--show-types']
TYPES = {'stream': 'tcp', 'datagram': 'udp'}
WILDCARDS = ('*', '0.0.0.0', '::')


def find_systemctl():
    for path in SYSTEMCTL_PATHS:
        if os.access(path, os.X_OK):
            return path
    return None


def split_listen(listen):
    """('address', port) from a LISTEN column like '[::]:7777' or '0.0.0.0:53', else None."""
    if listen.startswith('/') or listen.startswith('@') or ':' not in listen:
        return None  # AF_UNIX path, abstract socket, netlink, FIFO
    host, port = listen.rsplit(':', 1)
    if not port.isdigit():
        return None
    return split_scope(host)[0], int(port)


def parse_list_sockets(output):
    """Map (protocol or None, address, port) -> [socket units] from list-sockets output.

    Accepts the output with --show-types (LISTEN TYPE UNIT ACTIVATES) and
    without it (LISTEN UNIT ACTIVATES); protocol is None when the type is not shown.
    """
    units = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        where = split_listen(fields[0])
        if where is None:
            continue
        if fields[1].endswith('.socket'):
            protocol, unit = None, fields[1]
        elif len(fields) >= 3:
            protocol = TYPES.get(fields[1].lower())
            if protocol is None:
                continue  # sequential packet, netlink, FIFO...
            unit = fields[2]
        else:
            continue
        if not unit.endswith('.socket'):
            continue
        key = (protocol,) + where
        if unit not in units.setdefault(key, []):
            units[key].append(unit)
    return units


def lookup(units, protocol, address, port):
    """Socket units listening on (protocol, address, port), most specific match first."""
    for proto in (protocol, None):
        found = units.get((proto, address, port))
        if found:
            return found
    if address in WILDCARDS:
        for proto in (protocol, None):
            for wild in WILDCARDS:
                found = units.get((proto, wild, port))
                if found:
                    return found
    return []


def list_sockets(runner=None):
    """Run systemctl list-sockets once; returns (units, error message or None)."""
    systemctl = find_systemctl()
    if systemctl is None:
        return {}, None
    argv = [systemctl] + COMMAND
    env = dict(os.environ, LC_ALL='C', SYSTEMD_COLORS='0', SYSTEMD_PAGER='')
    if runner is not None:
        rc, out, err = runner(argv)
    else:
        # Imported here: subprocess costs about 2 MiB of memory, and most gathers never run a command.
        import subprocess  # pylint: disable=import-outside-toplevel
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return {}, 'systemctl list-sockets could not run: %s' % exc
        rc = proc.returncode
        out = proc.stdout.decode('utf-8', 'backslashreplace')
        err = proc.stderr.decode('utf-8', 'backslashreplace')
    if rc != 0:
        return {}, 'systemctl list-sockets failed (rc=%s): %s' % (rc, (err or out).strip()[:300])
    return parse_list_sockets(out), None
