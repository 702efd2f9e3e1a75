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

SYS_PACKAGES := podman runc debootstrap nftables iproute2 procps uidmap slirp4netns fuse-overlayfs
SYS_COMMANDS := podman runc debootstrap nft ip ps

.PHONY: audit test test-unit test-data test-sanity test-lint test-molecule test-windows \
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
	$(MAKE) --no-print-directory test-data test-unit test-sanity test-lint test-windows test-molecule

test-unit: venv collection
	$(BIN)/pytest -q -p no:cacheprovider tests/unit tests/functional

test-data: venv collection
	$(BIN)/python tools/iana_import.py --check
	$(BIN)/python tools/kb_validate.py
	$(BIN)/python tools/port_pages.py --check
	$(BIN)/python tools/role_docs.py --check

test-sanity: venv
	rm -rf $(SANITY_COPY)
	mkdir -p $(SANITY_COPY)
	git ls-files -z --cached --others --exclude-standard | \
	  xargs -0 -I{} cp --parents {} $(SANITY_COPY)/ 2>/dev/null || true
	cd $(SANITY_COPY) && git init -q . && git add -A >/dev/null
	cd $(SANITY_COPY) && $(BIN)/ansible-test sanity --python 3.11 --color no \
	  --skip-test pslint --skip-test validate-modules -v 2>&1 | tail -40
	cd $(SANITY_COPY) && $(BIN)/ansible-test sanity --python 3.11 --color no --test validate-modules 2>&1 | tail -40

test-lint: venv collection
	$(BIN)/ansible-lint --offline -q roles/ playbooks/ extensions/molecule/

test-windows: venv collection
	$(BIN)/python tools/ps_parse.py plugins/modules tests/windows

image: sysdeps
	bash extensions/molecule/image/build.sh

test-molecule: venv sysdeps collection image
	cd extensions && $(BIN)/molecule test --all

bench: venv collection
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(BUILD) reports .pytest_cache
