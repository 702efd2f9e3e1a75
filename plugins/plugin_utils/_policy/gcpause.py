# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Pause Python's cyclic garbage collector while a policy is compiled and indexed (and reports are built).

Compiling allocates many small objects that all stay alive (rules, specs,
index buckets), so every collection pass walks a growing heap and finds
nothing to free: at 10,000 rules that made compile time grow faster than the
rule count. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused():
    """Collector off inside the block, back to its earlier state after it (also on an exception)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
