"""Fail when a built collection tarball holds a file that git does not track.

`ansible-galaxy collection build` packs whatever lies in the tree minus
galaxy.yml's build_ignore; a denylist misses new things (reports/ from
`make audit`, .hypothesis/ from the tests, an editor's backup). This check is
an allowlist: every file in the tarball must be in `git ls-files` (the index,
so new files count once they are `git add`-ed), except the two files the build
generates. Dev-only folders must stay out even when tracked.

Usage: check_artifact.py TARBALL [REPO_ROOT]
"""

import subprocess
import sys
import tarfile

GENERATED = {'MANIFEST.json', 'FILES.json'}
DEV_ONLY_PREFIXES = ('tests/', 'tools/', 'benchmarks/', 'extensions/', '.ci/', '.github/', 'requirements/')
DEV_ONLY_FILES = {'Makefile', 'pytest.ini', 'DEVELOPERS.md'}


def tracked_files(repo_root):
    out = subprocess.run(['git', '-C', repo_root, 'ls-files', '-z'], check=True,
                         capture_output=True).stdout.decode()
    return {f for f in out.split('\0') if f}


def artifact_files(tarball):
    with tarfile.open(tarball) as tar:
        return {m.name.removeprefix('./') for m in tar.getmembers() if not m.isdir()}


def problems(packed, tracked):
    untracked = sorted(packed - tracked - GENERATED)
    dev_only = sorted(f for f in packed if f.startswith(DEV_ONLY_PREFIXES) or f in DEV_ONLY_FILES)
    missing = sorted(GENERATED - packed)
    out = ['not tracked by git: %s' % f for f in untracked]
    out += ['dev-only file shipped: %s' % f for f in dev_only]
    out += ['build metadata missing: %s' % f for f in missing]
    return out


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    tarball = argv[1]
    repo_root = argv[2] if len(argv) == 3 else '.'
    packed = artifact_files(tarball)
    found = problems(packed, tracked_files(repo_root))
    if found:
        print('%s: %d file(s) must not ship (git add a new file, or list it in '
              "galaxy.yml's build_ignore):" % (tarball, len(found)), file=sys.stderr)
        for line in found:
            print('  ' + line, file=sys.stderr)
        return 1
    print('%s: %d files, all tracked by git' % (tarball, len(packed)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
