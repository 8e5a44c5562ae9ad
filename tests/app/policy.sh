#!/usr/bin/env bash
# Policy changes that an operator can trust, end to end against meshsim:
# meshsim refuses stale writes with 409 as an API server does; hfitop checks
# every change with the plugin's own parser and writes nothing it would
# reject; parallel writers lose nothing; policies carry absolute bounds;
# the kill switch removes everything in one write and watches the sidecars
# stop.
#
#   tests/app/policy.sh build/san/hfitop build/san/meshsim
set -u
HFITOP=$1
MESHSIM=$2
. "$(dirname "$0")/lib.sh"

WP=/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault
DEPLOY=/apis/apps/v1/namespaces/demo/deployments/cart
rv_of() { # PATH: the object's resourceVersion
    http_code GET "$1" >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$MESHSIM_DIR/body"
}
conflict() { is_status 409 Conflict; }

meshsim_start "$MESHSIM"

# ---- meshsim: resourceVersion preconditions on every write verb ----
stale=$(rv_of "$WP")
expect_code "precondition: merge patch with the current version" 200 PATCH "$WP" \
    -H 'Content-Type: application/merge-patch+json' \
    -d "{\"metadata\":{\"resourceVersion\":\"$stale\",\"labels\":{\"touched\":\"1\"}}}"
expect_code "precondition: merge patch with a stale version" 409 PATCH "$WP" \
    -H 'Content-Type: application/merge-patch+json' -d "{\"metadata\":{\"resourceVersion\":\"$stale\"}}"
check "precondition: merge patch answers a Conflict Status" conflict
check_py "precondition: the Conflict names the object" "$MESHSIM_DIR/body" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert "wasmplugins.extensions.istio.io \"hfi-fault\"" in s["message"] and "has been modified" in s["message"], s
assert s["details"]["name"] == "hfi-fault" and s["details"]["kind"] == "wasmplugins", s
PY
expect_code "precondition: merge patch without a version still applies" 200 PATCH "$WP" \
    -H 'Content-Type: application/merge-patch+json' -d '{"metadata":{"labels":{"touched":"2"}}}'
expect_code "precondition: json patch setting a stale version" 409 PATCH "$WP" \
    -H 'Content-Type: application/json-patch+json' \
    -d "[{\"op\":\"replace\",\"path\":\"/metadata/resourceVersion\",\"value\":\"$stale\"}]"
expect_code "precondition: apply with a stale version" 409 PATCH "$WP?fieldManager=test" \
    -H 'Content-Type: application/apply-patch+yaml' \
    -d "{\"apiVersion\":\"extensions.istio.io/v1alpha1\",\"kind\":\"WasmPlugin\",\"metadata\":{\"name\":\"hfi-fault\",\"resourceVersion\":\"$stale\"}}"
http_code GET "$WP" >/dev/null
python3 - "$MESHSIM_DIR/body" "$stale" >"$MESHSIM_DIR/put.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
o["metadata"]["resourceVersion"] = sys.argv[2]
print(json.dumps(o))
PY
expect_code "precondition: update with a stale version" 409 PUT "$WP" -H 'Content-Type: application/json' \
    -d @"$MESHSIM_DIR/put.json"
dstale=$(rv_of "$DEPLOY")
expect_code "precondition: strategic patch, current version" 200 PATCH "$DEPLOY" \
    -H 'Content-Type: application/strategic-merge-patch+json' \
    -d "{\"metadata\":{\"resourceVersion\":\"$dstale\",\"labels\":{\"touched\":\"1\"}}}"
expect_code "precondition: strategic patch, stale version" 409 PATCH "$DEPLOY" \
    -H 'Content-Type: application/strategic-merge-patch+json' \
    -d "{\"metadata\":{\"resourceVersion\":\"$dstale\",\"labels\":{\"touched\":\"2\"}}}"
expect_code "precondition: the refused patch changed nothing" 200 GET "$DEPLOY"
check_py "precondition: label as before the stale patch" "$MESHSIM_DIR/body" <<'PY'
import json, sys
assert json.load(open(sys.argv[1]))["metadata"]["labels"]["touched"] == "1"
PY

