# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The one error type of the knowledge base."""

from __future__ import annotations


class KBError(ValueError):
    """Bad input to the KB or bad KB data; the message names the field and the value."""
