# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Renderers in a forked process: real forks, real pipes, real signals; the texts never depend on the child."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import lanes

PARENT = os.getpid()


def _pid_text():
    return 'rendered by %d' % os.getpid()


def _children():
    """This process's children, zombies too (other tests in this worker may have left their own)."""
    found = set()
    for task in os.listdir('/proc/self/task'):
        with open('/proc/self/task/%s/children' % task) as handle:
            found.update(handle.read().split())
    return found


@pytest.fixture(autouse=True)
def no_child_left():
    before = _children()
    yield
    assert _children() <= before, 'a forked renderer was left running or unreaped'


def test_beside_runs_in_another_process_and_texts_come_back_whole():
    hostile = 'proc \udcff\udc80 <img src=x onerror=alert(1)> \x00\x1b[31m' * 20000  # bytes no UTF-8 holds, 1 MB+
    texts = lanes.render({'here': _pid_text}, {'beside': _pid_text, 'big': lambda: hostile}, fork=True)
    assert texts['here'] == 'rendered by %d' % PARENT
    assert texts['beside'] != texts['here'] and texts['beside'].startswith('rendered by ')
    assert texts['big'] == hostile


def test_without_fork_everything_is_rendered_here():
    texts = lanes.render({'here': _pid_text}, {'beside': _pid_text}, fork=False)
    assert texts == {'here': 'rendered by %d' % PARENT, 'beside': 'rendered by %d' % PARENT}


def test_a_renderer_failing_in_the_child_is_rendered_here_instead():
    def only_here():
        if os.getpid() != PARENT:
            raise RuntimeError('fails in the child only')
        return 'made here'
    assert lanes.render({}, {'x': only_here, 'y': _pid_text}, fork=True) == {
        'x': 'made here', 'y': 'rendered by %d' % PARENT}


def test_a_killed_child_costs_time_not_output():
    def killed_in_child():
        if os.getpid() != PARENT:
            os.kill(os.getpid(), signal.SIGKILL)
        return 'made here'
    assert lanes.render({'a': lambda: 'a'}, {'b': killed_in_child}, fork=True) == {'a': 'a', 'b': 'made here'}


def test_a_renderer_that_always_fails_raises_its_own_error_here():
    def broken():
        raise ValueError('bad value in the report')
    with pytest.raises(ValueError, match='bad value in the report'):
        lanes.render({'a': lambda: 'a'}, {'b': broken}, fork=True)


def test_an_error_here_stops_and_reaps_the_child():
    def slow():
        import time
        time.sleep(30)
        return 'late'

    def broken_here():
        raise KeyError('here')
    with pytest.raises(KeyError):
        lanes.render({'a': broken_here}, {'b': slow}, fork=True)


def test_forking_helps_only_with_a_second_cpu_and_one_thread(monkeypatch):
    monkeypatch.setattr(lanes, '_usable_cpus', lambda: 1)
    assert not lanes.forking_helps()
    monkeypatch.setattr(lanes, '_usable_cpus', lambda: 2)
    monkeypatch.setattr(lanes.threading, 'active_count', lambda: 2)
    assert not lanes.forking_helps()


def test_a_child_reaped_by_someone_else_is_rendered_here():
    # SIGCHLD ignored: the kernel reaps the child itself and waitpid finds none. Its exit status is unknown,
    # so its texts are not trusted and the task renders that share itself instead of failing.
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        texts = lanes.render({'here': _pid_text}, {'beside': _pid_text}, fork=True)
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert texts == {'here': 'rendered by %d' % PARENT, 'beside': 'rendered by %d' % PARENT}


def test_without_memfd_a_temporary_file_carries_the_texts(monkeypatch):
    def denied(*_args):
        raise PermissionError(1, 'memfd_create denied (seccomp)')
    monkeypatch.setattr(lanes.os, 'memfd_create', denied)
    texts = lanes.render({'here': _pid_text}, {'beside': _pid_text}, fork=True)
    assert texts['here'] == 'rendered by %d' % PARENT
    assert texts['beside'] != texts['here']  # still made in the child


def test_leaving_a_lane_uncollected_stops_its_child():
    def slow():
        import time
        time.sleep(30)
        return 'late'
    with lanes.Beside({'b': slow}, fork=True) as lane:
        assert lane.forked
    assert not lane.forked


# --- Ahead: the previous run read in a fresh interpreter (drift.read_ahead) -------------------------------------

