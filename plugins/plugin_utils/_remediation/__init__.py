# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Remediation: the one place that decides what happens to each finding.

``protect`` derives the protected set (management path and user specs) as
data; ``planner`` turns findings into a plan that port_audit returns and that
the role, the reports and the Windows tasks only read.
"""
