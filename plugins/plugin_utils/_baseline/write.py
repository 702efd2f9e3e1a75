# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Write the proposed files: all or nothing, never over an existing file without force."""

from __future__ import annotations

import os
import tempfile


class BaselineWriteError(ValueError):
    """A file exists (without force) or cannot be written; the message names it."""


def plan_writes(dest, files, force=False):
    """[(absolute path, text, before or None)] for the files that change; raises before anything is written."""
    if not dest or not isinstance(dest, str):
        raise BaselineWriteError('dest: %r is not a directory path' % (dest,))
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise BaselineWriteError('dest: %s exists and is not a directory' % dest)
    changes, existing = [], []
    for rel, text in sorted(files.items()):
        path = os.path.join(dest, rel)
        before = None
        if os.path.exists(path):
            with open(path, encoding='utf-8') as handle:
                before = handle.read()
            if before == text:
                continue
            if not force:
                existing.append(path)
                continue
        changes.append((path, text, before))
    if existing:
        raise BaselineWriteError('dest: %d file(s) exist and force is false, nothing was written: %s'
                                 % (len(existing), ', '.join(existing)))
    return changes


def apply_writes(changes):
    """Write each file atomically (temp file + rename) so a reader never sees half a policy."""
    for path, text, _before in changes:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.port_baseline.', dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise BaselineWriteError('dest: cannot write %s: %s' % (path, exc))
