# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Render report files on two CPUs: some renderers in a forked process, the rest here.

At 1,000 hosts the fleet's renderers are each a fraction of a second of pure
Python over the same finished documents (fleet.json in one, fleet.html and
the Markdown in others), and nothing they do depends on each other. A forked
child sees the documents as they are (copy-on-write), renders its share and
sends the texts back through a pipe; the parent renders the rest meanwhile.
Nothing is written by the child: the caller still writes every file itself,
after every text exists.

The result never depends on the child. If the child cannot be started, dies,
or a renderer fails in it, the parent renders that share itself, so a
renderer's own error is raised here with its own traceback, and a killed
child costs time, not output. Forking is used only where it is safe and
helps: Linux, more than one CPU available, and a single-threaded process
(forking a process with other threads can leave the child holding a lock
no thread will release).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def forking_helps():
    """True when a forked renderer can run beside this process (see the module docstring)."""
    return (sys.platform.startswith('linux') and hasattr(os, 'fork') and _usable_cpus() > 1
            and threading.active_count() == 1)


def _render(jobs):
    return {name: make() for name, make in jobs.items()}


def _both(here, beside):
    texts = _render(here)
    texts.update(_render(beside))
    return texts


def _child(jobs, write_fd):
    status = 1
    try:
        payload = pickle.dumps(_render(jobs), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view):]
        status = 0
    except BaseException:  # pylint: disable=broad-except
        pass  # the parent renders this share itself and raises the renderer's error with its traceback
    finally:
        os._exit(status)  # never the parent's atexit handlers, buffered output or Ansible's queues


def _read_all(pipe):
    chunks = []
    while True:
        chunk = pipe.read(1 << 20)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def _exit_status(pid):
    """The child's wait status, reaping it; None when someone else reaped it (SIGCHLD ignored, a reaper thread)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _texts(status, payload):
    """The child's texts, or None unless it exited 0 and sent a whole {name: text}.

    An unknown status is not trusted: a child killed mid-write cannot be told from one that finished.
    """
    if status is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        texts = pickle.loads(payload)
    except Exception:  # pylint: disable=broad-except
        return None
    return texts if isinstance(texts, dict) else None


def _stop(pid):
    """Kill and reap the child; called only before it was reaped, while the pid is still ours."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def render(here, beside, fork=None):
    """{name: text} of every renderer in ``here`` and ``beside`` (each {name: zero-argument callable}).

    ``beside`` runs in a forked process when ``fork`` (default:
    ``forking_helps()``) allows; otherwise, or when the child fails, here.
    """
    if fork is None:
        fork = forking_helps()
    if not beside or not fork:
        return _both(here, beside)
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return _both(here, beside)
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return _both(here, beside)
    if pid == 0:  # pragma: no cover - the child leaves through os._exit, coverage never sees it return
        try:
            os.close(read_fd)
            _child(beside, write_fd)
        finally:
            os._exit(1)  # only reached by an interrupt before _child's own try: never unwind the parent's stack
    pipe = None
    try:
        os.close(write_fd)
        pipe = os.fdopen(read_fd, 'rb')
        texts = _render(here)
        payload = _read_all(pipe)
        # Last in this block: once the child is reaped its pid may be another process's, never to be signalled.
        status = _exit_status(pid)
    except BaseException:
        if pipe is None:
            os.close(read_fd)
        _stop(pid)
        raise
    finally:
        if pipe is not None:
            pipe.close()
    done = _texts(status, payload)
    if done is None or set(done) != set(beside):
        done = _render(beside)
    texts.update(done)
    return texts
