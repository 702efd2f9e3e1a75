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


def option_names(spec_text, where, entry_point='main'):
    """The option names of one entry point of a role's meta/argument_specs.yml text.

    Parsed with libyaml when it is there (a fraction of a millisecond for the
    role's 10 KB, where templating ``lookup('file') | from_yaml`` cost about
    15 ms per host); a spec without that entry point or its options is an error,
    never an empty list that would call every variable unknown.
    """
    import yaml  # pylint: disable=import-outside-toplevel  # ansible-core requires it; only this check needs it

    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    try:
        spec = yaml.load(spec_text, Loader=loader)  # nosec B506: a safe loader (C or Python)
    except yaml.YAMLError as exc:
        raise ValueError('%s: not valid YAML (%s)' % (where, exc))
    options = None
    if isinstance(spec, dict) and isinstance(spec.get('argument_specs'), dict):
        entry = spec['argument_specs'].get(entry_point)
        if isinstance(entry, dict):
            options = entry.get('options')
    if not isinstance(options, dict) or not options:
        raise ValueError('%s: argument_specs.%s.options is not a mapping of option names' % (where, entry_point))
    return [str(name) for name in options]


# A week: a dead-man timer longer than that is a typo (or a unit mix-up), not a rollback plan.
MAX_TIMEOUT = 7 * 24 * 3600


def rollback_timing_errors(confirm_timeout, rollback_timeout, prefix='port_policy'):
    """Errors for timeouts the rollback cannot use, or a timer that could fire mid-confirmation.

    The timer counts from before the change: were it shorter than the wait for
    the host to answer, it could restore the old rules mid-confirmation. A bool
    passes Ansible's int check (True is an int) but would reach systemd-run as
    'Trues', so it is refused here, before any host changes.
    """
    errors = []
    for name, value in (('confirm_timeout', confirm_timeout), ('rollback_timeout', rollback_timeout)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT:
            errors.append('%s_%s=%r is not a number of seconds from 1 to %d (a week)' % (prefix, name, value, MAX_TIMEOUT))
    if errors:
        return errors
    if rollback_timeout >= confirm_timeout:
        return []
    return ['%s_rollback_timeout=%s must be at least %s_confirm_timeout=%s (and that at least 1), so the rollback '
            'cannot fire while the controller is still confirming the change'
            % (prefix, rollback_timeout, prefix, confirm_timeout)]


def hosts_left_errors(play_hosts_all, play_hosts, passed_before=()):
    """An error naming the hosts that left the play before they passed this check, in play order.

    A host whose options failed the role's argument spec check leaves the play
    alone; the role then stops every other host too, so bad input anywhere
    changes nothing anywhere. ``passed_before`` are the hosts whose registered
    result of this check says they passed it: they left afterwards (a later task
    failed them, for example on findings at a ``fail_on`` severity, or they ran in
    an earlier ``serial`` batch or play), which is no reason to stop the others.
    A host that left before it was checked at all (an earlier task of the user's
    play failed on it, or could not reach it) looks like one whose options failed:
    the play stops then too, and the message says both.
    """
    current = set(play_hosts or ())
    passed = set(passed_before or ())
    left = [str(host) for host in play_hosts_all or () if host not in current and host not in passed]
    if not left:
        return []
    return ["%s left the play before the role's validation finished: the options of each failed the role's argument "
            "spec check, or an earlier task of the play failed on it or could not reach it (see the error of each above)"
            % ', '.join(left)]
