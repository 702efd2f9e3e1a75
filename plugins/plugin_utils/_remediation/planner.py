# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The remediation planner: one status per finding, decided once.

Input: the findings of one host (each carries the action its rule asked for
in ``remediation.action``), every listener of the host, the platform, the
actions the user allows, the protected set and protected units.  Output: a
plan (block list, stop list, protected set, one entry per finding) and the
findings with ``remediation`` rewritten to ``{status, action, unit, reason}``.

Statuses:

``block``           the firewall backend drops new inbound connections to the port
``stop``            the owning unit (or Windows service) is stopped and disabled
``protected``       the port or the unit is protected; never touched
``not remediated``  remediation was asked and refused, with the reason
``reported``        no remediation was asked (rule action ``none``, or nothing listens)

The role executes only ``plan.block`` and ``plan.stop``; the reports show the
statuses; nothing else decides.
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.findings import listener_text, namespace_label
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation import protect as _protect
from ansible_collections.hostsec.ports.plugins.plugin_utils._remediation import windows

STATUSES = ('block', 'stop', 'protected', 'not remediated', 'reported')
ACTIONS = ('block', 'stop')
MODES = ('report', 'enforce')

# Programs that hold a published container port while the kernel DNATs the
# traffic to the container: it crosses the forward path, never the host's input
# filter, so a host firewall block would be reported as done yet change nothing.
# Not rootlessport (rootless podman): no DNAT rule exists, it is a userland
# proxy accepting on its host socket, so the host's input filter drops traffic
# to it like any other listener's.
DNAT_FORWARDERS = ('docker-proxy', 'conmon', 'kube-proxy')


class PlanError(ValueError):
    """Planner input that cannot give a safe plan; the message names the field."""


def dnat_forwarder(listener):
    """The name of the container port forwarder that holds this listener, or None.

    Only root's own forwarder counts: one running as root whose executable
    has that name. The runtimes that DNAT run their forwarders as root, and
    any user can call a process docker-proxy (or start a setuid program
    through a link of that name) to keep its port from being blocked. Left
    open: a setuid-root program hard-linked under that name, which only
    fs.protected_hardlinks=0 allows (the record holds the effective uid).
    """
    for proc in (listener or {}).get('processes') or ():
        name = proc.get('name')
        if name in DNAT_FORWARDERS and proc.get('uid') == 0 and _exe_name(proc.get('exe')) == name:
            return name
    return None


def _exe_name(exe):
    if not isinstance(exe, str):
        return None
    if exe.endswith(' (deleted)'):
        exe = exe[:-len(' (deleted)')]
    return exe.replace('\\', '/').rsplit('/', 1)[-1]


def linux_unit(listener):
    """The systemd unit to stop: the .socket unit when PID 1 holds the socket, else the owner's unit.

    Only names systemd can act on come back: user-manager units are written
    ``name.service (user@UID)`` by the gatherer and never match here.
    """
    names = []
    pid1 = False
    for proc in (listener or {}).get('processes') or ():
        pid1 = pid1 or proc.get('pid') == 1
        for name in [proc.get('unit')] + list(proc.get('services') or ()):
            if name and name not in names:
                names.append(name)
    for name in (listener or {}).get('services') or ():
        if name not in names:
            names.append(name)
    if pid1:
        sockets = [n for n in names if n.endswith('.socket')]
        if sockets:
            return sockets[0], None
    for name in names:
        if name.endswith(('.service', '.socket')):
            return name, None
    return None, 'no owning systemd unit is known, and a process is never killed by PID'


def _stop_target(listener, platform):
    if platform == 'windows':
        return windows.stop_target(listener)
    return linux_unit(listener)


def _listener_key(lst):
    return (lst.get('protocol'), lst.get('family'), lst.get('address'), lst.get('scope'), lst.get('port'))


def _port_text(lst):
    return '%s/%s' % (lst.get('port'), lst.get('protocol'))


