# tests/regex: unit tests of plugin/regex.c, a differential test against RE2
# itself (C++, as RE2 has no C API), and a libFuzzer target.

DEB_PACKAGES += libre2-dev

REGEX_OBJ := $(OUT)/plugin/regex.o
REGEX_TEST_BINS := $(OUT)/tests/regex/regex_test $(OUT)/tests/regex/regex_vs_re2

$(OUT)/tests/regex/regex_test: tests/regex/regex_test.c $(REGEX_OBJ) plugin/regex.h tests/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -Iplugin -Itests -o $@ $< $(REGEX_OBJ) $(LDFLAGS_NATIVE)

$(OUT)/tests/regex/regex_vs_re2: tests/regex/regex_vs_re2.cc $(REGEX_OBJ) plugin/regex.h
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_NATIVE) -Iplugin -o $@ $< $(REGEX_OBJ) $(LDFLAGS_NATIVE) -lre2

TEST_BINS += $(REGEX_TEST_BINS)
TEST_CMDS += $(REGEX_TEST_BINS)

.PHONY: regex-test
regex-test: $(REGEX_TEST_BINS)
	@tests/run-tests.sh $(REGEX_TEST_BINS)

$(BUILD)/fuzz/fuzz_regex: tests/regex/fuzz_regex.c plugin/regex.c plugin/regex.h
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -Iplugin -o $@ tests/regex/fuzz_regex.c plugin/regex.c

FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_regex

# The same, differential: every answer checked against RE2 itself.
$(BUILD)/fuzz/fuzz_regex_vs_re2: tests/regex/fuzz_regex_vs_re2.cc plugin/regex.c plugin/regex.h
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -c -o $@.regex.o plugin/regex.c
	$(CXX) $(FUZZ_FLAGS) -std=c++17 $(WARN) -Iplugin -o $@ tests/regex/fuzz_regex_vs_re2.cc $@.regex.o -lre2

FUZZ_TARGETS += $(BUILD)/fuzz/fuzz_regex_vs_re2
