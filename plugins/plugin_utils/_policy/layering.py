# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Collect a host's policy from its variables and compile it, keeping each rule's origin.

Ansible already resolves all -> group -> host for one variable name, where the
most specific value replaces the others. To let layers add up instead, every
variable ``<prefix>_allow`` / ``<prefix>_allow__<anything>`` (and the same for
deny, require) contributes its rules, in sorted-name order, and
``<prefix>_settings`` / ``<prefix>_settings__*`` are merged as dicts in
sorted-name order (later names win). An explicit task ``policy`` comes last
(origin ``task``). With no rule defined anywhere the embedded default policy
supplies the rules (see default_policy.yml).
"""

from __future__ import annotations

import bisect
import datetime
import os
import re

import yaml

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import gcpause
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import PolicyError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.rules import (
    LISTS, close_names, compile_rule, compile_settings, render, spec_key,
)

POLICY_KEYS = LISTS + ('settings',)
DEFAULT_POLICY_FILE = os.path.join(os.path.dirname(__file__), 'default_policy.yml')
_DEFAULT = None


def default_policy():
    """The embedded default policy (a fresh copy)."""
    global _DEFAULT
    if _DEFAULT is None:
        with open(DEFAULT_POLICY_FILE, encoding='utf-8') as handle:
            _DEFAULT = yaml.safe_load(handle)
    return {k: (list(v) if isinstance(v, list) else dict(v)) for k, v in _DEFAULT.items()}


def _var_pattern(prefix):
    return re.compile(r'^%s_(allow|deny|require|settings)(__\w+)?$' % re.escape(prefix))


def template_policy_vars(templar, task_vars, prefix='port_policy'):
    """The host's ``<prefix>_*`` variables, templated; a templating error names the variable.

    An undefined variable or a recursive definition inside a policy variable is
    bad input, not an internal error: PolicyError lists every such variable with
    Ansible's own message (which names the undefined variable).
    """
    from ansible.errors import AnsibleError  # controller only; plugin_utils never runs on a host

    out, errors = {}, []
    for name in sorted(k for k in task_vars if isinstance(k, str) and k.startswith(prefix + '_')):
        try:
            out[name] = templar.template(task_vars[name])
        except AnsibleError as exc:
            message = ' '.join(str(getattr(exc, 'message', None) or exc).split())
            errors.append('%s: cannot be templated: %s' % (name, message))
        except RecursionError:
            errors.append('%s: cannot be templated: its definition refers to itself (recursive loop)' % name)
    if errors:
        raise PolicyError(errors)
    return out


def collect(task_vars=None, prefix='port_policy', policy=None):
    """Gather raw rules and settings with origins.

    Returns ``{'allow': [(raw, origin, index)], 'deny': [...], 'require': [...],
    'settings': {...}, 'settings_origin': {key: origin}, 'source': str, 'warnings': [...]}``.
    Shape errors (a variable that is not a list) raise PolicyError naming the variable.
    """
    task_vars = task_vars or {}
    pattern = _var_pattern(prefix)
    errors, warnings = [], []
    layers = {k: [] for k in POLICY_KEYS}  # key -> [(origin, value)]
    for name in sorted(task_vars):
        if not isinstance(name, str):
            continue
        match = pattern.match(name)
        if match:
            layers[match.group(1)].append((name, task_vars[name]))
        elif re.match(r'^%s_(allow|deny|require|settings)' % re.escape(prefix), name):
            warnings.append('variable %s is not part of the port policy: layer names are %s_<list>__<suffix> '
                            '(two underscores)' % (name, prefix))
    if policy is not None:
        if not isinstance(policy, dict):
            raise PolicyError(['policy: %r is not a mapping with allow, deny, require, settings' % (policy,)])
        for key in policy:
            if key not in POLICY_KEYS:
                errors.append('policy: %s: unknown key%s (keys: %s)' % (key, close_names(key, POLICY_KEYS), ', '.join(POLICY_KEYS)))
            else:
                layers[key].append(('task', policy[key]))
    has_rules = any(layers[k] for k in LISTS)
    source = ' + '.join(s for s, present in (
        ('inventory', any(layer[0] != 'task' for k in POLICY_KEYS for layer in layers[k])),
        ('task', policy is not None)) if present)
    if not has_rules:
        default = default_policy()
        for key in POLICY_KEYS:
            if key in default:
                layers[key].insert(0, ('default', default[key]))
        source = 'default' + (' + ' + source if source else '')
    out = {'settings': {}, 'settings_origin': {}, 'source': source, 'warnings': warnings}
    for key in LISTS:
        rules = []
        for origin, value in layers[key]:
            if value is None:
                continue
            if not isinstance(value, list):
                errors.append('%s: expected a list of %s rules, got %s' % (origin, key, render(value)))
                continue
            rules.extend((raw, origin, i) for i, raw in enumerate(value))
        out[key] = rules
    for origin, value in layers['settings']:
        if value is None:
            continue
        if not isinstance(value, dict):
            errors.append('%s: expected a mapping of settings, got %s' % (origin, render(value)))
            continue
        for k, v in value.items():
            out['settings'][k] = v
            out['settings_origin'][k] = origin
    if errors:
        raise PolicyError(errors)
    return out


def _plain(value):
    """A rule as JSON-safe data: YAML dates become ISO strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


