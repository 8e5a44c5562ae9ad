# tests/meshsim: build/meshsim, a local Kubernetes API + Istio mesh over TLS
# whose sidecars run the real plugin through the test host (tests/host).

DEB_PACKAGES += libssl-dev libyaml-dev libcjson-dev libnghttp2-dev curl
# kubectl for the conformance test; Debian's package where none is on PATH.
DEB_PACKAGES += $(if $(shell command -v kubectl 2>/dev/null),,kubernetes-client)

MESHSIM := $(OUT)/meshsim
MESHSIM_SRCS := $(sort $(wildcard tests/meshsim/*.c))
MESHSIM_OBJS := $(patsubst tests/meshsim/%.c,$(OUT)/tests/meshsim/%.o,$(MESHSIM_SRCS))

$(OUT)/tests/meshsim/%.o: tests/meshsim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -c -o $@ $<

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
TEST_CMDS += "tests/meshsim/api_errors.sh $(MESHSIM)"
TEST_CMDS += "tests/meshsim/scenarios.sh $(MESHSIM)"

BENCH_DEPS += $(MESHSIM)
BENCH_CMDS += tests/meshsim/bench.sh\ $(MESHSIM)
