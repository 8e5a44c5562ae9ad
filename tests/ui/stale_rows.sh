#!/usr/bin/env bash
# A key acts on the pods the model holds now, not on the rows the last
# frame drew. Frames are rate-limited, and a terminal below the minimum
# size draws no table at all, so the rows can be far older than the model:
# a pod deleted meanwhile must be neither read (it is freed) nor acted on.
#
# Deterministic: the terminal is made too small, the selected pod is
# deleted and its DELETED watch event seen, then `f` (the test-fault form,
# which names its target pod) is pressed before any table is drawn again.
#
#   tests/ui/stale_rows.sh HFITOP MESHSIM
HFITOP=$1
MESHSIM_BIN=$2
. tests/ui/lib.sh

NS=/api/v1/namespaces/demo
pod_names() { # the demo pods that are not Terminating, sorted as the table sorts them
    kcurl "$SERVER$NS/pods" | python3 -c '
import json, sys
print("\n".join(sorted(p["metadata"]["name"] for p in json.load(sys.stdin)["items"]
                       if "deletionTimestamp" not in p["metadata"])))'
}
list_version() {
    kcurl "$SERVER$NS/pods" | python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])'
}
deleted_seen() { grep -qE "\"type\": ?\"DELETED\".*\"name\": ?\"$1\"" "$MESHSIM_DIR/watch"; }

meshsim_start "$MESHSIM_BIN"
start_console
see "pods listed" "TOTAL 6 pods"

# The selected pod is the first row: the first by name.
victim=$(pod_names | sed -n 1p)
check "the victim is selected" wait_for 10 first_row_starts "$victim"

# Too small: frames show only the size, the pod table is not drawn.
tmx resize-window -t console -x 50 -y 12
see "too small" "terminal too small"

# The pod goes, as in a rollout or a kubectl delete; our own watch sees
# its DELETED event, sent to the console's watch at the same time.
kcurl -N --max-time 60 "$SERVER$NS/pods?watch=1&resourceVersion=$(list_version)" >"$MESHSIM_DIR/watch" 2>/dev/null &
watch_pid=$!
expect_code "pod deleted" 200 DELETE "$NS/pods/$victim"
check "DELETED event sent" wait_for 30 deleted_seen "$victim"
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null

# The key, then a terminal large enough to show what it did.
keys f
tmx resize-window -t console -x 150 -y 40
form_or_exit() { has "Fire test faults" || has "console exited"; }
wait_for 30 form_or_exit
if has "console exited"; then
    FAILED=$((FAILED + 1))
    echo "FAIL the key read the deleted pod: $(screen | grep -o 'console exited [0-9]*')" >&2
    grep -m 3 -E 'Sanitizer|runtime error|#[0-9] ' "$MESHSIM_DIR/console.err" | sed 's/^/    /' >&2
    finish
fi
see "fire form opened" "Fire test faults" 1
form_target() { screen | sed -n 's/.*pod \([^ ,]*\), deployment .*/\1/p' | sed -n 1p; }
target=$(form_target)
check "fire form names another pod" test -n "$target" -a "$target" != "$victim"
check "the named pod exists" grep -qxF "$target" <(pod_names)
keys Escape
see "form closed" "TOTAL"
keys q
exited_cleanly "stale rows"
finish
