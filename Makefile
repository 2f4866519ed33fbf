# mtaguard: every target installs what it needs on a fresh Debian 12 machine (as root).
SWIFT        ?= swift
# What building mtaguard and running the demo need (make build, make demo, make install):
BUILD_PACKAGES := libaugeas-dev augeas-lenses pkg-config libxlsxwriter-dev
# What only the tests need: the real MTAs and sshd, m4 for sendmail.mc, shellcheck for every
# remote script, Chromium for the PDF report, LibreOffice renders the xlsx report, poppler
# reads the PDFs, man renders the installed man page.
TEST_PACKAGES  := augeas-tools m4 postfix openssh-server sudo sendmail-cf chromium shellcheck iproute2 python3-venv
TEST_PACKAGES  += libreoffice-calc-nogui poppler-utils fonts-noto-cjk man-db
APT_PACKAGES   ?= $(BUILD_PACKAGES) $(TEST_PACKAGES)
BIN          := .build/debug/mtaguard

.PHONY: deps build-deps apt install uninstall test demo lenses mtas faults bench lab lab-stop clean ansible ansible-test ee report-venv

deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(APT_PACKAGES)"

build-deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(BUILD_PACKAGES)"

apt:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: build-deps
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

# make install [PREFIX=/usr/local] [DESTDIR=]: a release binary (the Swift runtime linked in),
# the playbooks with the knowledge base and the lenses under PREFIX/share/mtaguard (the binary
# finds them from its own path, from any working directory), shell completions for bash, zsh
# and fish, and the man page (swift-argument-parser's generate-manual plugin; MTAGUARD_MANUAL_ESCAPES
# keeps its Korean, see Sources/mtaguard/ManualPage.swift).
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL_ROOT := $(DESTDIR)$(PREFIX)
install: build-deps
	$(SWIFT) build -c release --static-swift-stdlib --product mtaguard
	MTAGUARD_MANUAL_ESCAPES=1 $(SWIFT) package --allow-writing-to-package-directory generate-manual --configuration debug
	bash scripts/install.sh "$(INSTALL_ROOT)" "$$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)/mtaguard" \
	  .build/plugins/GenerateManual/outputs/mtaguard/mtaguard.1

uninstall:
	bash scripts/install.sh --remove "$(INSTALL_ROOT)"

# Every suite, shellcheck on every remote script the suite generated, then the
# fault-injection table (Tests/faults/table.sh fails on a lost byte).
# The install test (InstallTests) runs what make install put under .build/install-test.
INSTALL_TEST := $(CURDIR)/.build/install-test
test: deps lenses mtas ansible report-venv
	rm -rf $(INSTALL_TEST)
	$(MAKE) --no-print-directory install PREFIX=$(INSTALL_TEST)
	$(SWIFT) build --build-tests
	rm -rf $(FAULTS_DIR) $(SCRIPTS_DIR)
	MTAGUARD_MTAS=$(MTAS_DIR) MTAGUARD_FAULTS_DIR=$(FAULTS_DIR) MTAGUARD_SCRIPT_DUMP=$(SCRIPTS_DIR) MTAGUARD_ANSIBLE_VENV=$(ANSIBLE_VENV) MTAGUARD_REPORT_VENV=$(REPORT_VENV) MTAGUARD_INSTALLED=$(INSTALL_TEST) $(SWIFT) test --skip-build
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
