# -*- coding: utf-8 -*-
# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fenced code blocks of the user docs, run as written against a podman test container.

Documents: the quick start of README.md (in a repository of its own, with an
inventory the test supplies, since the README presumes one), then
docs/getting-started.md, docs/ci.md and docs/migration.md in that order in one
temporary IaC repository (ci.md and migration.md build on what getting-started
sets up). How a block is treated (docs/getting-started.md "Tested docs"):

- first line a comment naming a path (``# inventory/hosts.yml``): written there;
- ``sh``: run with bash in the repository, must succeed;
- ``yaml`` holding a task list: run as a play against the test host;
- after ``<!-- doc-test: same-as PATH -->``: must appear verbatim in PATH of this
  checkout (the molecule scenarios run those files);
- a CI job (``# .github/workflows/...``, ``# .gitlab-ci.yml``): written, parsed, its
  ``ansible-playbook`` steps run, and the paths it uploads must then exist;
- after ``<!-- doc-test: skip (reason) -->``: not run; a marker without a reason,
  an unknown marker, or a block that fits none of the above fails the test.

The collection is built from this checkout and installed into the repository's
``collections/`` (Galaxy is not reachable here). The only file the test adds to a
documented repository is ``inventory/zz-doc-test.yml``, which points the documented
hosts at the container. Podman use is serialised with the molecule lock.
"""

from __future__ import annotations

import dataclasses
import fcntl
import glob
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
IMAGE = os.environ.get('HOSTSEC_TEST_IMAGE', 'localhost/hostsec-ports-debian12:latest')
LOCK = '/tmp/hostsec-molecule.lock'
README_SECTION = 'Quick start in your playbooks'
REPO_DOCS = ('docs/getting-started.md', 'docs/ci.md', 'docs/migration.md')

MARKER = re.compile(r'^<!--\s*doc-test:\s*(.*?)\s*-->$')
SKIP = re.compile(r'^skip\b\s*(?:\((.*)\))?$')
SAME_AS = re.compile(r'^same-as\s+(\S+)$')
FENCE = re.compile(r'^```\s*([\w+-]*)\s*$')
PATH_COMMENT = re.compile(r'^#\s*((?:[\w.-]+/)*[\w.-]+\.(?:ya?ml|cfg|ini|j2|json|txt))\s*$')
CI_PATH = re.compile(r'^(\.github/workflows/[\w.-]+\.ya?ml|\.gitlab-ci\.yml)$')


class DocError(Exception):
    """A document the test cannot run as written."""


@dataclasses.dataclass
class Block:
    doc: str
    line: int
    lang: str
    body: str
    marker: str | None

    @property
    def where(self):
        return '%s:%d (```%s)' % (self.doc, self.line, self.lang)


def section(text, title):
    """The lines of the '## title' section of a Markdown text."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith('## '):
            inside = line[3:].strip() == title
            continue
        if inside:
            out.append(line)
    if not out:
        raise DocError('section %r not found' % title)
    return '\n'.join(out)


def parse_blocks(doc, text):
    """Every fenced block with the marker right before it; unknown markers are errors."""
    blocks, lines = [], text.splitlines()
    previous, i = None, 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            start = i
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != '```':
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise DocError('%s:%d: unclosed code fence' % (doc, start + 1))
            blocks.append(Block(doc, start + 1, fence.group(1), '\n'.join(body) + '\n', previous))
            previous = None
        elif line.strip():
            marker = MARKER.match(line.strip())
            if marker:
                previous = marker.group(1)
            elif line.strip().startswith('<!--') and 'doc-test' in line:
                raise DocError('%s:%d: malformed doc-test marker %r' % (doc, i + 1, line.strip()))
            else:
                previous = None
        i += 1
    return blocks


def classify(block):
    """('skip', reason) | ('same-as', path) | ('file', path) | ('ci', path) | ('sh', None) | ('tasks', None)."""
    if block.marker is not None:
        skip = SKIP.match(block.marker)
        if skip:
            if not (skip.group(1) or '').strip():
                raise DocError('%s: doc-test skip marker without a reason' % block.where)
            return 'skip', skip.group(1).strip()
        same = SAME_AS.match(block.marker)
        if same:
            return 'same-as', same.group(1)
        raise DocError('%s: unknown doc-test marker %r (known: skip (reason), same-as PATH)'
                       % (block.where, block.marker))
    first = block.body.splitlines()[0] if block.body.strip() else ''
    path = PATH_COMMENT.match(first)
    if path:
        return ('ci' if CI_PATH.match(path.group(1)) else 'file'), path.group(1)
    if block.lang in ('sh', 'bash', 'shell'):
        return 'sh', None
    if block.lang in ('yaml', 'yml'):
        data = yaml.safe_load(block.body)
        if isinstance(data, list) and data and all(isinstance(t, dict) for t in data) \
                and not any('hosts' in t or 'import_playbook' in t for t in data):
            return 'tasks', None
    raise DocError('%s: cannot tell how to run this block: start it with "# path/of/file", make it a '
                   'sh block or a task list, or mark it <!-- doc-test: skip (reason) -->' % block.where)


# --- the test container and the environment -------------------------------------------------------

def podman_env():
    env = dict(os.environ, CONTAINERS_CONF=str(ROOT / 'extensions/molecule/containers.conf'))
    return env


@pytest.fixture(scope='module')
def container():
    if shutil.which('podman') is None:
        pytest.skip('podman is not installed (make sysdeps)')
    env = podman_env()
    if subprocess.run(['podman', 'image', 'exists', IMAGE], env=env, check=False).returncode != 0:
        pytest.skip('test image %s is missing (make image)' % IMAGE)
    name = 'hostsec-doc-test-%d' % os.getpid()
    with open(LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(['podman', 'rm', '-f', name], env=env, capture_output=True, check=False)
        subprocess.run(['podman', 'run', '-d', '--name', name, '--hostname', 'web1', '--systemd=always',
                        '--cap-add', 'NET_ADMIN', IMAGE, '/sbin/init'], env=env, check=True, capture_output=True)
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                state = subprocess.run(['podman', 'exec', name, 'systemctl', 'is-active', 'ssh.service'],
                                       env=env, capture_output=True, text=True, check=False)
                if state.stdout.strip() == 'active':
                    break
                time.sleep(1)
            yield name
        finally:
            subprocess.run(['podman', 'rm', '-f', name], env=env, capture_output=True, check=False)


@pytest.fixture(scope='module')
def collection_tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('dist')
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), str(ROOT)],
                   check=True, capture_output=True, env=clean_env())
    return next(out.glob('hostsec-ports-*.tar.gz'))


