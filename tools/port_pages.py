# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate docs/ports/ (one page per curated port, plus README.md) from the knowledge base.

    python tools/port_pages.py [--check] [--out DIR] [--data-dir DIR]

--check writes nothing and exits 1 when a page is missing, stale or left over.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _backend():
    link = os.path.join(ROOT, '.build', 'collections')
    if os.path.isdir(os.path.join(link, 'ansible_collections')) and link not in sys.path:
        sys.path.insert(0, link)
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import KBError, load_kb, pages
    return KBError, load_kb, pages


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='fail when docs/ports is stale')
    parser.add_argument('--out', default=os.path.join(ROOT, 'docs', 'ports'))
    parser.add_argument('--data-dir', default=None)
    args = parser.parse_args(argv)
    kb_error, load_kb, pages = _backend()
    try:
        files = pages.render(load_kb(args.data_dir))
    except kb_error as exc:
        print('port_pages: %s' % exc, file=sys.stderr)
        return 2
    existing = {os.path.basename(p) for p in glob.glob(os.path.join(args.out, '*.md'))}
    stale = []
    for name, text in sorted(files.items()):
        path = os.path.join(args.out, name)
        try:
            with open(path, encoding='utf-8') as handle:
                same = handle.read() == text
        except OSError:
            same = False
        if not same:
            stale.append(name)
    extra = sorted(existing - set(files))
    if args.check:
        if stale or extra:
            print('FAIL port_pages --check: %d stale or missing, %d left over (%s); run: python tools/port_pages.py'
                  % (len(stale), len(extra), ', '.join((stale + extra)[:8])), file=sys.stderr)
            return 1
        print('OK port_pages --check: %d pages up to date' % len(files))
        return 0
    os.makedirs(args.out, exist_ok=True)
    for name in stale:
        with open(os.path.join(args.out, name), 'w', encoding='utf-8') as handle:
            handle.write(files[name])
    for name in extra:
        os.remove(os.path.join(args.out, name))
    print('port_pages: %d pages, %d written, %d removed' % (len(files), len(stale), len(extra)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
