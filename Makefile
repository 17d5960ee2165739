# cw-aio — all-in-one IMS core. `make run` to serve, `make test` to test (both install what they need).
SWIFT      ?= swift
CONFIG     ?= cw-aio.conf
ARGS       ?=
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT        := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
BUILD_DEPS := libsqlite3-dev libssl-dev
TEST_DEPS  := sip-tester sipsak iproute2 sqlite3
FUZZ_SECS  ?= 60

.PHONY: all build release run test unit interop fuzz deps test-deps clean

all: build

# Installs Debian packages only when one is missing (no apt traffic on a ready machine).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(APT) update -qq && $(APT) install -y -qq $$missing >/dev/null; fi
endef

deps:
	$(call apt_install,$(BUILD_DEPS))

# sipp/sipsak, plus the real softphones (baresip, linphonec, pjsua2 from PyPI) and pytest.
test-deps: deps
	$(call apt_install,$(TEST_DEPS))
	Tests/Interop/install-clients.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: build
	$(SWIFT) run cw-aio --config $(CONFIG) $(ARGS)

# Unit tests (Swift Testing) then the interop suite with real peers in an isolated network namespace.
test: test-deps
	$(SWIFT) build
	$(SWIFT) test
	Tests/Interop/run.sh

unit: deps
	$(SWIFT) test

interop: test-deps build
	Tests/Interop/run.sh

# libFuzzer on the SIP parser (NIO-free harness, own scratch path). FUZZ_SECS per run.
fuzz:
	$(SWIFT) build -c debug --scratch-path .build-fuzz --product SIPFuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
	mkdir -p .build-fuzz/corpus-sip && cp -n Tests/FuzzCorpus/sip/* .build-fuzz/corpus-sip/ 2>/dev/null || true
	SWIFT_BACKTRACE=enable=no .build-fuzz/debug/SIPFuzz -max_total_time=$(FUZZ_SECS) -max_len=8192 \
	  -artifact_prefix=.build-fuzz/ .build-fuzz/corpus-sip

clean:
	rm -rf .build .build-fuzz
