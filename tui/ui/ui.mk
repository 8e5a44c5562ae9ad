# tui/ui: the interactive console (ncurses lives only here), as a library
# hfitop links with $(HFIUI_LIB) $(HFIUI_LDLIBS).

DEB_PACKAGES += libncurses-dev

UI_SRCS := $(sort $(wildcard tui/ui/*.c))
UI_OBJS := $(patsubst tui/ui/%.c,$(OUT)/tui/ui/%.o,$(UI_SRCS))
HFIUI_LIB := $(OUT)/tui/libhfiui.a
HFIUI_LDLIBS := -lncursesw

$(OUT)/tui/ui/%.o: tui/ui/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -c -o $@ $<

$(HFIUI_LIB): $(UI_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
