#!/usr/bin/env bash
# The sidecars against tools nobody here wrote: every sidecar's unfiltered
# /stats/prometheus, in every scenario that lets the pod proxy through, must
# pass Prometheus' own parser (`promtool check metrics`); histograms exist at
# zero as soon as they are defined; Terminating pods are still proxied.
# Usage: conformance_envoy.sh path/to/meshsim
. "$(dirname "$0")/lib.sh"
MESHSIM=${1:?usage: conformance_envoy.sh MESHSIM}
NS=/api/v1/namespaces/demo

# kcurl_ok ARGS...: curl through meshsim, again after a 429 (api-429) or a
# 503 from a flaky sidecar; the body goes to stdout.
kcurl_ok() {
    local code
    for _ in $(seq 10); do
        code=$(kcurl -o "$MESHSIM_DIR/answer" -w '%{http_code}' "$@")
        [ "$code" = 200 ] && { cat "$MESHSIM_DIR/answer"; return 0; }
        sleep 0.2
    done
    echo "HTTP $code: $(head -c 200 "$MESHSIM_DIR/answer")" >&2
    return 1
}

injected_pods() {
    kcurl_ok "$SERVER$NS/pods" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    if any(c["name"] == "istio-proxy" for c in p["spec"]["containers"] + p["spec"].get("initContainers", [])):
        print(p["metadata"]["name"])'
}

# promtool's exit code 3 is lint problems only (missing HELP, counters
# without _total: real Envoy output has them too); 1 is a parse error.
promtool_parses() {
    local out rc
    out=$(promtool check metrics <"$1" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] || grep -q 'error while linting' <<<"$out"; then
        echo "$out" | grep -v 'no help text\|should have "_total" suffix' | head -n 3 >&2
        return 1
    fi
}

check_every_sidecar() {
    local label=$1 n=0
    for pod in $(injected_pods); do
        if ! kcurl_ok "$SERVER$NS/pods/$pod:15090/proxy/stats/prometheus" >"$MESHSIM_DIR/stats"; then
            # The flaky sidecar may reset three times in a row; others must answer.
            FAILED=$((FAILED + 1))
            echo "FAIL $label: no stats from $pod" >&2
            continue
        fi
        n=$((n + 1))
        check "$label: promtool parses $pod's stats" promtool_parses "$MESHSIM_DIR/stats"
    done
    check "$label: sidecars scraped" test "$n" -gt 0
}

# api-401 and api-403-proxy deny the pod proxy itself: nothing to scrape.
for scenario in "" no-sidecar plugin-missing plugin-failed restrictive-stats legacy-names bare-names \
    slow-sidecar flaky-sidecar api-429 watch-expiry; do
    meshsim_start "$MESHSIM" ${scenario:+--scenario "$scenario"} --traffic 200 --seed 3
    check_every_sidecar "${scenario:-default}"
done

# With every histogram flushed at least once, under traffic and faults.
meshsim_start "$MESHSIM" --traffic 400 --seed 5
fe=$(injected_pods | grep '^frontend' | head -n 1)
flushed() { kcurl "$SERVER$NS/pods/$fe:15090/proxy/stats/prometheus" | grep -q '^wasmcustom_hfi_faults_delay_duration_milliseconds_count{} [1-9]'; }
check "plugin delays flushed into the histogram" wait_for 30 flushed
check_every_sidecar "after flushes"

# Envoy lists a histogram as soon as it is defined, with zero buckets; a
# fresh sidecar has not flushed yet (5 s). The seed is fixed, so is the order.
meshsim_start "$MESHSIM" --scenario plugin-missing
pod=$(injected_pods | head -n 1)
cat >"$MESHSIM_DIR/wasmplugin.json" <<'JSON'
{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin",
 "metadata":{"name":"hfi-fault","namespace":"demo"},
 "spec":{"url":"file:///opt/filters/hfi-fault.wasm","pluginConfig":{"policies":[]}}}
JSON
expect_code "WasmPlugin created" 201 POST /apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins \
    -H 'Content-Type: application/json' --data-binary "@$MESHSIM_DIR/wasmplugin.json"
kcurl "$SERVER$NS/pods/$pod:15090/proxy/stats/prometheus" >"$MESHSIM_DIR/fresh"
check "a just-loaded plugin's histogram is listed at zero" grep -qx \
    'wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le="0.5"} 0' "$MESHSIM_DIR/fresh"
check "with its +Inf bucket, sum and count" bash -c "grep -qx 'wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{le=\"+Inf\"} 0' '$MESHSIM_DIR/fresh' && grep -qx 'wasmcustom_hfi_faults_delay_duration_milliseconds_count{} 0' '$MESHSIM_DIR/fresh'"
usedonly_hides() { ! kcurl "$SERVER$NS/pods/$pod:15090/proxy/stats/prometheus?usedonly" | grep -q '^wasmcustom_hfi_faults_delay_duration'; }
check "usedonly still hides the never-recorded histogram" usedonly_hides

# A Terminating pod is still proxied: its final counters stay readable.
# Its grace period here is 1.5 s; a pod gone before the scrape is tried again.
terminating_scraped() {
    local victim code
    for _ in $(seq 5); do
        victim=$(injected_pods | head -n 1)
        kcurl -o /dev/null -X DELETE "$SERVER$NS/pods/$victim"
        code=$(kcurl -o "$MESHSIM_DIR/final" -w '%{http_code}' "$SERVER$NS/pods/$victim:15090/proxy/stats/prometheus")
        [ "$code" = 200 ] && grep -q '^envoy_server_live{} 1' "$MESHSIM_DIR/final" && return 0
        [ "$code" = 404 ] || { echo "HTTP $code: $(head -c 200 "$MESHSIM_DIR/final")" >&2; return 1; }
    done
    return 1
}
check "a Terminating pod's sidecar still answers through the pod proxy" terminating_scraped

finish
