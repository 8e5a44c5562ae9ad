# tui/hfitop.mk: build/hfitop, the command line over tui/app (the model,
# scrape scheduler, doctor and actions, as $(HFIAPP_LIB)). Read after
# tui/*/*.mk, so the kube and stats libraries are already named.

DEB_PACKAGES += libcurl4-openssl-dev libyaml-dev libcjson-dev

APP_SRCS := $(sort $(wildcard tui/app/*.c))
# The plugin's own configuration parser, compiled natively (plugin.mk's
# PLUGIN_CORE_OBJS): hfitop checks every policy change with it before writing.
APP_OBJS := $(patsubst tui/app/%.c,$(OUT)/tui/app/%.o,$(APP_SRCS)) $(OUT)/tui/app/envoyfilter_manifest.o \
  $(PLUGIN_CORE_OBJS)
HFIAPP_LIB := $(OUT)/tui/libhfiapp.a
HFITOP := $(OUT)/hfitop
ENVOYFILTER_MANIFEST := manifests/envoyfilter-wasm-stats.yaml
# What a program linking $(HFIAPP_LIB) links after it, in this order.
HFIAPP_LINK := $(HFIAPP_LIB) $(HFIKUBE_LIB) $(HFISTATS_LIB)

$(OUT)/tui/app/%.o: tui/app/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -c -o $@ $<

# The EnvoyFilter manifest compiled in, so an installed hfitop needs no
# checkout: od and sed, which every system has, instead of xxd.
$(OUT)/tui/app/envoyfilter_manifest.c: $(ENVOYFILTER_MANIFEST) tui/hfitop.mk
	@mkdir -p $(dir $@)
	{ echo '/* Generated from $< by tui/hfitop.mk. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char app_envoyfilter_manifest[] = {'; \
	  od -An -v -tx1 $< | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00};'; \
	  echo 'const size_t app_envoyfilter_manifest_len = sizeof app_envoyfilter_manifest - 1;'; } >$@.tmp
	mv $@.tmp $@

$(OUT)/tui/app/envoyfilter_manifest.o: $(OUT)/tui/app/envoyfilter_manifest.c
	$(CC) $(CFLAGS_NATIVE) -c -o $@ $<

$(HFIAPP_LIB): $(APP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# `hfitop --version`: the release, and the commit when built from git. The
# header is rewritten only when that text changes, so a build stays a no-op.
HFITOP_VERSION := 0.1.0
HFITOP_REVISION := $(shell git rev-parse --short HEAD 2>/dev/null)
HFITOP_VERSION_TEXT := $(HFITOP_VERSION)$(if $(HFITOP_REVISION), (git $(HFITOP_REVISION)))
.PHONY: hfitop-version-check
$(OUT)/tui/version.h: hfitop-version-check
	@mkdir -p $(dir $@)
	@echo '#define HFITOP_VERSION "$(HFITOP_VERSION_TEXT)"' >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(OUT)/tui/main.o: tui/main.c $(OUT)/tui/version.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -I$(OUT)/tui -c -o $@ $<

$(OUT)/tui/help.o: tui/help.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -c -o $@ $<

$(HFITOP): $(OUT)/tui/main.o $(OUT)/tui/help.o $(HFIUI_LIB) $(HFIAPP_LINK)
	$(CC) -o $@ $(OUT)/tui/main.o $(OUT)/tui/help.o $(HFIUI_LIB) $(HFIAPP_LINK) $(LDFLAGS_NATIVE) $(HFIKUBE_LDLIBS) \
	  $(HFISTATS_LDLIBS) $(HFIUI_LDLIBS)

.PHONY: hfitop
hfitop: $(HFITOP)
ALL_TARGETS += $(HFITOP)

# ---- the man page, the completions, `make install` ----

# hfitop-docgen writes the man page and the completions from the tables
# `hfitop --help` and the console's `?` view print (tui/help.c, tui/ui).
HFITOP_DOCGEN := $(OUT)/hfitop-docgen
HFITOP_DOCS := $(OUT)/doc/hfitop.1 $(OUT)/doc/hfitop.bash $(OUT)/doc/_hfitop

$(OUT)/tui/docgen.o: tui/docgen.c $(OUT)/tui/version.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -I$(OUT)/tui -c -o $@ $<

$(HFITOP_DOCGEN): $(OUT)/tui/docgen.o $(OUT)/tui/help.o $(HFIUI_LIB) $(HFIAPP_LINK)
	$(CC) -o $@ $^ $(LDFLAGS_NATIVE) $(HFIKUBE_LDLIBS) $(HFISTATS_LDLIBS) $(HFIUI_LDLIBS)

$(OUT)/doc/hfitop.1: $(HFITOP_DOCGEN)
	@mkdir -p $(dir $@)
	$(HFITOP_DOCGEN) man >$@.tmp && mv $@.tmp $@
$(OUT)/doc/hfitop.bash: $(HFITOP_DOCGEN)
	@mkdir -p $(dir $@)
	$(HFITOP_DOCGEN) bash >$@.tmp && mv $@.tmp $@
$(OUT)/doc/_hfitop: $(HFITOP_DOCGEN)
	@mkdir -p $(dir $@)
	$(HFITOP_DOCGEN) zsh >$@.tmp && mv $@.tmp $@

.PHONY: docs install
docs: $(HFITOP_DOCS)
ALL_TARGETS += $(HFITOP_DOCS)

# The usual places under PREFIX; DESTDIR stages it (packaging). The kubectl
# plugin is a link: kubectl runs kubectl-hfitop from the PATH for
# `kubectl hfitop`.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
install: $(HFITOP) $(HFITOP_DOCS) $(PLUGIN_WASM)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/bash-completion/completions \
	  $(DESTDIR)$(DATADIR)/zsh/vendor-completions $(DESTDIR)$(DATADIR)/hfitop
	install -m 0755 $(HFITOP) $(DESTDIR)$(BINDIR)/hfitop
	ln -sf hfitop $(DESTDIR)$(BINDIR)/kubectl-hfitop
	install -m 0644 $(OUT)/doc/hfitop.1 $(DESTDIR)$(MANDIR)/man1/hfitop.1
	install -m 0644 $(OUT)/doc/hfitop.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/hfitop
	ln -sf hfitop $(DESTDIR)$(DATADIR)/bash-completion/completions/kubectl-hfitop
	install -m 0644 $(OUT)/doc/_hfitop $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_hfitop
	install -m 0644 $(PLUGIN_WASM) $(DESTDIR)$(DATADIR)/hfitop/hfi-fault.wasm
