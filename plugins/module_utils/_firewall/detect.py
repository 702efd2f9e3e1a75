# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Which backends work on this host, which hold objects of the collection, and the rollback timer."""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.module_utils._firewall import firewalld, iptables, nftables, ufw

BACKENDS = ('nftables', 'iptables', 'ufw', 'firewalld')


def make_backend(name, host, **options):
    """The backend object for ``name``; options reach nftables and iptables only."""
    if name == 'nftables':
        return nftables.Backend(host, **options)
    if name == 'iptables':
        return iptables.Backend(host, **options)
    if name == 'ufw':
        return ufw.Backend(host)
    if name == 'firewalld':
        return firewalld.Backend(host)
    raise ValueError('backend: unknown value %r (expected one of %s)' % (name, ', '.join(BACKENDS)))


def _owns(state):
    if state['ports']:
        return True
    for key in ('table', 'owned', 'permanent', 'runtime'):
        if state.get(key):
            return True
    if any(live.get('chain') or live.get('jumps') for live in state.get('live', {}).values()):
        return True
    return any(text is not None for text in state.get('files', {}).values())


def detect(host, rollback_unit):
    """{backends: {name: {usable, reason, owns}}, usable: [...], owning: [...], rollback_pending}."""
    report = {}
    for name in BACKENDS:
        backend = make_backend(name, host)
        usable, reason = backend.usable()
        tool_present = {'nftables': 'nft', 'iptables': 'iptables', 'ufw': 'ufw', 'firewalld': 'firewall-cmd'}[name]
        owns = False
        if host.which(tool_present) and (usable or name == 'ufw'):
            # ufw edits its rule files while inactive too: owned rules there still count.
            owns = _owns(backend.read())
        report[name] = {'usable': usable, 'reason': reason, 'owns': owns}
    pending = False
    if host.booted:
        rc, out, err = host.systemctl('is-active', '--quiet', rollback_unit + '.timer')
        pending = rc == 0
    return {
        'backends': report,
        'usable': [n for n in BACKENDS if report[n]['usable']],
        'owning': [n for n in BACKENDS if report[n]['owns']],
        'rollback_pending': pending,
    }
