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
    parser.add_argument('--kb-doc', default=os.path.join(ROOT, 'docs', 'knowledge-base.md'),
                        help='guide whose name-shadowing table is regenerated (empty: skip)')
    args = parser.parse_args(argv)
    kb_error, load_kb, pages = _backend()
    try:
        kb = load_kb(args.data_dir)
        files = pages.render(kb)
    except kb_error as exc:
        print('port_pages: %s' % exc, file=sys.stderr)
        return 2
    doc_stale = False
    if args.kb_doc:
        # every profile that shadows an IANA name is listed in the guide; the table comes from the data
        try:
            with open(args.kb_doc, encoding='utf-8') as handle:
                doc = handle.read()
            fresh_doc = pages.with_shadowing_table(doc, kb)
        except (OSError, ValueError) as exc:
            print('port_pages: %s: %s' % (args.kb_doc, exc), file=sys.stderr)
            return 2
        doc_stale = fresh_doc != doc
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
        if doc_stale:
            print('FAIL port_pages --check: the name-shadowing table in %s is stale; run: python tools/port_pages.py'
                  % os.path.relpath(args.kb_doc, ROOT), file=sys.stderr)
            return 1
        print('OK port_pages --check: %d pages and the name-shadowing table up to date' % len(files))
        return 0
    if doc_stale:
        with open(args.kb_doc, 'w', encoding='utf-8') as handle:
            handle.write(fresh_doc)
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
