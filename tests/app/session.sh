#!/usr/bin/env bash
# The chaos-session figures headless: `--once -o json` carries, per pod,
# what Istio's request metrics observed beside what the plugin injected,
# and per deployment their sums; `--window W` takes two rounds W apart so
# the rates are defined. Test aborts fired during the window must show up
# as requests, errors and aborts of exactly that pod.
#
#   tests/app/session.sh build/san/hfitop build/san/meshsim
set -u
HFITOP=$1
MESHSIM=$2
. "$(dirname "$0")/lib.sh"

expect_exit "flags: bad --window" 2 '--window wants a duration from 1s to 5m' "$HFITOP" --once -o json --window 10h
expect_exit "flags: --window without unit" 2 '--window wants a duration' "$HFITOP" --once -o json --window 10

# No background traffic: every request in the window is one we send.
meshsim_start "$MESHSIM"
POD=$(timeout 60 "$HFITOP" --once -o json | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)["pods"] if p["deployment"] == "cart"][0])')
timeout 90 "$HFITOP" --once -o json --window 12s >"$MESHSIM_DIR/window.json" 2>"$MESHSIM_DIR/window.err" &
once_pid=$!
# Fire once the first round is in (six pods: well under 4 s, even on a
# loaded machine) and before the second, 12 s later.
sleep 4
check "fire 10 aborts at $POD" timeout 60 "$HFITOP" fire "$POD" --abort 503 --count 10
check "--once --window exits 0" wait "$once_pid"
check_py "window: the aborted pod's observed requests, errors and aborts" "$MESHSIM_DIR/window.json" "$POD" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
pod = [p for p in doc["pods"] if p["name"] == sys.argv[2]][0]
span = pod["window_seconds"]
assert span and 11 <= span <= doc["window_s"], (span, doc["window_s"])
obs = pod["observed"]
# The sidecar's inbound (reporter="destination") counts the plugin's local
# replies: 10 requests, all 503, and the plugin's own 10 aborts.
assert abs(obs["rps"] * span - 10) < 1e-6, obs
assert obs["error_ratio"] == 1, obs
assert abs(pod["aborts_per_s"] * span - 10) < 1e-6, pod
assert obs["p50_ms"] is not None and obs["p50_ms"] <= obs["p99_ms"], obs
assert obs["requests_total"] >= 10 and obs["errors_total"] >= 10, obs
others = [p for p in doc["pods"] if p["name"] != sys.argv[2]]
assert all(p["observed"]["rps"] == 0 and p["observed"]["error_ratio"] is None for p in others), others
PY
check_py "window: deployments add their pods up" "$MESHSIM_DIR/window.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
deps = {d["name"]: d for d in doc["deployments"]}
assert sorted(deps) == ["cart", "checkout", "frontend"], deps
for name, d in deps.items():
    pods = [p for p in doc["pods"] if p["deployment"] == name]
    assert d["pods"] == len(pods) == 2 and d["failing"] == 0, d
    assert d["aborts_total"] == sum(p["aborts_total"] for p in pods), (d, pods)
    assert d["delays_total"] == sum(p["delays_total"] for p in pods), (d, pods)
    assert abs(d["aborts_per_s"] - sum(p["aborts_per_s"] for p in pods)) < 1e-9, d
    assert abs(d["observed"]["rps"] - sum(p["observed"]["rps"] for p in pods)) < 1e-9, d
    for key in ("requests_total", "errors_total"):
        assert d["observed"][key] == sum(p["observed"][key] for p in pods), (key, d)
cart = deps["cart"]["observed"]
assert cart["error_ratio"] == 1 and cart["p50_ms"] is not None, cart
PY

# Without --window: one round, so no rate is defined yet, but the keys are there.
once_json "single round"
check_py "single round: rates null, totals there" "$MESHSIM_DIR/once.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["window_s"] == 60, doc["window_s"]
for p in doc["pods"]:
    assert p["observed"]["rps"] is None and p["aborts_per_s"] is None, p
    assert p["observed"]["requests_total"] is not None, p
assert len(doc["deployments"]) == 3
PY

# With traffic, every pod's figures are defined and sane.
meshsim_start "$MESHSIM" --traffic 60
# A fresh sidecar serves the plugin's histogram after its first stats
# flush: until then no window over its buckets can start.
delays_bucketed() {
    timeout 60 "$HFITOP" --once -o json | python3 -c '
import json, sys
pods = [p for p in json.load(sys.stdin)["pods"] if p["deployment"] == "frontend"]
sys.exit(0 if all(p["delay_ms"]["buckets"] for p in pods) else 1)'
}
check "frontend's delay histogram served" wait_for 30 delays_bucketed
check "--once --window 12s with traffic" bash -c "timeout 90 '$HFITOP' --once -o json --window 12s >'$MESHSIM_DIR/traffic.json'"
check_py "traffic: rates, ratios and quantile estimates" "$MESHSIM_DIR/traffic.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for p in doc["pods"]:
    o = p["observed"]
    assert o["rps"] > 0, p
    assert 0 <= o["error_ratio"] <= 1, p
    assert 0 <= o["p50_ms"] <= o["p99_ms"], p
    assert p["aborts_per_s"] >= 0 and p["delays_per_s"] >= 0, p
# The demo policy delays frontend's GET /product/*: the delay estimates are
# there (histograms move at each 5 s stats flush, so the window spans two).
front = [d for d in doc["deployments"] if d["name"] == "frontend"][0]
assert front["delays_per_s"] > 0 and front["delay_p50_ms"] > 0, front
PY

finish
