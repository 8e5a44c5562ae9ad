# tests/hostile: hfitop (the sanitizer build under `make test`) against an
# API server of our own that answers badly on purpose (Python http.server +
# ssl on 127.0.0.1, bounded): exit codes, no raw control bytes in any
# output, peak RSS, request counts.

DEB_PACKAGES += python3 openssl
TEST_BINS += $(HFITOP)
TEST_CMDS += "tests/hostile/hostile_test.py $(HFITOP)"

.PHONY: hostile-test
hostile-test: $(HFITOP)
	@tests/run-tests.sh "tests/hostile/hostile_test.py $(HFITOP)"
