#!/usr/bin/env bash
# End to end against meshsim, one fresh meshsim per scenario: `hfitop doctor`
# names the problem the scenario sets up (finding id, diagnosis text, exit
# code), `hfitop --once -o json` shows it in the per-pod records, and
# `hfitop stats` reads a sidecar's dump as --once does.
#
#   tests/app/scenarios.sh build/san/hfitop build/san/meshsim
set -u
HFITOP=$1
MESHSIM=$2
. "$(dirname "$0")/lib.sh"

# ---- healthy mesh ----
meshsim_start "$MESHSIM"
doctor_case healthy 0 "healthy: no problems found" "6 pods, 6 with a sidecar"
once_json healthy
pods_check "healthy: six pods, every field" '
assert len(pods) == 6, len(pods)
for p in pods:
    for key in ("name", "deployment", "phase", "sidecar", "naming", "aborts_total", "delays_total", "delay_ms", "error"):
        assert key in p, (key, p)
    assert p["sidecar"] is True and p["phase"] == "Running" and p["error"] is None, p
    assert p["naming"] == "wasmcustom" and p["aborts_total"] == 0, p
    d = p["delay_ms"]
    assert set(("count", "sum", "buckets", "p50", "p95", "p99")) <= set(d), d
    # Histograms appear at the first stats flush, buckets as served.
    assert not d["buckets"] or d["buckets"][-1][0] == "+Inf", d
assert set(by_dep) == {"frontend", "cart", "checkout"}, by_dep.keys()
'
check "healthy: table has a header and six rows" bash -c \
    "timeout 90 '$HFITOP' --once -o table | awk 'NR==1 && /^NAME +DEPLOYMENT +PHASE/ {h=1} END {exit !(h && NR==7)}'"
# stats on a dump fetched through the pod proxy, as --once reads it.
pod=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pods"][0]["name"])' "$MESHSIM_DIR/once.json")
http_code GET "/api/v1/namespaces/demo/pods/$pod:15090/proxy/stats/prometheus" >/dev/null
cp "$MESHSIM_DIR/body" "$MESHSIM_DIR/dump.txt"
check "stats FILE exits 0" bash -c "'$HFITOP' stats '$MESHSIM_DIR/dump.txt' >'$MESHSIM_DIR/stats.json'"
check "stats - reads standard input" bash -c "'$HFITOP' stats - <'$MESHSIM_DIR/dump.txt' | cmp -s - '$MESHSIM_DIR/stats.json'"
check_py "stats: the metric object of --once" "$MESHSIM_DIR/stats.json" "$MESHSIM_DIR/once.json" "$pod" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
p = [p for p in json.load(open(sys.argv[2]))["pods"] if p["name"] == sys.argv[3]][0]
assert m["naming"] == "wasmcustom" and m["wasm_runtime_stats"] is True, m
for key in ("aborts_total", "delays_total", "policies"):
    assert m[key] == p[key], (key, m[key], p[key])
assert [b[0] for b in m["delay_ms"]["buckets"]] == [b[0] for b in p["delay_ms"]["buckets"]]
PY
printf 'unrelated_total{} 3\n' >"$MESHSIM_DIR/none.txt"
check_py "stats: no HFI series is naming none" <<PY
import json, subprocess
out = subprocess.run(["$HFITOP", "stats", "$MESHSIM_DIR/none.txt"], capture_output=True, text=True, check=True).stdout
m = json.loads(out)
assert m["naming"] == "none" and m["aborts_total"] is None and m["wasm_runtime_stats"] is False, m
PY
expect_exit "stats: unreadable file" 2 "cannot read /nonexistent/dump" "$HFITOP" stats /nonexistent/dump

