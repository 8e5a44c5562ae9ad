#!/usr/bin/env bash
# The sidecars and every scenario's observable effect.
# Usage: scenarios.sh path/to/meshsim
. "$(dirname "$0")/lib.sh"
MESHSIM=${1:?usage: scenarios.sh MESHSIM}
NS=/api/v1/namespaces/demo
TOKEN=meshsim-demo-token

# pods_of APP: names of the app's pods that are not terminating.
pods_of() {
    kcurl "$SERVER$NS/pods?labelSelector=app%3D$1" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    if "deletionTimestamp" not in p["metadata"]:
        print(p["metadata"]["name"])'
}
first_pod() { pods_of "$1" | sed -n 1p; }
# stats POD [QUERY]: the sidecar's /stats/prometheus through the pod proxy.
stats() { kcurl "$SERVER$NS/pods/$1:15090/proxy/stats/prometheus${2:+?$2}"; }
has_metric() { stats "$1" | grep -q "^$2"; }
no_metric() { ! stats "$1" | grep -q "^$2"; }
# metric_sum NAME APP: a counter summed over the app's pods.
metric_sum() {
    local total=0 v
    for p in $(pods_of "$2"); do
        v=$(stats "$p" | sed -n "s/^$1{} \([0-9]*\)$/\1/p")
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
positive() { [ "$("$@")" -gt 0 ]; }

# ---- default demo: plugin in every sidecar, traffic moves counters ----
meshsim_start "$MESHSIM" --traffic 300 --seed 7
h2_used() { [ "$(kcurl -o /dev/null -w '%{http_version}' "$SERVER/version")" = 2 ]; }
check "ALPN h2: these checks run over HTTP/2" h2_used
fe=$(first_pod frontend)
stats "$fe" >"$MESHSIM_DIR/stats"
check_py "Envoy format: sorted families, TYPE lines, le as %.32g" "$MESHSIM_DIR/stats" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) > 300, len(lines)
types = [l.split()[2] for l in lines if l.startswith("# TYPE ")]
assert types == sorted(types) and len(types) == len(set(types)), "families not sorted or repeated"
for l in lines:
    if not l.startswith("#"):
        assert re.match(r'^[a-zA-Z_][a-zA-Z0-9_]*\{[^}]*\} -?[0-9.e+]+$', l), l
les = re.findall(r'le="([^"]+)"', "\n".join(lines))
assert "0.5" in les and "3600000" in les and "+Inf" in les and "1e+06" not in les and "1.0" not in les
assert any(l.startswith('envoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name=') for l in lines)
assert any(l.startswith("envoy_wasm_envoy_wasm_runtime_v8_active{} 1") for l in lines)
assert any(l.startswith("istio_requests_total{") for l in lines)
PY
filtered() { [ "$(stats "$fe" 'filter=cluster%5C.xds-grpc%5C.upstream_cx_total' | grep -v '^#')" = 'envoy_cluster_upstream_cx_total{envoy_cluster_name="xds-grpc"} 0' ]; }
check "filter is a partial match on the dotted name" filtered
only_plugin() { [ "$(stats "$fe" 'filter=%5Ewasmcustom%5C.wasmcustom%5C.' | grep -vc '^wasmcustom_\|^# TYPE wasmcustom_')" -eq 0 ]; }
check "filter on the plugin's dotted names" only_plugin
usedonly_hides_zeros() { ! stats "$fe" 'usedonly' | grep -q '^envoy_cluster_bind_errors{'; }
check "usedonly hides untouched stats" usedonly_hides_zeros
expect_code "bad regex -> 400" 400 GET "$NS/pods/$fe:15090/proxy/stats/prometheus?filter=%28"
expect_code "15090 serves only /stats/prometheus" 404 GET "$NS/pods/$fe:15090/proxy/config_dump"
expect_code "admin port unreachable" 503 GET "$NS/pods/$fe:15000/proxy/config_dump"
check "traffic moves the inbound counters" wait_for 10 has_metric "$fe" 'envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="inbound_0.0.0.0_8080"} [1-9]'
check "traffic draws aborts from the demo policy" wait_for 20 positive metric_sum wasmcustom_hfi_faults_aborts_total cart
check "traffic draws delays from the demo policy" wait_for 20 positive metric_sum wasmcustom_hfi_faults_delays_total frontend

