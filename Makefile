# mtaguard: every target installs what it needs on a fresh Debian 12 machine (as root).
SWIFT        ?= swift
APT_PACKAGES := libaugeas-dev augeas-lenses augeas-tools pkg-config m4 postfix openssh-server sudo sendmail-cf chromium shellcheck iproute2 python3-venv libxlsxwriter-dev
# Only the tests use these: LibreOffice renders the xlsx report, poppler reads the PDFs.
APT_PACKAGES += libreoffice-calc-nogui poppler-utils fonts-noto-cjk
BIN          := .build/debug/mtaguard

.PHONY: deps build test demo lenses mtas faults bench lab lab-stop clean ansible ansible-test ee report-venv

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build

lenses: deps mtas
	bash Tests/lenses/run.sh

# sendmail and exim conflict with postfix as packages: their .debs are downloaded and
# unpacked under .build/mtas, never installed (Tests/mta/fetch.sh).
MTAS_DIR   := $(CURDIR)/.build/mtas
FAULTS_DIR := $(CURDIR)/.build/faults
# Every remote script the suite generates is kept here and checked by shellcheck.
SCRIPTS_DIR := $(CURDIR)/.build/scripts
mtas: deps
	bash Tests/mta/fetch.sh $(MTAS_DIR)

# A venv with the pinned ansible-core and ansible-builder, for the Ansible collection's tests
# (ansible/mtaguard/kisa) and the execution environment's build context.
ANSIBLE_VENV := $(CURDIR)/.build/ansible-venv
ansible: deps
	bash Tests/ansible/venv.sh $(ANSIBLE_VENV)

# A venv with the pinned openpyxl that reads the xlsx report back (WorkbookTests).
REPORT_VENV := $(CURDIR)/.build/report-venv
report-venv: deps
	bash Tests/reports/venv.sh $(REPORT_VENV)

# Every suite, shellcheck on every remote script the suite generated, then the
# fault-injection table (Tests/faults/table.sh fails on a lost byte).
test: deps lenses mtas ansible report-venv
	$(SWIFT) build --build-tests
	rm -rf $(FAULTS_DIR) $(SCRIPTS_DIR)
	MTAGUARD_MTAS=$(MTAS_DIR) MTAGUARD_FAULTS_DIR=$(FAULTS_DIR) MTAGUARD_SCRIPT_DUMP=$(SCRIPTS_DIR) MTAGUARD_ANSIBLE_VENV=$(ANSIBLE_VENV) MTAGUARD_REPORT_VENV=$(REPORT_VENV) $(SWIFT) test --skip-build
	bash Tests/scripts/shellcheck.sh $(SCRIPTS_DIR)
	bash Tests/faults/table.sh $(FAULTS_DIR)

# Only the fault-injection suites, and their table.
faults: deps mtas
	$(SWIFT) build --build-tests
	rm -rf $(FAULTS_DIR)
	MTAGUARD_MTAS=$(MTAS_DIR) MTAGUARD_FAULTS_DIR=$(FAULTS_DIR) $(SWIFT) test --skip-build --filter 'Fault|Crash|Hostile|Property'
	bash Tests/faults/table.sh $(FAULTS_DIR)

# Only the Ansible collection's suite.
ansible-test: deps ansible
	$(SWIFT) build --build-tests
	MTAGUARD_ANSIBLE_VENV=$(ANSIBLE_VENV) $(SWIFT) test --skip-build --filter AnsibleCollectionTests

# The execution environment's build context (.build/ee/context) for podman or docker build:
# a release binary with the Swift runtime linked in, then ansible-builder create.
ee: deps ansible
	$(SWIFT) build -c release --static-swift-stdlib
	rm -rf .build/ee
	$(ANSIBLE_VENV)/bin/ansible-builder create -f ansible/execution-environment.yml -c .build/ee/context --output-filename Containerfile

demo: build
	bash examples/demo/run.sh

clean:
	rm -rf .build

bench: deps
	bash Benchmarks/plan-one-host.sh
	bash Benchmarks/fleet.sh

# A fleet of fake hosts on this machine (real sshd on 127.0.0.1 ports, each in its own mount
# namespace): N=3 DIR=/tmp/mtaguard-lab by default. Prints the inventory; stop with make lab-stop.
LAB_N   ?= 3
LAB_DIR ?= /tmp/mtaguard-lab
lab: deps
	bash Tests/lab/lab.sh start $(LAB_N) $(LAB_DIR)

lab-stop:
	bash Tests/lab/lab.sh stop $(LAB_DIR)
