# tests/stats: unit tests, the fuzz target and the benchmark of tui/stats.

STATS_TESTS := test_prom_parse test_hfi_metrics test_prom_histogram test_prom_rate test_realdata
STATS_TEST_BINS := $(addprefix $(OUT)/tests/stats/,$(STATS_TESTS))
STATS_TEST_CFLAGS := $(CFLAGS_NATIVE) -Itui/stats
# Real captures live beside the checkout (../shared in CI); the test skips
# with a message when they are absent.
STATS_REALDATA ?= ../shared/realdata/envoy_prometheus

$(OUT)/tests/stats/%: tests/stats/%.c $(HFISTATS_LIB) tests/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(STATS_TEST_CFLAGS) -o $@ $< $(HFISTATS_LIB) $(LDFLAGS_NATIVE) $(HFISTATS_LDLIBS)

TEST_BINS += $(STATS_TEST_BINS)
TEST_CMDS += $(OUT)/tests/stats/test_prom_parse $(OUT)/tests/stats/test_hfi_metrics \
  $(OUT)/tests/stats/test_prom_histogram $(OUT)/tests/stats/test_prom_rate \
  "$(OUT)/tests/stats/test_realdata $(STATS_REALDATA)"

.PHONY: stats-test
stats-test: $(STATS_TEST_BINS)
	@tests/run-tests.sh $(filter $(OUT)/tests/stats/%,$(TEST_CMDS))