# ---- validation: the plugin's own parser, before any write ----
writes() { grep -c '^PATCH .*/wasmplugins/' "$MESHSIM_DIR/requests" 2>/dev/null || true; }
NEVER_MATCH='{"path":{"prefix":"/never"}}'
policy_file() { # NAME FAULT-JSON [MATCH-JSON]: a one-rule policy for cart
    printf '{"metadata":{"name":"%s"},"spec":{"selector":{"service":"cart","namespace":"demo"},"rules":[{"match":%s,"fault":%s}]}}\n' \
        "$1" "${3:-$NEVER_MATCH}" "$2" >"$MESHSIM_DIR/$1.json"
}
refused() { # NAME FILE TEXT: policy apply exits 1 naming TEXT, and writes nothing
    : >"$MESHSIM_DIR/requests"
    local before
    before=$(rv_of "$WP")
    HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" expect_exit "$1" 1 "$3" "$HFITOP" policy apply "$2"
    check "$1: no write sent" test "$(writes)" -eq 0
    check "$1: the WasmPlugin is unchanged" test "$(rv_of "$WP")" = "$before"
}
policy_file bad-status '{"abort":{"httpStatus":99}}'
refused "validation: status 99" "$MESHSIM_DIR/bad-status.json" \
    'policy "bad-status": spec.rules[0].fault.abort.httpStatus'
policy_file bad-regex '{"abort":{"httpStatus":503}}' '{"path":{"regex":"^/(?=cart)"}}'
refused "validation: lookahead regex" "$MESHSIM_DIR/bad-regex.json" 'policy "bad-regex": spec.rules[0].match.path.regex'
policy_file bad-percent '{"percentage":"abc","abort":{"httpStatus":503}}'
refused "validation: percentage as text" "$MESHSIM_DIR/bad-percent.json" \
    'policy "bad-percent": spec.rules[0].fault.percentage'
check "validation: the refusal says nothing was written" grep -q "refused, nothing written" "$MESHSIM_DIR/expect"
expect_exit "validation: not a policy object" 1 "must be a JSON object with metadata.name" \
    "$HFITOP" policy apply /dev/null

# --dry-run: the resulting configuration, nothing written.
policy_file cart-slow '{"percentage":5,"delay":{"fixed_delay_ms":200}}'
: >"$MESHSIM_DIR/requests"
HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" "$HFITOP" policy apply "$MESHSIM_DIR/cart-slow.json" --dry-run --for 10m \
    >"$MESHSIM_DIR/dry.json" 2>"$MESHSIM_DIR/dry.err"
check "dry run: exits 0" test $? -eq 0
check "dry run: nothing written" test "$(writes)" -eq 0
check_py "dry run: prints the whole resulting pluginConfig" "$MESHSIM_DIR/dry.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
names = [p["metadata"]["name"] for p in cfg["policies"]]
assert "cart-slow" in names and len(names) >= 2, names
assert cfg["header_faults"]["enabled"] is True, cfg
PY
check "dry run: says so" grep -q "dry run, nothing written" "$MESHSIM_DIR/dry.err"

# ---- absolute bounds: --for stamps start_time and end_time ----
expect_exit "bounds: apply --for 10m" 0 "policy cart-slow applied" "$HFITOP" policy apply "$MESHSIM_DIR/cart-slow.json" --for 10m
expect_code "bounds: read back" 200 GET "$WP"
check_py "bounds: start_time now, end_time ten minutes later (RFC 3339 UTC)" "$MESHSIM_DIR/body" <<'PY'
import json, sys, datetime
wp = json.load(open(sys.argv[1]))
p = [p for p in wp["spec"]["pluginConfig"]["policies"] if p["metadata"]["name"] == "cart-slow"][0]
fmt = "%Y-%m-%dT%H:%M:%SZ"
start = datetime.datetime.strptime(p["spec"]["start_time"], fmt)
end = datetime.datetime.strptime(p["spec"]["end_time"], fmt)
now = datetime.datetime.utcnow()
assert (end - start).total_seconds() == 600, p
assert abs((now - start).total_seconds()) < 60, (now, start)
PY
printf '{"metadata":{"name":"was-over"},"spec":{"start_time":"2020-01-01T00:00:00Z","end_time":"2020-01-01T01:00:00Z","selector":{"service":"cart"},"rules":[{"fault":{"abort":{"httpStatus":503}}}]}}' >"$MESHSIM_DIR/over.json"
expect_exit "bounds: a policy with its own bounds keeps them" 0 "policy was-over applied" "$HFITOP" policy apply "$MESHSIM_DIR/over.json"
printf '{"metadata":{"name":"later"},"spec":{"start_time":"2099-01-01T00:00:00Z","selector":{"service":"cart"},"rules":[{"fault":{"abort":{"httpStatus":503}}}]}}' >"$MESHSIM_DIR/later.json"
expect_exit "bounds: one not started yet" 0 "policy later applied" "$HFITOP" policy apply "$MESHSIM_DIR/later.json"

