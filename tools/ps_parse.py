# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fail when a PowerShell file does not parse under tree-sitter-powershell.

There is no PowerShell runtime on the build machines, so this is the check
that a .ps1/.psm1 at least has valid syntax before Pester and the Windows
workflow see it. Usage::

    python tools/ps_parse.py PATH...

PATH is a file or a folder (searched for *.ps1, *.psm1, *.psd1). Every ERROR
or MISSING node is printed as ``file:line:col: message``; the exit code is 1
when there is any, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tree_sitter
import tree_sitter_powershell

SUFFIXES = ('.ps1', '.psm1', '.psd1')


def parser():
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def problems(source: bytes, ps_parser=None):
    """(line, col, message) for each ERROR/MISSING node, 1-based, in source order."""
    tree = (ps_parser or parser()).parse(source)
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            found.append(_where(node, 'missing %r' % node.type))
        elif node.is_error:
            snippet = source[node.start_byte:node.end_byte].decode('utf-8', 'replace')
            snippet = snippet.splitlines()[0][:60] if snippet else ''
            found.append(_where(node, 'syntax error near %r' % snippet))
        # only subtrees that contain an error are worth descending into
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(found)


def _where(node, message):
    row, col = node.start_point
    return row + 1, col + 1, message


def files(paths):
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from sorted(p for p in path.rglob('*') if p.suffix.lower() in SUFFIXES and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(path)


def main(argv=None):
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument('paths', nargs='+', metavar='PATH', help='file or folder to check')
    opts = args.parse_args(argv)
    ps_parser = parser()
    checked = bad = 0
    try:
        for path in files(opts.paths):
            checked += 1
            found = problems(path.read_bytes(), ps_parser)
            bad += bool(found)
            for line, col, message in found:
                print('%s:%d:%d: %s' % (path, line, col, message))
    except FileNotFoundError as exc:
        print('ps_parse: no such file or folder: %s' % exc, file=sys.stderr)
        return 2
    print('ps_parse: %d file(s) checked, %d with syntax errors' % (checked, bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