expect_code "header abort through the pod proxy" 418 GET "$NS/pods/$fe:8080/proxy/anything" \
    -H 'x-hfi-fault-abort: 418' -H "x-hfi-fault-token: $TOKEN"
abort_header() { kcurl -D - -o /dev/null -H 'x-hfi-fault-abort: 503' -H "x-hfi-fault-token: $TOKEN" "$SERVER$NS/services/frontend:80/proxy/x" | grep -qi '^x-hfi-fault: abort'; }
check "header abort through the service proxy" abort_header
expect_code "wrong token: no fault" 200 GET "$NS/services/frontend/proxy/x" -H 'x-hfi-fault-abort: 503' -H 'x-hfi-fault-token: nope'
expect_code "app answers /status/NNN" 404 GET "$NS/pods/$fe:8080/proxy/status/404"
# A held request does not hold up others.
start=$(date +%s%N)
kcurl -o "$MESHSIM_DIR/slow" -H 'x-hfi-fault-delay-ms: 1500' -H "x-hfi-fault-token: $TOKEN" "$SERVER$NS/pods/$fe:8080/proxy/slow" &
slow=$!
sleep 0.2
kcurl -o /dev/null "$SERVER$NS/pods/$fe:8080/proxy/fast"
fast_ms=$((($(date +%s%N) - start) / 1000000))
wait "$slow"
slow_ms=$((($(date +%s%N) - start) / 1000000))
check "delayed request held ~1.5 s" test "$slow_ms" -ge 1400
check "other requests go on meanwhile" test "$fast_ms" -lt 1200
check "delayed request then answered by the app" grep -q '"path":"/slow"' "$MESHSIM_DIR/slow"

# A client that gives up on a held request resets its stream in the plugin.
for proto in --http1.1 --http2; do
    CURL_HTTP=$proto kcurl -o /dev/null --max-time 0.5 -H 'x-hfi-fault-delay-ms: 5000' -H "x-hfi-fault-token: $TOKEN" \
        "$SERVER$NS/pods/$fe:8080/proxy/abandoned" 2>/dev/null
done
no_active_delays() { stats "$fe" 'filter=active_delays' | grep -qx 'wasmcustom_hfi_faults_active_delays{} 0'; }
check "abandoned delays are dropped by the plugin" wait_for 5 no_active_delays

# Two requests multiplexed on one h2 connection: the held one does not
# block the other.
kcurl --parallel -w '%{num_connects} %{time_total} %{http_code}\n' -o /dev/null -o /dev/null \
    -H 'x-hfi-fault-delay-ms: 1500' -H "x-hfi-fault-token: $TOKEN" \
    "$SERVER$NS/pods/$fe:8080/proxy/held" "$SERVER$NS/pods/$fe:8080/proxy/held2" >"$MESHSIM_DIR/mux" 2>/dev/null
kcurl --parallel -w '%{num_connects} %{time_total} %{http_code}\n' -o /dev/null -o /dev/null \
    "$SERVER$NS/pods/$fe:8080/proxy/a" "$SERVER$NS/pods/$fe:8080/proxy/b" >>"$MESHSIM_DIR/mux" 2>/dev/null
check_py "h2 streams multiplexed on one connection" "$MESHSIM_DIR/mux" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
assert len(rows) == 4 and all(r[2] == "200" for r in rows), rows
held = [float(r[1]) for r in rows[:2]]
assert min(held) >= 1.4 and max(held) < 2.5, rows  # held together, not one after the other
assert sorted(int(r[0]) for r in rows[:2]) == [0, 1], rows  # the second reused the first connection
PY

# Per-pod histogram buckets (sidecar.istio.io/statsHistogramBuckets).
kcurl -o /dev/null -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
    -d '{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/statsHistogramBuckets":"{\"wasmcustom\":[1,10,100,1000,1e6]}"}}}}}' \
    "$SERVER/apis/apps/v1/namespaces/demo/deployments/frontend"
