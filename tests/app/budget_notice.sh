#!/usr/bin/env bash
# `hfitop --once` scrapes every sidecar through the API server's pod
# proxy under the request budget (--max-qps, a token bucket as deep as one
# second's worth). When that stretches the run beyond a few seconds, it
# says so once on stderr, as soon as the pods are listed: how many pods,
# the budget, about how long, and what changes it. A run the budget does
# not slow down says nothing.
#
#   tests/app/budget_notice.sh HFITOP MESHSIM
HFITOP=$1
MESHSIM=$2
. tests/app/lib.sh

once() { # ERR_FILE FLAGS...: --once -o json into $MESHSIM_DIR/once.json
    local err=$1
    shift
    timeout 90 "$HFITOP" --once -o json "$@" >"$MESHSIM_DIR/once.json" 2>"$err"
}
pod_count_is() {
    python3 -c 'import json, sys; sys.exit(len(json.load(open(sys.argv[1]))["pods"]) != int(sys.argv[2]))' \
        "$MESHSIM_DIR/once.json" "$1"
}
notice_lines() { grep -c 'scraping .* pods through the API server' "$1"; }

# ---- 30 pods at 3 requests a second: (30 - 3) / 3 = 9 s ----
meshsim_start "$MESHSIM" --pods 30
once "$MESHSIM_DIR/slow.err" --max-qps 3 &
once_pid=$!
check "the notice comes while --once waits" wait_for 60 grep -q 'scraping' "$MESHSIM_DIR/slow.err"
# The bucket holds the run for 9 s after the list: it has not ended yet.
check "... before the scrapes end" kill -0 "$once_pid"
wait "$once_pid"
check "--once exits 0" test $? -eq 0
check "every pod scraped" pod_count_is 30
check "one notice line" test "$(notice_lines "$MESHSIM_DIR/slow.err")" -eq 1
check "nothing else on stderr" test "$(wc -l <"$MESHSIM_DIR/slow.err")" -eq 1
for text in "scraping 30 pods" "request budget of 3/s" "takes about 9 s" "--prometheus URL" "--max-qps"; do
    check "the notice says \"$text\"" grep -qF -- "$text" "$MESHSIM_DIR/slow.err"
done
check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$MESHSIM_DIR/slow.err'"

# With --window, two rounds: the notice says so.
once "$MESHSIM_DIR/window.err" --max-qps 3 --window 1s
check "--once --window exits 0" test $? -eq 0
check "one notice with --window" test "$(notice_lines "$MESHSIM_DIR/window.err")" -eq 1
check "the notice counts rounds" grep -qF "takes about 9 s a round (two rounds with --window)" "$MESHSIM_DIR/window.err"

# The default budget (50/s) does not slow 30 pods down: nothing said.
once "$MESHSIM_DIR/default.err"
check "default budget: --once exits 0" test $? -eq 0
check "default budget: every pod scraped" pod_count_is 30
check "default budget: stderr empty" test ! -s "$MESHSIM_DIR/default.err"

# ---- 8 pods at 3 requests a second: under 2 s, nothing said ----
meshsim_start "$MESHSIM" --pods 8
once "$MESHSIM_DIR/fast.err" --max-qps 3
check "8 pods: --once exits 0" test $? -eq 0
check "8 pods: every pod scraped" pod_count_is 8
check "8 pods: stderr empty" test ! -s "$MESHSIM_DIR/fast.err"
finish
