# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The SSH session this module runs in, from its own process ancestry.

The server port in ``SSH_CONNECTION`` is the port sshd accepted the
controller's connection on, as the host sees it (behind NAT or a forwarded
port it differs from ``ansible_port``); port_audit never blocks it. Under
become, sudo's env_reset drops the variable from the module's environment,
but the shell sshd started for the session still holds it in
``/proc/<pid>/environ``, and root (or the same user) can read it there. Reading
it on the host, inside the gather, saves the extra command per host that a
``raw`` task or a ``setup`` run would cost.
"""

from __future__ import annotations

import os
import re

# "client_ip client_port server_ip server_port"; IPv6 addresses come without brackets.
_SSH_CONNECTION = re.compile(r'^[0-9A-Fa-f.:%\w-]+ \d{1,5} [0-9A-Fa-f.:%\w-]+ \d{1,5}$')
# A session is a few processes deep (sshd -> shell -> sudo -> sh -> python); a loop in a
# corrupted /proc or a very deep tree must still end.
MAX_DEPTH = 32


def _parent(proc_root, pid):
    try:
        with open('%s/%d/stat' % (proc_root, pid), 'rb') as handle:
            stat = handle.read()
    except OSError:
        return None
    # The name is in parentheses and may hold anything, ')' included: the fields start after the last one.
    fields = stat[stat.rfind(b')') + 2:].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


_UNREADABLE = object()


def _environ_value(proc_root, pid, name):
    """One variable of a process's initial environment: its value, None when unset, _UNREADABLE."""
    try:
        with open('%s/%d/environ' % (proc_root, pid), 'rb') as handle:
            data = handle.read()
    except OSError:
        # Another user's process, or root without CAP_SYS_PTRACE: the kernel's ptrace check says no.
        return _UNREADABLE
    prefix = name.encode('ascii') + b'='
    for entry in data.split(b'\0'):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode('utf-8', 'replace')
    return None


def ssh_connection(proc_root='/proc', pid=None, environ=None):
    """(value, source) of SSH_CONNECTION for this process's session; (None, why not) when there is none.

    The process's own environment is read first (no become), then its
    ancestors' from the nearest up, stopping at PID 1. Only a well-formed
    value counts: a garbled one must not pass for a known port.
    """
    environ = os.environ if environ is None else environ
    value = (environ.get('SSH_CONNECTION') or '').strip()
    if value:
        return (value, 'environment') if _SSH_CONNECTION.match(value) else (None, 'malformed SSH_CONNECTION %r' % value)
    pid = os.getpid() if pid is None else pid
    seen = set()
    unreadable = 0
    for _depth in range(MAX_DEPTH):
        pid = _parent(proc_root, pid)
        if not pid or pid in seen:
            break
        seen.add(pid)
        value = _environ_value(proc_root, pid, 'SSH_CONNECTION')
        if value is _UNREADABLE:
            unreadable += 1
        elif value and value.strip():
            value = value.strip()
            if _SSH_CONNECTION.match(value):
                return value, 'environment of parent process %d' % pid
            return None, 'malformed SSH_CONNECTION %r in process %d' % (value, pid)
        if pid == 1:
            break
    why = 'no SSH_CONNECTION in this process or its %d parent(s)' % len(seen)
    if unreadable:
        why += ' (%d could not be read by this user)' % unreadable
    return None, why
