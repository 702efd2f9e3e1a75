# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Errors of the policy engine; every message names the rule, the field and the value."""

from __future__ import annotations


class PolicyError(ValueError):
    """One or more policy errors; ``errors`` holds every message, ``str()`` joins them."""

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = [errors]
        self.errors = list(errors)
        super().__init__('; '.join(self.errors))

    def __str__(self):
        if len(self.errors) == 1:
            return self.errors[0]
        return 'policy has %d errors:\n  - %s' % (len(self.errors), '\n  - '.join(self.errors))


class KBEvaluationError(PolicyError):
    """The knowledge base raised while judging a listener: the audit fails closed (see kb_errors)."""
