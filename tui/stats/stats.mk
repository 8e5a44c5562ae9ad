# tui/stats: the pure parsing and metric layer (no I/O), as one static
# library the console links: $(HFISTATS_LIB).

STATS_SRCS := $(sort $(wildcard tui/stats/*.c))
STATS_OBJS := $(patsubst %.c,$(OUT)/%.o,$(STATS_SRCS))
HFISTATS_LIB := $(OUT)/tui/libhfistats.a
# What a program linking $(HFISTATS_LIB) needs after it (pthread_once; cJSON
# for the Prometheus query API answers).
HFISTATS_LDLIBS := -lm -lpthread -lcjson

$(OUT)/tui/stats/%.o: tui/stats/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_NATIVE) -c -o $@ $<

$(HFISTATS_LIB): $(STATS_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

.PHONY: stats
stats: $(HFISTATS_LIB)
ALL_TARGETS += $(HFISTATS_LIB)
