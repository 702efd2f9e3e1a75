# One entry point for people and CI.
#   make audit  - audit this machine against the embedded default policy, write reports/
#   make test   - every test: unit, data checks, sanity, lint, molecule
# Both targets install what they need (Debian packages via apt-get, Python via pip).

SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD := $(CURDIR)/.build
COLLECTIONS := $(BUILD)/collections
COLL_LINK := $(COLLECTIONS)/ansible_collections/hostsec/ports
SANITY_COPY := $(BUILD)/sanity/ansible_collections/hostsec/ports
REPORT_DIR ?= $(CURDIR)/reports
TEST_IMAGE := localhost/hostsec-ports-debian12:latest

export CONTAINERS_CONF := $(CURDIR)/extensions/molecule/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS):$(VENV)/lib/python3.11/site-packages
export PYTHONPATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1
export PATH := $(BIN):$(PATH)

SYS_PACKAGES := podman runc debootstrap nftables iproute2 procps uidmap slirp4netns fuse-overlayfs shellcheck git chromium
SYS_COMMANDS := podman runc debootstrap nft ip ps shellcheck git chromium
# The docker engine (with containerd) and a static busybox for tests/functional/test_docker_real.py and
# test_containerd_real.py. Without recommends:
# docker.io recommends apparmor and needrestart, which would change this machine for every other test.
DOCKER_PACKAGES := docker.io busybox-static
DOCKER_COMMANDS := dockerd docker-proxy containerd ctr busybox

.PHONY: audit test test-build test-docs test-compat test-oldest-python test-ee test-minbase test-unit test-data test-sanity test-lint test-molecule test-windows \
        venv sysdeps collection image bench clean

# A minimal Debian has no python3, and Debian's python3 makes no venv without
# python3-venv (ensurepip): install them (as root) when the venv cannot be made.
PY_PACKAGES := python3 python3-venv ca-certificates
$(BIN)/.installed: requirements/dev.txt
	if ! $(PYTHON) -m venv $(VENV) >/dev/null 2>&1; then
	  if [ "$$(id -u)" != 0 ]; then echo "$(PYTHON) -m venv failed: need root to apt-get install $(PY_PACKAGES)" >&2; exit 1; fi
	  apt-get update -q
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(PY_PACKAGES)
	  rm -rf $(VENV)
	  $(PYTHON) -m venv $(VENV)
	fi
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/dev.txt
	touch $@

venv: $(BIN)/.installed

sysdeps:
	missing=""
	for c in $(SYS_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing=1; done
	if [ -n "$$missing" ]; then
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install $(SYS_PACKAGES)" >&2; exit 1; fi
	  apt-get update -q
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYS_PACKAGES)
	fi
	missing=""
	for c in $(DOCKER_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing=1; done
	if [ -n "$$missing" ]; then
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install $(DOCKER_PACKAGES)" >&2; exit 1; fi
	  apt-get update -q
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DOCKER_PACKAGES)
	fi

# Ansible and pytest find the collection through this link; ansible-test
# needs a real copy (it resolves symlinks), made by test-sanity.
collection:
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn $(CURDIR) $(COLL_LINK)

audit: venv collection
	mkdir -p $(REPORT_DIR)
	$(BIN)/ansible-playbook -i localhost, -c local \
	  -e ansible_python_interpreter=$(BIN)/python \
	  -e port_policy_report_dir=$(REPORT_DIR) \
	  hostsec.ports.audit

# image first: tests/functional/test_docs_blocks.py runs the docs against it.
# Each step in turn; the seconds each took are printed at the end (the whole suite must stay under 45 min).
TEST_STEPS := test-data test-unit test-build test-docs test-sanity test-lint test-windows \
  test-compat test-oldest-python test-ee test-minbase test-molecule
test: venv sysdeps collection image
	took=""
	for step in $(TEST_STEPS); do
	  started=$$SECONDS
	  $(MAKE) --no-print-directory $$step
	  took+="$$step: $$((SECONDS - started)) s"$$'\n'
	done
	printf '== make test: seconds per step\n%s' "$$took"

# Two workers, each test file on one of them in its own order (--dist loadfile: the functional files build
# state test by test, in a network namespace of their own): about 90 s instead of 220 s on 2 cores.
test-unit: venv collection
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile tests/unit tests/functional tests/browser

test-data: venv collection
	$(BIN)/python tools/iana_import.py --check
	$(BIN)/python tools/kb_validate.py
	$(BIN)/python tools/port_pages.py --check
	$(BIN)/python tools/role_docs.py --check

