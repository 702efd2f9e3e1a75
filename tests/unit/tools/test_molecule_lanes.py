# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/molecule_lanes.py: every scenario in exactly one lane, lanes balanced; a failing lane fails the run."""

from __future__ import annotations

import importlib.util
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / 'tests' / 'molecule_lanes.py'
SPEC = importlib.util.spec_from_file_location('molecule_lanes', SCRIPT)
lanes = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(lanes)


def test_every_scenario_runs_once():
    names = lanes.scenarios()
    assert 'gather' in names and 'fleet' in names
    planned = lanes.plan(names, 2)
    assert sorted(n for lane in planned for n in lane) == sorted(names)
    loads = [sum(lanes.expected_seconds(n) for n in lane) for lane in planned]
    assert max(loads) - min(loads) <= max(lanes.LAST_SECONDS.values())


def test_unmeasured_scenario_is_planned_and_no_empty_lanes():
    assert lanes.plan(['new-one'], 3) == [['new-one']]
    with pytest.raises(ValueError, match='--lanes'):
        lanes.plan(['gather'], 0)


def test_a_failing_lane_fails_the_run(tmp_path):
    # A stand-in molecule: fails for the scenario named fleet, passes for the others.
    fake = tmp_path / 'molecule'
    fake.write_text('#!/bin/sh\necho "ran $*"\ncase "$*" in *fleet*) exit 3;; esac\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    run = subprocess.run([sys.executable, str(SCRIPT), '--molecule', str(fake), '--log-dir', str(tmp_path / 'logs')],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert 'molecule failed in lane' in run.stderr and 'fleet' in run.stderr and 'exit 3' in run.stderr
    assert run.stdout.count('ran test') == 2
