#!/usr/bin/env bash
# The session journal end to end against meshsim: headless commands append
# their records (who, where, what, the answer) to --journal FILE or to the
# default file under $XDG_STATE_HOME (0700 directory, 0600 file);
# `hfitop report` turns the file into a Markdown timeline with the
# deployments' counters before and after each action.
#
#   tests/app/journal.sh build/san/hfitop build/san/meshsim
set -u
HFITOP=$1
MESHSIM=$2
. "$(dirname "$0")/lib.sh"

meshsim_start "$MESHSIM"
J="$MESHSIM_DIR/journal.jsonl"

# records TYPE: the journal's records of that type, as a JSON list.
check_journal() { # NAME PYTHON (records in `recs`)
    local name=$1 code=$2
    check_py "$name" "$J" <<PY
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
actions = [r for r in recs if r["type"] == "action"]
snapshots = [r for r in recs if r["type"] == "snapshot"]
$code
PY
}

check "once: writes a snapshot" hfitop --journal "$J" --once -o json
pod=$(python3 -c 'import json,sys; print([p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "cart"][0])' \
    <(hfitop --no-journal --once -o json))
check "fire: exits 0" hfitop --journal "$J" fire "$pod" --abort 503 --count 7
check "once: another snapshot" hfitop --journal "$J" --once -o json
expect_exit "policy remove of an unknown policy fails" 1 "no policy named nosuch" \
    "$HFITOP" --journal "$J" policy remove nosuch
check "restart: exits 0" hfitop --journal "$J" restart checkout

check_journal "every line is a version 1 record with who and where" '
assert len(recs) == 5, recs
for r in recs:
    assert r["v"] == 1 and r["context"] == "meshsim" and r["user"] == "meshsim-admin", r
    assert r["namespace"] == "demo" and r["time"].endswith("Z"), r
assert [r["type"] for r in recs] == ["snapshot", "action", "snapshot", "action", "action"], recs
'
check_journal "fire: target, parameters, answer and the client's tally" '
fire = actions[0]
assert fire["action"] == "fire" and fire["target"] == "pod/'"$pod"'", fire
assert fire["params"] == {"abort_status": 503, "count": 7, "path": "/"}, fire["params"]
assert fire["ok"] is True and "503 x7" in fire["message"], fire
t = fire["tally"]
assert t["sent"] == 7 and t["aborted"] == 7 and t["statuses"] == [[503, 7]], t
assert "meshsim-demo-token" not in json.dumps(fire)
'
check_journal "a failed action is recorded as failed, with the WasmPlugin it looked at" '
p = actions[1]
assert p["action"] == "policy remove" and p["ok"] is False, p
assert p["target"] == "WasmPlugin/hfi-fault" and p["params"] == {"name": "nosuch"}, p
assert p["message"] == "no policy named nosuch", p
'
check_journal "restart: the deployment and the API answer" '
r = actions[2]
assert r["action"] == "restart" and r["target"] == "deployment/checkout" and r["http_status"] == 200, r
'
check_journal "snapshots: per deployment, the fire shows in cart" '
before = {d["name"]: d for d in snapshots[0]["deployments"]}
after = {d["name"]: d for d in snapshots[1]["deployments"]}
assert sorted(before) == ["cart", "checkout", "frontend"], before
assert before["cart"]["pods"] == 2 and before["cart"]["scraped"] == 2, before
assert after["cart"]["aborts_total"] - before["cart"]["aborts_total"] >= 7, (before, after)
'

# The report: a timeline, and the fire with cart's aborts before and after.
hfitop report "$J" >"$MESHSIM_DIR/report.md" 2>"$MESHSIM_DIR/report.err"
check "report: exits 0" test $? -eq 0
check "report: a heading and the counts" grep -q "^Journal .*: 3 actions and 2 snapshots, from " "$MESHSIM_DIR/report.md"
check "report: the timeline lists the fire" grep -qE "^\| [0-9:]{8} \| 1\. fire \| pod/$pod \| ok: fired 7 at pod " \
    "$MESHSIM_DIR/report.md"
check "report: the failed policy action" grep -q "| 2. policy remove | WasmPlugin/hfi-fault | FAILED: no policy named nosuch |" \
    "$MESHSIM_DIR/report.md"
