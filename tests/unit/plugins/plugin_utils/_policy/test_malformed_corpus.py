# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The malformed-policy corpus: every case fails validation, and the message names the field."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.hostsec.ports.plugins.plugin_utils._kb import get_kb
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.errors import PolicyError
from ansible_collections.hostsec.ports.plugins.plugin_utils._policy.layering import build_policy

CORPUS = os.path.join(os.path.dirname(__file__), 'fixtures', 'malformed_policies.yml')
with open(CORPUS, encoding='utf-8') as _handle:
    CASES = yaml.safe_load(_handle)['cases']


def test_corpus_is_large_and_ids_are_unique():
    assert len(CASES) >= 80
    assert len({c['id'] for c in CASES}) == len(CASES)


@pytest.mark.parametrize('case', CASES, ids=[c['id'] for c in CASES])
def test_malformed_policy_fails_naming_the_field(case):
    with pytest.raises(PolicyError) as info:
        build_policy(policy=case['policy'], kb=get_kb())
    message = str(info.value)
    assert len(info.value.errors) == 1, message
    field = case['field']
    # the field is named as a field: at the start of a clause, followed by ':' (or ' (' for layer origins)
    assert re.search(r'(^|: |\(|\s)%s(:| \(|:? )' % re.escape(field), message), message
    lists = [k for k in ('allow', 'deny', 'require') if k in case['policy']]
    if lists and isinstance(case['policy'][lists[0]], list):
        assert message.startswith('%s[0] ' % lists[0]) and '(task): ' in message, message
