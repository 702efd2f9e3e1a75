# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The one converge skeleton every Linux firewall backend runs under.

A backend says how to read what the collection owns (``read``), what it
should own (``desired``), which operations turn one into the other (``plan``),
how the owned rules look as text (``render``) and how to put a snapshot back
from a shell script with no Ansible around (``restore_script``). ``run()`` owns
the rest, the same way for all four backends: the protected-port check before
anything on the host is touched, check mode (operations are validated where
the tool can, never applied), diff (before/after of the owned rules and their
boot files) and idempotence (no operations, no change).

States are plain JSON-able dicts, so a snapshot taken by one run can be handed
back to a later one (the pending-trial baseline of the role's rollback).
"""

from __future__ import annotations

import hashlib
import os
import shlex

PROTOCOLS = ('tcp', 'udp')
OWNER = 'hostsec.ports'
STATE_DIR = '/etc/hostsec-ports'
UNIT_DIR = '/etc/systemd/system'


class FirewallError(Exception):
    """Bad input, a refused change or a failed tool call; the message is meant for the user."""


def normalize_ports(items, field='ports'):
    """[{port, protocol}] -> sorted unique tuple of (port, protocol)."""
    if items is None:
        return ()
    if not isinstance(items, (list, tuple)):
        raise FirewallError('%s: expected a list of {port, protocol}, got %r' % (field, items))
    out = set()
    for i, item in enumerate(items):
        where = '%s[%d]' % (field, i)
        if not isinstance(item, dict):
            raise FirewallError('%s: expected a mapping {port, protocol}, got %r' % (where, item))
        port = _port(item.get('port'), where + '.port')
        proto = str(item.get('protocol') or 'tcp').lower()
        if proto not in PROTOCOLS:
            raise FirewallError('%s.protocol: unknown value %r (expected tcp or udp)' % (where, item.get('protocol')))
        out.add((port, proto))
    return tuple(sorted(out))


def _port(value, where):
    if isinstance(value, bool):
        raise FirewallError('%s: %r is not a port number' % (where, value))
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise FirewallError('%s: %r is not a port number' % (where, value))
    if not 1 <= port <= 65535:
        raise FirewallError('%s: %r is outside 1-65535' % (where, value))
    return port


def normalize_protected(items, field='protected'):
    """[{port, end, protocol, reason}] -> list of (low, high, protocol or None, reason)."""
    out = []
    for i, item in enumerate(items or ()):
        where = '%s[%d]' % (field, i)
        if not isinstance(item, dict):
            raise FirewallError('%s: expected a mapping {port, end, protocol, reason}, got %r' % (where, item))
        low = _port(item.get('port'), where + '.port')
        high = _port(item.get('end') if item.get('end') is not None else low, where + '.end')
        if high < low:
            raise FirewallError('%s.end: %d is below port %d' % (where, high, low))
        proto = item.get('protocol')
        if proto is not None and str(proto).lower() not in PROTOCOLS:
            raise FirewallError('%s.protocol: unknown value %r (expected tcp, udp or null for both)' % (where, proto))
        out.append((low, high, str(proto).lower() if proto is not None else None, str(item.get('reason') or 'protected')))
    return out


def check_protected(ports, protected):
    """Refuse, naming every clash, to block a port a protected spec covers."""
    clashes = []
    for port, proto in ports:
        for low, high, pproto, reason in protected:
            if low <= port <= high and pproto in (None, proto):
                span = str(low) if low == high else '%d-%d' % (low, high)
                clashes.append('%d/%s (protected %s/%s: %s)' % (port, proto, span, pproto or 'tcp+udp', reason))
                break
    if clashes:
        raise FirewallError('refusing to block protected port(s), nothing was changed: %s' % '; '.join(clashes))


class Op:
    """One change on the host: ``text`` for the result, ``apply()`` to make it, ``check()`` to validate it."""

    def __init__(self, text, apply, check=None, persist=False):
        self.text = text
        self.apply = apply
        self.check = check
        # Boot files and units, as opposed to the live rules.
        self.persist = persist


class Host:
    """The managed host as the backends see it: argv commands, files, systemd.

    ``run(args, data)`` -> (rc, out, err) runs one program without a shell;
    ``move(src, dest)`` puts a finished temporary file in place (the module
    passes AnsibleModule.atomic_move, which keeps SELinux contexts).
    """

    def __init__(self, run, which, move=None, booted=None):
        self._run = run
        self.which = which
        self._move = move
        self.booted = os.path.isdir('/run/systemd/system') if booted is None else booted

    def run(self, args, data=None):
        return self._run([str(a) for a in args], data)

    def must(self, args, data=None, what=None):
        rc, out, err = self.run(args, data)
        if rc != 0:
            raise FirewallError('%s failed (rc=%s): %s' % (what or ' '.join(args), rc, (err or out).strip()))
        return out

    @staticmethod
    def read_file(path):
        try:
            with open(path) as handle:
                return handle.read()
        except OSError:
            return None

    def write_file(self, path, text, mode=0o644):
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o755)
        tmp = os.path.join(folder, '.hostsec-ports.%s.tmp' % os.path.basename(path))
        with open(tmp, 'w') as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        if self._move:
            self._move(tmp, path)
        else:
            os.rename(tmp, path)

    @staticmethod
    def remove_file(path):
        if os.path.lexists(path):
            os.unlink(path)

    def systemctl(self, *args):
        return self.run([self.which('systemctl') or 'systemctl'] + list(args))

    def unit_enabled(self, unit):
        if not self.booted:
            return False
        rc, out, err = self.systemctl('is-enabled', unit)
        return rc == 0 and out.strip() == 'enabled'


# ------------------------------------------------------- shared boot-file handling


def file_ops(host, current_files, desired_files, unit=None, unit_enabled=False):
    """Operations that make the owned boot files (and their unit) match.

    Run on every converge, so a boot file edited or deleted behind the
    collection's back is repaired even when the live rules are right.
    """
    ops = []
    for path, text in sorted(desired_files.items()):
        if current_files.get(path) == text:
            continue
        if text is None:
            ops.append(Op('remove %s' % path, lambda p=path: host.remove_file(p), persist=True))
        else:
            ops.append(Op('write %s' % path, lambda p=path, t=text: host.write_file(p, t), persist=True))
    if unit and host.booted:
        want = any(t is not None for t in desired_files.values())
        reload_units = any(op.text.endswith('.service') for op in ops)
        if want and (not unit_enabled or reload_units):
            ops.append(Op('enable %s' % unit, lambda: _enable(host, unit), persist=True))
        elif not want and (unit_enabled or reload_units):
            ops.append(Op('disable %s' % unit, lambda: _disable(host, unit), persist=True))
    return ops


def _enable(host, unit):
    host.systemctl('daemon-reload')
    rc, out, err = host.systemctl('enable', unit)
    if rc != 0:
        raise FirewallError('systemctl enable %s failed (rc=%s): %s' % (unit, rc, err.strip()))


def _disable(host, unit):
    host.systemctl('disable', unit)
    host.systemctl('daemon-reload')


def describe_files(files):
    """Diff lines for the boot files: present (with a short digest) or absent."""
    lines = []
    for path, text in sorted(files.items()):
        if text is None:
            lines.append('# boot file %s: absent' % path)
        else:
            digest = hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]
            lines.append('# boot file %s: %d lines, sha256 %s' % (path, text.count('\n'), digest))
    return '\n'.join(lines) + ('\n' if lines else '')


def restore_files_script(files, unit=None):
    """Shell that puts boot files back as they were (heredocs of our own texts)."""
    out = []
    for path, text in sorted(files.items()):
        if text is None:
            out.append('rm -f %s' % shlex.quote(path))
        else:
            out.append('mkdir -p %s' % shlex.quote(os.path.dirname(path)))
            out.append("cat > %s <<'HOSTSEC_PORTS_EOF'\n%sHOSTSEC_PORTS_EOF" % (shlex.quote(path), text))
    if unit:
        out.append('systemctl daemon-reload')
        if any(t is not None for t in files.values()):
            out.append('systemctl enable %s >/dev/null 2>&1 || rc=1' % shlex.quote(unit))
        else:
            out.append('systemctl disable %s >/dev/null 2>&1' % shlex.quote(unit))
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- the skeleton


def ports_of(state):
    return [tuple(p) for p in (state or {}).get('ports', ())]


def run(backend, ports, protected=None, state='present', check_mode=False, baseline=None):
    """Converge one backend; the module result (changed, diff, snapshot, restore_script, ...).

    ``baseline`` (a snapshot returned by an earlier run) replaces the live
    state as the target of ``restore_script``: a rollback still pending from
    a trial run must restore the state before that trial, not the trial.
    """
    if state not in ('present', 'absent'):
        raise FirewallError('state: unknown value %r (expected present or absent)' % (state,))
    wanted = normalize_ports(ports)
    # Before anything is read or touched: a protected port is never blocked.
    check_protected(wanted, normalize_protected(protected))
    if state == 'absent':
        wanted = ()
    current = backend.read()
    desired = backend.desired(wanted if state == 'present' else None)
    ops = backend.plan(current, desired)
    for op in ops:
        if check_mode:
            if op.check:
                op.check()
        else:
            op.apply()
    before, after = set(ports_of(current)), set(ports_of(desired))
    header = '%s: rules owned by %s' % (backend.name, OWNER)
    return {
        'changed': bool(ops),
        'rules_changed': any(not op.persist for op in ops),
        'persist_changed': any(op.persist for op in ops),
        'backend': backend.name,
        'state': state,
        'ports': [{'port': p, 'protocol': pr} for p, pr in sorted(after)],
        'added': [{'port': p, 'protocol': pr} for p, pr in sorted(after - before)],
        'removed': [{'port': p, 'protocol': pr} for p, pr in sorted(before - after)],
        'operations': [op.text for op in ops],
        'rules': backend.render(desired),
        'snapshot': current,
        'restore_script': backend.restore_script(baseline if baseline else current, desired),
        'warnings': list(getattr(backend, 'warnings', ())),
        'diff': {
            'before_header': header,
            'after_header': header,
            'before': backend.render(current),
            'after': backend.render(desired),
        },
    }