new_frontend() { local p; p=$(first_pod frontend); [ -n "$p" ] && [ "$p" != "$fe" ] && [ "$(pods_of frontend | wc -l)" -eq 2 ]; }
check "bucket annotation rolls frontend" wait_for 10 new_frontend
fb=$(first_pod frontend)
wait_running() { kcurl -o /dev/null -w '%{http_code}' "$SERVER$NS/pods/$fb:8080/proxy/" | grep -qx 200; }
wait_for 10 wait_running
kcurl -o /dev/null -H 'x-hfi-fault-delay-ms: 150' -H "x-hfi-fault-token: $TOKEN" "$SERVER$NS/pods/$fb:8080/proxy/b"
custom_buckets() {
    local out
    out=$(stats "$fb" 'filter=delay_duration')
    echo "$out" | grep -qx 'wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le="100"} 0' &&
        echo "$out" | grep -qx 'wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le="1000"} [1-9][0-9]*' &&
        echo "$out" | grep -qx 'wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le="1000000"} [1-9][0-9]*' &&
        ! echo "$out" | grep -q 'le="0.5"'
}
check "plugin histogram in the pod's own buckets after a flush" wait_for 8 custom_buckets
fe=$fb

# ECDS: a new pluginConfig reaches running sidecars; deleting unloads.
WP=/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault
expect_code "pluginConfig patched" 200 PATCH "$WP" -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"pluginConfig":{"policies":[]}}}'
check "running plugin configured again" wait_for 5 has_metric "$fe" 'wasmcustom_hfi_faults_policies{} 0'
expect_code "WasmPlugin deleted" 200 DELETE "$WP"
check "plugin unloaded" wait_for 5 no_metric "$fe" 'wasmcustom_'
check "wasm runtime gauge drops" has_metric "$fe" 'envoy_wasm_envoy_wasm_runtime_v8_active{} 0'

# ---- restrictive-stats: inclusion only for pods started with it ----
meshsim_start "$MESHSIM" --scenario restrictive-stats
fe=$(first_pod frontend)
check "wasmcustom excluded" no_metric "$fe" 'wasmcustom_'
EF=/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters
expect_code "BOOTSTRAP EnvoyFilter applied" 201 PATCH "$EF/stats-inclusion?fieldManager=test" \
    -H 'Content-Type: application/apply-patch+yaml' --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: stats-inclusion\nspec:\n  configPatches:\n  - applyTo: BOOTSTRAP\n    patch:\n      operation: MERGE\n      value:\n        stats_config:\n          stats_matcher:\n            inclusion_list:\n              patterns:\n              - prefix: "wasmcustom."\n'
