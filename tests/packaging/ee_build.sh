#!/usr/bin/env bash
# make test-ee: the execution-environment checks.
#  1. ansible-builder introspect finds the collection's meta/execution-environment.yml
#     in the installed artifact: netaddr, jmespath and the bindep packages.
#  2. ansible-builder create makes a build context from docs/execution-environment.yml.
#  3. ansible-builder build on a Debian base image made here with debootstrap, with
#     the artifact and its dependency collections; the image then runs the audit
#     (report mode) against a podman test container, through ansible-runner.
# Usage: ee_build.sh VENV_BIN BUILD_DIR ARTIFACT_DIR INSTALLED_DIR TEST_IMAGE
set -euo pipefail
bin="$1"; build="$2"; dist="$3"; installed="$4"; test_image="$5"
site="$(dirname "$bin")/lib/python3.11/site-packages"

echo "== introspect the installed artifact"
intro="$("$bin/ansible-builder" introspect --sanitize "$installed")"
echo "$intro"
for want in 'netaddr>=1.0' 'jmespath>=1.0' 'openssh-client \[platform:dpkg\]'; do
  grep -Eq "^ *-? *$want" <<<"$intro" || grep -Eq "$want" <<<"$intro" \
    || { echo "ansible-builder introspect misses $want" >&2; exit 1; }
done

echo "== create a context from docs/execution-environment.yml"
rm -rf "$build/ee-docs"
"$bin/ansible-builder" create -f docs/execution-environment.yml --context "$build/ee-docs" >/dev/null
test -s "$build/ee-docs/Containerfile"
grep -q 'hostsec.ports' "$build/ee-docs/_build/requirements.yml"
echo "context $build/ee-docs made (Containerfile, _build/requirements.yml)"

echo "== build the EE on a Debian base made here"
base_image=localhost/hostsec-ports-ee-base:latest
ee_image=localhost/hostsec-ports-ee:latest
bash tests/packaging/build_image.sh "$base_image" bookworm python3,python3-pip,python3-venv,ca-certificates
src="$build/ee-src"
rm -rf "$src" "$build/ee-context"
mkdir -p "$src/artifact" "$src/deps" "$src/ca"
cp tests/packaging/ee/execution-environment.yml "$src/"
tarballs=("$dist"/hostsec-ports-*.tar.gz)
tarball="$(basename "${tarballs[0]}")"
cp "$dist/$tarball" "$src/artifact/"
printf -- '---\ncollections:\n  - name: artifact/%s\n    type: file\n' "$tarball" > "$src/requirements.yml"
for c in ansible/posix community/general ansible/windows community/windows containers/podman; do
  mkdir -p "$src/deps/${c%/*}"
  cp -a "$site/ansible_collections/$c" "$src/deps/$c"
done
cp /etc/ssl/certs/ca-certificates.crt "$src/ca/"
"$bin/ansible-builder" build -f "$src/execution-environment.yml" --context "$build/ee-context" \
  --container-runtime podman -t "$ee_image" -v 2 > "$build/ee-build.log" 2>&1 \
  || { tail -40 "$build/ee-build.log"; exit 1; }
podman run --rm "$ee_image" ansible-galaxy collection list hostsec.ports | grep -q 'hostsec.ports'
podman run --rm "$ee_image" python3 -c 'import netaddr, jmespath'
echo "EE $ee_image built; it holds hostsec.ports, netaddr and jmespath"

echo "== the audit in the EE through ansible-runner"
EE="$ee_image" bash tests/packaging/runner_audit.sh "$bin" "$test_image" "$ee_image"