# A Terminating pod is still scraped (the API server proxies to it, its
# Envoy serves while it drains): --once shows its last counters, marked
# terminating. Its drain lasts 30 s, from the pod's proxy.istio.io/config.
old_carts=$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "cart"))' "$MESHSIM_DIR/once.json")
code=$(http_code PATCH /apis/apps/v1/namespaces/demo/deployments/cart -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"template":{"metadata":{"annotations":{"proxy.istio.io/config":"terminationDrainDuration: 30s"}}}}}')
check "terminating: cart rolled out with a 30 s drain" test "$code" = 200
check "terminating: the new cart pods run" wait_for 30 rolled_out cart "$old_carts"
drained=$(python3 -c 'import json,sys; print([p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "cart"][0])' "$MESHSIM_DIR/roll.json")
for _ in 1 2 3; do
    http_code GET "/api/v1/namespaces/demo/pods/$drained:8080/proxy/hi" -H 'x-hfi-fault-abort: 503' \
        -H 'x-hfi-fault-token: meshsim-demo-token' >/dev/null
done
code=$(http_code DELETE "/api/v1/namespaces/demo/pods/$drained")
check "terminating: delete the pod" test "$code" = 200
once_json terminating
pods_check "terminating: its last counters, scraped, marked terminating" "
t = [p for p in pods if p['name'] == '$drained']
assert len(t) == 1, [p['name'] for p in pods]
t = t[0]
assert t['error'] is None and t['last_scrape'] is not None and t['aborts_total'] == 3, t
assert t['terminating'] is True and t['phase'] == 'Running', t
assert all(p['terminating'] is False for p in pods if p['name'] != '$drained'), pods
"

# With traffic the counters move and doctor has nothing to say at all.
meshsim_start "$MESHSIM" --traffic 400
all_counting() {
    timeout 60 "$HFITOP" --once -o json >"$MESHSIM_DIR/once.json" 2>/dev/null || return 1
    python3 -c '
import json, sys
pods = json.load(open(sys.argv[1]))["pods"]
assert pods and all(p["aborts_total"] + p["delays_total"] > 0 for p in pods)' "$MESHSIM_DIR/once.json"
}
check "traffic: every sidecar injects faults" wait_for 30 all_counting
doctor_case traffic 0 "healthy: no problems found"
check "traffic: no notes either" bash -c "! grep -q '^note' '$MESHSIM_DIR/doctor'"

