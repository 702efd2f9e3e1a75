# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import pages
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import explain_record

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))


def test_one_page_per_curated_port_and_range(kb):
    files = pages.render(kb)
    assert sorted(files) == ['11500.md', '23.md', '3009.md', '3011.md', '6000-6003.md', 'README.md']
    assert '| [3011](3011.md) | tcp | tcp assigned | Citrix NetScaler ADC | plaintext |' in files['README.md']


def test_page_content(kb):
    page = pages.render(kb)['3011.md']
    assert page.startswith(pages.HEADER)
    for text in ('# Port 3011 (tcp)', 'registered range 1024\u201349151', '| tcp | assigned | 3011 | trusted-web |',
                 '### Citrix NetScaler ADC', '- Plaintext: yes', '- Secure alternative: [3009/tcp](3009.md)',
                 '- Confidence: vendor-doc', '[Citrix CTX111081: ports used by Citrix ADC]'
                 '(https://support.citrix.com/article/CTX111081)', '## IANA and known uses disagree',
                 '- **plaintext** (medium): MEP on 3011', "sudo ss -tlnp 'sport = :3011'", 'sudo lsof -nP -i :3011',
                 'Get-NetTCPConnection -LocalPort 3011', 'Get-NetUDPEndpoint -LocalPort 3011',
                 'netstat -abno | findstr :3011', 'hostsec.ports.listening_ports_info',
                 "lookup('hostsec.ports.port_info', '3011/tcp')", '`citrix-gslb`, `citrix-ha`, `gslb-node`'):
        assert text in page, text
    nokia = pages.render(kb)['11500.md']
    assert 'No security note is recorded.' in nokia and 'disagree' not in nokia
    assert 'Nokia/Alcatel-Lucent 5620 SAM' in nokia and '(urn:hostsec-ports:seed:000)' in nokia


def test_tool_check_detects_stale_and_left_over_pages(kb_dir, tmp_path):
    out = tmp_path / 'pages'
    tool = [sys.executable, os.path.join(ROOT, 'tools', 'port_pages.py'), '--data-dir', str(kb_dir), '--out', str(out),
            '--kb-doc', '']
    assert subprocess.run(tool + ['--check'], capture_output=True, text=True, check=False).returncode == 1
    assert subprocess.run(tool, capture_output=True, text=True, check=False).returncode == 0
    assert subprocess.run(tool + ['--check'], capture_output=True, text=True, check=False).returncode == 0
    (out / '3011.md').write_text('edited', encoding='utf-8')
    (out / '9999.md').write_text('old', encoding='utf-8')
    res = subprocess.run(tool + ['--check'], capture_output=True, text=True, check=False)
    assert res.returncode == 1 and '1 stale or missing, 1 left over' in res.stderr
    subprocess.run(tool, check=True, capture_output=True)
    assert not (out / '9999.md').exists()


def test_pages_explain_the_range_rank_the_candidates_and_show_the_iana_block(kb):
    rendered = pages.render(kb)
    nokia = rendered['11500.md']
    assert '**registered (user) ports**' in nokia
    assert 'it lies in the unassigned block 11490\u201311599' in nokia
    ranked = nokia.split('## If you see this port listening')[1].split('##')[0]
    assert '1. Also seen (11500/tcp): Nokia/Alcatel-Lucent 5620 SAM' in ranked
    assert '2. Unexplained (11500/tcp):' in ranked
    citrix = rendered['3011.md']
    assert '**registered (user) ports**' in citrix and 'Registered (3011/tcp): IANA assigns it to trusted-web (Trusted Web).' in citrix
    # the related-ports table says what each related port is for
    assert '| [3009/tcp](3009.md) | Citrix NetScaler ADC: Secure GSLB metric exchange over TLS |' in citrix
    assert "sudo ansible localhost -m hostsec.ports.listening_ports_info" in citrix and "'\"port\": 3011,'" in citrix


def test_page_lead_never_cuts_a_sentence(kb):
    long_purpose = 'word ' * 60
    use = dict(kb.uses[0], purpose=long_purpose.strip() + '.')
    rec = dict(kb.port(3011, 'tcp'), uses=[use])
    assert '\u2026' in explain_record(rec)
    assert '\u2026' not in explain_record(rec, full=True)


def test_shadowing_table_is_generated_from_the_data(kb):
    doc = 'intro\n%s\nold\n%s\nafter\n' % (pages.SHADOW_BEGIN, pages.SHADOW_END)
    fresh = pages.with_shadowing_table(doc, kb)
    assert fresh.startswith('intro\n') and fresh.endswith('after\n') and 'old' not in fresh
    assert '| `ssh` | 22/sctp, 22/tcp, 22/udp | 22/tcp | IANA also lists udp and sctp' in fresh
    with pytest.raises(ValueError, match='markers are missing'):
        pages.with_shadowing_table('no markers', kb)
