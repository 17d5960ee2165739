# cw-aio — all-in-one IMS core. `make run` to serve, `make test` to test (both install what they need).
SWIFT      ?= swift
CONFIG     ?= cw-aio.conf
ARGS       ?=
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT        := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
BUILD_DEPS := libsqlite3-dev libssl-dev
TEST_DEPS  := sip-tester sipsak iproute2 sqlite3 openssl
FUZZ_SECS  ?= 60

.PHONY: all build release run test unit interop fuzz deps test-deps clean bench

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

# Swift runtime and Foundation linked in: ~15 MB less resident memory than the shared libraries
# (no per-library relocations and no unused exports paged in), one file to ship in the image.
# SwiftNIO built, like our modules (Package.swift), without the run-time exclusivity checks: its
# event loop, channels and buffers make ~100 such checks per REGISTER pair (~3 % of the pair's
# instructions in callgrind). Debug builds, which the tests run, keep them.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked

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

# libFuzzer on every parser of untrusted input (NIO-free harnesses, own scratch path), each for
# FUZZ_SECS or FUZZ_RUNS executions, whichever ends first: SIPFuzz (SIP messages), DigestFuzz (auth
# headers, nonces), ConfigFuzz (cw-aio.conf, --set), RoutingFuzz (enum.json, bgcf.json, NAPTR regex,
# dialled numbers), CSVFuzz (`subscriber import` CSV, identity syntax), ProxyFuzz (caller preferences,
# loop detection, CANCEL/ACK builders, the P-CSCF's REGISTER edits, the registrar's reading of a REGISTER,
# reg-event SUBSCRIBEs). Seeds: Tests/FuzzCorpus/<name>/.
# Optimised builds (-O keeps Swift's bounds and overflow traps; a debug build runs ~40x slower, too
# slow to reach millions of inputs); FUZZ_ASAN=1 adds AddressSanitizer for the unsafe-pointer code.
comma      := ,
FUZZ_RUNS  ?= -1
FUZZ_ASAN  ?=
FUZZ_DIR   := .build-fuzz
# The fuzz builds keep the run-time exclusivity checks that release builds drop (Package.swift): an
# overlapping access an input can reach is a finding.
FUZZ_FLAGS := -c release --scratch-path $(FUZZ_DIR) --sanitize=fuzzer -Xswiftc -sanitize=fuzzer$(if $(FUZZ_ASAN),$(comma)address) \
              -Xswiftc -enforce-exclusivity=checked
# $(1) product, $(2) corpus name, $(3) -max_len
define fuzz_run
	mkdir -p $(FUZZ_DIR)/corpus-$(2) $(FUZZ_DIR)/findings && cp -n Tests/FuzzCorpus/$(2)/* $(FUZZ_DIR)/corpus-$(2)/ 2>/dev/null || true
	SWIFT_BACKTRACE=enable=no $(FUZZ_DIR)/release/$(1) -max_total_time=$(FUZZ_SECS) -runs=$(FUZZ_RUNS) -max_len=$(3) \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/findings/$(1)- $(FUZZ_DIR)/corpus-$(2)
endef
fuzz:
	$(SWIFT) build $(FUZZ_FLAGS) --product SIPFuzz
	$(SWIFT) build $(FUZZ_FLAGS) --product DigestFuzz
	$(SWIFT) build $(FUZZ_FLAGS) --product ConfigFuzz
	$(SWIFT) build $(FUZZ_FLAGS) --product RoutingFuzz
	$(SWIFT) build $(FUZZ_FLAGS) --product CSVFuzz
	$(SWIFT) build $(FUZZ_FLAGS) --product ProxyFuzz
	$(call fuzz_run,SIPFuzz,sip,8192)
	$(call fuzz_run,DigestFuzz,digest,4096)
	$(call fuzz_run,ConfigFuzz,config,4096)
	$(call fuzz_run,RoutingFuzz,routing,4096)
	$(call fuzz_run,CSVFuzz,csv,8192)
	$(call fuzz_run,ProxyFuzz,proxy,8192)

# cw-aio vs the Kamailio reference (../shared/peers/kamailio) under the same sipp load, ~11 min on 2 cores.
# Knobs: REG_RATES, CALL_RATES, REG_SECS, CALL_SECS, ... (see Tests/Bench/bench.sh), e.g.
#   make bench REG_RATES="1000 2000 4000" CALL_RATES="100 200 400"
BENCH_DEPS := kamailio kamailio-sqlite-modules sip-tester sqlite3 time iproute2
bench: release
	$(call apt_install,$(BENCH_DEPS))
	Tests/Bench/bench.sh

clean:
	rm -rf .build $(FUZZ_DIR)
