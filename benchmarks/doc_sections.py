# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a benchmark's table into a Markdown file between its own markers.

Each benchmark owns the block between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``; everything else in the file (other benchmarks' blocks,
prose written by hand) is left as it is. A file without the markers gets the
block appended.
"""

from __future__ import annotations


def write_section(path, name, text):
    """Replace the block of benchmark ``name`` in ``path`` with ``text``, or append it."""
    start_mark, end_mark = '<!-- %s:start -->' % name, '<!-- %s:end -->' % name
    try:
        with open(path) as handle:
            doc = handle.read()
    except FileNotFoundError:
        doc = '# Performance\n'
    block = '%s\n%s\n%s' % (start_mark, text.strip('\n'), end_mark)
    start = doc.find(start_mark)
    end = doc.find(end_mark, start + 1) if start != -1 else -1
    if start == -1 or end == -1:
        doc = doc.rstrip('\n') + '\n\n' + block + '\n'
    else:
        doc = doc[:start] + block + doc[end + len(end_mark):]
    with open(path, 'w') as handle:
        handle.write(doc)
