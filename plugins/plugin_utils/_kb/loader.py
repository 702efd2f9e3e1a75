# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Load the KB from a data directory: ``iana.json`` plus every ``curated/*.yml``.

The loader checks only what it needs to build a working model (shapes, ids,
port specs) and raises :class:`KBError` naming the file, the entry and the
field. The full content rules (sources, confidence, references, minimums)
live in :mod:`.validate`, which maintainers run in ``make test``.
"""

from __future__ import annotations

import glob
import json
import os

import yaml

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.errors import KBError
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import KnowledgeBase
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import (
    PortSpecError, looks_like_port_spec, parse_port_spec,
)

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
SECTIONS = ('uses', 'security', 'profiles')
_YAML_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
_CACHE = {}


def read_curated(data_dir):
    """[(relative file name, parsed document)] for every curated YAML file, sorted by name."""
    docs = []
    for path in sorted(glob.glob(os.path.join(data_dir, 'curated', '*.yml'))):
        name = os.path.relpath(path, data_dir)
        try:
            with open(path, encoding='utf-8') as handle:
                doc = yaml.load(handle, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except (OSError, yaml.YAMLError) as exc:
            raise KBError('%s: cannot read: %s' % (name, exc))
        docs.append((name, doc if doc is not None else {}))
    return docs


def _spec(value, where):
    try:
        return str(parse_port_spec(value, where))
    except PortSpecError as exc:
        raise KBError(str(exc))


def normalise(docs):
    """Merge curated documents into (uses, security, profiles), port specs in canonical form."""
    merged = {s: [] for s in SECTIONS}
    for name, doc in docs:
        if not isinstance(doc, dict):
            raise KBError('%s: expected a mapping with %s, got %s' % (name, ', '.join(SECTIONS), type(doc).__name__))
        unknown = sorted(set(doc) - set(SECTIONS))
        if unknown:
            raise KBError('%s: unknown top-level key(s) %s (expected %s)' % (name, ', '.join(map(str, unknown)),
                                                                            ', '.join(SECTIONS)))
        for section in SECTIONS:
            items = doc.get(section) or []
            if not isinstance(items, list):
                raise KBError('%s: %s: expected a list, got %r' % (name, section, items))
            for pos, item in enumerate(items):
                key = 'name' if section == 'profiles' else 'id'
                ident = item.get(key) if isinstance(item, dict) else None
                where = '%s: %s[%d]%s' % (name, section, pos, ' (%s %s)' % (key, ident) if ident else '')
                if not isinstance(item, dict):
                    raise KBError('%s: expected a mapping, got %r' % (where, item))
                if not isinstance(ident, str) or not ident:
                    raise KBError('%s: %s: missing or not a string: %r' % (where, key, ident))
                entry = dict(item)
                entry['_where'] = where
                ports = entry.get('ports')
                if section != 'profiles':
                    if not isinstance(ports, list) or not ports:
                        raise KBError('%s: ports: expected a non-empty list of port specs, got %r' % (where, ports))
                    entry['ports'] = [_spec(p, '%s: ports[%d]' % (where, i)) for i, p in enumerate(ports)]
                    for field in ('related',):
                        vals = entry.get(field) or []
                        if not isinstance(vals, list):
                            raise KBError('%s: %s: expected a list, got %r' % (where, field, vals))
                        entry[field] = [_spec(v, '%s: %s[%d]' % (where, field, i)) for i, v in enumerate(vals)]
                    if entry.get('secure_alternative') is not None:
                        entry['secure_alternative'] = _spec(entry['secure_alternative'],
                                                            '%s: secure_alternative' % where)
                else:
                    for field in ('ports', 'optional', 'includes'):
                        vals = entry.get(field) or []
                        if not isinstance(vals, list):
                            raise KBError('%s: %s: expected a list, got %r' % (where, field, vals))
                        if field != 'includes':
                            vals = [_spec(v, '%s: %s[%d]' % (where, field, i)) if looks_like_port_spec(v) else v
                                    for i, v in enumerate(vals)]
                        entry[field] = vals
                merged[section].append(entry)
    return merged


def _public(entry):
    return {k: v for k, v in entry.items() if not k.startswith('_')}


def read_iana(data_dir):
    path = os.path.join(data_dir, 'iana.json')
    try:
        with open(path, 'rb') as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError) as exc:
        raise KBError('%s: cannot read the IANA data: %s' % (path, exc))
    if not isinstance(data, dict) or not isinstance(data.get('records'), list):
        raise KBError('%s: not an IANA data file (no records)' % path)
    return data


def load_kb(data_dir=None):
    """A fresh KnowledgeBase from ``data_dir`` (default: the shipped data)."""
    data_dir = data_dir or DATA_DIR
    merged = normalise(read_curated(data_dir))
    return KnowledgeBase(read_iana(data_dir),
                         uses=[_public(e) for e in merged['uses']],
                         security=[_public(e) for e in merged['security']],
                         profiles=[_public(e) for e in merged['profiles']],
                         data_dir=data_dir)


def get_kb(data_dir=None):
    """The KnowledgeBase of this process for ``data_dir``, loaded once."""
    key = os.path.abspath(data_dir or DATA_DIR)
    kb = _CACHE.get(key)
    if kb is None:
        kb = _CACHE[key] = load_kb(key)
    return kb
