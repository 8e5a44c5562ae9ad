#!/usr/bin/env bash
# The plugin in meshsim's sidecars as Envoy hosts it: two worker VMs sharing
# stats by name, and every WasmPlugin change tried on a canary VM first, then
# applied as a new root context in each worker. Seen from outside only: the
# pod's istio-proxy log, /stats/prometheus, and requests through the pod proxy.
#   tests/plugin/meshsim_lifecycle.sh build/meshsim
MESHSIM=${1:?usage: $0 MESHSIM}
. "$(dirname "$0")/../meshsim/lib.sh"

NS=/api/v1/namespaces/demo
TOKEN=meshsim-demo-token
WP=/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault

meshsim_start "$MESHSIM" --seed 3
fe=$(kcurl "$SERVER$NS/pods?labelSelector=app%3Dfrontend" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["name"])')
stats() { kcurl "$SERVER$NS/pods/$fe:15090/proxy/stats/prometheus"; }
value() { stats | sed -n "s/^wasmcustom_hfi_faults_$1{} \([0-9]*\)$/\1/p"; }
log() { kcurl "$SERVER$NS/pods/$fe/log?container=istio-proxy"; }
configured() { log | grep -c 'wasm log hfi-fault: hfi-fault: configured'; }

# The first load: the canary and both workers each configure it.
check "load: canary and two workers configure" test "$(configured)" -eq 3

# Two requests held at once go to different workers; the gauge they share
# is the sum of what each holds.
hold() {
    kcurl -o /dev/null -w '%{http_code} %{time_total}\n' -H 'x-hfi-fault-delay-ms: 1500' \
        -H "x-hfi-fault-token: $TOKEN" "$SERVER$NS/pods/$fe:8080/proxy/held-$1" >>"$MESHSIM_DIR/held"
}
: >"$MESHSIM_DIR/held"
hold 1 &
first=$!
hold 2 &
second=$!
two_held() { [ "$(value active_delays)" = 2 ]; }
check "active_delays sums both workers" wait_for 5 two_held

# A change while they wait: they still end on time, under the old roots.
expect_code "pluginConfig changed" 200 PATCH "$WP" -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"pluginConfig":{"max_active_delays":999}}}'
wait "$first" "$second"
check_py "held requests end on time across the change" "$MESHSIM_DIR/held" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
assert len(rows) == 2 and all(r[0] == "200" for r in rows), rows
assert all(1.4 <= float(r[1]) < 3.0 for r in rows), rows
PY
check "change: canary and two workers configure it" test "$(configured)" -eq 6
check "active_delays back to 0" test "$(value active_delays)" = 0

# An invalid change is counted by every VM that saw it, the canary included,
# and the previous configuration stays whole: header faults still work.
before=$(value config_errors_total)
expect_code "invalid pluginConfig" 200 PATCH "$WP" -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"pluginConfig":{"policies":7}}}'
three_errors() { [ "$(value config_errors_total)" = $((before + 3)) ]; }
check "invalid change: counted by canary and both workers" wait_for 5 three_errors
rejection_logged() { log | grep -q 'configuration rejected: policies: must be an array; keeping the previous'; }
check "invalid change: logged" rejection_logged
aborted() {
    kcurl -o /dev/null -w '%{http_code}' -H 'x-hfi-fault-abort: 418' -H "x-hfi-fault-token: $TOKEN" \
        "$SERVER$NS/pods/$fe:8080/proxy/" | grep -qx 418
}
check "previous configuration still in force" aborted
finish
