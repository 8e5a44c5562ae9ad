# tests/prometheus: Debian's Prometheus 2.42 (built without Kubernetes
# discovery: it reads meshsim's file_sd list) scraping meshsim's sidecars;
# meshsim's list and listeners (targets.sh), hfitop's Prometheus source and
# its doctor findings (source.sh), the console with --prometheus and the
# request budget of the pod-proxy mode (console.sh).

DEB_PACKAGES += prometheus openssl python3

TEST_CMDS += "tests/prometheus/targets.sh $(MESHSIM)"
TEST_CMDS += "tests/prometheus/source.sh $(MESHSIM) $(HFITOP)"
TEST_CMDS += "tests/prometheus/console.sh $(HFITOP) $(MESHSIM)"
TEST_BINS += $(HFITOP) $(MESHSIM)

# make bench: the Prometheus source's refresh of 10,000 pods and the
# console's request rate at 1,000 pods (tests/prometheus/bench.sh).
PROM_BENCH := $(OUT)/bench_prom_source
$(PROM_BENCH): tests/prometheus/bench_prom_source.c $(HFIAPP_LINK)
	$(CC) $(CFLAGS_NATIVE) -Itui -o $@ $< $(HFIAPP_LINK) $(LDFLAGS_NATIVE) $(HFIKUBE_LDLIBS) $(HFISTATS_LDLIBS)
BENCH_DEB_PACKAGES += tmux
BENCH_DEPS += $(PROM_BENCH) $(HFITOP) $(MESHSIM)
BENCH_CMDS += "tests/prometheus/bench.sh $(HFITOP) $(MESHSIM) $(PROM_BENCH)"
