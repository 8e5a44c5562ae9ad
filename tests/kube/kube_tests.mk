# Tests and fuzz targets of tui/kube.

# tui/kube shows server and plugin text through the sanitizer of tui/stats.
KUBE_TEST_LIB := $(HFIKUBE_LIB) $(HFISTATS_LIB)
KUBE_TEST_NAMES := $(patsubst tests/kube/%.c,%,$(sort $(wildcard tests/kube/test_*.c)))
KUBE_TEST_BINS := $(addprefix $(OUT)/tests/kube/,$(KUBE_TEST_NAMES))

$(OUT)/tests/kube/test_%: tests/kube/test_%.c $(wildcard tests/kube/*.h) $(KUBE_TEST_LIB) $(MESHSIM_LAUNCH_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -Itui/kube -Itests -o $@ $< $(KUBE_TEST_LIB) $(MESHSIM_LAUNCH_LIB) $(LDFLAGS_NATIVE) \
	  $(HFIKUBE_LDLIBS) -lpthread

.PHONY: kube-test
kube-test: $(KUBE_TEST_BINS)
	@tests/run-tests.sh $(KUBE_TEST_CMDS)

# test_meshsim runs against meshsim when that is built (it skips otherwise);
# test_util reads the timestamps of real API captures beside the checkout
# (it skips them when absent).
KUBE_REALDATA ?= ../shared/realdata/k8s_json
KUBE_UNIT_TESTS := $(filter-out %/test_meshsim %/test_util,$(KUBE_TEST_BINS))
KUBE_TEST_CMDS := $(KUBE_UNIT_TESTS) "$(OUT)/tests/kube/test_util $(KUBE_REALDATA)" \
  "$(OUT)/tests/kube/test_meshsim $(OUT)/meshsim"

TEST_BINS += $(KUBE_TEST_BINS)
TEST_CMDS += $(KUBE_TEST_CMDS)

# libFuzzer targets: the parsers, with the library compiled again with FUZZ_FLAGS.
KUBE_FUZZ_SRCS := $(sort $(wildcard tui/kube/*.c))
KUBE_FUZZ_OBJS := $(patsubst tui/kube/%.c,$(BUILD)/fuzz/kube/%.o,$(KUBE_FUZZ_SRCS))

$(BUILD)/fuzz/kube/%.o: tui/kube/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/kube/text.o: tui/stats/text.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/fuzz_kubeconfig $(BUILD)/fuzz/fuzz_watch $(BUILD)/fuzz/fuzz_events: $(BUILD)/fuzz/%: tests/kube/%.c $(KUBE_FUZZ_OBJS) $(BUILD)/fuzz/kube/text.o
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(FUZZ_FLAGS) -Itui/kube -o $@ $^ -lyaml -lcjson -lcurl

FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_kubeconfig $(BUILD)/fuzz/fuzz_watch $(BUILD)/fuzz/fuzz_events