check "existing pods never change" no_metric "$fe" 'wasmcustom_'
restart() {
    kcurl -o /dev/null -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
        -d "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{$2}}}}}" "$SERVER/apis/apps/v1/namespaces/demo/deployments/$1"
}
rolled() { local p; p=$(first_pod "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && [ "$(pods_of "$1" | wc -l)" -eq 2 ]; }
restart frontend '"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"'
check "restart rolls frontend" wait_for 10 rolled frontend "$fe"
fe2=$(first_pod frontend)
check "BOOTSTRAP filter ignored without BOOTSTRAP_XDS_AGENT" no_metric "$fe2" 'wasmcustom_'
restart frontend '"proxy.istio.io/config":"proxyMetadata:\n  BOOTSTRAP_XDS_AGENT: \"true\"\n"'
check "annotation rolls frontend" wait_for 10 rolled frontend "$fe2"
fe3=$(first_pod frontend)
env_has_flag() { kcurl "$SERVER$NS/pods/$fe3" | grep -q '"name":"BOOTSTRAP_XDS_AGENT","value":"true"'; }
check "the proxy env shows BOOTSTRAP_XDS_AGENT" env_has_flag
check "BOOTSTRAP filter honoured with the flag" wait_for 10 has_metric "$fe3" 'wasmcustom_hfi_faults_aborts_total{} 0'
ca=$(first_pod cart)
restart cart '"proxy.istio.io/config":"{\"proxyStatsMatcher\":{\"inclusionPrefixes\":[\"wasmcustom.\"]}}"'
check "proxyStatsMatcher annotation rolls cart" wait_for 10 rolled cart "$ca"
cart_included() { has_metric "$(first_pod cart)" 'wasmcustom_hfi_faults_aborts_total{} 0'; }
check "proxyStatsMatcher inclusion honoured" wait_for 10 cart_included
check "other pods still excluded" no_metric "$(first_pod checkout)" 'wasmcustom_'

# ---- names, failures, missing pieces ----
meshsim_start "$MESHSIM" --scenario legacy-names,no-sidecar,plugin-failed
check "legacy names render without the namespace" has_metric "$(first_pod cart)" 'hfi_faults_aborts_total{} 0'
legacy_dotted() { stats "$(first_pod cart)" 'filter=%5Ewasmcustom%5C.hfi%5C.faults%5C.aborts_total' | grep -qx 'hfi_faults_aborts_total{} 0'; }
check "legacy dotted name is wasmcustom.hfi.faults.*" legacy_dotted
check "prefixed names elsewhere" has_metric "$(first_pod frontend)" 'wasmcustom_hfi_faults_aborts_total{} 0'
check "plugin-failed: no plugin metrics" no_metric "$(first_pod checkout)" 'wasmcustom_\|hfi_faults'
check "plugin-failed: fetch failure counted" has_metric "$(first_pod checkout)" 'envoy_wasm_remote_load_fetch_failures{} 1'
inv=$(first_pod inventory)
no_proxy() { ! kcurl "$SERVER$NS/pods/$inv" | grep -q istio-proxy; }
check "no-sidecar: pod has no istio-proxy" no_proxy
expect_code "no-sidecar: nothing on 15090" 503 GET "$NS/pods/$inv:15090/proxy/stats/prometheus"
check "no-sidecar: 503 is a Status" is_status 503 ServiceUnavailable
expect_code "no-sidecar: app still answers" 200 GET "$NS/pods/$inv:8080/proxy/"

meshsim_start "$MESHSIM" --scenario bare-names,plugin-missing
no_wasmplugins() { kcurl "$SERVER/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins" | python3 -c 'import json,sys; assert json.load(sys.stdin)["items"] == []'; }
check "plugin-missing: no WasmPlugin" no_wasmplugins
check "plugin-missing: no plugin metrics" no_metric "$(first_pod frontend)" 'wasmcustom_'
WPS=/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins
expect_code "a WasmPlugin appears" 201 POST "$WPS" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"hfi"},"spec":{"url":"oci://x","pluginConfig":{"policies":[]}}}'
check "sidecars load it at once" wait_for 5 has_metric "$(first_pod frontend)" 'wasmcustom_hfi_faults_policies{} 0'
check "bare names render as defined" wait_for 5 has_metric "$(first_pod checkout)" 'hfi_faults_policies{} 0'
bare_dotted() { stats "$(first_pod checkout)" 'filter=%5Ewasmcustom%5C.hfi_faults_policies' | grep -qx 'hfi_faults_policies{} 0'; }
check "bare dotted name is wasmcustom.hfi_faults_*" bare_dotted

# ---- sidecars that misbehave on the stats port ----
meshsim_start "$MESHSIM" --scenario slow-sidecar,flaky-sidecar
ca=$(first_pod cart)
start=$(date +%s%N)
stats "$ca" >/dev/null
slow_ms=$((($(date +%s%N) - start) / 1000000))
check "slow-sidecar: stats take seconds" test "$slow_ms" -ge 2500
co=$(first_pod checkout)
codes=""
for _ in 1 2 3; do
    codes="$codes $(kcurl -o /dev/null -w '%{http_code}' "$SERVER$NS/pods/$co:15090/proxy/stats/prometheus" 2>/dev/null)"
done
check "flaky-sidecar: ok, 503, reset" test "$codes" = " 200 503 000"
check "flaky-sidecar: other sidecars fine" has_metric "$(first_pod frontend)" '# TYPE'

