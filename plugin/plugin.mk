# hfi-fault.wasm: the plugin sources compiled for wasm32-wasi (reactor), and
# the same host-independent sources compiled natively for tests and fuzzing.

DEB_PACKAGES += wasi-libc libclang-rt-14-dev-wasm32 wabt binaryen

ifdef WASI_SDK_PATH
  WASM_CC := $(WASI_SDK_PATH)/bin/clang
  WASM_SYSROOT := $(WASI_SDK_PATH)/share/wasi-sysroot
else
  WASM_CC := clang
  WASM_SYSROOT := $(BUILD)/wasi-sysroot
endif

PLUGIN_SRCS := $(sort $(wildcard plugin/*.c))
# Only in the wasm module: the allocator (natively, libc's serves).
PLUGIN_WASM_ONLY_SRCS := $(wildcard plugin/wasm/*.c)
# Everything but the ABI glue is host-independent C.
PLUGIN_CORE_SRCS := $(filter-out plugin/abi.c,$(PLUGIN_SRCS))
PLUGIN_WASM := $(BUILD)/hfi-fault.wasm
PLUGIN_EXPORTS := malloc free

# -fno-builtin-malloc: else clang may turn calloc's malloc + memset into a
# call to calloc itself (plugin/wasm/alloc.c).
WASM_CFLAGS := --target=wasm32-wasi --sysroot=$(abspath $(WASM_SYSROOT)) -mexec-model=reactor \
  -std=c11 $(WARN) -Oz -flto -fno-builtin-malloc
comma := ,
# The link-time optimizer runs at -O2 whatever the compile flags say, and
# inlines the configuration path many times over; with no inlining bonus it
# keeps the module under 32 KiB for a few instructions more per request.
WASM_LTO_FLAGS := -Wl,-mllvm,-inline-threshold=0
WASM_LDFLAGS := $(WASM_LTO_FLAGS) -Wl,--strip-all -Wl,--gc-sections -Wl,-z,stack-size=16384 -Wl,--initial-memory=65536 \
  $(addprefix -Wl$(comma)--export=,$(PLUGIN_EXPORTS))

# Debian's clang also searches /usr/include; a sysroot holding only the
# wasm32-wasi trees keeps host headers out of the wasm build.
$(BUILD)/wasi-sysroot:
	@mkdir -p $@/include $@/lib
	@ln -sfn /usr/include/wasm32-wasi $@/include/wasm32-wasi
	@ln -sfn /usr/lib/wasm32-wasi $@/lib/wasm32-wasi

# wasm-ld leaves the first 1 KiB of memory unused (--global-base=1024), so
# binaryen may fold constant addresses into load and store offsets.
WASM_OPT_FLAGS := --low-memory-unused

$(PLUGIN_WASM): plugin/plugin.mk $(PLUGIN_SRCS) $(PLUGIN_WASM_ONLY_SRCS) $(wildcard plugin/*.h) $(if $(WASI_SDK_PATH),,$(BUILD)/wasi-sysroot)
	$(WASM_CC) $(WASM_CFLAGS) $(WASM_LDFLAGS) -o $@.tmp $(PLUGIN_SRCS) $(PLUGIN_WASM_ONLY_SRCS)
	wasm-opt -Oz $(WASM_OPT_FLAGS) --strip-debug --strip-producers $@.tmp -o $@ && rm -f $@.tmp

.PHONY: plugin
plugin: $(PLUGIN_WASM)
ALL_TARGETS += $(PLUGIN_WASM)

# Native objects of the host-independent core, for unit tests and fuzzing.
PLUGIN_CORE_OBJS := $(patsubst plugin/%.c,$(OUT)/plugin/%.o,$(PLUGIN_CORE_SRCS))
$(OUT)/plugin/%.o: plugin/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -c -o $@ $<

# libFuzzer over configuration parsing and the request path (native build of
# the same C). Its objects are built with the fuzzer's instrumentation.
FUZZ_PLUGIN := $(BUILD)/fuzz/fuzz_plugin
$(FUZZ_PLUGIN): tests/plugin/fuzz_plugin.c $(PLUGIN_CORE_SRCS) $(wildcard plugin/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -o $@ tests/plugin/fuzz_plugin.c $(PLUGIN_CORE_SRCS)
FUZZ_TARGETS += $(FUZZ_PLUGIN)