# ---- list and show ----
"$HFITOP" policy list >"$MESHSIM_DIR/list" 2>&1
check "list: exits 0" test $? -eq 0
check "list: time left of the stamped policy" grep -qE '^cart-slow +cart +1  (9m5[0-9]s|10m00s) left$' "$MESHSIM_DIR/list"
check "list: expired" grep -qE '^was-over .* expired$' "$MESHSIM_DIR/list"
check "list: not started" grep -qE '^later .* not started \(in ' "$MESHSIM_DIR/list"
"$HFITOP" policy list -o json >"$MESHSIM_DIR/list.json" 2>&1
check_py "list -o json: every policy with its window" "$MESHSIM_DIR/list.json" <<'PY'
import json, sys
ps = {p["metadata"]["name"]: p for p in json.load(open(sys.argv[1]))}
assert ps["was-over"]["window"] == "expired" and ps["cart-slow"]["window"].endswith(" left"), ps
PY
expect_exit "show: a policy's rules" 0 "rule 1    path prefix /never -> delay 200ms, 5%" "$HFITOP" policy show cart-slow
expect_exit "show: unknown policy" 1 "no policy named nope" "$HFITOP" policy show nope
expect_exit "show: -o json" 0 '"end_time":' "$HFITOP" policy show cart-slow -o json
expect_exit "readonly: list allowed" 0 "cart-slow" "$HFITOP" --readonly policy list
expect_exit "readonly: apply refused" 2 "refused under --readonly" "$HFITOP" --readonly policy apply "$MESHSIM_DIR/over.json"
expect_exit "flags: --for needs a unit" 2 "--for wants a duration with its unit" "$HFITOP" policy apply x --for 300

# ---- no lost writes: ten applies, then ten removes, in parallel ----
for i in $(seq 10); do
    printf '{"metadata":{"name":"par-%d"},"spec":{"selector":{"service":"cart"},"rules":[{"match":{"path":{"prefix":"/par-%d"}},"fault":{"percentage":1,"abort":{"httpStatus":500}}}]}}' \
        "$i" "$i" >"$MESHSIM_DIR/par-$i.json"
done
for i in $(seq 10); do
    timeout 90 "$HFITOP" policy apply "$MESHSIM_DIR/par-$i.json" >"$MESHSIM_DIR/apply-$i.out" 2>&1 &
    eval "apply_pid_$i=$!"
done
for i in $(seq 10); do
    eval "wait \$apply_pid_$i"
    rc=$?
    check "parallel apply $i: exit 0 ($(head -c 200 "$MESHSIM_DIR/apply-$i.out"))" test "$rc" -eq 0
    check "parallel apply $i: reported applied" grep -q "policy par-$i applied" "$MESHSIM_DIR/apply-$i.out"
done
expect_code "parallel apply: read back" 200 GET "$WP"
check_py "parallel apply: all ten policies are there" "$MESHSIM_DIR/body" <<'PY'
import json, sys
names = [p["metadata"]["name"] for p in json.load(open(sys.argv[1]))["spec"]["pluginConfig"]["policies"]]
missing = ["par-%d" % i for i in range(1, 11) if "par-%d" % i not in names]
assert not missing, missing
PY
for i in $(seq 10); do
    timeout 90 "$HFITOP" policy remove "par-$i" >"$MESHSIM_DIR/remove-$i.out" 2>&1 &
    eval "remove_pid_$i=$!"
done
for i in $(seq 10); do
    eval "wait \$remove_pid_$i"
    rc=$?
    check "parallel remove $i: exit 0 ($(head -c 200 "$MESHSIM_DIR/remove-$i.out"))" test "$rc" -eq 0
    check "parallel remove $i: reported removed" grep -q "policy par-$i removed" "$MESHSIM_DIR/remove-$i.out"