def clean_env(collections=None):
    """The user's shell: no hint from this checkout's Makefile about where collections are."""
    env = podman_env()
    for var in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS', 'PYTHONPATH', 'ANSIBLE_CONFIG',
                'ANSIBLE_INVENTORY', 'ANSIBLE_ROLES_PATH'):
        env.pop(var, None)
    env.update(PATH='%s:%s' % (BIN, env.get('PATH', '')), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_HOST_KEY_CHECKING='False')
    if collections:
        env['ANSIBLE_COLLECTIONS_PATH'] = str(collections)
    return env


class Repo:
    """A temporary IaC repository in which the blocks of documents run in order."""

    def __init__(self, path, container, tarball, readme=False):
        self.path, self.container, self.readme = path, container, readme
        self.tasks = 0
        collections = path / 'collections'
        subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', '--no-deps', '-p', str(collections),
                        str(tarball)], check=True, capture_output=True, env=clean_env())
        # The README presumes an installed collection and an inventory; everything else is the docs'.
        self.env = clean_env(collections if readme else None)
        if readme:
            (path / 'inventory').write_text(
                '[webservers]\nweb1 ansible_connection=containers.podman.podman ansible_host=%s '
                'ansible_python_interpreter=/usr/bin/python3\n' % container)

    def run(self, script, where):
        proc = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=self.path, env=self.env,
                              capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode:
            raise AssertionError('%s failed (rc %d):\n%s\n--- stdout\n%s\n--- stderr\n%s'
                                 % (where, proc.returncode, script, proc.stdout[-6000:], proc.stderr[-3000:]))
        return proc.stdout

    def redirect_inventory(self):
        """inventory/zz-doc-test.yml: the documented hosts, reached through podman."""
        if self.readme or not (self.path / 'inventory').is_dir():
            return
        extra = self.path / 'inventory' / 'zz-doc-test.yml'
        extra.unlink(missing_ok=True)
        listing = subprocess.run([str(BIN / 'ansible-inventory'), '--list', '--yaml'], cwd=self.path, env=self.env,
                                 capture_output=True, text=True, check=True)
        hosts = sorted(_hosts(yaml.safe_load(listing.stdout) or {}))
        if not hosts:
            raise DocError('the documented inventory has no hosts')
        extra.write_text(yaml.safe_dump({'all': {'hosts': {h: {
            'ansible_connection': 'containers.podman.podman', 'ansible_host': self.container,
            'ansible_python_interpreter': '/usr/bin/python3'} for h in hosts}}}))

    def playbook_cmd(self):
        return 'ansible-playbook' + (' -i inventory' if self.readme else '')


def _hosts(group):
    for name, value in (group or {}).items():
        if name == 'hosts':
            yield from (value or {})
        elif isinstance(value, dict):
            yield from _hosts(value)


def ci_steps(path, data):
    """(commands, uploaded paths) of a GitHub Actions workflow or a GitLab CI file."""
    commands, uploads = [], []
    if path.startswith('.github/'):
        for job in (data.get('jobs') or {}).values():
            for step in job.get('steps') or ():
                if 'run' in step:
                    commands.append(step['run'])
                params = step.get('with') or {}
                for key in ('path', 'report_paths'):
                    if key in params and not str(params[key]).startswith('${{'):
                        uploads.extend(p for p in str(params[key]).split() if p)
    else:
        for job in data.values():
            if not isinstance(job, dict) or 'script' not in job:
                continue
            commands.extend(job['script'])
            artifacts = job.get('artifacts') or {}
            uploads.extend(artifacts.get('paths') or ())
            junit = (artifacts.get('reports') or {}).get('junit')
            if junit:
                uploads.extend(junit if isinstance(junit, list) else [junit])
    playbooks = [line for c in commands for line in c.splitlines() if line.strip().startswith('ansible-playbook')]
    return playbooks, uploads


