# tui/kube: the Kubernetes client layer, as a static library the console
# links with $(HFIKUBE_LIB) $(HFIKUBE_LDLIBS).

DEB_PACKAGES += libcurl4-openssl-dev libyaml-dev libcjson-dev

KUBE_SRCS := $(sort $(wildcard tui/kube/*.c))
KUBE_OBJS := $(patsubst tui/kube/%.c,$(OUT)/tui/kube/%.o,$(KUBE_SRCS))
HFIKUBE_LIB := $(OUT)/tui/libhfikube.a
HFIKUBE_LDLIBS := -lcurl -lyaml -lcjson

$(OUT)/tui/kube/%.o: tui/kube/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -c -o $@ $<

$(HFIKUBE_LIB): $(KUBE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

.PHONY: kube
kube: $(HFIKUBE_LIB)
ALL_TARGETS += $(HFIKUBE_LIB)
