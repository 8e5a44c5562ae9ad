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

# Filled in by the fragments.
DEB_PACKAGES := clang lld make pkg-config python3
ALL_TARGETS :=
TEST_BINS :=      # built before the suite runs
TEST_CMDS :=      # each a command printing `RESULT <passed> <failed>`
BENCH_CMDS :=     # each a command printing `BENCH ...` lines
FUZZ_TARGETS :=   # libFuzzer binaries; corpus in tests/corpus/<name>/

.PHONY: all deps test check bench fuzz clean demo
all:

include $(sort $(wildcard plugin/*.mk tests/*/*.mk tests/*.mk tui/*/*.mk tui/*.mk manifests/*.mk))

all: $(ALL_TARGETS)

# Quiet when everything is present; apt-get only for what is missing.
deps:
	@missing=$$(for p in $(sort $(DEB_PACKAGES)); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "make deps: apt-get failed for:" $$missing >&2; exit 1; }; \
	fi

test: deps
	@$(MAKE) --no-print-directory SAN=1 check

check: $(TEST_BINS)
	@tests/run-tests.sh $(TEST_CMDS)

bench: deps
	@$(MAKE) --no-print-directory SAN=0 bench-run

bench-run: $(BENCH_DEPS)
	@set -e; $(foreach c,$(BENCH_CMDS),$(c);)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZ_TARGETS)
	@set -e; for f in $(FUZZ_TARGETS); do \
	  n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
	  echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/corpus/$$n tests/corpus/$$n 2>&1 | tail -3; \
	done

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