def run_document(repo, doc, text):
    ran = []
    for block in parse_blocks(doc, text):
        kind, arg = classify(block)
        if kind == 'skip':
            ran.append((block.where, 'skipped: ' + arg))
        elif kind == 'same-as':
            source = (ROOT / arg).read_text()
            assert block.body in source, '%s is not verbatim in %s' % (block.where, arg)
            ran.append((block.where, 'same as ' + arg))
        elif kind in ('file', 'ci'):
            target = repo.path / arg
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body)
            if block.lang in ('yaml', 'yml'):
                yaml.safe_load(block.body)
            ran.append((block.where, 'wrote ' + arg))
            if kind == 'ci':
                playbooks, uploads = ci_steps(arg, yaml.safe_load(block.body))
                assert playbooks, '%s: a CI job without an ansible-playbook step' % block.where
                repo.redirect_inventory()
                for command in playbooks:
                    repo.run(command, block.where)
                for upload in uploads:
                    assert glob.glob(str(repo.path / upload)), '%s uploads %s, which the job did not write' % (
                        block.where, upload)
                ran.append((block.where, 'ran %d CI step(s), %d upload(s) exist' % (len(playbooks), len(uploads))))
        elif kind == 'sh':
            repo.redirect_inventory()
            repo.run(block.body, block.where)
            ran.append((block.where, 'ran'))
        else:  # tasks
            repo.tasks += 1
            play = repo.path / ('doc-test-tasks-%d.yml' % repo.tasks)
            play.write_text(yaml.safe_dump([{'name': 'Tasks from %s' % block.where, 'hosts': 'all',
                                             'gather_facts': False, 'tasks': yaml.safe_load(block.body)}],
                                           sort_keys=False))
            repo.redirect_inventory()
            repo.run('%s %s' % (repo.playbook_cmd(), play.name), block.where)
            ran.append((block.where, 'ran as a play'))
    return ran


# --- the marker rules themselves ---------------------------------------------------------------

@pytest.mark.parametrize('text, message', [
    ('<!-- doc-test: skip () -->\n```sh\ntrue\n```\n', 'skip marker without a reason'),
    ('<!-- doc-test: skip -->\n```sh\ntrue\n```\n', 'skip marker without a reason'),
    ('<!-- doc-test: later (soon) -->\n```sh\ntrue\n```\n', 'unknown doc-test marker'),
    ('<!-- doc-test skip (x) -->\n```sh\ntrue\n```\n', 'malformed doc-test marker'),
    ('```text\nsome output\n```\n', 'cannot tell how to run this block'),
    ('```yaml\n- hosts: all\n  tasks: []\n```\n', 'cannot tell how to run this block'),
    ('```sh\ntrue\n', 'unclosed code fence'),
])
def test_marker_rules(text, message):
    with pytest.raises(DocError, match=re.escape(message)):
        for block in parse_blocks('doc.md', text):
            classify(block)


def test_marker_applies_only_to_the_next_block():
    blocks = parse_blocks('doc.md', '<!-- doc-test: skip (shown only) -->\n\n```text\nx\n```\n\n```sh\ntrue\n```\n')
    assert [classify(b) for b in blocks] == [('skip', 'shown only'), ('sh', None)]


def test_every_doc_block_is_classified():
    """Cheap and container-free: every block of every tested document can be run or is marked."""
    texts = [('README.md', section((ROOT / 'README.md').read_text(), README_SECTION))]
    texts += [(doc, (ROOT / doc).read_text()) for doc in REPO_DOCS]
    for doc, text in texts:
        blocks = parse_blocks(doc, text)
        assert blocks, '%s has no code blocks' % doc
        for block in blocks:
            classify(block)


# --- the documents, run ------------------------------------------------------------------------

def test_readme_quick_start_runs(tmp_path, container, collection_tarball):
    repo = Repo(tmp_path, container, collection_tarball, readme=True)
    ran = run_document(repo, 'README.md', section((ROOT / 'README.md').read_text(), README_SECTION))
    assert any(what == 'ran' for _where, what in ran), ran


def test_getting_started_ci_and_migration_run_in_one_repository(tmp_path, container, collection_tarball):
    repo = Repo(tmp_path, container, collection_tarball)
    ran = []
    for doc in REPO_DOCS:
        ran += run_document(repo, doc, (ROOT / doc).read_text())
    # The repository the docs built is usable as the docs say: reports for CI, the proposed baseline.
    assert (tmp_path / 'reports' / 'fleet.junit.xml').is_file()
    skipped = [(w, what) for w, what in ran if what.startswith('skipped')]
    print('\n'.join('%s: %s' % item for item in ran))
    assert len(skipped) <= len(ran) // 3, 'most blocks are skipped: %s' % skipped