# Dumps captured from real proxies (beside the checkout when present):
# read whole, whatever else they hold.
for dump in ../shared/realdata/envoy_prometheus/*.txt; do
    [ -f "$dump" ] || continue
    check_py "stats: real dump $(basename "$dump")" <<PY
import json, subprocess
out = subprocess.run(["$HFITOP", "stats", "$dump"], capture_output=True, text=True, check=True).stdout
m = json.loads(out)
assert m["naming"] in ("none", "wasmcustom", "bare"), m
PY
done

# ---- no-sidecar ----
meshsim_start "$MESHSIM" --scenario no-sidecar
doctor_case no-sidecar 1 "PROBLEM [no-sidecar] deployment inventory (2 pods)" "no istio-proxy sidecar" \
    "8 pods, 6 with a sidecar" "1 problem"
once_json no-sidecar
pods_check "no-sidecar: inventory has no sidecar and no metrics" '
inv = by_dep["inventory"]
assert len(inv) == 2 and all(p["sidecar"] is False and p["naming"] == "none" and p["error"] is None for p in inv), inv
assert all(p["sidecar"] for d, ps in by_dep.items() if d != "inventory" for p in ps)
'

# ---- plugin-missing ----
meshsim_start "$MESHSIM" --scenario plugin-missing
doctor_case plugin-missing 1 "PROBLEM [no-wasmplugin] deployment frontend" "no WasmPlugin selects this pod" \
    "PROBLEM [no-wasmplugin] deployment cart" "3 problems"
once_json plugin-missing
pods_check "plugin-missing: wasm stats, no HFI series" '
assert all(p["naming"] == "none" and p["wasm_runtime_stats"] is True and p["error"] is None for p in pods), pods
'

# ---- plugin-failed ----
meshsim_start "$MESHSIM" --scenario plugin-failed
doctor_case plugin-failed 1 "PROBLEM [plugin-not-loaded] deployment checkout (2 pods)" \
    "the plugin is not running in its proxy" "module fetch failures" "1 problem"
once_json plugin-failed
pods_check "plugin-failed: only checkout lacks HFI series" '
assert all(p["naming"] == "none" for p in by_dep["checkout"]), by_dep["checkout"]
assert all(p["naming"] == "wasmcustom" for d in ("frontend", "cart") for p in by_dep[d])
'

# ---- restrictive-stats, and both ways an EnvoyFilter cannot help ----
meshsim_start "$MESHSIM" --scenario restrictive-stats
doctor_case restrictive-stats 1 "PROBLEM [stats-excluded] deployment cart (2 pods)" \
    "stats matcher excludes its wasmcustom.* metrics" "proxy.istio.io/config" "3 problems"
once_json restrictive-stats
pods_check "restrictive-stats: a VM runs, no HFI series" '
assert all(p["naming"] == "none" and p["wasm_runtime_stats"] is True for p in pods), pods
'
# An EnvoyFilter for every pod, applied after they started, without
# BOOTSTRAP_XDS_AGENT in their proxies.
sed '/workloadSelector:/,/hfi-enabled:/d' manifests/envoyfilter-wasm-stats.yaml >"$MESHSIM_DIR/ef.yaml"
check "restrictive-stats: envoyfilter apply --envoyfilter FILE" "$HFITOP" --envoyfilter "$MESHSIM_DIR/ef.yaml" envoyfilter apply
doctor_case envoyfilter-no-agent 1 "PROBLEM [envoyfilter-no-bootstrap-agent] deployment cart" \
    "istio-proxy runs without BOOTSTRAP_XDS_AGENT=true" "EnvoyFilter hfi-wasm-stats"
# frontend's proxies get the flag (a new rollout) but predate a filter
# created again afterwards.
check "restrictive-stats: envoyfilter delete" "$HFITOP" envoyfilter delete
old_frontend=$(python3 -c 'import json,sys; print(" ".join(sorted(p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "frontend")))' "$MESHSIM_DIR/once.json")
expect_code "restrictive-stats: frontend gets BOOTSTRAP_XDS_AGENT" 200 PATCH /apis/apps/v1/namespaces/demo/deployments/frontend \
    -H 'Content-Type: application/strategic-merge-patch+json' \
    -d '{"spec":{"template":{"metadata":{"annotations":{"proxy.istio.io/config":"proxyMetadata: {BOOTSTRAP_XDS_AGENT: \"true\"}"}}}}}'
check "restrictive-stats: frontend rolled out" wait_for 60 rolled_out frontend "$old_frontend"
check "restrictive-stats: envoyfilter apply again" "$HFITOP" --envoyfilter "$MESHSIM_DIR/ef.yaml" envoyfilter apply
doctor_case envoyfilter-pod-older 1 "PROBLEM [envoyfilter-pod-older] deployment frontend" \
    "the pod started before the filter was created" "PROBLEM [envoyfilter-no-bootstrap-agent] deployment cart"
# Restarting frontend starts proxies after the filter: it takes effect.
frontend_now=$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "frontend"))' "$MESHSIM_DIR/roll.json")
check "restrictive-stats: restart frontend" "$HFITOP" restart frontend
check "restrictive-stats: frontend restarted" wait_for 60 rolled_out frontend "$frontend_now"
pods_check_roll "restrictive-stats: the filter works on new frontend pods" '
assert all(p["naming"] == "wasmcustom" for p in by_dep["frontend"]), by_dep["frontend"]
assert all(p["naming"] == "none" for p in by_dep["cart"]), by_dep["cart"]
'
# The annotation fixes cart on its own.
old_cart=$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "cart"))' "$MESHSIM_DIR/roll.json")
check "restrictive-stats: annotate cart" "$HFITOP" annotate cart
check "restrictive-stats: cart rolled out" wait_for 60 rolled_out cart "$old_cart"
pods_check_roll "restrictive-stats: annotated cart shows its metrics" '
assert all(p["naming"] == "wasmcustom" for p in by_dep["cart"]), by_dep["cart"]
'
check "restrictive-stats: annotate again is a no-op" bash -c "'$HFITOP' annotate cart | grep -q 'already includes'"
doctor_case restrictive-after-fixes 1 "PROBLEM [stats-excluded] deployment checkout" \
    "PROBLEM [envoyfilter-no-bootstrap-agent] deployment checkout" "2 problems"

# ---- legacy-names ----
meshsim_start "$MESHSIM" --scenario legacy-names
doctor_case legacy-names 1 "PROBLEM [naming-legacy] deployment cart (2 pods)" "names its metrics hfi.faults.* (legacy)" "1 problem"
once_json legacy-names
pods_check "legacy-names: cart legacy, others wasmcustom" '
assert all(p["naming"] == "legacy" and p["aborts_total"] == 0 for p in by_dep["cart"]), by_dep["cart"]
assert all(p["naming"] == "wasmcustom" for d in ("frontend", "checkout") for p in by_dep[d])
'

# ---- bare-names ----
meshsim_start "$MESHSIM" --scenario bare-names
doctor_case bare-names 1 "PROBLEM [naming-bare] deployment checkout (2 pods)" "hfi_faults_* (bare)" "1 problem"
once_json bare-names
pods_check "bare-names: checkout bare" '
assert all(p["naming"] == "bare" for p in by_dep["checkout"]), by_dep["checkout"]
'
pod=$(python3 -c 'import json,sys; print([p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "checkout"][0])' "$MESHSIM_DIR/once.json")
http_code GET "/api/v1/namespaces/demo/pods/$pod:15090/proxy/stats/prometheus" >/dev/null
check "bare-names: stats says bare" bash -c "'$HFITOP' stats '$MESHSIM_DIR/body' | grep -q '\"naming\":\"bare\"'"

# ---- slow-sidecar ----
meshsim_start "$MESHSIM" --scenario slow-sidecar
doctor_case slow-sidecar 1 "PROBLEM [sidecar-timeout] deployment cart (2 pods)" \
    "did not answer within the scrape timeout" "1 problem"
once_json slow-sidecar
pods_check "slow-sidecar: cart times out, others answer" '
assert all(p["error"] and "timed out" in p["error"] for p in by_dep["cart"]), by_dep["cart"]
assert all(p["error"] is None for d in ("frontend", "checkout") for p in by_dep[d])
'

# ---- flaky-sidecar ----
meshsim_start "$MESHSIM" --scenario flaky-sidecar
doctor_case flaky-sidecar 1 "PROBLEM [sidecar-flaky] deployment checkout (2 pods)" "1 of 2 scrapes failed" "1 problem"

# ---- api-401 ----
meshsim_start "$MESHSIM" --scenario api-401
doctor_case api-401 2 "could not list pods in namespace demo" "Unauthorized"
expect_exit "api-401: --once" 2 "Unauthorized" "$HFITOP" --once -o json

# ---- api-403-proxy ----
meshsim_start "$MESHSIM" --scenario api-403-proxy
doctor_case api-403-proxy 1 "PROBLEM [rbac-pods-proxy] deployment cart" "lacks the RBAC verb \`get pods/proxy\`" \
    'cannot get resource "pods/proxy"' "3 problems"
once_json api-403-proxy
pods_check "api-403-proxy: every pod shows the refusal" '
assert all("pods/proxy" in p["error"] and p["naming"] == "none" for p in pods), pods
'

# ---- api-429 ----
meshsim_start "$MESHSIM" --scenario api-429
doctor_case api-429 0 "healthy: no problems found"
once_json api-429
pods_check "api-429: throttling is waited out" '
assert len(pods) == 6 and all(p["error"] is None and p["naming"] == "wasmcustom" for p in pods), pods
'

# ---- watch-expiry ----
meshsim_start "$MESHSIM" --scenario watch-expiry
doctor_case watch-expiry 0 "healthy: no problems found"
once_json watch-expiry
pods_check "watch-expiry: six pods" 'assert len(pods) == 6, pods'

finish