class Policy:
    """A compiled policy: rules in evaluation order, settings, warnings."""

    def __init__(self, rules, settings, settings_origin, source, warnings):
        self.rules = rules
        self.settings = settings
        self.settings_origin = settings_origin
        self.source = source
        self.warnings = warnings
        self.by_list = {k: [r for r in rules if r.list == k] for k in LISTS}
        # A verdict names a rule by its place in effective_policy[list] (Rule.key), which is its place here.
        for listed in self.by_list.values():
            for position, rule in enumerate(listed):
                rule.position = position

    def effective(self):
        """The effective policy as returned to the user: each rule with where it came from."""
        out = {'source': self.source}
        for key in LISTS:
            out[key] = [{'rule': _plain(r.raw), 'text': r.text, 'list': r.list, 'index': r.index, 'origin': r.origin,
                         'expires': r.expires.isoformat() if r.expires else None}
                        for r in self.by_list[key]]
        out['settings'] = dict(self.settings)
        out['settings_origin'] = {k: self.settings_origin.get(k, 'built-in') for k in self.settings}
        return out


def _overlaps(policy):
    """Warn where a deny rule and an allow rule cover the same ports (deny wins)."""
    warnings = []
    allows = []
    for rule in policy.by_list['allow']:
        for spec in rule.specs or ():
            allows.append((spec.low, spec.high, spec.protocols, rule))
    allows.sort(key=lambda a: (a[0], a[1]))
    lows = [a[0] for a in allows]
    for deny in policy.by_list['deny']:
        if deny.specs is None or deny.has_who:
            continue
        hits = []
        for spec in deny.specs:
            for low, high, protos, rule in allows[:bisect.bisect_right(lows, spec.high)]:
                if high < spec.low or rule in hits:
                    continue
                if protos and spec.protocols and not set(protos) & set(spec.protocols):
                    continue
                if rule.families and deny.families and not rule.families & deny.families:
                    continue
                hits.append(rule)
        for rule in hits[:5]:
            warnings.append('%s overlaps %s: deny wins, so the allow rule does not apply there'
                            % (deny.label(), rule.label()))
        if len(hits) > 5:
            warnings.append('%s overlaps %d more allow rules' % (deny.label(), len(hits) - 5))
    return warnings


def compile_policy(collected, kb=None, today=None):
    """Compile collected raw rules -> Policy. Every error is gathered, then PolicyError lists them all."""
    today = today or datetime.date.today()
    errors = []
    warnings = list(collected.get('warnings') or ())
    rules = []
    seq = 0
    for key in LISTS:
        for raw, origin, index in collected[key]:
            try:
                rules.append(compile_rule(raw, key, index, origin, seq, kb))
            except ValueError as exc:
                errors.append('%s[%d] %s (%s): %s' % (key, index, render(raw), origin, exc))
            seq += 1
    try:
        settings = compile_settings(collected.get('settings'))
    except PolicyError as exc:
        errors.extend(exc.errors)
        settings = None
    if errors:
        raise PolicyError(errors)
    policy = Policy(rules, settings, collected.get('settings_origin') or {}, collected.get('source', ''), warnings)
    seen = {}
    for rule in rules:
        key = spec_key(rule)
        if key in seen:
            warnings.append('%s duplicates %s' % (rule.label(), seen[key].label()))
        else:
            seen[key] = rule
        if rule.expires is not None:
            days = (rule.expires - today).days
            if days < 0:
                warnings.append('%s expired on %s: what it allowed is now reported as expired'
                                % (rule.label(), rule.expires.isoformat()))
            elif days <= settings['expiry_warning_days']:
                warnings.append('%s expires on %s (in %d day%s)'
                                % (rule.label(), rule.expires.isoformat(), days, '' if days == 1 else 's'))
    warnings.extend(_overlaps(policy))
    if kb is not None:
        warnings.extend(_dangerous_allows(rules, kb))
    return policy


def _dangerous_allows(rules, kb):
    """A warning for each allow rule that permits a port the KB marks dangerous (2375/tcp via ``docker``...).

    A wide range would list dozens of ports: past a few, one line per rule names how many and the first ones.
    """
    out = []
    for rule in rules:
        if rule.list != 'allow' or not rule.specs:
            continue
        found = []
        for spec in rule.specs:
            found.extend(kb.allow_warnings(spec))
        if len(found) <= 3:
            out.extend('%s allows a dangerous port: %s' % (rule.label(), text) for text in found)
        else:
            ports = ', '.join(text.split(' ', 1)[0] for text in found[:8])
            out.append('%s allows %d ports the port knowledge base marks dangerous (%s%s); allow them by '
                       'name only where they are meant to listen' % (
                           rule.label(), len(found), ports, ', ...' if len(found) > 8 else ''))
    return out


def build_policy(task_vars=None, prefix='port_policy', policy=None, kb=None, today=None):
    """collect() + compile_policy() in one call."""
    collected = collect(task_vars, prefix, policy)
    with gcpause.paused():
        return compile_policy(collected, kb=kb, today=today)