# ansible-test needs the collection under ansible_collections/hostsec/ports and
# resolves symlinks, so it runs on a copy of the tracked (and new, unignored) files.
# Its venvs bootstrap pip from a host we cannot reach: tools/get_pip_offline.py
# stands in for that script in ansible-test's cache when no real one is there.
# ansible-test keeps that cache and its venvs under ~/.ansible/test with no
# setting to move them (os.path.expanduser in ansible_test/_util/target/setup/
# requirements.py), so it runs with HOME inside this checkout: the stand-in never
# reaches the user's own ~/.ansible. pip keeps the user's config and cache (XDG_*).
ANSIBLE_TEST_HOME := $(BUILD)/ansible-test-home
GET_PIP_CACHE := $(ANSIBLE_TEST_HOME)/.ansible/test/cache/get_pip_24_2.py
test-sanity: venv
	[ -f $(GET_PIP_CACHE) ] || install -D -m 0644 tools/get_pip_offline.py $(GET_PIP_CACHE)
	rm -rf $(SANITY_COPY)
	mkdir -p $(SANITY_COPY)
	git ls-files --cached --others --exclude-standard | while read -r f; do [ -e "$$f" ] && echo "$$f"; done \
	  | tar -cf - -T - | tar -xf - -C $(SANITY_COPY)
	# The copy sits inside this (ignored) checkout: a repository of its own keeps
	# ansible-test from asking the outer one which files exist.
	git -C $(SANITY_COPY) init -q
	# validate-modules reads a .ps1 module's options only through pwsh, which does not
	# install here: the .ps1 is checked (with pslint) by .github/workflows/windows.yml,
	# its .yml documentation sidecar is checked here.
	cd $(SANITY_COPY) && HOME=$(ANSIBLE_TEST_HOME) XDG_CONFIG_HOME=$${XDG_CONFIG_HOME:-$(HOME)/.config} \
	  XDG_CACHE_HOME=$${XDG_CACHE_HOME:-$(HOME)/.cache} $(BIN)/ansible-test sanity --python 3.11 --color no \
	  --exclude plugins/modules/win_listening_ports_info.ps1 --exclude plugins/modules/win_port_block.ps1 \
	  --exclude plugins/modules/win_port_rollback.ps1

test-lint: venv collection
	$(BIN)/ansible-lint --offline -q roles/ playbooks/ extensions/molecule/

test-windows: venv collection
	$(BIN)/python tools/ps_parse.py plugins tests/windows

# The artifact is built in the working tree, as a user would build it, while
# reports/ and .hypothesis/ hold files (probes made here when absent): every file
# in it must be tracked by git (tests/packaging/check_artifact.py; its own tests
# prove it fails on an extra file). Then it must install, load, and its
# action group must reach the modules through module_defaults.
ARTIFACT_DIR := $(BUILD)/dist
INSTALLED := $(BUILD)/installed
test-build: venv
	rm -rf $(ARTIFACT_DIR) $(INSTALLED)
	mkdir -p reports .hypothesis
	probes="reports/.artifact-probe .hypothesis/.artifact-probe"
	trap 'rm -f '"$$probes" EXIT
	for p in $$probes; do echo "host data that must not ship" > $$p; done
	$(BIN)/pytest -q -p no:cacheprovider tests/packaging/test_check_artifact.py
	$(BIN)/ansible-galaxy collection build --output-path $(ARTIFACT_DIR) . >/dev/null
	tarball=$$(ls $(ARTIFACT_DIR)/hostsec-ports-*.tar.gz)
	$(BIN)/python tests/packaging/check_artifact.py $$tarball .
	# --force: without it galaxy sees the checkout (on ANSIBLE_COLLECTIONS_PATH) and installs nothing.
	$(BIN)/ansible-galaxy collection install --force --no-deps -p $(INSTALLED) $$tarball >/dev/null 2>&1
	test -f $(INSTALLED)/ansible_collections/hostsec/ports/MANIFEST.json
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) PYTHONPATH= $(BIN)/ansible-doc -t module hostsec.ports.listening_ports_info >/dev/null
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED):$(VENV)/lib/python3.11/site-packages PYTHONPATH= \
	  $(BIN)/ansible-playbook -i localhost, -c local -e ansible_python_interpreter=$(BIN)/python \
	  tests/packaging/action_group.yml >/dev/null
	echo "artifact $$(basename $$tarball) builds from tracked files only, installs, loads, action group works"

# Plugin and role docs lint clean (antsibull-docs), and so does the changelog:
# fragments, changelogs/changelog.yaml, and a trial release rendered to RST.
test-docs: venv collection
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	bash tests/packaging/check_changelog.sh $(BIN)

