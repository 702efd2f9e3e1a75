# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A KB data directory built from the fixture registry XML and fixture curated YAML."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import iana, load_kb

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')


@pytest.fixture
def registry_xml():
    with open(os.path.join(FIXTURES, 'registry.xml'), 'rb') as handle:
        return handle.read()


@pytest.fixture
def kb_dir(tmp_path, registry_xml):
    (tmp_path / 'iana.json').write_text(iana.dumps(iana.convert(registry_xml)), encoding='utf-8')
    shutil.copytree(os.path.join(FIXTURES, 'curated'), tmp_path / 'curated')
    return tmp_path


@pytest.fixture
def kb(kb_dir):
    return load_kb(str(kb_dir))