done
expect_code "parallel remove: read back" 200 GET "$WP"
check_py "parallel remove: none of the ten is left, the others are" "$MESHSIM_DIR/body" <<'PY'
import json, sys
names = [p["metadata"]["name"] for p in json.load(open(sys.argv[1]))["spec"]["pluginConfig"]["policies"]]
assert not [n for n in names if n.startswith("par-")], names
assert "cart-slow" in names and "was-over" in names, names
PY

# ---- the kill switch: every policy in one write, then the sidecars stop ----
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["spec"]["pluginConfig"]["policies"]))' "$MESHSIM_DIR/body")
: >"$MESHSIM_DIR/requests"
HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" expect_exit "kill switch: not confirmed" 1 "not confirmed; nothing written" \
    "$HFITOP" policy remove --all <<<n
check "kill switch: the question names WasmPlugin, namespace, context and count" \
    grep -qF "Remove all $count policies of WasmPlugin hfi-fault in namespace demo, context meshsim, in one write? [y/N]" "$MESHSIM_DIR/expect"
check "kill switch: no answer, no write" test "$(writes)" -eq 0
: >"$MESHSIM_DIR/requests"
echo y | HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" timeout 120 "$HFITOP" policy remove --all >"$MESHSIM_DIR/halt" 2>&1
check "kill switch: exits 0 ($(tail -n 3 "$MESHSIM_DIR/halt"))" test $? -eq 0
check "kill switch: one write" test "$(writes)" -eq 1
check "kill switch: reports the removal" grep -q "WasmPlugin demo/hfi-fault: all $count policies removed" "$MESHSIM_DIR/halt"
check_py "kill switch: every pod reported stopped" "$MESHSIM_DIR/halt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
stopped = re.findall(r"^pod (\S+): faults stopped", text, re.M)
assert len(stopped) == 6 and "STILL" not in text, text
PY
expect_code "kill switch: read back" 200 GET "$WP"
check_py "kill switch: no policy left, header faults kept" "$MESHSIM_DIR/body" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))["spec"]["pluginConfig"]
assert cfg["policies"] == [] and cfg["header_faults"]["enabled"] is True, cfg
PY

