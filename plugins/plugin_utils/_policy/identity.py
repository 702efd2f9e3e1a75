# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Which process facts prove who listens, and which only claim it.

Trusted (set by the kernel or by systemd, not by the program): ``exe`` (the
``/proc/PID/exe`` link), ``uid``/``user`` and the systemd ``unit``/``services``.
Claimed (any program sets them for itself): ``name`` (``comm``, changed with
``prctl(PR_SET_NAME)`` or ``exec -a``) and ``cmdline`` (argv). So a ``process:``
rule is satisfied only when the executable agrees with the name; see
docs/policy.md "Process identity".
"""

from __future__ import annotations

import re

TRUSTED_FIELDS = ('exe', 'uid', 'user', 'unit', 'services')
CLAIMED_FIELDS = ('name', 'cmdline')
# python3 -> python3.11, node -> node18, java -> java-17: a versioned executable of the same program.
_VERSION_TAIL = re.compile(r'^[-_.]?[0-9][0-9._-]*$')


def program_of(path):
    """Last path element, case-folded, without ' (deleted)' and a Windows '.exe'."""
    text = str(path).strip()
    if text.endswith(' (deleted)'):
        text = text[:-len(' (deleted)')]
    text = re.split(r'[\\/]', text)[-1].casefold()
    return text[:-4] if text.endswith('.exe') else text


def exe_fits_name(name, exe):
    """True when the executable is the program the name claims, False when not, None when exe is unknown."""
    if not exe:
        return None
    if not name:
        return False
    base, claimed = program_of(exe), program_of(name)
    if base == claimed:
        return True
    # Linux comm holds 15 bytes: a long program name is cut ('prometheus-nod').
    if len(claimed) == 15 and base.startswith(claimed):
        return True
    return base.startswith(claimed) and bool(_VERSION_TAIL.match(base[len(claimed):]))


def describe(proc):
    """'python3 (exe /usr/bin/python3.11, user nobody)' for finding texts."""
    facts = []
    if proc.get('exe'):
        facts.append('exe %s' % proc['exe'])
    user = proc.get('user') if proc.get('user') is not None else proc.get('uid')
    if user is not None:
        facts.append('user %s' % user)
    if proc.get('unit'):
        facts.append('unit %s' % proc['unit'])
    return '%s (%s)' % (proc.get('name') or '?', ', '.join(facts) or 'no facts known')
