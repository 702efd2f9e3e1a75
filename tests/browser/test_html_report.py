# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.html in a real browser: Debian's chromium, headless, driven by Playwright.

The report is generated from the recorded port_audit result with hostile
process names; the page is opened from disk exactly as a user would. A
screenshot is kept in .build/test-artifacts/ for people to look at.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.hostsec.ports.plugins.plugin_utils._reports import build, drift, html

playwright = pytest.importorskip('playwright.sync_api', reason='playwright is in requirements/dev.txt (make venv)')

CHROMIUM = '/usr/bin/chromium'
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ARTIFACTS = os.path.join(ROOT, '.build', 'test-artifacts')
FIXTURE = os.path.join(ROOT, 'tests', 'unit', 'plugins', 'plugin_utils', '_reports', 'fixtures', 'port_audit_result.json')
XSS = '<img src=x onerror=alert(1)>'
HOSTILE = [XSS, '</script><script>alert(2)</script>', '<!--', '" onmouseover="alert(3)', 'evil\u2028line\u202ertl']


def _audit(names):
    with open(FIXTURE, encoding='utf-8') as handle:
        audit = json.load(handle)
    audit = copy.deepcopy(audit)
    for finding in audit['findings']:
        lst = finding.get('listener')
        if lst and lst['port'] == 8081:
            lst['processes'][0]['name'] = names[0]
            lst['processes'][0]['cmdline'] = ' '.join(names) + ' ' + 'A' * 4096
    for lst in audit['listeners']:
        if lst['port'] == 8081:
            lst['processes'][0]['name'] = names[0]
            lst['processes'][0]['cmdline'] = ' '.join(names) + ' ' + 'A' * 4096
    return audit


@pytest.fixture(scope='module')
def report_file(tmp_path_factory):
    audit = _audit(HOSTILE)
    clean = {'findings': [], 'listeners': audit['listeners'][:1], 'summary': {'passed': True, 'listeners': 1}}
    reports = [build.host_report('web1', audit, groups=['web']),
               build.host_report(XSS + '.example', audit, groups=['web']),
               build.host_report('db1', clean, groups=['db']),
               build.host_report('gone1', {'msg': 'unreachable'}, groups=['db'])]
    fleet = build.fleet_report(reports, generated='2026-06-01T00:00:00+00:00',
                               provenance={'collection_version': '0.1.0', 'kb': {'text': 'test KB'}})
    fleet['drift'] = drift.drift(None, fleet)
    path = tmp_path_factory.mktemp('html') / 'fleet.html'
    path.write_text(html.html(fleet), encoding='utf-8')
    return path, fleet


@pytest.fixture(scope='module')
def page(report_file):
    if not os.path.exists(CHROMIUM):
        pytest.fail('%s is missing: `make sysdeps` installs Debian\'s chromium' % CHROMIUM)
    events = {'dialogs': [], 'console': [], 'errors': []}
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        pg = browser.new_page(viewport={'width': 1400, 'height': 1000})
        pg.on('dialog', lambda d: (events['dialogs'].append(d.message), d.dismiss()))
        pg.on('console', lambda m: events['console'].append(m.text))
        pg.on('pageerror', lambda e: events['errors'].append(str(e)))
        pg.goto(report_file[0].as_uri())
        pg.wait_for_selector('body[data-ready="1"]', timeout=10000)
        pg.events = events
        yield pg
        browser.close()


def _group_id(fleet, port):
    return next(g['id'] for g in fleet['groups'] if g['port'] == port)


def test_matrix_has_the_right_cells(page, report_file):
    fleet = report_file[1]
    telnet = _group_id(fleet, 23)
    cell = page.locator('#mbody .mrow[data-host="web1"] .cell[data-group="%s"]' % telnet)
    assert cell.get_attribute('data-sev') == 'critical' and cell.text_content() == 'C'
    assert page.locator('#mbody .mrow[data-host="db1"] .cell[data-sev]').count() == 0
    assert page.locator('#mbody .mrow[data-host="gone1"] .state').text_content() == 'not audited'
    assert page.locator('#mbody .mrow').count() == 4
    assert page.locator('#mhead .colh[data-group]').count() == len(fleet['groups'])


def test_a_filter_hides_what_it_should(page, report_file):
    telnet = _group_id(report_file[1], 23)
    page.click('#f-sev-critical')
    assert page.locator('#mhead .colh[data-group="%s"]' % telnet).count() == 0
    assert page.locator('#groups details[data-group="%s"]' % telnet).count() == 0
    assert page.locator('#groups details.grp').count() == len(report_file[1]['groups']) - 2  # both critical groups
    assert 'sev=high' in page.evaluate('location.hash')
    page.click('#f-reset')
    page.fill('#f-host', 'db')
    playwright.expect(page.locator('#mbody .mrow')).to_have_count(1)  # the text box is debounced
    assert page.locator('#mbody .mrow').get_attribute('data-host') == 'db1'
    page.click('#f-reset')
    page.check('#f-clean')
    assert sorted(page.locator('#mbody .mrow').evaluate_all('rows => rows.map(r => r.dataset.host)')) == \
        sorted(['web1', XSS + '.example', 'gone1'])
    page.click('#f-reset')


def test_drill_down_opens_and_hostile_names_are_text(page):
    assert page.locator('#detail').is_hidden()
    page.click('#mbody .mrow[data-host="%s.example"] button' % XSS.replace('"', '\\"'))
    detail = page.locator('#detail')
    assert detail.is_visible()
    assert page.locator('#detail-h').text_content() == XSS + '.example'
    text = detail.text_content()
    assert XSS in text and '</script><script>alert(2)</script>' in text and '<!--' in text
    assert '\\u2028' in text and '\\u202e' in text  # control and bidi characters shown, not obeyed
    assert 'allowed by' in text or 'no finding' in text
    rows = page.locator('#detail tbody tr')
    assert rows.count() >= 5
    assert page.locator('img').count() == 0
    group = page.locator('#groups details.grp').first
    group.click()
    # The hosts are filled on the (asynchronous) toggle event: wait for them rather than race it.
    playwright.expect(group.locator('.hosts button').first).to_be_visible()
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, 'fleet-report.png'), full_page=True)
    assert os.path.getsize(os.path.join(ARTIFACTS, 'fleet-report.png')) > 10000


def test_no_script_ran_and_no_policy_violation(page):
    assert page.events['dialogs'] == []
    assert page.events['errors'] == []
    assert [m for m in page.events['console'] if 'Content Security Policy' in m or 'Refused' in m] == []


def test_print_layout_hides_controls_and_keeps_groups(page):
    page.emulate_media(media='print')
    assert page.locator('#controls').is_hidden() and page.locator('#matrix-sec').is_hidden()
    assert page.locator('#groups').is_visible()
    page.emulate_media(media='screen')


def test_report_has_no_external_resource(report_file):
    text = report_file[0].read_text(encoding='utf-8')
    assert 'http://' not in text.split('<script type="application/json"')[0]
    assert 'https://' not in text.split('<script type="application/json"')[0]
    assert text.count('<script') == 2 and '<link' not in text