def _protected_units(listeners, protected, protect_units, platform):
    """{unit: reason} for units never to stop: listed ones, and owners of listeners on protected ports.

    Windows service names are case-insensitive, so their keys are lower case;
    Windows' built-in protected services are asked separately (_unit_protection).
    """
    out = {}
    for name in protect_units or ():
        out[name.lower() if platform == 'windows' else name] = 'unit %s is listed in protect_units' % name
    for lst in listeners or ():
        rec = _protect.covering(protected, lst['port'], lst['protocol'])
        if rec is None:
            continue
        for proc in lst.get('processes') or ():
            for name in [proc.get('unit')] + list(proc.get('services') or ()):
                if name:
                    key = name.lower() if platform == 'windows' else name
                    out.setdefault(key, 'unit %s owns %s, which is protected (%s)' % (
                        name, _port_text(lst), rec['reason']))
    return out


# Units whose cgroup holds other users' commands: a user's cron job or at job stays in cron's or atd's unit
# (their PAM stacks make no session of their own), so its listener names that unit, chosen by the user.
JOB_RUNNER_UNITS = ('cron.service', 'crond.service', 'cronie.service', 'anacron.service', 'atd.service')


def _unit_protection(unit, ctx):
    """Why ``unit`` is never stopped, or None."""
    if ctx['platform'] == 'windows':
        builtin = windows.protected_service(unit, domain_controller=ctx['domain_controller'])
        if builtin:
            return builtin
        return ctx['protected_units'].get(unit.lower())
    if unit in JOB_RUNNER_UNITS:
        return ('unit %s runs other users\' jobs, so the process holding this port may be any user\'s job, not '
                'the unit' % unit)
    return ctx['protected_units'].get(unit)


def _units_of(lst):
    names = set()
    for proc in lst.get('processes') or ():
        names.update(n for n in [proc.get('unit')] + list(proc.get('services') or ()) if n)
    return names


def _decide(finding, ctx):
    """(status, unit, reason) for one finding."""
    rem = finding.get('remediation') or {}
    action = rem.get('action') or 'none'
    asked = rem.get('reason') or ''
    lst = finding.get('listener')
    if lst is None:
        return 'reported', None, 'nothing listens, so there is nothing to block or stop; a missing listener ' \
                                 'is started by its owner'
    where = namespace_label(lst)
    if where is not None and action != 'none':
        # The host's firewall filters the host's namespace, and the process is the container's: a block or a
        # stop here would report a remediation that never touched the listener.
        return 'not remediated', None, (
            '%s listens inside %s, another network namespace: the host firewall does not filter it and its '
            'process belongs to the container, so the role changes nothing there; stop or reconfigure it in its '
            'runtime, or unpublish its ports' % (_port_text(lst), where))
    rec = _protect.covering(ctx['protected'], lst['port'], lst['protocol'])
    if rec is not None:
        return 'protected', None, '%s is protected (%s): it is never blocked or stopped' % (
            _port_text(lst), rec['reason'])
    if action == 'none':
        return 'reported', None, ((asked + '; ') if asked else '') + 'the policy asks for no remediation'
    if action not in ctx['actions']:
        return 'not remediated', None, 'the policy asks to %s, but the allowed actions are %s' % (
            action, ', '.join(ctx['actions']) or 'none')
    if action == 'block':
        forwarder = dnat_forwarder(lst)
        if forwarder:
            return 'not remediated', None, (
                '%s publishes this port for a container and the kernel forwards (DNAT) its traffic past the '
                'host input filter, so a block here would change nothing; unpublish the port or bind it to '
                '127.0.0.1 in the container runtime' % forwarder)
        # A block drops the port and protocol on every address and family: another listener on it that the
        # policy allows (root's nginx on 0.0.0.0:8080 beside anyone's [::]:8080) would be cut off with it.
        sharing = sorted({listener_text(other) for other in ctx['allowed']
                          if other.get('port') == lst['port'] and other.get('protocol') == lst['protocol']
                          and namespace_label(other) is None})
        if sharing:
            return 'not remediated', None, (
                'the port also serves allowed listener(s) %s, and a block drops it on every address; stop the '
                'owner instead, or fix the policy' % ', '.join(sharing))
        return 'block', None, 'new inbound connections to %s are dropped by the %s firewall (%s)' % (
            _port_text(lst), ctx['backend'] or 'host', asked or 'the policy asks for block')
    unit, why_not = _stop_target(lst, ctx['platform'])
    if unit is None:
        return 'not remediated', None, why_not
    why_protected = _unit_protection(unit, ctx)
    if why_protected:
        return 'protected', unit, why_protected + ': it is never stopped'
    collateral = sorted({_port_text(other) for other in ctx['allowed'] if unit in _units_of(other)})
    if collateral:
        return 'not remediated', unit, (
            '%s also serves allowed listener(s) %s; stopping it would take those down, so it is left running '
            '(block the port instead, or fix the policy)' % (unit, ', '.join(collateral)))
    return 'stop', unit, '%s is stopped and disabled%s (%s)' % (
        unit, ' and masked' if ctx['mask_units'] else '', asked or 'the policy asks for stop')


