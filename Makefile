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

export CONTAINERS_CONF := $(CURDIR)/extensions/molecule/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS):$(VENV)/lib/python3.11/site-packages
export PYTHONPATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1
export PATH := $(BIN):$(PATH)

SYS_PACKAGES := podman runc debootstrap nftables iproute2 procps uidmap slirp4netns fuse-overlayfs shellcheck git
SYS_COMMANDS := podman runc debootstrap nft ip ps shellcheck git

.PHONY: audit test test-build test-unit test-data test-sanity test-lint test-molecule test-windows \
        venv sysdeps collection image bench clean

$(BIN)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
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

test: venv sysdeps collection
	$(MAKE) --no-print-directory test-data test-unit test-build test-sanity test-lint test-windows test-molecule

test-unit: venv collection
	$(BIN)/pytest -q -p no:cacheprovider tests/unit tests/functional

test-data: venv collection
	$(BIN)/python tools/iana_import.py --check
	$(BIN)/python tools/kb_validate.py
	$(BIN)/python tools/port_pages.py --check
	$(BIN)/python tools/role_docs.py --check

# ansible-test needs the collection under ansible_collections/hostsec/ports and
# resolves symlinks, so it runs on a copy of the tracked (and new, unignored) files.
# Its venvs bootstrap pip from a host we cannot reach: tools/get_pip_offline.py
# stands in for that script in ansible-test's cache when no real one is there.
GET_PIP_CACHE := $(HOME)/.ansible/test/cache/get_pip_24_2.py
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
	cd $(SANITY_COPY) && $(BIN)/ansible-test sanity --python 3.11 --color no \
	  --exclude plugins/modules/win_listening_ports_info.ps1

test-lint: venv collection
	$(BIN)/ansible-lint --offline -q roles/ playbooks/ extensions/molecule/

test-windows: venv collection
	$(BIN)/python tools/ps_parse.py plugins tests/windows

# The built artifact must leave dev-only files out and must install and load.
test-build: venv
	rm -rf $(BUILD)/dist $(BUILD)/installed
	$(BIN)/ansible-galaxy collection build --output-path $(BUILD)/dist . >/dev/null
	tarball=$$(ls $(BUILD)/dist/hostsec-ports-*.tar.gz)
	if tar -tzf $$tarball | grep -E '^(tests|tools|benchmarks|extensions|\.ci|requirements)/|^Makefile$$'; then
	  echo "dev-only files in $$tarball" >&2; exit 1
	fi
	$(BIN)/ansible-galaxy collection install --no-deps -p $(BUILD)/installed $$tarball >/dev/null
	ANSIBLE_COLLECTIONS_PATH=$(BUILD)/installed $(BIN)/ansible-doc -t module hostsec.ports.listening_ports_info >/dev/null
	echo "artifact $$(basename $$tarball) builds, installs and loads"

image: sysdeps
	bash extensions/molecule/image/build.sh

# Molecule finds extensions/molecule/config.yml only when run from the collection root.
MOLECULE_SCENARIOS ?= --all
test-molecule: venv sysdeps collection image
	NO_COLOR=1 $(BIN)/molecule test $(MOLECULE_SCENARIOS)

# Needs root (network namespaces) for the gathering scenarios.
bench: venv sysdeps collection
	$(BIN)/python benchmarks/kb_bench.py
	$(BIN)/python benchmarks/policy_bench.py
	$(BIN)/python benchmarks/gather_bench.py

clean:
	rm -rf $(BUILD) reports .pytest_cache
