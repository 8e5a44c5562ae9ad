# tests/host: the proxy-wasm test host. It runs .wasm modules translated to
# C by wasm2c and linked in, so tests, meshsim and benchmarks drive the real
# plugin binary.
#
# For embedders:
#   PWHOST_CFLAGS         include paths and defines for anything including host.h
#   PWHOST_LIB            $(OUT)/host/libpwhost.a: host, proxy, validator, wasm2c runtime
#   PWHOST_OBJS_hfi_fault the plugin (build/hfi-fault.wasm) translated, compiled
#                         and bound as pw_module_hfi_fault
#   PWHOST_OBJS_passthrough  build/passthrough.wasm, bound as pw_module_passthrough
#   $(eval $(call pwhost_module,NAME,WASM))  the same for another module
# Link: <your objects> $(PWHOST_OBJS_hfi_fault) $(PWHOST_LIB) $(LDFLAGS_NATIVE)

DEB_PACKAGES += wabt binutils

WASM2C_RUNTIME := /usr/share/wabt/wasm2c
# Bounds checks in code instead of a SIGSEGV handler: the guard-page handler
# of wasm2c's runtime (WebAssembly/wabt wasm2c/wasm-rt-impl.c, under
# WASM_RT_MEMCHECK_SIGNAL_HANDLER) fights AddressSanitizer. Everything
# including wasm-rt.h needs the same setting.
PWHOST_CFLAGS := -Itests/host -I$(WASM2C_RUNTIME) -I$(OUT)/host -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0
PWHOST_LIB := $(OUT)/host/libpwhost.a
# wasm2c's output and runtime are not warning-clean.
PWHOST_GEN_CFLAGS := -std=c11 -D_GNU_SOURCE -w $(OPT) -MMD -MP $(PWHOST_CFLAGS)
PASSTHROUGH_WASM := $(BUILD)/passthrough.wasm
PWHOST_WASI_SYSROOT := $(if $(WASI_SDK_PATH),,$(BUILD)/wasi-sysroot)

# $(call pwhost_module,NAME,WASM): WASM -> $(OUT)/host/NAME.{c,h} (wasm2c
# -n NAME) -> NAME.o, plus module_NAME.o binding it as pw_module_NAME.
define pwhost_module
$(OUT)/host/$(1).c $(OUT)/host/$(1).h &: $(2)
	@mkdir -p $(OUT)/host
	wasm2c -n $(1) $(2) -o $(OUT)/host/$(1).c
$(OUT)/host/$(1).o: $(OUT)/host/$(1).c
	$$(CC) $$(PWHOST_GEN_CFLAGS) -c -o $$@ $$<
$(OUT)/host/module_$(1).o: tests/host/module.c tests/host/host.h $(OUT)/host/$(1).h
	$$(CC) $$(CFLAGS_NATIVE) $$(PWHOST_CFLAGS) -DPW_MODULE=$(1) -include $(OUT)/host/$(1).h -c -o $$@ $$<
PWHOST_OBJS_$(1) := $(OUT)/host/$(1).o $(OUT)/host/module_$(1).o
endef

# C -> wasm32-wasi reactor, exactly as the plugin is built (plugin/plugin.mk).
define pwhost_c_to_wasm
	@mkdir -p $(dir $@)
	$(WASM_CC) $(WASM_CFLAGS) $(WASM_LDFLAGS) -o $@.tmp $<
	wasm-opt -Oz --strip-debug --strip-producers $@.tmp -o $@ && rm -f $@.tmp
endef

$(PASSTHROUGH_WASM): tests/host/passthrough.c $(PWHOST_WASI_SYSROOT)
	$(pwhost_c_to_wasm)
$(BUILD)/host/probe.wasm: tests/host/probe.c $(PWHOST_WASI_SYSROOT)
	$(pwhost_c_to_wasm)
$(BUILD)/host/%.wasm: tests/host/%.wat
	@mkdir -p $(dir $@)
	wat2wasm $< -o $@

$(eval $(call pwhost_module,hfi_fault,$(PLUGIN_WASM)))
$(eval $(call pwhost_module,passthrough,$(PASSTHROUGH_WASM)))
$(eval $(call pwhost_module,probe,$(BUILD)/host/probe.wasm))

# host.c is compiled against wasm2c's declarations of every import it
# defines (tests/host/imports.wat), so the two cannot disagree.
$(OUT)/host/pw_imports.h: $(BUILD)/host/imports.wasm
	@mkdir -p $(dir $@)
	wasm2c -n pw_imports $< -o $(OUT)/host/pw_imports.c

$(OUT)/host/host.o: tests/host/host.c $(OUT)/host/pw_imports.h
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -c -o $@ $<
$(OUT)/host/validate.o: tests/host/validate.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -c -o $@ $<
$(OUT)/host/proxy.o: tests/host/proxy.c tests/host/host.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -c -o $@ $<
$(OUT)/host/wasm-rt-impl.o: $(WASM2C_RUNTIME)/wasm-rt-impl.c
	@mkdir -p $(dir $@)
	$(CC) $(PWHOST_GEN_CFLAGS) -c -o $@ $<
$(PWHOST_LIB): $(OUT)/host/host.o $(OUT)/host/validate.o $(OUT)/host/proxy.o $(OUT)/host/wasm-rt-impl.o
	rm -f $@ && ar rcs $@ $^

# The host's own tests: the probe and passthrough modules, and WAT modules
# the validator must refuse.
PWHOST_TEST_WAT := $(patsubst tests/host/wat/%.wat,$(BUILD)/host/wat/%.wasm,$(wildcard tests/host/wat/*.wat))
HOST_TEST := $(OUT)/tests/host/host_test
$(HOST_TEST): tests/host/host_test.c tests/testlib.h $(PWHOST_LIB) $(PWHOST_OBJS_passthrough) $(PWHOST_OBJS_probe) \
              $(BUILD)/host/imports.wasm $(PWHOST_TEST_WAT)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -DPWHOST_TEST_DIR='"$(BUILD)/host"' \
	  -DPASSTHROUGH_WASM='"$(PASSTHROUGH_WASM)"' -o $@ $< $(PWHOST_OBJS_passthrough) $(PWHOST_OBJS_probe) \
	  $(PWHOST_LIB) $(LDFLAGS_NATIVE)

TEST_BINS += $(HOST_TEST)
TEST_CMDS += $(HOST_TEST)

# libFuzzer on the validator; seeds in tests/corpus/fuzz_wasm_validate/.
$(BUILD)/fuzz/fuzz_wasm_validate: tests/host/fuzz_wasm_validate.c tests/host/validate.c tests/host/host.h
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) $(PWHOST_CFLAGS) -o $@ $< tests/host/validate.c
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_wasm_validate