# Several WasmPlugins: Istio applies every one that selects a workload
# (istio/istio pilot/pkg/model/push_context.go, WasmPluginsByListenerInfo),
# so the kill switch clears each one that holds policies, not the first.
WPS=${WP%/*}
wasmplugin_json() { # NAME POLICIES-JSON
    printf '{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"%s","namespace":"demo"},"spec":{"url":"file:///hfi-fault.wasm","selector":{"matchLabels":{"app":"cart"}},"pluginConfig":{"policies":%s}}}' "$1" "$2"
}
expect_code "several: a second WasmPlugin with two policies" 201 POST "$WPS" -H 'Content-Type: application/json' \
    -d "$(wasmplugin_json zz-second '[{"metadata":{"name":"other-1"},"spec":{"selector":{"service":"cart"},"rules":[{"fault":{"abort":{"httpStatus":503}}}]}},{"metadata":{"name":"other-2"},"spec":{"rules":[]}}]')"
expect_code "several: a third one without policies" 201 POST "$WPS" -H 'Content-Type: application/json' \
    -d "$(wasmplugin_json zz-third '[]')"
# Which WasmPlugin a change goes to is never a guess: with several, apply
# and remove want --wasmplugin (the first by name may be another plugin).
: >"$MESHSIM_DIR/requests"
HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" expect_exit "several: apply without --wasmplugin is refused" 1 \
    "namespace demo has 3 WasmPlugins (hfi-fault, zz-second, zz-third): say which one with --wasmplugin NAME" \
    "$HFITOP" policy apply "$MESHSIM_DIR/cart-slow.json"
HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" expect_exit "several: remove without --wasmplugin is refused" 1 \
    "say which one with --wasmplugin NAME" "$HFITOP" policy remove other-1
check "several: nothing written without --wasmplugin" test "$(writes)" -eq 0
expect_exit "several: a policy in the first again" 0 "WasmPlugin demo/hfi-fault: policy cart-slow applied" \
    "$HFITOP" policy apply "$MESHSIM_DIR/cart-slow.json" --for 10m --wasmplugin hfi-fault
third_rv=$(rv_of "$WPS/zz-third")
: >"$MESHSIM_DIR/requests"
HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" expect_exit "several: not confirmed" 1 "not confirmed; nothing written" \
    "$HFITOP" policy remove --all <<<n
check "several: the question names each WasmPlugin with its count" \
    grep -qF "Remove all 3 policies of 2 WasmPlugins (hfi-fault: 1, zz-second: 2) in namespace demo, context meshsim, one write each? [y/N]" "$MESHSIM_DIR/expect"
check "several: no answer, no write" test "$(writes)" -eq 0
: >"$MESHSIM_DIR/requests"
HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" timeout 120 "$HFITOP" policy remove --all --yes >"$MESHSIM_DIR/halt" 2>&1
check "several: exits 0 ($(tail -n 3 "$MESHSIM_DIR/halt"))" test $? -eq 0
check "several: one write per WasmPlugin with policies" test "$(writes)" -eq 2
check "several: reports the first" grep -q "WasmPlugin demo/hfi-fault: all 1 policies removed" "$MESHSIM_DIR/halt"
check "several: reports the second" grep -q "WasmPlugin demo/zz-second: all 2 policies removed" "$MESHSIM_DIR/halt"
for name in hfi-fault zz-second; do
    expect_code "several: read back $name" 200 GET "$WPS/$name"
    check_py "several: no policy left in $name" "$MESHSIM_DIR/body" <<'PY'
import json, sys
assert json.load(open(sys.argv[1]))["spec"]["pluginConfig"]["policies"] == []
PY
done
check "several: the one without policies is not written" test "$(rv_of "$WPS/zz-third")" = "$third_rv"
expect_exit "several: --wasmplugin keeps to the one named" 0 "has no policies: nothing to remove" \
    "$HFITOP" --interval 1 policy remove --all --yes --wasmplugin zz-second
for name in zz-second zz-third; do
    expect_code "several: delete $name" 200 DELETE "$WPS/$name"
done

# pluginConfig.policies that is not a list: the plugin rejects the whole
# configuration and goes on enforcing the last one it accepted, so the kill
# switch replaces it by an empty list rather than refuse to touch it.
policy_file cart-all '{"abort":{"httpStatus":503}}' '{"path":{"prefix":"/"}}'
expect_exit "not a list: an injecting policy" 0 "policy cart-all applied" "$HFITOP" policy apply "$MESHSIM_DIR/cart-all.json" --for 10m
expect_code "not a list: policies made an object behind hfitop's back" 200 PATCH "$WP" \
    -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"pluginConfig":{"policies":{"oops":true}}}}'
timeout 120 "$HFITOP" --interval 1 policy remove --all --yes >"$MESHSIM_DIR/halt" 2>&1
check "not a list: the kill switch exits 0 ($(tail -n 3 "$MESHSIM_DIR/halt"))" test $? -eq 0
check "not a list: says what it replaced" \
    grep -q "WasmPlugin demo/hfi-fault: pluginConfig.policies, not a list, replaced by an empty list" "$MESHSIM_DIR/halt"
expect_code "not a list: read back" 200 GET "$WP"
check_py "not a list: an empty list now" "$MESHSIM_DIR/body" <<'PY'
import json, sys
assert json.load(open(sys.argv[1]))["spec"]["pluginConfig"]["policies"] == []
PY

# Header faults keep coming after the halt: the pod still injecting is named.
pod=$(timeout 60 "$HFITOP" --once -o json | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)["pods"] if p["deployment"] == "cart"][0])')
# Two firing loops and scrapes 4 s apart, so that no interval goes without
# a fault however slow a loaded machine starts each hfitop.
fire_loop() { while true; do timeout 30 "$HFITOP" fire "$pod" --abort 503 --count 3 >/dev/null 2>&1; : >"$MESHSIM_DIR/fired"; done; }
fire_loop &
firing1=$!
fire_loop &
firing2=$!
check "kill switch, faults still fired: firing" wait_for 30 test -e "$MESHSIM_DIR/fired"
timeout 120 "$HFITOP" --interval 4 policy remove --all --yes >"$MESHSIM_DIR/halt" 2>&1
rc=$?
kill "$firing1" "$firing2" 2>/dev/null
wait "$firing1" "$firing2" 2>/dev/null
check "kill switch, faults still fired: exit 1" test "$rc" -eq 1
check "kill switch, faults still fired: names the pod" grep -q "^pod $pod: STILL INJECTING" "$MESHSIM_DIR/halt"

finish
