# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Report work on two CPUs: some jobs in a forked process, the rest here.

At 1,000 hosts the fleet's renderers are each a fraction of a second of pure
Python over the same finished documents (fleet.json in one, fleet.html and
the Markdown in others), and nothing they do depends on each other. A
forked child sees the process as it is (copy-on-write), does its jobs and
leaves their results in an anonymous in-memory file; the parent does the rest
meanwhile. The child exits as soon as it is done, so the parent stops paying
copy-on-write faults for the pages they shared. Nothing is written to disk by
the child: the caller still writes every file itself, after every text exists.

The result never depends on the child. If the child cannot be started, dies,
or a job fails in it, the parent does that job itself, so a job's own error
is raised here with its own traceback, and a killed child costs time, not
output. Forking is used only where it is safe and helps: Linux, more than
one CPU available, and a single-threaded process (forking a process with
other threads can leave the child holding a lock no thread will release).

``Ahead`` runs a read that needs nothing of this process (the previous
fleet.json) in a fresh interpreter instead, while this process builds the
reports: nothing shared, so no copy-on-write faults, and the same rule, the
result never depends on the child.
"""

from __future__ import annotations

import marshal
import os
import pickle
import signal
import subprocess
import sys
import tempfile
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


def _child(jobs, fd):
    status = 1
    try:
        payload = pickle.dumps(_render(jobs), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        status = 0
    except BaseException:  # pylint: disable=broad-except
        pass  # the parent does this share itself and raises the job's error with its traceback
    finally:
        os._exit(status)  # never the parent's atexit handlers, buffered output or Ansible's queues


def _scratch_file():
    """A file descriptor for the child's results: in memory where the kernel offers it, else an unlinked temporary file."""
    if hasattr(os, 'memfd_create'):
        try:
            return os.memfd_create('hostsec-ports-lane', os.MFD_CLOEXEC)
        except OSError:
            pass  # seccomp or an old kernel: a temporary file does the same
    with tempfile.TemporaryFile() as handle:
        return os.dup(handle.fileno())


def _read_all(fd):
    # The child wrote through the same open file, so the offset is at its end.
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def _exit_status(pid):
    """The child's wait status, reaping it; None when someone else reaped it (SIGCHLD ignored, a reaper thread)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _results(status, payload):
    """The child's results, or None unless it exited 0 and left a whole {name: result}.

    An unknown status is not trusted: a child killed mid-write cannot be told from one that finished.
    """
    if status is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        results = pickle.loads(payload)
    except Exception:  # pylint: disable=broad-except
        return None
    return results if isinstance(results, dict) else None


def _stop(pid):
    """Kill and reap the child; called only before it was reaped, while the pid is still ours."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


