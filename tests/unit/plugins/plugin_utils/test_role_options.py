# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Misspelt role variables are errors with the closest known name."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.hostsec.ports.plugins.plugin_utils._role_options import unknown_variables

SPECS = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'port_policy', 'meta',
                     'argument_specs.yml')


@pytest.fixture(scope='module')
def known():
    with open(SPECS, encoding='utf-8') as handle:
        return list(yaml.safe_load(handle)['argument_specs']['main']['options'])


@pytest.mark.parametrize('name, closest', [
    ('port_policy_alow', 'port_policy_allow'),
    ('port_policy_backend', 'port_policy_firewall_backend'),
    ('port_policy_alow__web', 'port_policy_allow__web'),
    ('port_policy_allow_web', 'port_policy_allow__web'),
    ('port_policy_mdoe', 'port_policy_mode'),
    ('port_policy_protect_port', 'port_policy_protect_ports'),
])
def test_misspelt_names_fail_with_the_closest_name(known, name, closest):
    [error] = unknown_variables([name, 'port_policy_mode', 'other_var'], known)
    assert error.startswith('variable %s is not an option of the role (did you mean %s?)' % (name, closest))


def test_known_names_and_layers_pass(known):
    names = list(known) + ['port_policy_allow__base', 'port_policy_deny__all', 'port_policy_settings__web',
                           'port_policy_require__db', '__port_policy_plan', 'ansible_port', 'port_policy']
    assert unknown_variables(names, known) == []


def test_other_prefix():
    assert unknown_variables(['acme_allow__x', 'acme_alow'], [], prefix='acme') == [
        'variable acme_alow is not an option of the role (did you mean acme_allow?); options are listed in the '
        'role README, layered policy variables are acme_{allow,deny,require,settings}__<suffix>']
