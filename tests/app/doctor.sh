#!/usr/bin/env bash
# The doctor speaks of now, headless: doctor -o json (problems first, fixes
# naming the real namespace, pod and user), zero-policies one note for
# every workload without a policy, a configuration rejected before the
# doctor looked a note rather than a problem for ever; fire -o json.
#
#   tests/app/doctor.sh build/san/hfitop build/san/meshsim
set -u
HFITOP=$1
MESHSIM=$2
. "$(dirname "$0")/lib.sh"

expect_exit "doctor -o table is refused" 2 'doctor -o wants json, got "table"' "$HFITOP" doctor -o table
expect_exit "-o goes with the commands that print" 2 "-o goes with --once, doctor, fire" "$HFITOP" restart x -o json

# doctor_json NAME WANT_EXIT: doctor -o json into $MESHSIM_DIR/doctor.json.
doctor_json() {
    timeout 90 "$HFITOP" doctor -o json >"$MESHSIM_DIR/doctor.json" 2>"$MESHSIM_DIR/doctor.err"
    check "$1: doctor -o json exits $2" test $? -eq "$2"
}
# findings_check NAME PYTHON: a check over the findings (`findings`, `doc`).
findings_check() {
    check_py "$1" "$MESHSIM_DIR/doctor.json" <<PY
import json, sys
doc = json.load(open(sys.argv[1]))
findings = doc["findings"]
kinds = [f["kind"] for f in findings]
assert kinds == sorted(kinds, key=lambda k: k != "problem"), kinds  # problems first, always
by_id = {}
for f in findings:
    by_id.setdefault(f["id"], []).append(f)
$2
PY
}

# ---- no traffic: notes whose fix fires at the real pod ----
meshsim_start "$MESHSIM"
doctor_json "no traffic" 0
findings_check "no traffic: one note per deployment, the fix names the pod and namespace" '
assert doc["problems"] == 0 and doc["notes"] == 3 and doc["pods_checked"] == 6, doc
for f in by_id["no-traffic"]:
    assert f["kind"] == "note" and f["pods"], f
    assert "hfitop -n demo fire %s --abort 503" % f["pods"][0] in f["fix"], f["fix"]
    assert "POD" not in f["fix"] and " NS " not in f["fix"], f["fix"]
'

# ---- fire -o json ----
pod=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["findings"][0]["pods"][0])' "$MESHSIM_DIR/doctor.json")
timeout 90 "$HFITOP" fire "$pod" --abort 503 --count 4 -o json >"$MESHSIM_DIR/fire.json" 2>"$MESHSIM_DIR/fire.err"
check "fire -o json: exits 0" test $? -eq 0
check_py "fire -o json: one object with the answer and the tally" "$MESHSIM_DIR/fire.json" <<PY
import json, sys
o = json.load(open(sys.argv[1]))
assert o["ok"] is True and o["target"] == "pod/$pod" and o["namespace"] == "demo", o
assert o["params"] == {"abort_status": 503, "count": 4, "path": "/"}, o
t = o["tally"]
assert t["sent"] == 4 and t["aborted"] == 4 and t["statuses"] == [[503, 4]] and t["p50_ms"] >= 0, t
PY
timeout 90 "$HFITOP" fire no-such-pod --abort 503 --count 1 -o json >"$MESHSIM_DIR/fire.json" 2>/dev/null
check "fire -o json: a failure exits 1" test $? -eq 1
check_py "fire -o json: a failure is still one object" "$MESHSIM_DIR/fire.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
# The pod is looked up before anything is fired: nothing was sent.
assert o["ok"] is False and "not found" in o["message"] and o["tally"]["sent"] == 0, o
PY

# ---- zero policies: one note for every such workload ----
check "cart's policy removed" hfitop policy remove cart-faults
check "checkout's policy removed" hfitop policy remove checkout-faults
zero_loaded() {
    timeout 60 "$HFITOP" --once -o json >"$MESHSIM_DIR/once.json" 2>/dev/null || return 1
    python3 - "$MESHSIM_DIR/once.json" <<'PY'
import json, sys
pods = json.load(open(sys.argv[1]))["pods"]
assert all(p["policies"] == 0 for p in pods if p["deployment"] in ("cart", "checkout")), pods
PY
}
check "the sidecars load zero policies" wait_for 30 zero_loaded
doctor_json "zero policies" 0
findings_check "zero policies: one note naming both workloads" '
z = by_id["zero-policies"]
assert len(z) == 1 and z[0]["kind"] == "note", z
assert z[0]["subject"] == "workloads cart, checkout", z[0]["subject"]
assert len(z[0]["pods"]) == 4, z[0]["pods"]
'

# ---- a configuration rejected earlier: a note, not a problem ----
expect_code "a bad pluginConfig (status 999)" 200 PATCH /apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault \
    -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"pluginConfig":{"policies":[{"metadata":{"name":"bad"},"spec":{"rules":[{"fault":{"abort":{"httpStatus":999}}}]}}]}}}'
rejected() {
    timeout 60 "$HFITOP" --once -o json >"$MESHSIM_DIR/once.json" 2>/dev/null || return 1
    python3 - "$MESHSIM_DIR/once.json" <<'PY'
import json, sys
assert all(p["config_errors_total"] >= 1 for p in json.load(open(sys.argv[1]))["pods"])
PY
}
check "every sidecar rejected it" wait_for 30 rejected
doctor_json "rejected earlier" 0
findings_check "rejected earlier: config-errors-earlier notes, no config-errors problem" '
assert "config-errors" not in by_id, by_id.get("config-errors")
e = by_id["config-errors-earlier"]
assert e and all(f["kind"] == "note" for f in e), e
assert "not rising while hfitop watched" in e[0]["detail"], e[0]
assert "kubectl -n demo logs %s -c istio-proxy" % e[0]["pods"][0] in e[0]["fix"], e[0]["fix"]
'
# The text output keeps the same order and texts.
timeout 90 "$HFITOP" doctor >"$MESHSIM_DIR/doctor.txt" 2>&1
check "doctor text: the rejection is a note" grep -q "^note \[config-errors-earlier\] deployment cart" "$MESHSIM_DIR/doctor.txt"
check "doctor text: the fix names the pod" grep -qE "^  fix: .*kubectl -n demo logs cart-[a-z0-9-]+ -c istio-proxy" "$MESHSIM_DIR/doctor.txt"

# ---- the RBAC fix names the refused user ----
meshsim_start "$MESHSIM" --scenario api-403-proxy
doctor_json "api-403-proxy" 1
findings_check "api-403-proxy: the fix grants the user the API server named, in demo" '
f = by_id["rbac-pods-proxy"][0]
assert f["kind"] == "problem", f
assert "--user=meshsim-admin -n demo" in f["fix"] and "YOU" not in f["fix"], f["fix"]
assert "kubectl create role hfitop-stats --verb=get --resource=pods/proxy -n demo" in f["fix"], f["fix"]
'

finish