class Beside:
    """Jobs ({name: zero-argument callable}) started in a forked process; ``collect()`` returns their results.

    Use it as a context manager: leaving the block without collecting (an
    error in the work done meanwhile) kills and reaps the child. Without a
    fork (``fork`` false, default ``forking_helps()``), or when the child
    cannot start, the jobs run in ``collect()``.
    """

    def __init__(self, jobs, fork=None):
        self._jobs = dict(jobs)
        self._pid = self._fd = None
        if self._jobs and (forking_helps() if fork is None else fork):
            self._start()

    def _start(self):
        try:
            fd = _scratch_file()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:
            os.close(fd)
            return
        if pid == 0:  # pragma: no cover - the child leaves through os._exit, coverage never sees it return
            try:
                _child(self._jobs, fd)
            finally:
                os._exit(1)  # only reached by an interrupt before _child's own try: never unwind the parent's stack
        self._pid, self._fd = pid, fd

    @property
    def forked(self):
        return self._pid is not None

    def collect(self):
        """{name: result} of every job: the child's, or made here when the child did not give them whole."""
        pid, fd = self._pid, self._fd
        self._pid = self._fd = None
        if pid is None:
            return _render(self._jobs)
        try:
            status = _exit_status(pid)
        except BaseException:
            # Not reaped (interrupted while waiting): the pid is still ours to signal.
            os.close(fd)
            _stop(pid)
            raise
        try:
            payload = _read_all(fd)
        finally:
            os.close(fd)
        done = _results(status, payload)
        if done is None or set(done) != set(self._jobs):
            done = _render(self._jobs)
        return done

    def cancel(self):
        """Stop the child, if it still runs; nothing is collected."""
        pid, fd = self._pid, self._fd
        self._pid = self._fd = None
        if pid is not None:
            os.close(fd)
            _stop(pid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False


def render(here, beside, fork=None):
    """{name: text} of every renderer in ``here`` and ``beside`` (each {name: zero-argument callable}).

    ``beside`` runs in a forked process when ``fork`` (default:
    ``forking_helps()``) allows; otherwise, or when the child fails, here.
    """
    with Beside(beside, fork=fork) as lane:
        texts = _render(here)
        texts.update(lane.collect())
    return texts


# A fresh interpreter's whole program: put the collection's root first on its path, pause the collector (its
# result is a tree, as in build.bulk), call the function, write the length of its marshalled result and the
# result to stdout, and leave without tearing down what it built. Any failure is exit status 1 and no result:
# the parent then calls the function itself and raises its error with its own traceback.
_AHEAD_PROGRAM = '''
import gc, importlib, marshal, os, sys
gc.disable()
status = 1
try:
    sys.path.insert(0, sys.argv[1])
    function = getattr(importlib.import_module(sys.argv[2]), sys.argv[3])
    data = marshal.dumps(function(*sys.argv[4:]))
    view = memoryview(len(data).to_bytes(8, 'big') + data)
    while view:
        view = view[os.write(1, view):]
    status = 0
finally:
    os._exit(status)
'''


def _collection_root(module):
    """The directory that holds ``ansible_collections`` for ``module``, or None when it is not laid out so."""
    here = os.path.abspath(sys.modules[module].__file__)
    parts = module.split('.')
    root = here
    for _part in parts:
        root = os.path.dirname(root)
    return root if os.path.relpath(here, root) == os.path.join(*parts) + '.py' else None


class Ahead:
    """``function(*args)`` of ``module`` run in a fresh interpreter while this process does other work.

    For a read that does not need this process's state (the previous
    fleet.json, 25 MB at 1,000 hosts): a fork would share this process's
    pages, and every reference count this process then changes on them costs
    a copy-on-write fault, which ate what a forked reader saved
    (docs/reports.md). A new interpreter shares nothing. Its result must be
    plain data (``marshal``: dicts, lists, tuples, text, numbers, None),
    passed back through a pipe; ``args`` are text. ``result()`` returns it,
    or calls the function here when the child could not give it whole (not
    started, failed, killed), so an error is always this process's own.
    ``start`` false (one CPU, a small input) calls it here, in ``result()``.
    """

    def __init__(self, module, function, args, start=True):
        self._call = (module, function, tuple(args))
        self._child = None
        if start and self.possible():
            self._spawn()

    @staticmethod
    def possible():
        """True when a child can run beside this process: an interpreter to start and a second CPU."""
        return bool(sys.executable) and _usable_cpus() > 1

    def _spawn(self):
        module, function, args = self._call
        root = _collection_root(module)
        if root is None:
            return
        try:
            # -I: no PYTHON* variables, no user site, not the working directory on the path.
            self._child = subprocess.Popen([sys.executable, '-I', '-c', _AHEAD_PROGRAM, root, module, function] + list(args),
                                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                           close_fds=True)
        except (OSError, ValueError):
            self._child = None

    @property
    def started(self):
        return self._child is not None

    def result(self):
        child, self._child = self._child, None
        module, function, args = self._call
        if child is not None:
            try:
                payload = child.stdout.read()
            except BaseException:
                # Interrupted while waiting for it: never wait on a child that may not end by itself.
                self._child = child
                self.cancel()
                raise
            child.stdout.close()
            status = child.wait()
            # Whole only when it exited 0 and the length it wrote first matches (an unknown exit status, with
            # SIGCHLD ignored, reads as 0).
            if status == 0 and len(payload) >= 8 and int.from_bytes(payload[:8], 'big') == len(payload) - 8:
                try:
                    return marshal.loads(memoryview(payload)[8:])
                except (EOFError, ValueError, TypeError):
                    pass  # made here below
        return getattr(sys.modules[module], function)(*args)

    def cancel(self):
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.stdout.close()
            child.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False
