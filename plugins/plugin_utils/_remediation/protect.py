# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The protected set: ports that are never blocked, as data.

A protected spec is ``{port, end, protocol, reason}``: ``port``..``end`` is an
inclusive range and ``protocol`` is ``'tcp'``, ``'udp'`` or ``None`` (both).
The management path is derived here and nowhere else, from what the
controller knows about the connection it is using.
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import PortSpecError, parse_port_spec, parse_port_specs

SSH_CONNECTIONS = ('ssh', 'paramiko', 'paramiko_ssh', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh',
                   'ansible.netcommon.libssh', 'libssh')
WINRM_CONNECTIONS = ('winrm', 'psrp', 'ansible.builtin.winrm', 'ansible.builtin.psrp')


class ProtectError(ValueError):
    """A protected spec or a management-path value that is not a port; the message names it."""


def spec_records(spec, reason):
    """One PortSpec -> protected records (one per protocol it names, or one with protocol None)."""
    protocols = spec.protocols or (None,)
    return [{'port': spec.low, 'end': spec.high, 'protocol': proto, 'reason': reason} for proto in protocols]


def user_specs(values, field='protect'):
    """``port_policy_protect_ports`` / ``protect``: a list of port specs (an item may hold several, comma-separated)."""
    out = []
    for i, value in enumerate(values or ()):
        try:
            specs = parse_port_specs(value, '%s[%d]' % (field, i))
        except PortSpecError as exc:
            raise ProtectError(str(exc))
        for spec in specs:
            out.extend(spec_records(spec, 'listed in %s' % field))
    return out


def _port_number(value, where):
    try:
        return parse_port_spec(int(str(value).strip()), where, 'tcp')
    except (TypeError, ValueError) as exc:
        raise ProtectError('%s: %r is not a port number (%s)' % (where, value, exc))


def management_path(connection, ansible_port=None, port_var='ansible_port', ssh_connection=None, windows=False):
    """The ports the controller reaches this host through, each with the reason it is protected.

    ``ssh_connection`` is the host's SSH_CONNECTION ("client_ip client_port
    server_ip server_port"): behind NAT or a forwarded port the sshd port the
    host sees differs from ansible_port, and blocking it would cut the session.
    """
    out = []
    if connection in SSH_CONNECTIONS:
        if ansible_port not in (None, ''):
            spec = _port_number(ansible_port, port_var)
            out.extend(spec_records(spec, 'management path: %s of the %s connection' % (port_var, connection)))
        else:
            out.extend(spec_records(parse_port_spec(22, 'ssh', 'tcp'), 'management path: default port of the ssh connection'))
    elif connection in WINRM_CONNECTIONS or windows:
        if ansible_port not in (None, '') and connection in WINRM_CONNECTIONS:
            spec = _port_number(ansible_port, port_var)
            out.extend(spec_records(spec, 'management path: %s of the %s connection' % (port_var, connection)))
        elif connection in WINRM_CONNECTIONS:
            out.append({'port': 5985, 'end': 5986, 'protocol': 'tcp',
                        'reason': 'management path: WinRM over HTTP and HTTPS (%s connection)' % connection})
    if ssh_connection is not None:
        # Given by the caller: a value that is not a session is bad input, not something to skip.
        fields = str(ssh_connection).split()
        if len(fields) != 4:
            raise ProtectError('ssh_connection: %r is not "client_ip client_port server_ip server_port" (the '
                               'SSH_CONNECTION format)' % (str(ssh_connection)[:200],))
        spec = _port_number(fields[3], 'SSH_CONNECTION')
        out.extend(spec_records(spec, 'management path: server port of the current SSH_CONNECTION'))
    return out


def merge(*groups):
    """Concatenate protected records, dropping exact repeats (the first reason wins)."""
    seen = set()
    out = []
    for group in groups:
        for rec in group:
            key = (rec['port'], rec['end'], rec['protocol'])
            if key not in seen:
                seen.add(key)
                out.append(dict(rec))
    return out


def session_ports(found):
    """Protected records and warnings for the server ports of SSH_CONNECTION values ``[(value, source)]``.

    The values were discovered (the gatherer's session, gathered facts, a
    command's output), not given: one that is not "client_ip client_port
    server_ip server_port" is left out with a warning that says the sshd port
    may be unprotected, rather than failing the host. Output of a login
    script before the value is skipped: the last line of that shape counts.
    Every well-formed value counts, so a stale fact and the live session both
    keep their port.
    """
    records, warnings, used = [], [], []
    for value, source in found:
        lines = [ln.strip() for ln in str(value).splitlines() if ln.strip()]
        good = [ln for ln in lines if _session_port(ln) is not None]
        if not good:
            warnings.append('SSH_CONNECTION from %s is not "client_ip client_port server_ip server_port" (%r): the '
                            'sshd port as the host sees it is not known, so only ansible_port (or 22) is protected'
                            % (source, str(value)[:200]))
            continue
        port = _session_port(good[-1])
        records.extend(spec_records(parse_port_spec(port, 'SSH_CONNECTION', 'tcp'),
                                    'management path: server port of the current SSH_CONNECTION'))
        used.append(source)
    return records, warnings, used


def _session_port(line):
    fields = line.split()
    if len(fields) != 4 or not fields[1].isdigit() or not fields[3].isdigit():
        return None
    port = int(fields[3])
    return port if 0 < port <= 65535 else None


def covering(protected, port, protocol):
    """The first protected record that covers port/protocol, or None."""
    for rec in protected:
        if rec['port'] <= port <= rec['end'] and rec['protocol'] in (None, protocol):
            return rec
    return None


def text(rec):
    """'22/tcp', '5985-5986/tcp', '8000-8100' (both protocols)."""
    ports = str(rec['port']) if rec['port'] == rec['end'] else '%d-%d' % (rec['port'], rec['end'])
    return ports + ('/' + rec['protocol'] if rec['protocol'] else '')
