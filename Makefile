# mtaguard: every target installs what it needs on a fresh Debian 12 machine (as root).
SWIFT        ?= swift
APT_PACKAGES := libaugeas-dev augeas-lenses augeas-tools pkg-config m4 postfix openssh-server sudo sendmail-cf
BIN          := .build/debug/mtaguard

.PHONY: deps build test demo lenses bench lab lab-stop clean

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

lenses: deps
	bash Tests/lenses/run.sh

test: deps lenses
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

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
