# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Parse and validate policy rules and settings into compiled :class:`Rule` objects.

A rule is a port spec (``"22/tcp"``), a knowledge-base name (``ssh``), or a
mapping (see docs/policy.md). Every error message starts with the rule's
place and text (``allow[3] {port: 70000} (task)``), then the field and value.
"""

from __future__ import annotations

import datetime
import difflib
import fnmatch
import importlib
import re
from dataclasses import dataclass

from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import (
    PortSpec, PortSpecError, looks_like_port_spec, parse_port_specs, parse_protocols,
)
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import PolicyError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.identity import exe_fits_name

LISTS = ('allow', 'deny', 'require')
ACTIONS = ('block', 'stop', 'none')
SEVERITIES = ('info', 'low', 'medium', 'high', 'critical')  # ascending
FAMILIES = ('ipv4', 'ipv6')
# Exposure is a ceiling: a rule allowing 'specific' also allows link_local and loopback.
EXPOSURE_RANK = {'loopback': 0, 'link_local': 1, 'specific': 2, 'wildcard': 3}
EPHEMERAL_MODES = ('ignore_udp', 'report', 'allow')
UNEXPECTED_MODES = ('report', 'ignore')

RULE_KEYS = (
    'port', 'ports', 'proto', 'family', 'exposure', 'name', 'profile',
    'process', 'exe', 'user', 'unit', 'service', 'container', 'match',
    'reason', 'owner', 'ticket', 'expires', 'action', 'severity',
)
WHO_KEYS = ('process', 'exe', 'user', 'unit', 'container', 'match')
# What the gatherers report. The port-spec parser knows sctp and dccp (the KB
# lists such ports), but a rule for them would never match a listener.
GATHERED_PROTOCOLS = ('tcp', 'udp')

SETTINGS_DEFAULTS = {
    'unexpected': 'report',
    'unexpected_severity': 'low',
    'allow_loopback': True,
    'ephemeral': 'ignore_udp',
    'action': 'block',
    'deny_severity': 'high',
    'missing_severity': 'medium',
    'expiry_warning_days': 14,
}


def optional_library(name):
    """An optional controller library, imported on first use, or None when it is not installed.

    Only exposure CIDRs need netaddr and only ``match:`` rules need jmespath; the
    error says so when one is used. Most policies use neither, and every worker
    of the play (a process per host and task) would import them again.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def close_names(value, choices):
    """' (did you mean: a, b?)' when value is close to some choices, else ''."""
    near = difflib.get_close_matches(str(value), list(choices), n=3, cutoff=0.6)
    return ' (did you mean: %s?)' % ', '.join(near) if near else ''


