# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's actions run with the cyclic collector paused, and give it back as they found it.

The actions themselves run for real through ansible in the other tests here;
this checks only the pause around them: ansible-core's ``run`` of the parent
class is replaced by one that records the collector's state (or raises).
"""

from __future__ import annotations

import gc

import pytest

from ansible.plugins.action import ActionBase
from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.hostsec.ports.plugins.action.listening_ports_info import ActionModule as GatherAction
from ansible_collections.hostsec.ports.plugins.plugin_utils._action import GuardedAction


class _Recorder(GuardedAction):
    NAME = 'recorder'

    def validate_argument_spec(self, argument_spec=None, **_kwargs):
        return None, {}

    def _work(self, args, task_vars, result):
        result['collector_on'] = gc.isenabled()
        if task_vars.get('boom'):
            raise RuntimeError('boom')
        return result


@pytest.fixture
def parent_run(monkeypatch):
    def fake_run(self, tmp=None, task_vars=None):
        return {'collector_on_in_parent': gc.isenabled()}
    monkeypatch.setattr(ActionBase, 'run', fake_run)
    monkeypatch.setattr(NormalAction, 'run', fake_run)


@pytest.mark.parametrize('enabled_before', [True, False])
def test_guarded_action_pauses_and_restores(parent_run, enabled_before):
    action = object.__new__(_Recorder)
    (gc.enable if enabled_before else gc.disable)()
    try:
        result = action.run(task_vars={})
        assert result['collector_on'] is False
        assert gc.isenabled() is enabled_before
        # An internal error is a failed task, and the collector is still given back.
        result = action.run(task_vars={'boom': True})
        assert result['failed'] and 'internal error' in result['msg']
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()


def test_gather_action_pauses_and_restores(parent_run):
    action = object.__new__(GatherAction)
    assert gc.isenabled()
    assert action.run(task_vars={}) == {'collector_on_in_parent': False}
    assert gc.isenabled()


def test_gather_action_restores_after_an_exception(monkeypatch):
    def failing_run(self, tmp=None, task_vars=None):
        raise OSError('connection lost')
    monkeypatch.setattr(NormalAction, 'run', failing_run)
    with pytest.raises(OSError):
        object.__new__(GatherAction).run(task_vars={})
    assert gc.isenabled()
