# The plugin through the test host: behaviour tests and the benchmark, both
# on the built build/hfi-fault.wasm (never the plugin's C sources).

PLUGIN_TEST := $(OUT)/tests/plugin/plugin_test
$(PLUGIN_TEST): tests/plugin/plugin_test.c tests/testlib.h $(PWHOST_LIB) $(PWHOST_OBJS_hfi_fault)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -o $@ $< $(PWHOST_OBJS_hfi_fault) $(PWHOST_LIB) $(LDFLAGS_NATIVE) -lm
TEST_BINS += $(PLUGIN_TEST)
TEST_CMDS += "$(PLUGIN_TEST) $(PLUGIN_WASM)"
# The same through meshsim's sidecars (two worker VMs, a canary per change).
TEST_CMDS += "tests/plugin/meshsim_lifecycle.sh $(MESHSIM)"

PLUGIN_BENCH := $(OUT)/tests/plugin/bench_requests
$(PLUGIN_BENCH): tests/plugin/bench_requests.c $(PWHOST_LIB) $(PWHOST_OBJS_hfi_fault) $(PWHOST_OBJS_passthrough)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -o $@ $< $(PWHOST_OBJS_hfi_fault) $(PWHOST_OBJS_passthrough) \
	  $(PWHOST_LIB) $(LDFLAGS_NATIVE)
BENCH_DEB_PACKAGES += valgrind
BENCH_DEPS += $(PLUGIN_BENCH) $(PLUGIN_WASM) $(PASSTHROUGH_WASM)
BENCH_CMDS += "tests/plugin/bench.sh $(PLUGIN_BENCH) $(PLUGIN_WASM) $(PASSTHROUGH_WASM)"

# Wasm memory across configuration changes (tests/plugin/bench_heap.c).
PLUGIN_BENCH_HEAP := $(OUT)/tests/plugin/bench_heap
$(PLUGIN_BENCH_HEAP): tests/plugin/bench_heap.c $(PWHOST_LIB) $(PWHOST_OBJS_hfi_fault)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -o $@ $< $(PWHOST_OBJS_hfi_fault) $(PWHOST_LIB) $(LDFLAGS_NATIVE)
BENCH_DEPS += $(PLUGIN_BENCH_HEAP)
BENCH_CMDS += "$(PLUGIN_BENCH_HEAP) $(PLUGIN_WASM) 1000"
