# tests/stats: unit tests, the fuzz target and the benchmark of tui/stats.
# Included before tui/stats/stats.mk, so prerequisites name the library and
# sources literally (variables of stats.mk are still empty here).

STATS_TESTS := test_prom_parse test_hfi_metrics test_prom_histogram test_prom_rate test_prom_window test_realdata test_text \
  test_prom_api
STATS_TEST_BINS := $(addprefix $(OUT)/tests/stats/,$(STATS_TESTS))
STATS_TEST_CFLAGS := $(CFLAGS_NATIVE) -Itui/stats
STATS_TEST_LIB := $(OUT)/tui/libhfistats.a
STATS_LIB_SRCS := $(wildcard tui/stats/*.c tui/stats/*.h)
# Real captures live beside the checkout (../shared in CI); the test skips
# with a message when they are absent.
STATS_REALDATA ?= ../shared/realdata/envoy_prometheus

$(OUT)/tests/stats/%: tests/stats/%.c $(STATS_TEST_LIB) tests/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(STATS_TEST_CFLAGS) -o $@ $< $(HFISTATS_LIB) $(LDFLAGS_NATIVE) $(HFISTATS_LDLIBS)

STATS_TEST_CMDS := $(OUT)/tests/stats/test_prom_parse $(OUT)/tests/stats/test_hfi_metrics \
  $(OUT)/tests/stats/test_prom_histogram $(OUT)/tests/stats/test_prom_rate $(OUT)/tests/stats/test_prom_window \
  $(OUT)/tests/stats/test_text $(OUT)/tests/stats/test_prom_api \
  "$(OUT)/tests/stats/test_realdata $(STATS_REALDATA)"
TEST_BINS += $(STATS_TEST_BINS)
TEST_CMDS += $(STATS_TEST_CMDS)

.PHONY: stats-test
stats-test: $(STATS_TEST_BINS)
	@tests/run-tests.sh $(STATS_TEST_CMDS)

# libFuzzer: links the library sources directly, built with $(FUZZ_FLAGS).
$(BUILD)/fuzz/fuzz_prom: tests/stats/fuzz_prom.c $(STATS_LIB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -Itui/stats -o $@ tests/stats/fuzz_prom.c $(filter %.c,$(STATS_LIB_SRCS)) $(HFISTATS_LDLIBS)

$(BUILD)/fuzz/fuzz_text: tests/stats/fuzz_text.c $(STATS_LIB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -Itui/stats -o $@ tests/stats/fuzz_text.c tui/stats/text.c

FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_prom $(BUILD)/fuzz/fuzz_text

$(BUILD)/fuzz/fuzz_prom_api: tests/stats/fuzz_prom_api.c $(STATS_LIB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -Itui/stats -o $@ tests/stats/fuzz_prom_api.c $(filter %.c,$(STATS_LIB_SRCS)) $(HFISTATS_LDLIBS)

FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_prom_api

# Benchmark against Python's prometheus_client and Go's expfmt on the same
# generated dump; its paths are compiled in.
BENCH_DEB_PACKAGES += python3-prometheus-client golang-go golang-github-prometheus-common-dev
STATS_BENCH := $(OUT)/tests/stats/bench_prom
STATS_BENCH_GO := $(BUILD)/bench_prom_go

$(STATS_BENCH): tests/stats/bench_prom.c $(STATS_TEST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(STATS_TEST_CFLAGS) -DBENCH_PROM_DUMP='"$(BUILD)/bench_prom_dump.txt"' \
	  -DBENCH_PROM_PYTHON='"tests/stats/bench_prom.py"' -DBENCH_PROM_GO='"$(STATS_BENCH_GO)"' \
	  -o $@ $< $(HFISTATS_LIB) $(LDFLAGS_NATIVE) $(HFISTATS_LDLIBS)

# Debian ships the Go libraries as sources under /usr/share/gocode: GOPATH mode.
$(STATS_BENCH_GO): tests/stats/bench_prom_go.go
	@mkdir -p $(dir $@)
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(abspath $(BUILD))/gocache \
	  go build -o $@ $<

BENCH_DEPS += $(STATS_BENCH) $(STATS_BENCH_GO)
BENCH_CMDS += $(STATS_BENCH)
