# tests/app: hfitop end to end against meshsim (every scenario through
# doctor, --once and stats; the actions), and the app layer's unit tests.
# Read after tui/*.mk and meshsim's fragment, so $(HFITOP), $(HFIAPP_LINK)
# and $(MESHSIM) are set.

APP_TEST_BIN := $(OUT)/tests/app/test_app
APP_SCHEDULER_TEST := $(OUT)/tests/app/test_scheduler
APP_JOURNAL_TEST := $(OUT)/tests/app/test_journal
APP_POLICY_TEST := $(OUT)/tests/app/test_policy

$(OUT)/tests/app/test_%: tests/app/test_%.c tests/testlib.h $(HFIAPP_LINK) $(MESHSIM_LAUNCH_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -Itests -o $@ $< $(HFIAPP_LINK) $(MESHSIM_LAUNCH_LIB) $(LDFLAGS_NATIVE) $(HFIKUBE_LDLIBS) \
	  $(HFISTATS_LDLIBS)

APP_TEST_CMDS := $(APP_TEST_BIN) "$(APP_SCHEDULER_TEST) $(MESHSIM)" $(APP_JOURNAL_TEST) $(APP_POLICY_TEST) \
  "tests/app/scenarios.sh $(HFITOP) $(MESHSIM)" "tests/app/actions.sh $(HFITOP) $(MESHSIM)" \
  "tests/app/journal.sh $(HFITOP) $(MESHSIM)" "tests/app/doctor.sh $(HFITOP) $(MESHSIM)" \
  "tests/app/policy.sh $(HFITOP) $(MESHSIM)" \
  "tests/app/session.sh $(HFITOP) $(MESHSIM)" "tests/app/budget_notice.sh $(HFITOP) $(MESHSIM)"
# actions.sh puts tests/tls_front.py (TLS, a kubeconfig read as YAML)
# between hfitop and meshsim.
DEB_PACKAGES += openssl python3-yaml
TEST_BINS += $(APP_TEST_BIN) $(APP_SCHEDULER_TEST) $(APP_JOURNAL_TEST) $(APP_POLICY_TEST) $(HFITOP) $(MESHSIM)
TEST_CMDS += $(APP_TEST_CMDS)

.PHONY: app-test
app-test: $(APP_TEST_BIN) $(APP_SCHEDULER_TEST) $(APP_JOURNAL_TEST) $(APP_POLICY_TEST) $(HFITOP) $(MESHSIM)
	@tests/run-tests.sh $(APP_TEST_CMDS)

# One full refresh of 1,000 pods: wall, CPU and peak RSS by /usr/bin/time.
BENCH_DEB_PACKAGES += time
BENCH_DEPS += $(HFITOP) $(MESHSIM)
BENCH_CMDS += "tests/app/bench_refresh.sh $(HFITOP) $(MESHSIM)"

# libFuzzer over the journal reader of `hfitop report` (an outside file),
# and the RFC 3339 reader it shares with tui/kube, over the raw bytes.
JOURNAL_FUZZ_SRCS := tui/app/journal_report.c tui/kube/kube_util.c tui/stats/text.c
$(BUILD)/fuzz/fuzz_journal: tests/app/fuzz_journal.c $(JOURNAL_FUZZ_SRCS) tui/app/journal_report.h tui/stats/text.h \
  tui/kube/kube_util.h
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -o $@ tests/app/fuzz_journal.c $(JOURNAL_FUZZ_SRCS) -lcjson

FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_journal

# libFuzzer over the pure half of the policy code (policy_check.c), with the
# plugin's own parser it calls, and istio.c's JSON helpers (which link the
# kube library for their I/O half).
# The kube objects come from tests/kube/kube_tests.mk's fuzz pattern rule
# (that fragment is read after this one, so they are named here).
# The kube objects show server text through tui/stats/text.c.
POLICY_FUZZ_SRCS := tui/app/policy_check.c tui/app/istio.c tui/stats/text.c $(PLUGIN_CORE_SRCS)
POLICY_FUZZ_KUBE_OBJS := $(patsubst tui/kube/%.c,$(BUILD)/fuzz/kube/%.o,$(sort $(wildcard tui/kube/*.c)))
$(BUILD)/fuzz/fuzz_policy: tests/app/fuzz_policy.c $(POLICY_FUZZ_SRCS) tui/app/policy.h $(POLICY_FUZZ_KUBE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -o $@ tests/app/fuzz_policy.c $(POLICY_FUZZ_SRCS) \
	  $(POLICY_FUZZ_KUBE_OBJS) -lcjson -lyaml -lcurl
FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_policy