check "report: the fire's parameters" grep -q "^- parameters: abort\\\\_status 503, count 7, path /$" "$MESHSIM_DIR/report.md"
check "report: who did it" grep -q "^- by user meshsim-admin, context meshsim, namespace demo$" "$MESHSIM_DIR/report.md"
check_py "report: cart's aborts rose by the 7 fired (at least) between the snapshots around it" "$MESHSIM_DIR/report.md" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("### 1. ")[1].split("### 2. ")[0]
assert "Before: snapshot at " in section and "After: snapshot at " in section, section
m = re.search(r"^\| cart \| (\d+) → (\d+) \(\+(\d+)\) \|", section, re.M)
assert m and int(m.group(3)) >= 7 and int(m.group(2)) - int(m.group(1)) == int(m.group(3)), section
PY
expect_exit "report: a missing file" 2 "cannot read $MESHSIM_DIR/nope" "$HFITOP" report "$MESHSIM_DIR/nope"
expect_exit "report: wants one file" 2 "report wants one FILE" "$HFITOP" report
check "report: reads standard input" bash -c "'$HFITOP' report - <'$J' | grep -q '3 actions and 2 snapshots'"

# Under traffic, with a window: the snapshots carry windowed rates and the
# observed traffic, and the report shows both before and after the fire.
meshsim_start "$MESHSIM" --traffic 20
J2="$MESHSIM_DIR/windowed.jsonl"
check "once --window: a snapshot" hfitop --journal "$J2" --once --window 3s -o json
check "fire under traffic" hfitop --journal "$J2" fire svc/frontend --abort 503 --count 10
check "once --window: a snapshot after" hfitop --journal "$J2" --once --window 3s -o json
check_py "windowed snapshots: injected and observed rates per deployment" "$J2" <<'PY'
import json, sys
snapshots = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "snapshot"]
assert len(snapshots) == 2, snapshots
for s in snapshots:
    assert s["window_s"] >= 3, s  # the window the model computed over
    d = {x["name"]: x for x in s["deployments"]}
    f = d["frontend"]
    assert f["aborts_per_s"] is not None and f["delays_per_s"] is not None, f
    assert f["observed"]["rps"] > 0 and f["observed"]["requests_total"] > 0, f
after = {x["name"]: x for x in snapshots[1]["deployments"]}["frontend"]
before = {x["name"]: x for x in snapshots[0]["deployments"]}["frontend"]
assert after["aborts_total"] - before["aborts_total"] >= 10, (before, after)
PY
hfitop report "$J2" >"$MESHSIM_DIR/windowed.md" 2>&1
check "report: the window of the rates" grep -qE "^Before: snapshot at .*; rates over [0-9]+ s\). After: snapshot at .*; rates over [0-9]+ s\)\.$" \
    "$MESHSIM_DIR/windowed.md"
check "report: observed columns" grep -q "^| deployment | aborts | aborts/s | delays | delays/s | observed req/s | error ratio | p50 ms | p99 ms |$" \
    "$MESHSIM_DIR/windowed.md"
check "report: frontend's observed requests per second before and after" \
    grep -qE "^\| frontend \| [0-9]+ → [0-9]+ \(\+[0-9]+\) \| [0-9.]+ → [0-9.]+ \| .* \| [0-9.]+ → [0-9.]+ \| [0-9.]+ → [0-9.]+ \|" \
    "$MESHSIM_DIR/windowed.md"

# The default journal: under $XDG_STATE_HOME, private.
state="$MESHSIM_DIR/state"
XDG_STATE_HOME="$state" timeout 90 "$HFITOP" --once -o json >/dev/null 2>&1
day=$(date -u +%Y-%m-%d)
check "default: the file of the day under XDG_STATE_HOME/hfitop" test -s "$state/hfitop/journal-$day.jsonl"
check "default: directory 0700" test "$(stat -c %a "$state/hfitop")" = 700
check "default: file 0600" test "$(stat -c %a "$state/hfitop/journal-$day.jsonl")" = 600
XDG_STATE_HOME= HOME="$MESHSIM_DIR/home" timeout 90 "$HFITOP" --once -o json >/dev/null 2>&1
check "default: ~/.local/state/hfitop without XDG_STATE_HOME" test -s "$MESHSIM_DIR/home/.local/state/hfitop/journal-$day.jsonl"
XDG_STATE_HOME="$MESHSIM_DIR/state2" timeout 90 "$HFITOP" --no-journal --once -o json >/dev/null 2>&1
check "--no-journal: nothing written" test ! -e "$MESHSIM_DIR/state2"
# An unusable default journal is a warning; an unusable --journal stops.
XDG_STATE_HOME=/proc/hfitop-cannot timeout 90 "$HFITOP" --once -o json >"$MESHSIM_DIR/out.json" 2>"$MESHSIM_DIR/warn"
check "default unusable: the command still works" test $? -eq 0 -a -s "$MESHSIM_DIR/out.json"
check "default unusable: a warning names the directory" grep -q "warning: cannot create the journal's directory /proc/hfitop-cannot" \
    "$MESHSIM_DIR/warn"
expect_exit "--journal unusable: refused" 2 "cannot create the journal's directory /proc/nope" \
    "$HFITOP" --journal /proc/nope/j.jsonl --once -o json

finish
