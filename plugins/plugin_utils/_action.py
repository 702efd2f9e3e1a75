# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The run() skeleton every action plugin of the collection shares.

Bad input (the plugin's own error types, and ValueError, which every parser
here raises) becomes ``failed`` with a message that names the field. Anything
else is a bug: it still fails the task, never silently passes it, and never
hands the user a bare traceback (``-vvv`` shows it through ``exception``).
A connection failure is left to Ansible, which marks the host unreachable.

The cyclic garbage collector is paused for the task (gcpause): the worker is
a forked process that ends with the task, and loading the knowledge base,
building the module payload and judging thousands of listeners otherwise
cost it a full collection and a dozen partial ones that free next to
nothing (about 0.13 s of a 1.1 s port_audit at 3,000 listeners).
"""

from __future__ import annotations

import traceback

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

from ansible_collections.hostsec.ports.plugins.plugin_utils._policy import gcpause


class GuardedAction(ActionBase):
    """Subclasses set NAME, ARGUMENT_SPEC and INPUT_ERRORS and implement ``_work(args, task_vars, result)``."""

    NAME = ''
    ARGUMENT_SPEC = {}
    INPUT_ERRORS = ()
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        with gcpause.paused():
            return self._guarded_run(tmp, task_vars)

    def _guarded_run(self, tmp, task_vars):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result['changed'] = False
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            return self._work(args, task_vars, result)
        except tuple(self.INPUT_ERRORS) + (ValueError,) as exc:
            result.update(failed=True, msg='%s: %s' % (self.NAME, exc))
            return result
        except (AnsibleActionFail, AnsibleConnectionFailure):
            # A host that cannot be reached is UNREACHABLE to Ansible (ignore_unreachable, the recap's
            # count, the retry file), not a failed task blaming an internal error.
            raise
        except Exception as exc:  # pylint: disable=broad-except
            result.update(failed=True, msg='%s: internal error: %s: %s' % (self.NAME, type(exc).__name__, exc),
                          exception=traceback.format_exc())
            return result

    def _work(self, args, task_vars, result):
        raise NotImplementedError
