# tests/meshsim: build/meshsim, a local Kubernetes API + Istio mesh over TLS
# whose sidecars run the real plugin through the test host (tests/host).

DEB_PACKAGES += libssl-dev libyaml-dev libcjson-dev libnghttp2-dev curl
# kubectl for the conformance test; Debian's package where none is on PATH.
DEB_PACKAGES += $(if $(shell command -v kubectl 2>/dev/null),,kubernetes-client)
# Clients nobody here wrote: promtool (in Debian's prometheus) checks every
# sidecar's exposition text; Debian's Kubernetes Python client drives the API.
DEB_PACKAGES += prometheus python3-kubernetes

MESHSIM := $(OUT)/meshsim
MESHSIM_SRCS := $(filter-out tests/meshsim/fuzz_%.c,$(sort $(wildcard tests/meshsim/*.c)))
MESHSIM_OBJS := $(patsubst tests/meshsim/%.c,$(OUT)/tests/meshsim/%.o,$(MESHSIM_SRCS))

$(OUT)/tests/meshsim/%.o: tests/meshsim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -c -o $@ $<

# The OpenAPI v3 schemas (kubectl explain, client-side apply's patch
# metadata): C generated from a short description.
MESHSIM_OPENAPI_C := $(OUT)/tests/meshsim/openapi_schemas.c
$(MESHSIM_OPENAPI_C): tests/meshsim/openapi.txt tests/meshsim/openapi_gen.py
	@mkdir -p $(dir $@)
	python3 tests/meshsim/openapi_gen.py tests/meshsim/openapi.txt $@
$(OUT)/tests/meshsim/openapi_schemas.o: $(MESHSIM_OPENAPI_C) tests/meshsim/openapi.h
	$(CC) $(CFLAGS_NATIVE) -Itests/meshsim -c -o $@ $<
MESHSIM_OBJS += $(OUT)/tests/meshsim/openapi_schemas.o

# The plugin's regex engine serves /stats/prometheus?filter= and stats
# inclusion regexps, linked natively.
$(MESHSIM): $(MESHSIM_OBJS) $(OUT)/plugin/regex.o $(PWHOST_OBJS_hfi_fault) $(PWHOST_LIB) $(PLUGIN_WASM)
	$(CC) -o $@ $(MESHSIM_OBJS) $(OUT)/plugin/regex.o $(PWHOST_OBJS_hfi_fault) $(PWHOST_LIB) \
	  $(LDFLAGS_NATIVE) -lssl -lcrypto -lcjson -lyaml -lnghttp2

.PHONY: meshsim
meshsim: $(MESHSIM)
ALL_TARGETS += $(MESHSIM)
TEST_BINS += $(MESHSIM)

# Shell tests, each starting its own meshsim on 127.0.0.1:0.
TEST_CMDS += "tests/meshsim/conformance.sh $(MESHSIM)"
TEST_CMDS += "tests/meshsim/conformance_envoy.sh $(MESHSIM)"
# Debian's interpreter, where python3-kubernetes is installed.
TEST_CMDS += "/usr/bin/python3 tests/meshsim/conformance_python.py $(MESHSIM)"
TEST_CMDS += "tests/meshsim/api_errors.sh $(MESHSIM)"
TEST_CMDS += "tests/meshsim/scenarios.sh $(MESHSIM)"

BENCH_DEPS += $(MESHSIM)
BENCH_CMDS += "tests/meshsim/bench.sh $(MESHSIM)"

# libFuzzer over the client-facing parsers; seeds in tests/corpus/fuzz_meshsim_parsers.
MESHSIM_FUZZ_SRCS := tests/meshsim/selector.c tests/meshsim/yaml.c tests/meshsim/proto.c tests/meshsim/patch.c \
  tests/meshsim/schema.c \
  tests/meshsim/store.c tests/meshsim/rng.c tests/meshsim/buf.c
# Strategic merge patches read the schemas' patch metadata.
$(BUILD)/fuzz/fuzz_meshsim_parsers: tests/meshsim/fuzz_parsers.c $(MESHSIM_FUZZ_SRCS) $(MESHSIM_OPENAPI_C) \
  $(wildcard tests/meshsim/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -iquote tests/meshsim -o $@ tests/meshsim/fuzz_parsers.c \
	  $(MESHSIM_FUZZ_SRCS) $(MESHSIM_OPENAPI_C) -lcjson -lyaml
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_meshsim_parsers

# For C tests that start a meshsim of their own (tests/meshsim_launch.h);
# an archive, so test binaries that do not use it link nothing of it.
MESHSIM_LAUNCH_LIB := $(OUT)/tests/libmeshsim_launch.a
$(MESHSIM_LAUNCH_LIB): tests/meshsim_launch.c tests/meshsim_launch.h
	@mkdir -p $(OUT)/tests
	$(CC) $(CFLAGS_NATIVE) -c -o $(OUT)/tests/meshsim_launch.o $<
	rm -f $@ && ar rcs $@ $(OUT)/tests/meshsim_launch.o
