#!/usr/bin/env bash
# Changelog checks for make test-docs: antsibull-changelog lint (fragments and
# changelogs/changelog.yaml), then a trial release on a throw-away copy of the
# tree (a release deletes the fragments) whose CHANGELOG.rst must be valid RST
# with no Ansible markup left in it: fragments are RST, so ``literal``, not C(literal).
# Usage: check_changelog.sh VENV_BIN
set -euo pipefail
bin="$1"
"$bin/antsibull-changelog" lint
"$bin/antsibull-changelog" lint-changelog-yaml changelogs/changelog.yaml

trial="$(mktemp -d /tmp/hostsec-changelog.XXXXXX)"
trap 'rm -rf "$trial"' EXIT
copy="$trial/ansible_collections/hostsec/ports"
mkdir -p "$copy"
git ls-files --cached --others --exclude-standard | while read -r f; do [ -e "$f" ] && echo "$f"; done \
  | tar -cf - -T - | tar -xf - -C "$copy"
version="$(sed -n 's/^version: *//p' galaxy.yml)"
release_log="$trial/release.log"
if ! (cd "$copy" && PATH="$bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$trial:$(dirname "$bin")/lib/python3.11/site-packages" \
      PYTHONPATH='' "$bin/antsibull-changelog" release --version "$version" --date 2000-01-01) > "$release_log" 2>&1; then
  cat "$release_log" >&2
  exit 1
fi
grep -v 'Found no release_summary' "$release_log" || true
rst="$copy/CHANGELOG.rst"
test -s "$rst"
if grep -nE '(^|[^A-Za-z_])(C|M|O|V|I|B|U|L|E|P|R|RV|HORIZONTALLINE)\([^)]' "$rst"; then
  echo "CHANGELOG.rst keeps Ansible markup (above): write fragments in RST (\`\`code\`\`)" >&2
  exit 1
fi
"$bin/rst2html" --halt=warning --report=warning "$rst" >/dev/null
echo "changelog: lint clean; trial release $version renders $(grep -c '^- ' "$rst") entries as clean RST"