def plan(findings, listeners=(), platform='linux', mode='report', actions=ACTIONS, protected=(),
         protect_units=(), backend=None, mask_units=False, domain_controller=None):
    """The remediation plan for one host and its findings with ``remediation`` rewritten.

    Returns ``(plan, findings)``; the input findings are not modified. On
    Windows, ports protected by what listens there (RDP, WinRM) join the
    protected set, and ``domain_controller`` (None: unknown, so protected)
    decides whether the domain controller services are protected.
    """
    if mode not in MODES:
        raise PlanError('mode: %r is not one of %s' % (mode, ', '.join(MODES)))
    if platform not in ('linux', 'windows'):
        raise PlanError('platform: %r is not one of linux, windows' % (platform,))
    for action in actions:
        if action not in ACTIONS:
            raise PlanError('actions: %r is not one of %s' % (action, ', '.join(ACTIONS)))
    protected = list(protected)
    if platform == 'windows':
        protected = _protect.merge(protected, windows.protected_ports(listeners))
    with_finding = {_listener_key(f['listener']) for f in findings if f.get('listener')}
    ctx = {
        'platform': platform,
        'actions': tuple(actions),
        'protected': protected,
        'backend': backend,
        'mask_units': bool(mask_units),
        'domain_controller': domain_controller,
        'protected_units': _protected_units(listeners, protected, protect_units, platform),
        'allowed': [lst for lst in listeners or () if _listener_key(lst) not in with_finding],
    }
    entries = {}
    blocks = {}
    stops = {}
    out = []
    for finding in findings:
        status, unit, reason = _decide(finding, ctx)
        action = (finding.get('remediation') or {}).get('action') or 'none'
        new = dict(finding)
        new['remediation'] = {'status': status, 'action': action, 'unit': unit, 'reason': reason}
        new['protected'] = status == 'protected'
        out.append(new)
        entries[finding['id']] = new['remediation']
        lst = finding.get('listener')
        if status == 'block':
            blocks.setdefault((lst['port'], lst['protocol']), []).append(finding['id'])
        elif status == 'stop':
            stops.setdefault(unit, []).append(finding['id'])
    block = [{'port': port, 'protocol': proto, 'finding_ids': sorted(set(ids))}
             for (port, proto), ids in sorted(blocks.items())]
    for item in block:
        # The one check, before any backend is touched: nothing protected is ever in the block list.
        if _protect.covering(protected, item['port'], item['protocol']) is not None:
            raise PlanError('internal: %d/%s is protected but planned for block' % (item['port'], item['protocol']))
    stop = [{'unit': unit, 'mask': bool(mask_units), 'finding_ids': sorted(set(ids))}
            for unit, ids in sorted(stops.items())]
    result = {
        'platform': platform,
        'mode': mode,
        'backend': backend,
        'block': block,
        'stop': stop,
        'protected': protected,
        'entries': entries,
    }
    return result, out
