# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the listening_ports_info module exactly as ansible-core's own ``normal`` action does, collector paused.

The module's work happens on the host; what this adds is on the controller's
worker: building the module's AnsiballZ payload (ansible-core parses every
module_util the module imports into reference cycles) and decoding its
result (tens of thousands of records at 6,000 listeners) each pushed the
worker into cyclic garbage collections, a full one among them, that found
next to nothing to free. The worker is a forked process that ends with the
task, so the collector stays off for the task and is back on after it
(plugin_utils/_policy/gcpause). docs/performance.md has the numbers.
"""

from __future__ import annotations

from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import gcpause


class ActionModule(NormalAction):

    def run(self, tmp=None, task_vars=None):
        with gcpause.paused():
            return super().run(tmp, task_vars)
