# lvs.ipvs: set up, demo and test. `make demo` is the first command on a fresh machine,
# `make test` the second (and what .ci/run calls).
SHELL := /bin/bash
VENV ?= .venv
PY := $(CURDIR)/$(VENV)/bin/python
PYTEST := $(PY) -m pytest -p no:cacheprovider
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo setup venv lab test sanity unit netns integration node bench clean-lab

## The main job: a PNMPP director in the lab VM, with traffic showing the persistence.
demo: setup
	$(PY) -m tests.lab demo

## Everything the project needs: Debian packages, the kernel, the node image, the virtualenv.
setup: venv lab

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

lab: venv
	$(PY) -m tests.lab setup

## Every test: sanity, unit, network-namespace, integration in the lab VM, lab nodes.
test: setup sanity unit netns integration node

sanity: venv
	tests/sanity/run.sh

unit: venv
	$(PYTEST) tests/unit

netns: setup
	$(PYTEST) tests/netns

integration: lab
	$(PY) -m tests.lab run -- $(PYTEST) tests/integration

node: lab
	$(PYTEST) tests/node

## ipvs_table against ipvsadm -R in one lab VM run (not part of `make test`).
bench: lab
	tests/bench/run.sh

clean-lab:
	$(PY) -m tests.lab down
