"""The artifact check fails on any file git does not track (run by make test-build)."""

import io
import pathlib
import subprocess
import sys
import tarfile

import pytest

CHECKER = pathlib.Path(__file__).with_name('check_artifact.py')


def _repo(tmp_path):
    repo = tmp_path / 'repo'
    (repo / 'plugins').mkdir(parents=True)
    (repo / 'plugins' / 'a.py').write_text('x = 1\n')
    subprocess.run(['git', 'init', '-q', str(repo)], check=True)
    subprocess.run(['git', '-C', str(repo), 'add', 'plugins/a.py'], check=True)
    return repo


def _tarball(tmp_path, names):
    path = tmp_path / 'hostsec-ports-0.0.1.tar.gz'
    with tarfile.open(path, 'w:gz') as tar:
        for name in names:
            data = b'{}'
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _run(tarball, repo):
    return subprocess.run([sys.executable, str(CHECKER), str(tarball), str(repo)],
                          capture_output=True, text=True, check=False)


def test_only_tracked_files_pass(tmp_path):
    repo = _repo(tmp_path)
    result = _run(_tarball(tmp_path, ['MANIFEST.json', 'FILES.json', 'plugins/a.py']), repo)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize('extra', ['reports/hosts/localhost.json', '.hypothesis/examples/x',
                                   'plugins/a.py.orig', 'tests/unit/test_x.py'])
def test_any_extra_file_fails_and_is_named(tmp_path, extra):
    repo = _repo(tmp_path)
    if extra.startswith('tests/'):
        # Tracked but dev-only: still refused.
        (repo / 'tests' / 'unit').mkdir(parents=True)
        (repo / extra).write_text('')
        subprocess.run(['git', '-C', str(repo), 'add', extra], check=True)
    result = _run(_tarball(tmp_path, ['MANIFEST.json', 'FILES.json', 'plugins/a.py', extra]), repo)
    assert result.returncode == 1
    assert extra in result.stderr


def test_missing_build_metadata_fails(tmp_path):
    repo = _repo(tmp_path)
    result = _run(_tarball(tmp_path, ['plugins/a.py']), repo)
    assert result.returncode == 1
    assert 'MANIFEST.json' in result.stderr
