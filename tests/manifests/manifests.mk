# manifests/: `make manifests` renders build/manifests/ (the module and its
# sha256 filled in; with OCI_URL=oci://... the registry variant instead), and
# tests/manifests/ checks the YAML, its kustomize rendering, meshsim's
# server-side apply, the pluginConfig in the real plugin, and the RBAC
# against the requests an operator session of hfitop makes (rbac_test.py).

DEB_PACKAGES += python3-yaml
# kubectl (with its built-in kustomize); Debian's package where none is on
# PATH. Debian 12's kubernetes-client is 1.20, whose kustomize lacks
# components: the tests then say so.
DEB_PACKAGES += $(if $(shell command -v kubectl 2>/dev/null),,kubernetes-client)

MANIFESTS_OUT := $(BUILD)/manifests
MANIFESTS_SRCS := $(shell find manifests -type f 2>/dev/null)

# The module copy is the target: an OCI render has none, so switching back
# renders again.
$(MANIFESTS_OUT)/module/hfi-fault.wasm: $(MANIFESTS_SRCS) $(PLUGIN_WASM) tests/manifests/render.sh
	tests/manifests/render.sh manifests $(MANIFESTS_OUT) --module $(PLUGIN_WASM)

.PHONY: manifests
ifdef OCI_URL
manifests:
	tests/manifests/render.sh manifests $(MANIFESTS_OUT) --oci '$(OCI_URL)'
else
manifests: $(MANIFESTS_OUT)/module/hfi-fault.wasm
endif

MANIFESTS_CHECK := $(OUT)/tests/manifests/plugin_config_check
$(MANIFESTS_CHECK): tests/manifests/plugin_config_check.c $(PWHOST_LIB) $(PWHOST_OBJS_hfi_fault)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) $(PWHOST_CFLAGS) -o $@ $< $(PWHOST_OBJS_hfi_fault) $(PWHOST_LIB) $(LDFLAGS_NATIVE)

# $(MESHSIM) comes from tests/meshsim/meshsim.mk (read before this file),
# which also puts it in TEST_BINS.
TEST_BINS += $(MANIFESTS_CHECK) $(MANIFESTS_OUT)/module/hfi-fault.wasm $(MESHSIM)
TEST_CMDS += "python3 tests/manifests/manifests_test.py --meshsim $(MESHSIM) --check $(MANIFESTS_CHECK) \
  --wasm $(PLUGIN_WASM) --rendered $(MANIFESTS_OUT)"
# hfitop with HFITOP_REQUEST_LOG against meshsim; the distinct requests, each
# with the least role it needs, land in $(RBAC_REQUESTS). $(HFITOP) comes from
# tui/hfitop.mk (read before this file).
RBAC_REQUESTS := $(OUT)/tests/manifests/hfitop-requests.txt
TEST_BINS += $(HFITOP)
TEST_CMDS += "python3 tests/manifests/rbac_test.py --meshsim $(MESHSIM) --hfitop $(HFITOP) --out $(RBAC_REQUESTS)"
