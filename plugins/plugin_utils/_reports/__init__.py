# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""Host and fleet reports: pure functions from audit results to documents.

``build`` turns a port_audit result (plus what the role did about it) into a
host report and many host reports into a fleet report; ``render`` writes
those as text tables, JSON, JUnit XML and Markdown. Nothing here touches the
file system; the action plugin hostsec.ports.port_report writes the files.
"""
