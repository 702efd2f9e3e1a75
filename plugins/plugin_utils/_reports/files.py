# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Report file names and permissions."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from urllib.parse import quote, unquote

DEFAULT_MODE = '0600'
_MODE = re.compile(r'^0?[0-7]{3}$')
# Kept short of the usual 255-byte limit, leaving room for the suffix.
MAX_NAME = 200


# Names Windows will not create whatever follows them ('con.json' is the console):
# report directories end up in artifact stores and on Windows desktops.
_WINDOWS_RESERVED = re.compile(r'^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)', re.IGNORECASE)
# In quote()'s output an upper-case letter is either literal or a hex digit of an escape.
_UPPER_OR_ESCAPE = re.compile(r'%[0-9A-F]{2}|[A-Z]')


def _escape_upper(match):
    text = match.group()
    return text if len(text) == 3 else '%%%02X' % ord(text)


def host_file_name(host):
    """A file name that is unique and reversible: 'web/1' -> 'web%2F1', 'web_1' stays, 'web:1' -> 'web%3A1'.

    Everything but lower-case letters, digits, '-', '_' and inner '.' is
    percent-encoded (so '%' itself too), which makes distinct hosts distinct
    files and lets ``host_from_file_name`` recover the name. Upper-case
    letters are encoded too ('WEB' -> '%57%45%42'): on a case-insensitive file
    system (macOS, Windows, many artifact stores) 'web' and 'WEB' would
    otherwise be one file, and the second host would overwrite the first.
    Windows device names ('con', 'nul.example', ...) get their first letter encoded.
    A name too long for a file system is cut and ends with a digest; the
    host's JSON still holds it.
    """
    if not str(host):
        raise ValueError('hosts: an empty host name cannot be a report file')
    # quote() never encodes '~'; it is encoded here, since '~' marks a name cut to length below.
    name = _UPPER_OR_ESCAPE.sub(_escape_upper, quote(str(host), safe='-_.', errors='surrogateescape')).replace('~', '%7E')
    if name.startswith('.') or _WINDOWS_RESERVED.match(name):
        name = '%%%02X' % ord(name[0]) + name[1:]
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME - 17] + '~' + hashlib.sha256(name.encode('ascii')).hexdigest()[:16]
    return name


def host_from_file_name(name):
    return unquote(name, errors='surrogateescape')


def parse_mode(value, field='mode'):
    """('0600' or 0o600 or 384) -> (file mode, directory mode); directories get x wherever r is set."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    elif isinstance(value, str) and _MODE.match(value):
        mode = int(value, 8)
    else:
        raise ValueError('%s: expected an octal file mode such as 0600 or 0640, got %r' % (field, value))
    if mode > 0o777 or mode & 0o600 != 0o600:
        raise ValueError('%s: %s must keep the owner able to read and write (and be at most 0777)'
                         % (field, oct(mode).replace('0o', '0')))
    dir_mode = mode | ((mode & 0o444) >> 2)
    return mode, dir_mode


def make_dirs(path, dir_mode):
    """Create missing directories with dir_mode; existing ones keep theirs."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        os.mkdir(folder, dir_mode)
        os.chmod(folder, dir_mode)  # umask must not widen or narrow what was asked


def write(path, text, mode, dir_mode):
    """Atomic write: readers never see half a report."""
    folder = os.path.dirname(path)
    make_dirs(folder, dir_mode)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.port_report.')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8', errors='surrogateescape') as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
