# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import subprocess
import sys

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import pages

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))


def test_one_page_per_curated_port_and_range(kb):
    files = pages.render(kb)
    assert sorted(files) == ['11500.md', '23.md', '3009.md', '3011.md', '6000-6003.md', 'README.md']
    assert '| [3011](3011.md) | tcp | tcp assigned | Citrix NetScaler ADC | plaintext |' in files['README.md']


def test_page_content(kb):
    page = pages.render(kb)['3011.md']
    assert page.startswith(pages.HEADER)
    for text in ('# Port 3011 (tcp)', 'registered range 1024\u201349151', '| tcp | assigned | trusted-web |',
                 '### Citrix NetScaler ADC', '- Plaintext: yes', '- Secure alternative: [3009/tcp](3009.md)',
                 '- Confidence: vendor-doc', '[Citrix CTX111081: ports used by Citrix ADC]'
                 '(https://support.citrix.com/article/CTX111081)', '## IANA and known uses disagree',
                 '- **plaintext** (medium): MEP on 3011', "ss -tlnp 'sport = :3011'", 'lsof -nP -i :3011',
                 'Get-NetTCPConnection -LocalPort 3011', 'Get-NetUDPEndpoint -LocalPort 3011',
                 'netstat -ano | findstr :3011', 'hostsec.ports.listening_ports_info',
                 "lookup('hostsec.ports.port_info', '3011/tcp')", '`citrix-gslb`, `citrix-ha`, `gslb-node`'):
        assert text in page, text
    nokia = pages.render(kb)['11500.md']
    assert 'No security note is recorded.' in nokia and 'disagree' not in nokia
    assert 'Nokia/Alcatel-Lucent 5620 SAM' in nokia and '(urn:hostsec-ports:seed:000)' in nokia


def test_tool_check_detects_stale_and_left_over_pages(kb_dir, tmp_path):
    out = tmp_path / 'pages'
    tool = [sys.executable, os.path.join(ROOT, 'tools', 'port_pages.py'), '--data-dir', str(kb_dir), '--out', str(out)]
    assert subprocess.run(tool + ['--check'], capture_output=True, text=True, check=False).returncode == 1
    assert subprocess.run(tool, capture_output=True, text=True, check=False).returncode == 0
    assert subprocess.run(tool + ['--check'], capture_output=True, text=True, check=False).returncode == 0
    (out / '3011.md').write_text('edited', encoding='utf-8')
    (out / '9999.md').write_text('old', encoding='utf-8')
    res = subprocess.run(tool + ['--check'], capture_output=True, text=True, check=False)
    assert res.returncode == 1 and '1 stale or missing, 1 left over' in res.stderr
    subprocess.run(tool, check=True, capture_output=True)
    assert not (out / '9999.md').exists()
