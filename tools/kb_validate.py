# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validate the curated port knowledge base (plugins/plugin_utils/_kb/data/curated/*.yml).

    python tools/kb_validate.py [--data-dir DIR] [--compile] [--nmap-services PATH]

Exit 0 when valid, 1 with one line per problem otherwise. --compile writes
data/curated.json (the parsed YAML the KB loads fast) after a clean validation;
without it, a stale curated.json is reported as a problem. --nmap-services also
checks coverage: each of the 300 TCP and 100 UDP ports most often found open (by
the frequency column of that nmap-services file, read as facts, never shipped)
needs a curated use; without the file (default /tmp/nmap/usr/share/nmap/nmap-services)
the check is skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_NMAP = '/tmp/nmap/usr/share/nmap/nmap-services'


def _backend():
    # Reach the collection through its usual import path, also from a bare checkout.
    link = os.path.join(ROOT, '.build', 'collections')
    if os.path.isdir(os.path.join(link, 'ansible_collections')) and link not in sys.path:
        sys.path.insert(0, link)
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import loader, validate
    return loader, validate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-dir', default=None, help='KB data directory (default: the shipped data)')
    parser.add_argument('--compile', action='store_true', help='write data/curated.json when valid')
    parser.add_argument('--nmap-services', default=DEFAULT_NMAP,
                        help='nmap-services file whose frequency ranking the coverage check uses')
    args = parser.parse_args(argv)
    loader, validate = _backend()
    data_dir = args.data_dir or loader.DATA_DIR
    errors = validate.validate(data_dir, check_compiled=not args.compile)
    if not errors and args.nmap_services:
        if os.path.exists(args.nmap_services):
            missing = validate.coverage(loader.load_kb(data_dir), validate.frequent_ports(args.nmap_services))
            errors += ['coverage: %s is among the most often open ports but has no curated use' % m for m in missing]
            if not missing:
                print('OK kb_validate coverage: the 300 TCP and 100 UDP ports most often open all have a curated use')
        else:
            print('SKIP kb_validate coverage: %s is absent (apt-get download nmap-common, then dpkg-deb -x it '
                  'into /tmp/nmap)' % args.nmap_services)
    for error in errors:
        print('ERROR %s' % error, file=sys.stderr)
    if errors:
        print('FAIL kb_validate: %d problem(s)' % len(errors), file=sys.stderr)
        return 1
    if args.compile:
        path = os.path.join(data_dir, 'curated.json')
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(loader.compile_curated(data_dir))
        print('wrote %s' % path)
    counts = validate.summary(data_dir)
    print('OK kb_validate: %(uses)d uses, %(security)d security notes, %(profiles)d profiles' % counts)
    return 0


if __name__ == '__main__':
    sys.exit(main())
