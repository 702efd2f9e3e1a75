# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Let Ansible's plugin loader find hostsec.ports plugins inside pytest.

Pytest may already have imported ``ansible_collections`` as a plain namespace
package (through PYTHONPATH); the collection finder then sees no collection
metadata. Re-running the package imports through the finder fixes that while
keeping every already-imported submodule as it is.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 4), '.build', 'collections'))


@pytest.fixture(scope='session', autouse=True)
def collection_loader():
    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader([COLLECTIONS])
    for name in ('ansible_collections', 'ansible_collections.hostsec', 'ansible_collections.hostsec.ports'):
        if name in sys.modules and not hasattr(sys.modules[name], '_collection_meta'):
            importlib.reload(sys.modules[name])
