# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Where a report's judgement came from: collection version and knowledge-base sources."""

from __future__ import annotations

import json
import os

import yaml

# plugins/plugin_utils/_reports -> collection root
COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))


def collection_version(root=COLLECTION_ROOT):
    """Version from the installed MANIFEST.json, else from galaxy.yml of a checkout; None when neither says."""
    try:
        with open(os.path.join(root, 'MANIFEST.json'), encoding='utf-8') as handle:
            return str(json.load(handle)['collection_info']['version'])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, 'galaxy.yml'), encoding='utf-8') as handle:
            return str(yaml.safe_load(handle)['version'])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def kb_sources(kb):
    """The knowledge base's sources as data and as one line of text."""
    if kb is None:
        return {'text': 'not loaded'}
    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import loader
    iana = dict(getattr(kb, 'source', None) or {})
    data_dir = getattr(kb, 'data_dir', None) or loader.DATA_DIR
    # The digest of the curated files says exactly which curated text judged the run.
    digest = loader.curated_digest(loader._curated_files(data_dir))[:12]  # pylint: disable=protected-access
    return {
        'iana_title': iana.get('title'), 'iana_updated': iana.get('updated'), 'iana_records': iana.get('records'),
        'curated_digest': digest, 'curated_entries': len(kb.uses) + len(kb.security),
        'text': '%s, updated %s (%s records); curated entries %d (digest %s)' % (
            iana.get('title') or 'IANA port registry', iana.get('updated') or 'undated', iana.get('records', '?'),
            len(kb.uses) + len(kb.security), digest),
    }


def provenance(kb, query=None):
    out = {'collection_version': collection_version(), 'kb': kb_sources(kb)}
    if query:
        out['query'] = query
    return out
