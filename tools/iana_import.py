# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Import the IANA port registry XML into plugins/plugin_utils/_kb/data/iana.json.

    python tools/iana_import.py [SOURCE] [--output PATH] [--check]

SOURCE is a path or an http(s) URL; it defaults to
../shared/iana/service-names-port-numbers.xml next to the repository. With
--check nothing is written: exit 1 when the shipped file differs from what
SOURCE would produce, exit 0 (with a SKIP message) when SOURCE is a path that
does not exist, as on a user's machine without the maintainers' ../shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SOURCE = os.path.join(os.path.dirname(ROOT), 'shared', 'iana', 'service-names-port-numbers.xml')
DEFAULT_OUTPUT = os.path.join(ROOT, 'plugins', 'plugin_utils', '_kb', 'data', 'iana.json')


def _backend():
    # Scripts run from a checkout: reach the package without installing it.
    from importlib.util import module_from_spec, spec_from_file_location
    path = os.path.join(ROOT, 'plugins', 'plugin_utils', '_kb', 'iana.py')
    spec = spec_from_file_location('_hostsec_kb_iana', path)
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(source):
    if source.startswith(('http://', 'https://')):
        with urllib.request.urlopen(source, timeout=60) as resp:  # maintainers only, on request
            return resp.read(), source
    with open(source, 'rb') as handle:
        return handle.read(), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('source', nargs='?', default=DEFAULT_SOURCE, help='registry XML: path or URL')
    parser.add_argument('--output', default=DEFAULT_OUTPUT, help='shipped JSON file')
    parser.add_argument('--url', default=None, help='source URL to record (default: the IANA URL)')
    parser.add_argument('--check', action='store_true', help='fail when the shipped file is stale')
    args = parser.parse_args(argv)
    iana = _backend()

    is_url = args.source.startswith(('http://', 'https://'))
    if args.check and not is_url and not os.path.exists(args.source):
        print('SKIP iana_import --check: input %s is absent (it is only on maintainers\' machines)' % args.source)
        return 0
    try:
        xml, fetched = _read(args.source)
        text = iana.dumps(iana.convert(xml, args.url or fetched or iana.SOURCE_URL))
    except (OSError, iana.IanaImportError) as exc:
        print('iana_import: %s: %s' % (args.source, exc), file=sys.stderr)
        return 2

    if args.check:
        try:
            with open(args.output, encoding='utf-8') as handle:
                shipped = handle.read()
        except OSError as exc:
            print('FAIL iana_import --check: cannot read %s: %s' % (args.output, exc), file=sys.stderr)
            return 1
        if shipped != text:
            print('FAIL iana_import --check: %s does not match %s; run: python tools/iana_import.py'
                  % (os.path.relpath(args.output, ROOT), args.source), file=sys.stderr)
            return 1
        print('OK iana_import --check: %s matches %s' % (os.path.relpath(args.output, ROOT), args.source))
        return 0

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, 'w', encoding='utf-8') as handle:
        handle.write(text)
    print('wrote %s (%d bytes)' % (args.output, len(text.encode('utf-8'))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
