# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Warnings that name host data, made safe for AnsibleModule.warn on every ansible-core.

ansible-core 2.17 and 2.18 also write each warning to syslog, and syslog refuses a
lone surrogate (what os.listdir or /proc gives for a name that is not UTF-8,
such as a named network namespace or a process). The refusal becomes fail_json:
the whole gather would fail over a warning. So such characters are written as
the escapes Python prints for them (``\\xff`` for the byte 0xff) before the warning
is handed over; every other character is left as it is.
"""

from __future__ import annotations


def loggable(text):
    """text with lone surrogates written as backslash escapes, so it encodes as UTF-8."""
    try:
        text.encode('utf-8')
        return text
    except UnicodeEncodeError:
        pass
    try:  # surrogates that stand for undecodable bytes: name the byte
        return text.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')
    except UnicodeEncodeError:  # other lone surrogates (\ud800-\udbff...): name the code point
        return text.encode('utf-8', 'backslashreplace').decode('utf-8')


def warn_each(module, warnings):
    """module.warn for each warning, each made loggable first."""
    for warning in warnings:
        module.warn(loggable(warning))
