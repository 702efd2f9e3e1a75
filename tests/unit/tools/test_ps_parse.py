# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/ps_parse.py run as `make test-windows` runs it: a real process, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / 'tools' / 'ps_parse.py'

GOOD = """\
Function Get-Answer {
    param (
        [int]
        $Value = 42
    )

    if ($Value -gt 0) {
        [Ordered]@{ answer = $Value }
    }
}
"""

# An if block left open and a hashtable that never closes.
BROKEN = """\
$spec = @{
    options = @{ collector = @{ type = 'str' }
}
if ($true) {
    Write-Output 'never closed'
"""


def run(*paths):
    return subprocess.run([sys.executable, str(TOOL), *map(str, paths)],
                          capture_output=True, text=True, check=False, cwd=ROOT)


def test_valid_file_passes(tmp_path):
    good = tmp_path / 'good.ps1'
    good.write_text(GOOD)
    proc = run(good)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ''
    assert '1 file(s) checked, 0 with syntax errors' in proc.stderr


def test_broken_snippet_fails_with_file_line_col(tmp_path):
    (tmp_path / 'good.psm1').write_text(GOOD)
    broken = tmp_path / 'sub' / 'broken.ps1'
    broken.parent.mkdir()
    broken.write_text(BROKEN)
    (tmp_path / 'notes.txt').write_text('if ( {')  # not PowerShell: ignored
    proc = run(tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines, proc.stderr
    for line in lines:
        path, row, col, message = line.split(':', 3)
        assert path == str(broken)
        assert 1 <= int(row) <= BROKEN.count('\n') + 1 and int(col) >= 1
        assert message.strip().startswith(('missing', 'syntax error'))
    assert '2 file(s) checked, 1 with syntax errors' in proc.stderr


def test_missing_path_is_a_usage_error(tmp_path):
    proc = run(tmp_path / 'nope')
    assert proc.returncode == 2
    assert 'no such file or folder' in proc.stderr


def test_collection_powershell_parses():
    proc = run(ROOT / 'plugins', ROOT / 'tests' / 'windows', ROOT / 'tests' / 'integration' / 'targets' / 'win_listening_ports_info')
    assert proc.returncode == 0, proc.stdout
