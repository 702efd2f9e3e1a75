# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Install Ansible's collection finder before any test imports the collection.

Tests import ``ansible_collections.hostsec.ports`` and also load its plugins
through Ansible's plugin loader. Both must see the same package objects, so the
finder (rooted at the link the Makefile makes, .build/collections) is installed
here, at conftest import time, before the first ``ansible_collections`` import.
"""

from __future__ import annotations

import os

from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.build', 'collections')

if AnsibleCollectionConfig.collection_finder is None:
    init_plugin_loader([COLLECTIONS])
