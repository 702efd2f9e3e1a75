# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Unknown ``port_policy_*`` variables: a misspelt option must fail, not be ignored.

A misspelt allow list (``port_policy_alow``) leaves the host with no allow
rules, and enforce would then block exactly what it was meant to allow; so
every host variable with the role's prefix must be an option of the role
(its argument_specs) or a member of a layered policy family.
"""

from __future__ import annotations

import difflib
import re

FAMILIES = ('allow', 'deny', 'require', 'settings')


def family_pattern(prefix):
    return re.compile(r'^%s_(%s)(__\w+)?$' % (re.escape(prefix), '|'.join(FAMILIES)))


def _closest(name, known, prefix):
    """The closest known name; a layered name keeps its suffix (port_policy_alow__web -> port_policy_allow__web)."""
    base, sep, suffix = name.partition('__')
    families = ['%s_%s' % (prefix, f) for f in FAMILIES]
    if sep:
        near = difflib.get_close_matches(base, families, n=1, cutoff=0.6)
        if near:
            return near[0] + '__' + suffix
    # A single underscore before the suffix (port_policy_allow_web) is the usual slip.
    for family in families:
        if name.startswith(family + '_') and not name.startswith(family + '__'):
            return family + '__' + name[len(family) + 1:]
    near = difflib.get_close_matches(name, list(known) + families, n=1, cutoff=0.6)
    if near:
        return near[0]
    return None


def unknown_variables(names, known, prefix='port_policy'):
    """Error messages for every variable that starts with ``<prefix>_`` and is no option or layer."""
    pattern = family_pattern(prefix)
    known = set(known)
    errors = []
    for name in sorted(n for n in names if isinstance(n, str)):
        if not name.startswith(prefix + '_') or name in known or pattern.match(name):
            continue
        near = _closest(name, known, prefix)
        errors.append('variable %s is not an option of the role%s; options are listed in the role README, '
                      'layered policy variables are %s_{%s}__<suffix>' % (
                          name, ' (did you mean %s?)' % near if near else '', prefix, ','.join(FAMILIES)))
    return errors
