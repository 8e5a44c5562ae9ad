# Costs a client or a configuration can drive, counted (never timed) on the
# built build/hfi-fault.wasm: cost_test links a copy of the module's wasm2c
# translation compiled with coverage guards, one count per basic block run.

COST_TEST := $(OUT)/tests/plugin/cost_test
$(OUT)/host/hfi_fault_counted.o: $(OUT)/host/hfi_fault.c
	$(CC) $(PWHOST_GEN_CFLAGS) -fsanitize-coverage=trace-pc-guard -c -o $@ $<
$(COST_TEST): tests/plugin/cost_test.c tests/testlib.h tests/plugin/many_rules.h $(PWHOST_LIB) \
              $(OUT)/host/hfi_fault_counted.o $(OUT)/host/module_hfi_fault.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -o $@ $< $(OUT)/host/hfi_fault_counted.o $(OUT)/host/module_hfi_fault.o \
	  $(PWHOST_LIB) $(LDFLAGS_NATIVE)
TEST_BINS += $(COST_TEST)
TEST_CMDS += "$(COST_TEST) $(PLUGIN_WASM)"

# BENCH plugin_config_20k_rules_ms, against the native parser in the same run.
CONFIG_BENCH := $(OUT)/tests/plugin/bench_config
$(CONFIG_BENCH): tests/plugin/bench_config.c tests/plugin/many_rules.h $(PWHOST_LIB) $(PWHOST_OBJS_hfi_fault) \
                 $(PLUGIN_CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -o $@ $< $(PWHOST_OBJS_hfi_fault) $(PLUGIN_CORE_OBJS) $(PWHOST_LIB) \
	  $(LDFLAGS_NATIVE)
BENCH_DEPS += $(CONFIG_BENCH) $(PLUGIN_WASM)
BENCH_CMDS += "$(CONFIG_BENCH) $(PLUGIN_WASM)"
