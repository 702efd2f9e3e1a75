# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Misspelt role variables are errors with the closest known name."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.hostsec.ports.plugins.plugin_utils._role_options import (
    hosts_left_errors, option_names, rollback_timing_errors, unknown_variables)

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


def test_option_names_read_the_roles_spec_as_ansible_does(known):
    with open(SPECS, 'rb') as handle:
        assert option_names(handle.read(), 'spec') == known


@pytest.mark.parametrize('text, error', [
    (b'argument_specs: {main: {options: {}}}', 'spec: argument_specs.main.options is not a mapping of option names'),
    (b'argument_specs: {other: {options: {a: {}}}}', 'spec: argument_specs.main.options is not a mapping'),
    (b'- just a list', 'spec: argument_specs.main.options is not a mapping'),
    (b'', 'spec: argument_specs.main.options is not a mapping'),
    (b'argument_specs: {main: [', 'spec: not valid YAML'),
    (b'a: !!python/object/apply:os.system [true]', 'spec: not valid YAML'),
])
def test_a_spec_without_options_is_an_error_never_an_empty_list(text, error):
    # An empty list of known names would call every variable unknown; a python tag is never run.
    with pytest.raises(ValueError, match='^' + error.replace('[', r'\[').replace('(', r'\(')):
        option_names(text, 'spec')


@pytest.mark.parametrize('confirm, rollback, ok', [
    (30, 120, True), (30, 30, True), (1, 1, True), (1, 604800, True), (30, 29, False), (2, 1, False)])
def test_rollback_timing(confirm, rollback, ok):
    errors = rollback_timing_errors(confirm, rollback)
    assert (errors == []) is ok
    if not ok:
        assert errors == ['port_policy_rollback_timeout=%d must be at least port_policy_confirm_timeout=%d (and that at '
                          'least 1), so the rollback cannot fire while the controller is still confirming the change'
                          % (rollback, confirm)]


@pytest.mark.parametrize('confirm, rollback, bad', [
    (0, 120, 'confirm_timeout=0'), (-5, -10, 'confirm_timeout=-5'), (1, True, 'rollback_timeout=True'),
    (True, 30, 'confirm_timeout=True'), (30, 10 ** 30, 'rollback_timeout=%d' % 10 ** 30), (30, 604801, 'rollback_timeout=604801'),
    ('30', 60, "confirm_timeout='30'")])
def test_timeouts_systemd_could_not_take_are_refused(confirm, rollback, bad):
    # True passes Ansible's int check and would reach systemd-run as --on-active=Trues.
    errors = rollback_timing_errors(confirm, rollback)
    assert any(e.startswith('port_policy_%s is not a number of seconds from 1 to 604800' % bad) for e in errors), errors


def test_hosts_that_left_the_play_are_named_in_play_order():
    assert hosts_left_errors(['a', 'b', 'c'], ['a', 'b', 'c']) == []
    assert hosts_left_errors([], []) == [] and hosts_left_errors(None, None) == []
    [error] = hosts_left_errors(['web/1', 'db', '<b>x</b>', 'a'], ['a', 'db'])
    assert error.startswith("web/1, <b>x</b> left the play before the role's validation finished: the options of each "
                            "failed the role's argument spec check, or an earlier task")


def test_hosts_that_passed_before_leaving_do_not_stop_the_others():
    # 'a' failed a later task (findings at a fail_on severity) in an earlier serial batch; 'b' never got here.
    assert hosts_left_errors(['a', 'b', 'c'], ['c'], passed_before={'a', 'b'}) == []
    [error] = hosts_left_errors(['a', 'b', 'c'], ['c'], passed_before={'a'})
    assert error.startswith("b left the play before the role's validation finished")