# Every ansible-core that meta/runtime.yml and README.md claim: the unit tests
# and one real playbook (report mode on a podman test container) on each. 2.19 is
# the main venv (test-unit runs its unit tests); 2.17 and 2.18 get venvs of their
# own under .build/, sharing the main venv's dependency collections.
COMPAT_CORES := 2.17 2.18
$(BUILD)/core-%/.installed: tests/packaging/compat-requirements.txt
	$(PYTHON) -m venv $(BUILD)/core-$*
	$(BUILD)/core-$*/bin/pip install -q "ansible-core==$*.*" -r tests/packaging/compat-requirements.txt
	ln -sfn $(VENV)/lib/python3.11/site-packages/ansible_collections \
	  $(BUILD)/core-$*/lib/python3.11/site-packages/ansible_collections
	touch $@

test-compat: venv sysdeps collection image $(foreach v,$(COMPAT_CORES),$(BUILD)/core-$(v)/.installed)
	for v in $(COMPAT_CORES); do
	  echo "== ansible-core $$v: unit tests"
	  $(BUILD)/core-$$v/bin/python -m pytest -q -p no:cacheprovider -n 2 tests/unit
	done
	for v in $(COMPAT_CORES) 2.19; do
	  if [ $$v = 2.19 ]; then bin=$(BIN); else bin=$(BUILD)/core-$$v/bin; fi
	  bash tests/packaging/report_container.sh $$bin $(TEST_IMAGE) core-$$v $$v 3.11 init
	done

# The oldest Python Debian's archive here still has for a managed host: 3.9
# (bullseye; buster and its 3.7 have left the archive). The image is a bare
# debootstrap minbase with python3; every ansible-core we claim audits it.
OLDEST_PYTHON_IMAGE := localhost/hostsec-ports-bullseye-python:latest
test-oldest-python: venv sysdeps collection $(foreach v,$(COMPAT_CORES),$(BUILD)/core-$(v)/.installed)
	bash tests/packaging/build_image.sh $(OLDEST_PYTHON_IMAGE) bullseye python3
	for v in $(COMPAT_CORES) 2.19; do
	  if [ $$v = 2.19 ]; then bin=$(BIN); else bin=$(BUILD)/core-$$v/bin; fi
	  bash tests/packaging/report_container.sh $$bin $(OLDEST_PYTHON_IMAGE) py39-$$v $$v 3.9
	done

# Execution environment: ansible-builder introspect and create, a build on a
# Debian base made here, and the audit in that EE through ansible-runner
# (see docs/execution-environment.md). Uses the artifact test-build made.
test-ee: venv sysdeps collection image test-build
	bash tests/packaging/ee_build.sh $(BIN) $(BUILD) $(ARTIFACT_DIR) $(INSTALLED) $(TEST_IMAGE)

# make audit on a bare Debian 12 (debootstrap minbase in a podman container):
# the set-up must install python3 and python3-venv itself.
MINBASE_IMAGE := localhost/hostsec-ports-minbase12:latest
test-minbase: sysdeps
	bash tests/packaging/build_image.sh $(MINBASE_IMAGE) bookworm ""
	bash tests/packaging/minbase_audit.sh $(MINBASE_IMAGE)

image: sysdeps
	bash extensions/molecule/image/build.sh

# Molecule finds extensions/molecule/config.yml only when run from the collection root.
# By default every scenario runs, in two lanes side by side (tests/molecule_lanes.py);
# MOLECULE_SCENARIOS="-s gather" runs the ones named, in one molecule process.
MOLECULE_SCENARIOS ?=
MOLECULE_LANES ?= 2
test-molecule: venv sysdeps collection image
	if [ -n "$(MOLECULE_SCENARIOS)" ]; then
	  NO_COLOR=1 $(BIN)/molecule test $(MOLECULE_SCENARIOS)
	else
	  $(BIN)/python tests/molecule_lanes.py --lanes $(MOLECULE_LANES) --molecule $(BIN)/molecule --log-dir $(BUILD)/molecule-lanes
	fi

# Needs root (network namespaces) for the gathering scenarios.
bench: venv sysdeps collection image
	$(BIN)/python benchmarks/kb_bench.py
	$(BIN)/python benchmarks/policy_bench.py
	$(BIN)/python benchmarks/report_bench.py
	$(BIN)/python benchmarks/html_bench.py
	$(BIN)/python benchmarks/gather_bench.py
	$(BIN)/python benchmarks/audit_bench.py

clean:
	rm -rf $(BUILD) reports .pytest_cache
