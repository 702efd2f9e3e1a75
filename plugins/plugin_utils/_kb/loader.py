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
import hashlib
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


def _curated_files(data_dir):
    """[(relative name, bytes)] of every curated YAML file, sorted by name."""
    files = []
    for path in sorted(glob.glob(os.path.join(data_dir, 'curated', '*.yml'))):
        try:
            with open(path, 'rb') as handle:
                files.append((os.path.relpath(path, data_dir), handle.read()))
        except OSError as exc:
            raise KBError('%s: cannot read: %s' % (path, exc))
    return files


def curated_digest(files):
    digest = hashlib.sha256()
    for name, blob in files:
        digest.update(name.encode('utf-8') + b'\0' + blob + b'\0')
    return digest.hexdigest()


def parse_curated(files):
    docs = []
    for name, blob in files:
        try:
            doc = yaml.load(blob, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise KBError('%s: not valid YAML: %s' % (name, exc))
        docs.append((name, doc if doc is not None else {}))
    return docs


def compile_curated(data_dir):
    """Text of ``curated.json``: the parsed YAML plus the digest of the files it came from."""
    files = _curated_files(data_dir)
    docs = parse_curated(files)
    return json.dumps({'digest': curated_digest(files), 'files': docs}, ensure_ascii=False,
                      sort_keys=True, separators=(',', ':'), default=str) + '\n'


def read_curated(data_dir):
    """[(relative file name, parsed document)] for every curated YAML file, sorted by name.

    YAML parsing is the slow part of a cold load, so the parsed form ships as
    ``curated.json``; it is used only while its digest matches the YAML files,
    so an edited YAML file is never shadowed by a stale compiled copy.
    """
    files = _curated_files(data_dir)
    try:
        with open(os.path.join(data_dir, 'curated.json'), 'rb') as handle:
            compiled = json.loads(handle.read())
        if compiled.get('digest') == curated_digest(files):
            return [tuple(doc) for doc in compiled['files']]
    except (OSError, ValueError, AttributeError):
        pass
    return parse_curated(files)


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
            raise KBError('%s: unknown top-level key(s) %s (expected %s)'
                          % (name, ', '.join(map(str, unknown)), ', '.join(SECTIONS)))
        for section in SECTIONS:
            items = doc.get(section)
            if items is None:
                items = []
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
                    if isinstance(entry.get('plaintext'), list):
                        # per-port plaintext: the listed ports are plaintext, the use's other ports are not
                        entry['plaintext'] = [_spec(v, '%s: plaintext[%d]' % (where, i))
                                              for i, v in enumerate(entry['plaintext'])]
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