def render(value):
    """Compact one-line rendering of a rule as written: ``{port: 22, proto: tcp}``."""
    if isinstance(value, dict):
        return '{%s}' % ', '.join('%s: %s' % (k, render(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return '[%s]' % ', '.join(render(v) for v in value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def parse_date(value, field_name='expires'):
    """A date from YAML (already a date) or an ISO string 'YYYY-MM-DD'."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError('%s: %r is not a date (expected YYYY-MM-DD)' % (field_name, value))


# How the gatherer writes a unit of a user's systemd manager (see owners.cgroup_units): not a unit name.
USER_MANAGER_UNIT = re.compile(r' \(user@\d+\)$')


class Who:
    """Matches one text value exactly, case-folded, or by ``~regex`` (search)."""

    __slots__ = ('text', 'regex', 'exact', 'fold')

    def __init__(self, value, field_name, fold=False):
        self.text = value
        self.fold = fold
        self.regex = None
        self.exact = None
        if isinstance(value, str) and value.startswith('~'):
            try:
                self.regex = re.compile(value[1:], re.IGNORECASE if fold else 0)
            except re.error as exc:
                raise ValueError('%s: %r is not a valid regular expression (%s)' % (field_name, value, exc))
        elif isinstance(value, str) and value.strip() and value == value.strip():
            self.exact = value.casefold() if fold else value
        elif isinstance(value, str) and value.strip():
            raise ValueError('%s: %r has leading or trailing spaces' % (field_name, value))
        else:
            raise ValueError('%s: %r is not a name (expected a string, or "~regex")' % (field_name, value))

    def match(self, candidate):
        if candidate is None:
            return False
        candidate = str(candidate)
        if self.regex is not None:
            return self.regex.search(candidate) is not None
        return (candidate.casefold() if self.fold else candidate) == self.exact


class UnitWho(Who):
    """Unit/service names: 'nginx' also matches 'nginx.service' and 'nginx.socket'."""

    __slots__ = ()

    def match(self, candidate):
        if self.regex is not None and candidate and USER_MANAGER_UNIT.search(str(candidate)) \
                and 'user@' not in self.text:
            # 'nginx.service (user@1000)' is a name its user chose under their own manager: a pattern meant for
            # system units (~^nginx) must not take it. One that says user@ means user units.
            return False
        if Who.match(self, candidate):
            return True
        if self.exact is not None and candidate and '.' not in self.exact:
            stem = str(candidate).casefold().rsplit('.', 1)
            return len(stem) == 2 and stem[0] == self.exact and stem[1] in ('service', 'socket')
        return False


class UserWho:
    """A user name (``~regex`` allowed) or a numeric uid."""

    __slots__ = ('text', 'uid', 'name')

    def __init__(self, value, field_name):
        self.text = value
        self.uid = None
        self.name = None
        if isinstance(value, bool):
            raise ValueError('%s: %r is not a user name or uid' % (field_name, value))
        if isinstance(value, int):
            if not 0 <= value <= 4294967294:
                raise ValueError('%s: uid %r is outside 0-4294967294' % (field_name, value))
            self.uid = value
        elif isinstance(value, str) and re.match(r'^\s*-?[0-9]+\s*$', value, re.ASCII):
            self.uid = int(value)
            if not 0 <= self.uid <= 4294967294:
                raise ValueError('%s: uid %r is outside 0-4294967294' % (field_name, value))
        elif isinstance(value, str) and re.search(r'\d', value) and not re.search(r'[^\W\d]', value):
            raise ValueError('%s: %r uses digits that are not ASCII 0-9' % (field_name, value))
        else:
            self.name = Who(value, field_name, fold=True)

    def match_proc(self, proc):
        if self.uid is not None:
            return proc.get('uid') is not None and int(proc['uid']) == self.uid
        return self.name.match(proc.get('user'))

    def match_uid(self, uid):
        return self.uid is not None and uid is not None and int(uid) == self.uid


class ContainerWho:
    """A container name or image: a glob (``web-*``, ``docker.io/library/nginx:*``) or ``~regex``."""

    __slots__ = ('text', 'regex')

    def __init__(self, value, field_name='container'):
        self.text = value
        if not isinstance(value, str) or not value.strip():
            raise ValueError('%s: %r is not a container name or image pattern (expected a glob or "~regex")'
                             % (field_name, value))
        pattern = value[1:] if value.startswith('~') else fnmatch.translate(value)
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError('%s: %r is not a valid regular expression (%s)' % (field_name, value, exc))
        self.text = value

    def match(self, container):
        if not isinstance(container, dict):
            return False
        search = self.regex.search if self.text.startswith('~') else self.regex.match
        return any(isinstance(container.get(k), str) and search(container[k]) for k in ('name', 'image'))


class MatchExpr:
    """A JMESPath predicate over the listener record, compiled once with the policy."""

    __slots__ = ('text', 'expr', 'error')

    def __init__(self, value, field_name='match'):
        self.text = value
        if not isinstance(value, str) or not value.strip():
            raise ValueError('%s: %r is not a JMESPath expression' % (field_name, value))
        jmespath = optional_library('jmespath')
        if jmespath is None:
            raise ValueError('%s: %r needs the Python library jmespath on the controller (pip install jmespath)'
                             % (field_name, value))
        self.error = jmespath.exceptions.JMESPathError
        try:
            self.expr = jmespath.compile(value)
        except self.error as exc:
            raise ValueError('%s: %r is not a valid JMESPath expression (%s)'
                             % (field_name, value, ' '.join(str(exc).split())))

    def match(self, listener):
        try:
            return _truthy(self.expr.search(listener))
        except self.error as exc:
            # A type error at run time (e.g. length() of a number) is a policy error, never "no match".
            raise PolicyError('match: %r failed on %s/%s port %s: %s' % (
                self.text, listener.get('address'), listener.get('protocol'), listener.get('port'), exc))


def _truthy(value):
    """JMESPath truth: false, null, empty string/list/object are false."""
    return value not in (None, False, '', [], {})


@dataclass(eq=False, slots=True)
class Rule:
    """One compiled rule. ``specs`` None means any port."""

    list: str
    index: int
    origin: str
    seq: int
    raw: object
    text: str
    specs: tuple | None = None
    protos: tuple | None = None  # protocol filter of a rule without ports
    families: frozenset | None = None
    ceiling: int | None = None
    nets: object = None
    process: Who | None = None
    exe: Who | None = None
    user: UserWho | None = None
    unit: UnitWho | None = None
    container: ContainerWho | None = None
    match: MatchExpr | None = None
    name: str | None = None
    reason: str | None = None
    owner: str | None = None
    ticket: str | None = None
    expires: datetime.date | None = None
    action: str | None = None
    severity: str | None = None
    has_who: bool = False
    has_exposure: bool = False
    position: int = 0  # its place in effective_policy[list], set by the Policy (index counts within its variable)

    # The three match stages are separate so the engine can tell
    # unexpected from wrong_exposure from wrong_owner.
    def match_where(self, lst):
        """Port, protocol and family."""
        if self.families is not None and lst['family'] not in self.families:
            return False
        if self.specs is None:
            return self.protos is None or lst['protocol'] in self.protos
        port = lst['port']
        proto = lst['protocol']
        for spec in self.specs:
            if spec.low <= port <= spec.high and (not spec.protocols or proto in spec.protocols):
                return True
        return False

    def match_exposure(self, lst):
        if not self.has_exposure:
            return True
        if self.ceiling is not None and EXPOSURE_RANK[lst['exposure']] <= self.ceiling:
            return True
        if self.nets is not None:
            netaddr = optional_library('netaddr')  # there: self.nets was built with it
            try:
                ip = netaddr.IPAddress(lst['address'])
            except (netaddr.AddrFormatError, ValueError, TypeError):
                return False
            if ip.version == 6 and ip.is_ipv4_mapped():
                ip = ip.ipv4()
            return ip in self.nets
        return False

    def match_who(self, lst, verify=True):
        """Owner fields, container and ``match``. ``verify=False`` takes a process name at its word.

        Allow and require rules verify: the name must agree with the executable
        (see identity.py), unless the rule pins ``exe`` itself. Deny rules do
        not: a claimed name is reason enough to deny.
        """
        if not self.has_who:
            return True
        if self.container is not None and not self.container.match(lst.get('container')):
            return False
        if self.match is not None and not self.match.match(lst):
            return False
        if self.process is None and self.exe is None and self.user is None and self.unit is None:
            return True
        procs = lst.get('processes') or ()
        if not procs:
            # Without an owner only a uid-only rule can be checked (socket uid).
            return (self.user is not None and self.process is None and self.exe is None
                    and self.unit is None and self.user.match_uid(lst.get('uid')))
        check_identity = verify and self.list != 'deny' and self.process is not None and self.exe is None
        for proc in procs:
            if self.process is not None and not self.process.match(proc.get('name')):
                continue
            if check_identity and exe_fits_name(proc.get('name'), proc.get('exe')) is not True:
                continue
            if self.exe is not None and not self.exe.match(proc.get('exe')):
                continue
            if self.user is not None and not self.user.match_proc(proc):
                continue
            if self.unit is not None:
                names = [proc.get('unit')] + list(proc.get('services') or ()) + list(lst.get('services') or ())
                if not any(self.unit.match(n) for n in names if n):
                    continue
            return True
        return False

    def impostor(self, lst):
        """The process whose name this rule trusts but whose executable says otherwise, else None."""
        if self.process is None or self.exe is not None or self.list == 'deny':
            return None
        if self.match_who(lst) or not self.match_who(lst, verify=False):
            return None
        for proc in lst.get('processes') or ():
            # Only a known executable that contradicts the name is an impostor; an unknown one proves nothing.
            if self.process.match(proc.get('name')) and exe_fits_name(proc.get('name'), proc.get('exe')) is False:
                return proc
        return None

    def matches(self, lst):
        return self.match_where(lst) and self.match_exposure(lst) and self.match_who(lst)

    def expired(self, today):
        return self.expires is not None and today > self.expires

    def ref(self):
        """The rule as findings and effective_policy show it."""
        return {'list': self.list, 'index': self.index, 'text': self.text, 'origin': self.origin}

    def key(self):
        """'allow#3': the rule as a verdict names it, effective_policy.allow[3] (which holds its text and origin).

        Not the ``index`` of labels such as 'allow[0] 22/tcp (from group_vars/web)': that counts within the
        variable the rule came from, so two layers both have an allow[0].
        """
        return '%s#%d' % (self.list, self.position)

    def label(self):
        return '%s[%d] %s (%s)' % (self.list, self.index, self.text, self.origin)


def _resolve(kb, name, where):
    if kb is None:
        raise ValueError('%s: %r needs the knowledge base, which could not be loaded' % (where, name))
    try:
        specs = kb.resolve(name)
    except Exception as exc:  # KBError carries the close names; any other failure is reported the same way
        text = str(exc)
        if text.startswith('name: '):
            text = text[len('name: '):]
        raise ValueError('%s: %s' % (where, text))
    if not specs:
        raise ValueError('%s: %r resolves to no ports' % (where, name))
    # The KB also lists sctp/dccp ports of a name; nothing gathers those, so they are left out.
    gathered = [s for s in specs if not s.protocols or set(s.protocols) & set(GATHERED_PROTOCOLS)]
    gathered = [s if all(p in GATHERED_PROTOCOLS for p in s.protocols) else
                PortSpec(s.low, s.high, tuple(p for p in s.protocols if p in GATHERED_PROTOCOLS)) for s in gathered]
    if not gathered:
        raise ValueError('%s: %r resolves only to %s, which no gatherer reports'
                         % (where, name, ', '.join(str(s) for s in specs)))
    return gathered


def _gathered_only(protos, key, value):
    """sctp/dccp in a written rule is an error: no gatherer reports those sockets, so it would never match."""
    other = [p for p in protos if p not in GATHERED_PROTOCOLS]
    if other:
        raise ValueError('%s: %r names %s, which no gatherer reports (only %s sockets are gathered), '
                         'so the rule would never match' % (key, value, '+'.join(other), ' and '.join(GATHERED_PROTOCOLS)))


def _apply_proto(specs, protos, raw_proto, name=None):
    """Restrict each spec to ``proto``.

    A written port spec naming only other protocols is an error; a name's
    ports (``https`` is 443/tcp and 443/udp) are filtered instead.
    """
    out = []
    for spec in specs:
        if not spec.protocols:
            out.append(PortSpec(spec.low, spec.high, protos))
            continue
        both = tuple(p for p in spec.protocols if p in protos)
        if both:
            out.append(PortSpec(spec.low, spec.high, both))
        elif name is None:
            raise ValueError('proto: %r conflicts with port %r' % (raw_proto, str(spec)))
    if not out:
        raise ValueError('proto: %r leaves no port of %r (%s)' % (raw_proto, name, ', '.join(str(s) for s in specs)))
    return out


def _exposure(value):
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError('exposure: [] allows no bind at all; name loopback, link_local, specific, wildcard, any or CIDRs')
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError('exposure: %r is not loopback, link_local, specific, wildcard, any, an address or a CIDR'
                             % (item,))
    ceiling = None
    nets = []
    netaddr = None
    for item in items:
        text = str(item).strip()
        if text in EXPOSURE_RANK:
            rank = EXPOSURE_RANK[text]
            ceiling = rank if ceiling is None else max(ceiling, rank)
            continue
        if text == 'any':
            ceiling = EXPOSURE_RANK['wildcard']
            continue
        netaddr = netaddr or optional_library('netaddr')
        if netaddr is None:
            raise ValueError('exposure: %r needs the Python library netaddr on the controller (pip install netaddr)'
                             % (item,))
        try:
            nets.append(netaddr.IPNetwork(text.split('%', 1)[0]))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise ValueError('exposure: %r is not loopback, link_local, specific, wildcard, any, an address or a CIDR%s'
                             % (item, close_names(text, list(EXPOSURE_RANK) + ['any'])))
    return ceiling, (netaddr.IPSet(nets) if nets else None)


def _families(value):
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError('family: [] names no family (expected ipv4, ipv6 or any)')
    fams = set()
    for item in items:
        text = str(item).strip().lower()
        if text in ('any', 'both'):
            return None
        text = {'inet': 'ipv4', 'inet6': 'ipv6', '4': 'ipv4', '6': 'ipv6'}.get(text, text)
        if text not in FAMILIES:
            raise ValueError('family: %r is not ipv4, ipv6 or any' % (item,))
        fams.add(text)
    return frozenset(fams)


def _text(value, key):
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError('%s: %r is not a string' % (key, value))
    return str(value)


def _choice(value, key, choices):
    if value not in choices:
        raise ValueError('%s: %r is not one of %s%s' % (key, value, ', '.join(choices), close_names(value, choices)))
    return value


def compile_rule(raw, list_name, index, origin, seq=0, kb=None):
    """One raw rule -> Rule; ValueError('<field>: <problem>') for bad input."""
    text = render(raw)
    rule = Rule(list=list_name, index=index, origin=origin, seq=seq, raw=raw, text=text)
    if isinstance(raw, bool) or raw is None:
        raise ValueError('rule: %r is not a port spec, a service name or a mapping' % (raw,))
    if isinstance(raw, (int, str)):
        if looks_like_port_spec(raw):
            try:
                rule.specs = tuple(parse_port_specs(raw, 'port'))
            except PortSpecError as exc:
                raise ValueError(str(exc))
            for spec in rule.specs:
                _gathered_only(spec.protocols, 'port', raw)
        else:
            rule.name = raw.strip()
            rule.specs = tuple(_resolve(kb, rule.name, 'name'))
        return rule
    if not isinstance(raw, dict):
        raise ValueError('rule: %r is not a port spec, a service name or a mapping' % (raw,))
    if not raw:
        raise ValueError('rule: an empty mapping matches everything; write {exposure: any} if that is meant')
    for key in raw:
        if key not in RULE_KEYS:
            raise ValueError('%s: unknown field%s (fields: %s)' % (key, close_names(key, RULE_KEYS), ', '.join(RULE_KEYS)))
    port_keys = [k for k in ('port', 'ports') if k in raw]
    name_keys = [k for k in ('name', 'profile') if k in raw]
    if len(port_keys) + len(name_keys) > 1:
        raise ValueError('%s: use only one of port, ports, name, profile' % ', '.join(port_keys + name_keys))
    if port_keys:
        key = port_keys[0]
        try:
            specs = parse_port_specs(raw[key], key)
        except PortSpecError as exc:
            raise ValueError(str(exc))
        for spec in specs:
            _gathered_only(spec.protocols, key, raw[key])
        rule.specs = tuple(specs)
    elif name_keys:
        key = name_keys[0]
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise ValueError('%s: %r is not a name' % (key, value))
        rule.name = value.strip()
        rule.specs = tuple(_resolve(kb, rule.name, key))
    if 'proto' in raw:
        try:
            protos = parse_protocols(raw['proto'], 'proto')
        except PortSpecError as exc:
            raise ValueError(str(exc))
        _gathered_only(protos, 'proto', raw['proto'])
        if protos and rule.specs is not None:
            rule.specs = tuple(_apply_proto(list(rule.specs), protos, raw['proto'], rule.name))
        elif protos:
            rule.protos = protos
    if 'family' in raw:
        rule.families = _families(raw['family'])
    if 'exposure' in raw:
        rule.ceiling, rule.nets = _exposure(raw['exposure'])
        rule.has_exposure = rule.ceiling != EXPOSURE_RANK['wildcard']
    if 'container' in raw:
        rule.container = ContainerWho(raw['container'])
    if 'match' in raw:
        rule.match = MatchExpr(raw['match'])
    if 'process' in raw:
        rule.process = Who(raw['process'], 'process')
    if 'exe' in raw:
        rule.exe = Who(raw['exe'], 'exe')
    if 'user' in raw:
        rule.user = UserWho(raw['user'], 'user')
    unit_keys = [k for k in ('unit', 'service') if k in raw]
    if len(unit_keys) > 1:
        raise ValueError('unit, service: use only one (service is another name for unit)')
    if unit_keys:
        rule.unit = UnitWho(raw[unit_keys[0]], unit_keys[0], fold=True)
    rule.has_who = any(getattr(rule, k) is not None for k in WHO_KEYS)
    for key in ('reason', 'owner', 'ticket'):
        if key in raw and raw[key] is not None:
            setattr(rule, key, _text(raw[key], key))
    if 'expires' in raw:
        if list_name != 'allow':
            raise ValueError('expires: only allow rules expire (got %r in a %s rule)' % (render(raw['expires']), list_name))
        rule.expires = parse_date(raw['expires'])
    if 'action' in raw:
        rule.action = _choice(raw['action'], 'action', ACTIONS)
    if 'severity' in raw:
        rule.severity = _choice(raw['severity'], 'severity', SEVERITIES)
    if list_name == 'require' and rule.specs is None and not rule.has_who:
        raise ValueError('rule: a require rule needs a port, ports, name, profile or an owner field (process, exe, user, unit)')
    return rule


def compile_settings(raw, origin='settings'):
    """Merged settings mapping -> complete settings with defaults; PolicyError on bad values."""
    settings = dict(SETTINGS_DEFAULTS)
    errors = []
    if raw is None:
        return settings
    if not isinstance(raw, dict):
        raise PolicyError(['settings (%s): %r is not a mapping' % (origin, raw)])
    checks = {
        'unexpected': UNEXPECTED_MODES,
        'unexpected_severity': SEVERITIES,
        'deny_severity': SEVERITIES,
        'missing_severity': SEVERITIES,
        'ephemeral': EPHEMERAL_MODES,
        'action': ACTIONS,
    }
    for key, value in raw.items():
        if key not in SETTINGS_DEFAULTS:
            errors.append('settings: %s: unknown setting%s (settings: %s)'
                          % (key, close_names(key, SETTINGS_DEFAULTS), ', '.join(SETTINGS_DEFAULTS)))
            continue
        if key in checks:
            if value not in checks[key]:
                errors.append('settings: %s: %r is not one of %s%s'
                              % (key, value, ', '.join(checks[key]), close_names(value, checks[key])))
                continue
        elif key == 'allow_loopback':
            if not isinstance(value, bool):
                errors.append('settings: allow_loopback: %r is not true or false' % (value,))
                continue
        elif key == 'expiry_warning_days':
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                errors.append('settings: expiry_warning_days: %r is not a whole number >= 0' % (value,))
                continue
        settings[key] = value
    if errors:
        raise PolicyError(errors)
    return settings


def spec_key(rule):
    """What makes two rules duplicates: the same matching semantics in the same list."""
    return (
        rule.list, rule.specs, rule.protos, rule.families, rule.ceiling, str(rule.nets) if rule.nets is not None else None,
        rule.process.text if rule.process else None, rule.exe.text if rule.exe else None,
        rule.user.text if rule.user else None, rule.unit.text if rule.unit else None,
        rule.container.text if rule.container else None, rule.match.text if rule.match else None,
    )
