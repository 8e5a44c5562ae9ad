# The console's pure helpers, without a terminal; the console itself is
# tested through tmux (tests/ui/console.sh).
UI_FORMAT_TEST := $(OUT)/tests/ui/format_test
$(UI_FORMAT_TEST): tests/ui/format_test.c tests/testlib.h $(OUT)/tui/ui/format.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -o $@ $< $(OUT)/tui/ui/format.o $(LDFLAGS_NATIVE) -lm
TEST_BINS += $(UI_FORMAT_TEST)
TEST_CMDS += $(UI_FORMAT_TEST)

# The console through tmux against meshsim.
DEB_PACKAGES += tmux
TEST_BINS += $(HFITOP) $(MESHSIM)
TEST_CMDS += "tests/ui/console.sh $(HFITOP) $(MESHSIM)"

# The console's session journal and its report, through tmux.
TEST_CMDS += "tests/ui/session.sh $(HFITOP) $(MESHSIM)"

# The console's safety: type-ahead, Ctrl-C, R, the kill switch, strict
# policy forms, truthful test faults (tests/ui/safety.sh).
# openssl makes the certificate of the TLS front that holds writes.
DEB_PACKAGES += openssl
TEST_CMDS += "tests/ui/safety.sh $(HFITOP) $(MESHSIM)"

# The detail view's pod events, through tmux.
TEST_CMDS += "tests/ui/detail_events.sh $(HFITOP) $(MESHSIM)"
TEST_CMDS += "tests/ui/session_console.sh $(HFITOP) $(MESHSIM)"

# A key acts on the model's pods, not on rows drawn before a pod was
# deleted (the terminal too small to draw any), through tmux.
TEST_CMDS += "tests/ui/stale_rows.sh $(HFITOP) $(MESHSIM)"

# One frame of 1,000 pods against one of 10, drawn into a terminal on /dev/null.
UI_RENDER_BENCH := $(OUT)/tests/ui/bench_render
$(UI_RENDER_BENCH): tests/ui/bench_render.c $(HFIUI_LIB) $(HFIAPP_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -o $@ $< $(HFIUI_LIB) $(HFIAPP_LINK) $(LDFLAGS_NATIVE) $(HFIKUBE_LDLIBS) \
	  $(HFISTATS_LDLIBS) $(HFIUI_LDLIBS)
BENCH_DEPS += $(UI_RENDER_BENCH)
BENCH_CMDS += $(UI_RENDER_BENCH)

# The console's CPU, idle on the demo mesh and on 5,000 pods, against
# --once scaled to the same scrape rate.
BENCH_DEB_PACKAGES += time tmux
BENCH_DEPS += $(HFITOP) $(MESHSIM)
BENCH_CMDS += "tests/ui/bench_console.sh $(HFITOP) $(MESHSIM)"