def _fleet_file(tmp_path, hosts=None, name='fleet.json'):
    """A fleet.json above drift's read-ahead size, with host names and texts no UTF-8 holds."""
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
    listener = {'text': '0.0.0.0:80/tcp (ng\udcffinx)', 'owner': 'nginx.service', 'protocol': 'tcp',
                'address': '0.0.0.0', 'port': 80, 'exposure': 'wildcard', 'finding_ids': []}
    if hosts is None:
        hosts = [{'host': 'web\udcff%d' % i, 'audited': True, 'compliant': True, 'listeners': [listener],
                  'findings': [{'id': 'f', 'kind': 'unexpected', 'severity': 'high', 'where': 'w', 'status': 'x'}]}
                 for i in range(3)]
    doc = {'generated': 'then', 'provenance': {'pad': 'p' * drift.READ_AHEAD_BYTES}, 'policies': {}, 'hosts': hosts}
    path = tmp_path / name
    import json
    with open(path, 'w', encoding='utf-8', errors='surrogateescape') as handle:
        json.dump(doc, handle, ensure_ascii=False)
    return str(path)


def test_a_large_previous_run_is_read_in_another_interpreter_and_comes_back_whole(tmp_path):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
    path = _fleet_file(tmp_path, name='fleet \udcfe -x.json')  # a file name that is not UTF-8 and looks like an option
    with drift.read_ahead(path, 'previous run') as reader:
        assert reader.started
        child = reader._child.pid
        state = reader.result()
    assert child != PARENT and state == drift.read_previous(path, 'previous run')
    assert sorted(state['hosts']) == ['web\udcff0', 'web\udcff1', 'web\udcff2']


def test_a_small_or_missing_previous_run_is_read_here(tmp_path):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
    small = tmp_path / 'small.json'
    small.write_text('{"hosts": []}')
    with drift.read_ahead(str(small), 'baseline') as reader:
        assert not reader.started
        assert reader.result()['hosts'] == {}
    with drift.read_ahead(str(tmp_path / 'missing.json'), 'baseline') as reader:
        assert not reader.started
        with pytest.raises(drift.DriftError, match='baseline: cannot read'):
            reader.result()


def test_a_hostile_large_previous_run_fails_here_with_its_own_error(tmp_path):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
    path = _fleet_file(tmp_path, hosts=[{'host': 'a', 'audited': True, 'listeners': [['not', 'a', 'mapping']]}])
    with drift.read_ahead(path, 'baseline') as reader:
        assert reader.started
        with pytest.raises(drift.DriftError, match=r'hosts\[0\]\.listeners\[0\]'):
            reader.result()


def test_a_killed_reader_costs_time_not_the_baseline(tmp_path):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
    path = _fleet_file(tmp_path)
    with drift.read_ahead(path, 'previous run') as reader:
        os.kill(reader._child.pid, signal.SIGKILL)
        assert reader.result() == drift.read_previous(path, 'previous run')


def test_a_reader_reaped_by_someone_else_is_not_trusted(tmp_path):
    # With SIGCHLD ignored the exit status reads as 0 whatever happened: only a result whose length matches
    # what the child announced is taken, else it is read here.
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
    path = _fleet_file(tmp_path)
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        with drift.read_ahead(path, 'previous run') as reader:
            os.kill(reader._child.pid, signal.SIGKILL)
            state = reader.result()
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert state == drift.read_previous(path, 'previous run')


@pytest.fixture
def slow_module(tmp_path, monkeypatch):
    """A module whose function never ends by itself, laid out as Ahead finds modules: (name, function)."""
    import importlib
    package = tmp_path / 'ahead_slow_pkg'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'slow.py').write_text('import time\n\n\ndef wait(*_args):\n    time.sleep(120)\n    return 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module('ahead_slow_pkg.slow')
    yield 'ahead_slow_pkg.slow', 'wait'
    for name in ('ahead_slow_pkg.slow', 'ahead_slow_pkg'):
        sys.modules.pop(name, None)


def test_leaving_a_reader_unread_stops_it(slow_module):
    with lanes.Ahead(*slow_module, ()) as reader:
        assert reader.started
    assert not reader.started


def test_no_reader_beside_with_one_cpu(monkeypatch, tmp_path):
    from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import drift
    monkeypatch.setattr(lanes, '_usable_cpus', lambda: 1)
    with drift.read_ahead(_fleet_file(tmp_path), 'previous run') as reader:
        assert not reader.started and reader.result()['generated'] == 'then'


def test_an_interrupted_wait_for_the_reader_stops_it(slow_module):
    def interrupt(*_args):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with lanes.Ahead(*slow_module, ()) as reader:
            assert reader.started
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(KeyboardInterrupt):
                reader.result()
            assert not reader.started  # killed and reaped by result() itself, not only on leaving the block
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
