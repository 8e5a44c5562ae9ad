#!/usr/bin/env bash
# The console in a chaos session: what it writes to the session journal
# (its start, a snapshot of the deployments every few seconds, each action
# with its answer), what it says when the journal cannot be written, and
# the report made from that journal.
#
#   tests/ui/session.sh HFITOP MESHSIM
HFITOP=$1
MESHSIM_BIN=$2
. tests/ui/lib.sh

J="$MESHSIM_DIR/console.jsonl"
# journal_has NAME PYTHON: a condition over the console's journal records
# (`recs`), waited for.
journal_holds() {
    python3 - "$J" "$1" <<'PY' 2>/dev/null
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
actions = [r for r in recs if r["type"] == "action"]
snapshots = [r for r in recs if r["type"] == "snapshot"]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

meshsim_start "$MESHSIM_BIN" --traffic 20
start_console --journal "$J"
see "console up" "wasmcustom"
check "journal: the console's start" wait_for 10 journal_holds \
    'recs[0]["type"] == "session" and recs[0]["command"] == "console" and recs[0]["context"] == "meshsim"'
check "journal: a snapshot of the three deployments once scraped" wait_for 30 journal_holds \
    'snapshots and sorted(d["name"] for d in snapshots[-1]["deployments"]) == ["cart", "checkout", "frontend"]'
check "journal: the console's snapshots have rates" wait_for 40 journal_holds \
    'any(d["aborts_per_s"] is not None for s in snapshots for d in s["deployments"])'

keys f
see "fire form" "Fire test faults"
keys Enter
see "fire tally" "aborted 10" 60
keys Escape
check "journal: the console's fire, with its tally" wait_for 10 journal_holds \
    'actions and actions[-1]["action"] == "fire" and actions[-1]["params"]["count"] == 10 and actions[-1]["tally"]["aborted"] == 10 and actions[-1]["user"] == "meshsim-admin"'
check "journal: a snapshot after the fire" wait_for 30 journal_holds \
    'snapshots[-1]["time"] > actions[-1]["time"]'
keys q
exited_cleanly "journal"
check "on quitting, the console says where the journal is" grep -qF "hfitop: the session's journal: $J (hfitop report" \
    "$MESHSIM_DIR/console.err"

"$HFITOP" report "$J" >"$MESHSIM_DIR/report.md" 2>&1
check "report of the console's journal" grep -q "^### 1\. [0-9:]* fire pod/.*: ok$" "$MESHSIM_DIR/report.md"
check "report: hfitop console started" grep -q "| hfitop console started (context meshsim, namespace demo) |" \
    "$MESHSIM_DIR/report.md"
check "report: counters before and after the fire" grep -q "^Before: snapshot at .* After: snapshot at " \
    "$MESHSIM_DIR/report.md"

# A journal that cannot be written: the console says so and goes on.
start_console --journal /dev/full
see "journal write failure shown" "journal /dev/full: No space left on device" 40
see "console goes on" "wasmcustom"
keys q
exited_cleanly "journal failure"

# ---- the doctor view speaks of now ----
meshsim_start "$MESHSIM_BIN"
start_console
see "doctor: console up" "wasmcustom"
keys d
see "doctor: no traffic is a note" "note deployment cart [no-traffic]" 60
see "doctor: its fix names the pod and namespace" "hfitop -n demo fire cart-" 10
keys Enter
see "doctor: Enter on no-traffic opens the fire form" "Fire test faults" 10
see "doctor: for the finding's pod" "pod cart-" 10
keys Escape
# A bad configuration arrives while the console watches: a problem, listed
# before the notes.
expect_code "a bad pluginConfig (status 999)" 200 PATCH /apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault \
    -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"pluginConfig":{"policies":[{"metadata":{"name":"bad"},"spec":{"rules":[{"fault":{"abort":{"httpStatus":999}}}]}}]}}}'
see "doctor: a rejection seen rising is a problem" "PROBLEM deployment cart [config-errors]" 60
# first_finding KIND: the doctor view's first finding line starts so.
problems_first() {
    local lines
    lines=$(screen | grep -nE '^(PROBLEM|note) ' | cut -d: -f1,2 | sed 's/:\(PROBLEM\|note\).*/ \1/')
    echo "$lines" | grep -q PROBLEM || return 1
    # no note line above the last PROBLEM line
    local last_problem first_note
    last_problem=$(echo "$lines" | awk '$2 == "PROBLEM" {n = $1} END {print n + 0}')
    first_note=$(echo "$lines" | awk '$2 == "note" {print $1; exit}')
    [ -z "$first_note" ] || [ "$first_note" -gt "$last_problem" ]
}
check "doctor: problems come before notes" wait_for 20 steadily problems_first
keys q
exited_cleanly "doctor"

finish
