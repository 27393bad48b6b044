# lvs.ipvs: set up, demo and test. `make demo` is the first command on a fresh machine,
# `make test` the second (and what .ci/run calls).
SHELL := /bin/bash
VENV ?= .venv
PY := $(CURDIR)/$(VENV)/bin/python
PYTEST := $(PY) -m pytest -p no:cacheprovider
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo setup venv sanity-venvs lab test lanes modules-lane roles-lane sanity unit packaging netns integration node health rollout molecule molecule-pcc molecule-others bench clean-lab

## The main job: a PNMPP director in the lab VM, with traffic showing the persistence.
demo: setup
	$(PY) -m tests.lab demo

## Everything the project needs: Debian packages, the kernels (Debian's .deb for QEMU, and User-mode Linux built once from
## Debian's linux-source-6.1: about 7 minutes on 2 cores, cached), the node image, the virtualenv.
setup: venv lab

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

lab: venv
	$(PY) -m tests.lab setup

## Every test, in two lanes, one core each, each lane's output printed whole when it ends. The modules' lane: sanity, unit,
## packaging, the network-namespace tests, then integration in the fast lab VM, the lab-node tests (the HA pair role
## among them) and the pcc molecule scenario. The roles' lane: the other molecule scenarios on a lab node of their own,
## then the health-checked services on another, then the rollout of a director pair on two more. The two lanes take about
## as long on UML (pcc is in the modules' lane for that balance alone).
test: setup sanity-venvs
	$(MAKE) --no-print-directory -j2 --output-sync=target lanes

lanes: modules-lane roles-lane

## Each suite of a lane runs even when one before it failed; the lane fails at its end if any did.
modules-lane:
	@status=0; for suite in sanity unit packaging netns integration node molecule-pcc; do $(MAKE) --no-print-directory $$suite || status=1; done; exit $$status

roles-lane:
	@status=0; for suite in molecule-others health rollout; do $(MAKE) --no-print-directory $$suite || status=1; done; exit $$status

## Sanity on the pinned ansible-core (.venv), and compile, import and validate-modules on each other ansible-core that
## requires_ansible admits, each in its own venv with Python 3.11 (tests/sanity/requirements-ansible-core-X.Y.txt).
SANITY_CORES := $(patsubst tests/sanity/requirements-ansible-core-%.txt,%,$(wildcard tests/sanity/requirements-ansible-core-*.txt))
sanity-venvs: $(foreach core,$(SANITY_CORES),.venv-sanity/$(core)/requirements.txt)
.venv-sanity/%/requirements.txt: tests/sanity/requirements-ansible-core-%.txt
	rm -rf .venv-sanity/$*
	python3.11 -m venv .venv-sanity/$*
	.venv-sanity/$*/bin/pip install -q --disable-pip-version-check -r $<
	cp $< $@

sanity: venv sanity-venvs
	tests/sanity/run.sh

unit: venv
	$(PYTEST) tests/unit

## The README's Install and Quick start commands against the tarball built from this checkout, in a fresh home.
packaging: venv
	$(PYTEST) tests/packaging

netns: setup
	$(PYTEST) tests/netns

## Fast mode on the default engine (UML where its probe boot works, else QEMU; LVS_IPVS_LAB_ENGINE=uml|qemu forces one).
integration: lab
	$(PY) -m tests.lab run -- $(PYTEST) tests/integration

node: lab
	$(PYTEST) tests/node --ignore=tests/node/test_health.py --ignore=tests/node/test_rollout.py

## Health-checked services (keepalived's checker) on one lab node with traffic: a real server's listener stopped and its host
## dead, the playbook while it is dead, reload and drain under load, the sorry server, a configuration keepalived refuses
## (figures with -s).
health: lab
	$(PYTEST) -s tests/node/test_health.py

## A DR director pair on two lab nodes (playbooks/ha_pair.yml), real servers and clients on the lab bridge, the clients'
## load running through the VIP: a failover, playbooks/rollout.yml with its switch-over, a rollout the standby refuses,
## parity.yml --check catching a hand edit (figures with -s, lines ROLLOUT-FIGURES).
rollout: lab
	$(PYTEST) -s tests/node/test_rollout.py

## The roles' molecule scenarios with traffic (ppc, pcc, pnmpp with a reboot, drain), on one lab node booted once.
molecule: lab
	molecule/run.sh

## The same, split for the two lanes of `make test`, each on a lab node of its own.
molecule-pcc: lab
	LVS_IPVS_MOLECULE_NODE=molecule-pcc-$$(printf '%s' "$(CURDIR)" | sha256sum | cut -c1-8) molecule/run.sh pcc
molecule-others: lab
	molecule/run.sh ppc pnmpp drain real_server

## ipvs_table against ipvsadm -R on each engine (UML, then QEMU), one lab VM run each, with the system calls of both
## sides, then the module's CPU per rule on this host against the kernel conversation recorded in each run
## (not part of `make test`; tests/bench/run.sh --engine uml|qemu for one engine).
bench: lab
	tests/bench/run.sh --engine both

clean-lab:
	$(PY) -m tests.lab down