# ---- the API server misbehaves ----
meshsim_start "$MESHSIM" --scenario api-401
expect_code "api-401: valid credentials refused" 401 GET "$NS/pods"
check "api-401: Status" is_status 401 Unauthorized
meshsim_start "$MESHSIM" --scenario api-403-proxy
expect_code "api-403-proxy: no pods/proxy" 403 GET "$NS/pods/x:15090/proxy/stats/prometheus"
check "api-403-proxy: Status" is_status 403 Forbidden
expect_code "api-403-proxy: lists still work" 200 GET "$NS/pods"
expect_code "api-403-proxy: access review" 201 POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
    -H 'Content-Type: application/json' -d '{"spec":{"resourceAttributes":{"verb":"get","resource":"pods","subresource":"proxy"}}}'
check "api-403-proxy: review says no" grep -q '"allowed":false' "$MESHSIM_DIR/body"
meshsim_start "$MESHSIM" --scenario api-429
codes=""
for _ in 1 2 3; do codes="$codes $(http_code GET "$NS/pods")"; done
check "api-429: every third request throttled" test "$codes" = " 200 200 429"
check "api-429: Status" is_status 429 TooManyRequests
retry_after() { kcurl -D - -o /dev/null "$SERVER$NS/pods" "$SERVER$NS/pods" "$SERVER$NS/pods" | grep -qi '^Retry-After: 1'; }
check "api-429: Retry-After" retry_after
meshsim_start "$MESHSIM" --scenario watch-expiry
kcurl -N --max-time 15 "$SERVER$NS/pods?watch=1&timeoutSeconds=60" >"$MESHSIM_DIR/watch"
check_py "watch-expiry: the watch ends with 410 Expired" "$MESHSIM_DIR/watch" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert events[-1]["type"] == "ERROR" and events[-1]["object"]["code"] == 410, events[-1]
PY

# ---- everything at once: rollouts, ECDS updates, held requests, scrapes
# and watches, on a flaky sidecar, under traffic ----
meshsim_start "$MESHSIM" --traffic 300 --pods 30 --scenario flaky-sidecar
jobs_started=()
for round in 1 2 3; do
    for d in frontend cart checkout; do
        kcurl -o /dev/null -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
            -d "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"r$round\"}}}}}" \
            "$SERVER/apis/apps/v1/namespaces/demo/deployments/$d" &
        jobs_started+=($!)
    done
    kcurl -N --max-time 2 -o /dev/null "$SERVER$NS/pods?watch=1" 2>/dev/null &
    jobs_started+=($!)
    for p in $(pods_of cart) $(pods_of checkout) $(pods_of svc-001 | sed -n 1,4p); do
        kcurl -o /dev/null --max-time 2 "$SERVER$NS/pods/$p:15090/proxy/stats/prometheus" 2>/dev/null &
        jobs_started+=($!)
        kcurl -o /dev/null --max-time 2 -H 'x-hfi-fault-delay-ms: 300' -H "x-hfi-fault-token: $TOKEN" \
            "$SERVER$NS/pods/$p:8080/proxy/x" 2>/dev/null &
        jobs_started+=($!)
    done
    kcurl -o /dev/null -X PATCH -H 'Content-Type: application/merge-patch+json' \
        -d "{\"spec\":{\"pluginConfig\":{\"policies\":[],\"header_faults\":{\"enabled\":true,\"token\":\"$TOKEN\"},\"round\":$round}}}" \
        "$SERVER/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault" &
    jobs_started+=($!)
    sleep 0.7
done
wait "${jobs_started[@]}"
settled() { [ "$(kcurl "$SERVER$NS/pods" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" -eq 30 ]; }
check "mixed load: the mesh settles back to 30 pods" wait_for 20 settled
check "mixed load: still serving" has_metric "$(first_pod frontend)" '# TYPE'

# ---- scale ----
meshsim_start "$MESHSIM" --pods 2000
count_pods() {
    kcurl "$SERVER$NS/pods" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["items"]) == 2000'
}
check "2,000 pods" count_pods
check "the last pod's sidecar serves stats" has_metric "$(kcurl "$SERVER$NS/pods?labelSelector=app%3Dsvc-100" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["name"])')" '# TYPE'

finish
