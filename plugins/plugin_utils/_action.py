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
"""

from __future__ import annotations

import traceback

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class GuardedAction(ActionBase):
    """Subclasses set NAME, ARGUMENT_SPEC and INPUT_ERRORS and implement ``_work(args, task_vars, result)``."""

    NAME = ''
    ARGUMENT_SPEC = {}
    INPUT_ERRORS = ()
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result['changed'] = False
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            return self._work(args, task_vars, result)
        except tuple(self.INPUT_ERRORS) + (ValueError,) as exc:
            result.update(failed=True, msg='%s: %s' % (self.NAME, exc))
            return result
        except AnsibleActionFail:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            result.update(failed=True, msg='%s: internal error: %s: %s' % (self.NAME, type(exc).__name__, exc),
                          exception=traceback.format_exc())
            return result

    def _work(self, args, task_vars, result):
        raise NotImplementedError
