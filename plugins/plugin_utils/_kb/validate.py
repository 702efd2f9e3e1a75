# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Content rules for the curated KB data (format: KBFORMAT in the developer docs).

:func:`validate` returns every problem found, each naming the file, the entry
and the field, so one run shows all that needs fixing. tools/kb_validate.py
is the command-line face of it.
"""

from __future__ import annotations

import os
import re

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import loader
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.errors import KBError
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import (
    CONFIDENCES, PREVALENCES, SECURITY_KINDS, SEVERITIES, KnowledgeBase, spec_covers, specs_overlap,
)
from ansible_collections.hostsec.ports.plugins.plugin_utils._portspec import looks_like_port_spec, parse_port_spec

MIN_ENTRIES = 150  # curated uses + security notes
MIN_PROFILES = 40
SLUG = re.compile(r'^[a-z0-9][a-z0-9-]*$')
URL = re.compile(r'^(https?://\S+|urn:\S+)$')
# Where a source lives decides which confidence it can carry. Community: anyone may write it.
# Third-party: standards bodies, registries, CERTs and vulnerability databases, scan-frequency
# publishers. Anything else is taken to be a vendor's own documentation.
COMMUNITY_HOSTS = ('wikipedia.org', 'speedguide.net', 'stackoverflow.com', 'serverfault.com', 'superuser.com',
                   'reddit.com', 'stackexchange.com')
COMMUNITY_URNS = ('urn:hostsec-ports:seed',)
THIRD_PARTY_HOSTS = ('rfc-editor.org', 'ietf.org', 'iana.org', 'nist.gov', 'cisa.gov', 'cert.org', 'cve.org',
                     'mitre.org', 'shadowserver.org', 'sans.edu', 'owasp.org', 'ncsc.gov.uk', 'bsi.bund.de',
                     'first.org', 'nmap.org', 'cert.europa.eu', 'us-cert.gov', 'kb.cert.org', 'iso.org',
                     'w3.org', 'ieee.org', 'itu.int', 'bbc.co.uk', 'attack.mitre.org', 'cisecurity.org')

FIELDS = {
    'uses': ({'id', 'ports', 'vendor', 'product', 'purpose', 'plaintext', 'sources', 'confidence'},
             {'secure_alternative', 'related', 'check', 'notes', 'prevalence'}),
    'security': ({'id', 'ports', 'kind', 'text', 'sources', 'confidence'},
                 {'severity', 'related'}),
    'profiles': ({'name', 'description', 'ports'},
                 {'optional', 'includes', 'sources', 'shadows_iana', 'deny_suggested'}),
}


def _text_ok(value):
    return isinstance(value, str) and value.strip() != ''


def _sources(entry, where, errors, required=True):
    sources = entry.get('sources')
    if sources is None and not required:
        return
    if not isinstance(sources, list) or not sources:
        errors.append('%s: sources: expected at least one {title, url}, got %r' % (where, sources))
        return
    for i, src in enumerate(sources):
        if not isinstance(src, dict):
            errors.append('%s: sources[%d]: expected a mapping with title and url, got %r' % (where, i, src))
            continue
        if not _text_ok(src.get('title')):
            errors.append('%s: sources[%d].title: missing or empty' % (where, i))
        if not isinstance(src.get('url'), str) or not URL.match(src['url']):
            errors.append('%s: sources[%d].url: %r is not an http(s) or urn: address' % (where, i, src.get('url')))


def source_class(url):
    """'community', 'third-party' or 'vendor' for a source address (see COMMUNITY_HOSTS)."""
    url = str(url or '').lower()
    if url.startswith(COMMUNITY_URNS):
        return 'community'
    host = re.sub(r'^[a-z]+://', '', url).split('/')[0].split(':')[0]

    def on(hosts):
        return any(host == h or host.endswith('.' + h) for h in hosts)
    if on(COMMUNITY_HOSTS):
        return 'community'
    if on(THIRD_PARTY_HOSTS) or url.startswith('urn:ietf:'):
        return 'third-party'
    return 'vendor'


def _confidence(entry, where, errors):
    """The confidence label must be one the sources can carry."""
    sources = [s for s in entry.get('sources') or () if isinstance(s, dict)]
    if not sources:
        return
    classes = {source_class(s.get('url')) for s in sources}
    conf = entry.get('confidence')
    if conf == 'third-party' and 'third-party' not in classes:
        errors.append('%s: confidence: third-party needs a standards, registry or CERT source; these are %s '
                      '(label vendor-doc for a vendor\'s own page, community otherwise)'
                      % (where, ', '.join(sorted(classes))))
    if conf == 'vendor-doc' and 'vendor' not in classes:
        errors.append('%s: confidence: vendor-doc needs a source on the vendor\'s own site; these are %s'
                      % (where, ', '.join(sorted(classes))))
    if entry.get('severity') in ('high', 'critical') and classes == {'community'}:
        errors.append('%s: sources: a %s note needs a vendor or third-party source, not community pages only'
                      % (where, entry['severity']))


def _plaintext(entry, where, errors):
    """Plaintext is per port: a list names the plaintext ports; a secure alternative is never itself."""
    plain = entry.get('plaintext')
    try:
        own = [parse_port_spec(p) for p in entry.get('ports') or ()]
        alt = parse_port_spec(entry['secure_alternative']) if entry.get('secure_alternative') else None
    except ValueError:
        return  # the loader reports broken specs
    if isinstance(plain, list):
        if not plain:
            errors.append('%s: plaintext: an empty list; use false when no port of the use is plaintext' % where)
        specs = []
        for i, text in enumerate(plain):
            spec = parse_port_spec(text)
            specs.append(spec)
            if not any(spec_covers(o, spec) for o in own):
                errors.append('%s: plaintext[%d]: %s is not one of the use\'s ports %s'
                              % (where, i, text, ', '.join(entry['ports'])))
        if alt is not None and any(specs_overlap(alt, s) for s in specs):
            errors.append('%s: secure_alternative: %s is listed as plaintext itself' % (where, entry['secure_alternative']))
    elif plain not in (True, False, None):
        errors.append('%s: plaintext: %r is not true, false, null or a list of the plaintext ports' % (where, plain))
    elif plain is True and alt is not None and any(specs_overlap(alt, o) for o in own):
        errors.append('%s: secure_alternative: %s is a port of this use, which says every port is plaintext; '
                      'list the plaintext ports instead (plaintext: [...])' % (where, entry['secure_alternative']))


def _fields(section, entry, where, errors):
    required, optional = FIELDS[section]
    for field in sorted(required - set(entry)):
        errors.append('%s: %s: missing' % (where, field))
    for field in sorted(set(entry) - required - optional - {'_where'}):
        errors.append('%s: %s: unknown field (expected %s)' % (where, field, ', '.join(sorted(required | optional))))


def _check_entry(section, entry, errors):
    where = entry['_where']
    _fields(section, entry, where, errors)
    if section == 'uses':
        for field in ('vendor', 'product', 'purpose'):
            if field in entry and not _text_ok(entry[field]):
                errors.append('%s: %s: expected non-empty text, got %r' % (where, field, entry[field]))
        _plaintext(entry, where, errors)
        if entry.get('prevalence') is not None and entry['prevalence'] not in PREVALENCES:
            errors.append('%s: prevalence: %r is not one of %s' % (where, entry['prevalence'], ', '.join(PREVALENCES)))
    else:
        if entry.get('kind') not in SECURITY_KINDS:
            errors.append('%s: kind: %r is not one of %s' % (where, entry.get('kind'), ', '.join(SECURITY_KINDS)))
        if 'text' in entry and not _text_ok(entry['text']):
            errors.append('%s: text: expected non-empty text, got %r' % (where, entry['text']))
        if entry.get('severity') is not None and entry['severity'] not in SEVERITIES:
            errors.append('%s: severity: %r is not one of %s' % (where, entry['severity'], ', '.join(SEVERITIES)))
    if entry.get('confidence') not in CONFIDENCES:
        errors.append('%s: confidence: %r is not one of %s' % (where, entry.get('confidence'), ', '.join(CONFIDENCES)))
    _sources(entry, where, errors)
    _confidence(entry, where, errors)


def _check_profile(entry, kb, errors):
    where = entry['_where']
    _fields('profiles', entry, where, errors)
    name = entry['name']
    if not SLUG.match(name):
        errors.append('%s: name: %r is not a lower-case slug (a-z, 0-9, -)' % (where, name))
    if 'description' in entry and not _text_ok(entry['description']):
        errors.append('%s: description: expected non-empty text' % where)
    _sources(entry, where, errors, required=False)
    for field in ('ports', 'optional'):
        for i, item in enumerate(entry.get(field) or ()):
            if looks_like_port_spec(item):
                continue  # the loader already parsed it
            if not isinstance(item, str):
                errors.append('%s: %s[%d]: %r is not a port spec or a name' % (where, field, i, item))
            elif item not in kb.profiles() and not kb.services(item):
                errors.append('%s: %s[%d]: %s' % (where, field, i, kb._unknown(item)))
    for i, inc in enumerate(entry.get('includes') or ()):
        if inc not in kb.profiles():
            errors.append('%s: includes[%d]: %s' % (where, i, kb._unknown(str(inc), 'profile')))
    if not (entry.get('ports') or entry.get('optional') or entry.get('includes')):
        errors.append('%s: ports: the profile allows nothing (no ports, optional or includes)' % where)
    try:
        expanded = kb.profile(name)
    except KBError as exc:
        errors.append('%s: %s' % (where, exc))
        return
    try:
        iana = kb.service_specs(name) if kb.services(name) else []
    except KBError:
        iana = []  # a DNS-SD-only name has no ports to contradict
    for i, text in enumerate(entry.get('deny_suggested') or ()):
        if not looks_like_port_spec(text):
            errors.append('%s: deny_suggested[%d]: %r is not a port spec' % (where, i, text))
    own = kb.resolve(name)
    if iana and sorted(set(iana)) != sorted(set(own)):
        # a profile wins over the IANA name (docker: the product, not IANA's 2375/tcp); that choice
        # must be deliberate and explained, and docs/knowledge-base.md lists every one
        if not _text_ok(entry.get('shadows_iana')):
            errors.append('%s: shadows_iana: %r is also the IANA service name for %s, which this profile '
                          'replaces with %s; say why in shadows_iana (listed in docs/knowledge-base.md)' % (
                              where, name, ', '.join(str(s) for s in iana[:4]),
                              ', '.join((expanded['ports'] + expanded['optional'])[:4])))
    elif entry.get('shadows_iana') is not None:
        errors.append('%s: shadows_iana: %r shadows no IANA service with other ports; drop the field' % (where, name))


def validate(data_dir=None, check_compiled=True):
    """Every problem in the curated data under ``data_dir`` as a list of messages (empty: valid)."""
    data_dir = data_dir or loader.DATA_DIR
    errors = []
    try:
        files = loader._curated_files(data_dir)
        merged = loader.normalise(loader.parse_curated(files))
        iana = loader.read_iana(data_dir)
    except KBError as exc:
        return [str(exc)]
    if not files:
        errors.append('%s: no curated *.yml files' % os.path.join(data_dir, 'curated'))
    seen = {}
    for section in ('uses', 'security'):
        for entry in merged[section]:
            _check_entry(section, entry, errors)
            if entry['id'] in seen:
                errors.append('%s: id: duplicate %r (first in %s)' % (entry['_where'], entry['id'], seen[entry['id']]))
            else:
                seen[entry['id']] = entry['_where']
    names = {}
    for entry in merged['profiles']:
        if entry['name'] in names:
            errors.append('%s: name: duplicate profile %r (first in %s)'
                          % (entry['_where'], entry['name'], names[entry['name']]))
        else:
            names[entry['name']] = entry['_where']
    public = {s: [{k: v for k, v in e.items() if k != '_where'} for e in merged[s]] for s in merged}
    kb = KnowledgeBase(iana, public['uses'], public['security'], public['profiles'], data_dir=data_dir)
    for entry in merged['profiles']:
        _check_profile(entry, kb, errors)
    count = len(merged['uses']) + len(merged['security'])
    if count < MIN_ENTRIES:
        errors.append('curated: %d uses + security entries, at least %d expected' % (count, MIN_ENTRIES))
    if len(names) < MIN_PROFILES:
        errors.append('curated: %d profiles, at least %d expected' % (len(names), MIN_PROFILES))
    if check_compiled and files:
        try:
            with open(os.path.join(data_dir, 'curated.json'), encoding='utf-8') as handle:
                fresh = handle.read() == loader.compile_curated(data_dir)
        except OSError:
            fresh = False
        if not fresh:
            errors.append('curated.json: missing or stale (it must match curated/*.yml); '
                          'run: python tools/kb_validate.py --compile')
    return errors


def frequent_ports(path, tcp=300, udp=100):
    """{'tcp': [...], 'udp': [...]}: the most often open ports by the open-frequency column of an
    nmap-services file (name, port/protocol, frequency). Only the ranking is read, as facts; the file
    itself is never shipped."""
    rows = []
    with open(path, encoding='utf-8', errors='replace') as handle:
        for line in handle:
            parts = line.split('\t')
            if line.startswith('#') or len(parts) < 3 or '/' not in parts[1]:
                continue
            port, dummy, proto = parts[1].partition('/')
            try:
                rows.append((-float(parts[2]), int(port), proto))
            except ValueError:
                continue
    rows.sort()
    return {'tcp': [p for f, p, pr in rows if pr == 'tcp'][:tcp], 'udp': [p for f, p, pr in rows if pr == 'udp'][:udp]}


def coverage(kb, frequent):
    """['N/proto', ...] of the frequent ports that have no curated use."""
    return ['%d/%s' % (port, proto) for proto in ('tcp', 'udp') for port in frequent.get(proto, ())
            if not kb.port(port, proto)['uses']]


def summary(data_dir=None):
    """Counts for the tool's success line."""
    merged = loader.normalise(loader.read_curated(data_dir or loader.DATA_DIR))
    return {s: len(v) for s, v in merged.items()}
