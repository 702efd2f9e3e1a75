# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
"""The port knowledge base (controller side only; it never travels to managed hosts).

    from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb, KBError
    kb = get_kb()
    kb.port(3011, 'tcp')        # the record for one port; rules in model.py
    kb.resolve('citrix-gslb')   # [PortSpec, ...]
    kb.explain(listener)        # plain sentence for a finding
"""

from __future__ import annotations

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.errors import KBError
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.loader import DATA_DIR, get_kb, load_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._kb.model import KnowledgeBase, SecurityFlags

__all__ = ('DATA_DIR', 'KBError', 'KnowledgeBase', 'SecurityFlags', 'get_kb', 'load_kb')
