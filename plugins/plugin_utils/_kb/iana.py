# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Import the IANA service-name and port-number registry XML into compact JSON.

The shipped file (``data/iana.json``) keeps one row per registry record, in
registry order, as an array in the order of :data:`FIELDS`, so loading it is
one ``json.loads`` and no per-record dict building. People (assignees and
contacts) are kept once in ``people`` as display names; e-mail addresses are
left out on purpose: nobody auditing ports needs them.

Each record also gets a ``kind`` so the KB need not re-read descriptions:

- ``r`` (reserved): no service name and a description starting "Reserved";
- ``u`` (unassigned): a description starting Unassigned, De-registered, Removed,
  Deprecated or (De-)Commissioned in any spelling (the number is free again);
- ``a`` (assigned): everything else, including old nameless entries such as
  24 "any private mail system".
"""

from __future__ import annotations

import hashlib
import json
import re

FORMAT = 1
SOURCE_URL = 'https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xml'
LICENCE = 'CC0 1.0 (IANA protocol registries, https://www.iana.org/help/licensing-terms)'
FIELDS = ('service', 'protocol', 'description', 'low', 'high', 'kind', 'references', 'note',
          'unauthorized', 'assignee', 'contact', 'registered', 'updated', 'service_code')
KINDS = {'a': 'assigned', 'r': 'reserved', 'u': 'unassigned'}

_NS = '{http://www.iana.org/assignments}'
# Registry spellings seen: Unassigned, De-registered/De-Registered, Removed, Deprecated,
# Decomissioned and De-Commissioned (9006): all mean the number is free again.
_FREED = re.compile(r'^\W*(unassigned|de-?registered|removed|deprecated|de-?comm?issioned)', re.I)
_RESERVED = re.compile(r'^\W*reserved', re.I)
_MAIL = re.compile(r'<[^<>\s]+[@&][^<>\s]+>')


class IanaImportError(ValueError):
    """The XML is not the IANA registry we expect; the message says what is wrong."""


def _tag(elem):
    return elem.tag[len(_NS):] if elem.tag.startswith(_NS) else elem.tag


def _ref(xref, people, footnotes):
    """Render one <xref> as the short text a reader would look up."""
    kind, data = xref.get('type'), (xref.get('data') or '').strip()
    if kind == 'rfc':
        return data.upper()
    if kind == 'person':
        return people.get(data, data.replace('_', ' '))
    if kind == 'note':
        return footnotes.get(data, 'note ' + data)
    if kind == 'text' and not data:
        # type="text" references carry their words as element text, not in a data attribute;
        # e-mail addresses in them ("<xadmin&example.nl>", IANA writes & for @) are left out like contacts'
        return ' '.join(_MAIL.sub('', xref.text or '').split())
    return data


def _text(elem, people, footnotes):
    """All text of an element, with inline xrefs rendered and whitespace collapsed."""
    if elem is None:
        return None
    parts = [elem.text or '']
    for child in elem:
        tag = _tag(child)
        if tag == 'xref':
            parts.append(_ref(child, people, footnotes))
        else:
            parts.append(' ' + (_text(child, people, footnotes) or '') + ' ')
        parts.append(child.tail or '')
    text = ' '.join(''.join(parts).split())
    return text or None


def _people(root):
    people = {}
    registry = root.find(_NS + 'people')
    for person in registry if registry is not None else ():
        name = (person.findtext(_NS + 'name') or '').strip()
        org = (person.findtext(_NS + 'org') or '').strip()
        if name and org and org != name:
            display = '%s (%s)' % (name, org)
        else:
            display = name or org or person.get('id').replace('_', ' ')
        people[person.get('id')] = ' '.join(display.split())
    return people


def _number(text, where):
    low, dummy, high = text.strip().partition('-')
    try:
        low, high = int(low), int(high or low)
    except ValueError:
        raise IanaImportError('%s: number %r is not a port or a range' % (where, text))
    if not 0 <= low <= high <= 65535:
        raise IanaImportError('%s: number %r is outside 0-65535 or reversed' % (where, text))
    return low, high


def _kind(name, description):
    if _FREED.match(description or ''):
        return 'u'
    if not name and _RESERVED.match(description or ''):
        return 'r'
    return 'a'


def convert(xml_bytes, source_url=SOURCE_URL):
    """Registry XML bytes -> the shipped JSON-able dict (deterministic)."""
    # Here, not at the top: the knowledge base model imports this module for its constants on every
    # audit, and only the maintainers' import script converts XML.
    import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as exc:
        raise IanaImportError('input is not well-formed XML: %s' % exc)
    if root.tag != _NS + 'registry' or root.get('id') != 'service-names-port-numbers':
        raise IanaImportError('input is not the IANA service-names-port-numbers registry (root %r)' % root.tag)
    people = _people(root)
    footnotes = {f.get('anchor'): ' '.join((f.text or '').split()) for f in root.findall(_NS + 'footnote')}
    records = []
    for pos, rec in enumerate(root.findall(_NS + 'record'), 1):
        where = 'record %d' % pos
        name = (rec.findtext(_NS + 'name') or '').strip() or None
        proto = (rec.findtext(_NS + 'protocol') or '').strip().lower() or None
        desc = _text(rec.find(_NS + 'description'), people, footnotes)
        number = rec.findtext(_NS + 'number')
        low, high = _number(number, where) if number and number.strip() else (None, None)
        refs, contacts = [], []
        for xref in rec.findall(_NS + 'xref'):
            if xref.get('type') == 'person':
                contacts.append(_ref(xref, people, footnotes))
            else:
                refs.append(_ref(xref, people, footnotes))
        assignee = [_ref(x, people, footnotes) for x in rec.findall(_NS + 'assignee/' + _NS + 'xref')]
        sc = rec.findtext(_NS + 'sc')
        records.append([
            name, proto, desc, low, high, _kind(name, desc), refs or None,
            _text(rec.find(_NS + 'note'), people, footnotes),
            _text(rec.find(_NS + 'unauthorized'), people, footnotes),
            assignee or None, contacts or None,
            rec.get('date'), rec.get('updated'), int(sc) if sc and sc.strip().isdigit() else None,
        ])
    return {
        'format': FORMAT,
        'source': {
            'title': (root.findtext(_NS + 'title') or '').strip(),
            'url': source_url,
            'updated': (root.findtext(_NS + 'updated') or '').strip(),
            'sha256': hashlib.sha256(xml_bytes).hexdigest(),
            'records': len(records),
            'licence': LICENCE,
        },
        'fields': list(FIELDS),
        'records': records,
    }


def _trim(row):
    """Drop trailing nulls (most records have no note, dates or code); the loader pads."""
    end = len(row)
    while end > 6 and row[end - 1] is None:
        end -= 1
    return row[:end]


def dumps(data):
    """One record per line: small diffs when IANA changes a few records."""
    head = {k: v for k, v in data.items() if k != 'records'}
    lines = [json.dumps(_trim(r), ensure_ascii=False, separators=(',', ':')) for r in data['records']]
    text = json.dumps(head, ensure_ascii=False, sort_keys=True, indent=1)
    return text[:-2] + ',\n "records": [\n' + ',\n'.join(lines) + '\n ]\n}\n'
