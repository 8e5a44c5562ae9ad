# hfitop: one entry point. `make` builds optimised binaries into build/;
# `make test` installs what is missing, then builds and runs the whole suite
# under AddressSanitizer + UndefinedBehaviorSanitizer into build/san/.
#
# Each component folder holds a `*.mk` fragment that adds its targets to the
# lists below, so components never edit each other's rules.

SHELL := /bin/bash
BUILD ?= build
SAN ?= 0

CC := clang
CXX := clang++
WARN := -Wall -Wextra -Werror
# DWARF 4: Debian 12's valgrind cannot read the DWARF 5 clang 14 emits.
ifeq ($(SAN),1)
  OUT := $(BUILD)/san
  OPT := -O1 -g -gdwarf-4 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
  OUT := $(BUILD)
  OPT := -O2 -g -gdwarf-4
endif
CFLAGS_NATIVE := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -MMD -MP
CXXFLAGS_NATIVE := -std=c++17 $(WARN) $(OPT) -MMD -MP
LDFLAGS_NATIVE := $(filter -fsanitize=%,$(OPT))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60

# Filled in by the fragments. Packages only the benchmarks' references need
# are kept apart, so that `make test` on a fresh machine installs no more
# than building and testing needs.
# libclang-rt-14-dev holds the sanitizer and libFuzzer runtimes; clang only
# recommends it, and deps installs without recommends.
DEB_PACKAGES := clang libclang-rt-14-dev lld make pkg-config python3
BENCH_DEB_PACKAGES :=
ALL_TARGETS :=
TEST_BINS :=      # built before the suite runs
TEST_CMDS :=      # each a command printing `RESULT <passed> <failed>`; quote those with arguments
BENCH_CMDS :=     # each a command printing `BENCH ...` lines; quote those with arguments
FUZZ_TARGETS :=   # libFuzzer binaries; corpus in tests/corpus/<name>/

.PHONY: all deps bench-deps test check bench bench-run fuzz fuzz-run clean demo screenshots
all:

# Fragments are read in dependency order, because make expands a rule's
# prerequisites as it reads the rule: the plugin, the test host and meshsim
# (which embeds both), the console's libraries, the console, then the tests
# and manifests that use any of them.
MK_EARLY := $(wildcard plugin/*.mk tests/host/*.mk tests/meshsim/*.mk)
MK_CONSOLE := $(sort $(wildcard tui/*/*.mk)) $(wildcard tui/*.mk)
MK_LATE := $(filter-out $(MK_EARLY),$(sort $(wildcard tests/*/*.mk tests/*.mk manifests/*.mk)))
include $(MK_EARLY) $(MK_CONSOLE) $(MK_LATE)

all: $(ALL_TARGETS)

# Quiet when everything is present; apt-get only for what is missing.
define install_missing
@missing=$$(for p in $(sort $(1)); do \
  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
if [ -n "$$missing" ]; then \
  echo "make: installing" $$missing; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
    || { echo "make: apt-get failed for:" $$missing >&2; exit 1; }; \
fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))

bench-deps: deps
	$(call install_missing,$(BENCH_DEB_PACKAGES))

test: deps
	@$(MAKE) --no-print-directory SAN=1 check

check: $(TEST_BINS)
	@tests/run-tests.sh $(TEST_CMDS)

bench: bench-deps
	@$(MAKE) --no-print-directory SAN=0 bench-run

bench-run: $(BENCH_DEPS)
	@for c in $(BENCH_CMDS); do bash -c "$$c" || exit 1; done

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZ_TARGETS)
	@set -e; for f in $(FUZZ_TARGETS); do \
	  n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
	  echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/corpus/$$n tests/corpus/$$n 2>&1 | tail -3; \
	done

# PNGs of the real console in xterm under Xvfb (tests/screenshots.sh).
SCREENSHOT_DEB_PACKAGES := xvfb xterm imagemagick fonts-dejavu-core tmux
screenshots: deps
	$(call install_missing,$(SCREENSHOT_DEB_PACKAGES))
	@$(MAKE) --no-print-directory SAN=0 $(BUILD)/meshsim $(BUILD)/hfitop
	@tests/screenshots.sh $(BUILD)/hfitop $(BUILD)/meshsim screenshots

# The console on meshsim's default mesh; optimised binaries.
demo: deps
	@$(MAKE) --no-print-directory SAN=0 $(BUILD)/meshsim $(BUILD)/hfitop
	@tests/demo.sh $(BUILD)/meshsim $(BUILD)/hfitop

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
