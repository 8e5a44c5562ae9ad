#!/usr/bin/env bash
# The console with --prometheus in a real terminal (tmux): the header names
# the source, the counters come from Prometheus; Prometheus stopped in the
# middle of the session gives a banner, not a crash, and the banner goes
# once it answers again; the detail view's sparklines start from
# Prometheus' history, its observed column from Istio's series in
# Prometheus; the deployment table's quantiles from its pods' buckets in
# Prometheus. And the request budget in the pod-proxy mode: with
# more pods than --max-qps allows per interval, the interval stretches and
# the header says so, and the requests stay within the budget.
# Usage: console.sh path/to/hfitop path/to/meshsim
HFITOP=${1:?usage: console.sh HFITOP MESHSIM}
MESHSIM_BIN=${2:?usage: console.sh HFITOP MESHSIM}
. tests/ui/lib.sh
. tests/prometheus/prom_lib.sh
trap 'prometheus_stop; tmx kill-server 2>/dev/null; meshsim_cleanup' EXIT
TARGETS="$MESHSIM_DIR/targets.json"

meshsim_start "$MESHSIM_BIN" --seed 9 --traffic 20 --prometheus-targets "$TARGETS"
cat >"$MESHSIM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sidecars
    metrics_path: /stats/prometheus
    file_sd_configs: [{files: ['$TARGETS'], refresh_interval: 1s}]
EOF
prometheus_start "$MESHSIM_DIR/prometheus.yml"
port=${PROM_URL##*:}
check_eventually "every target up" 40 all_targets_up 6 sidecars

# A refresh every 30 s: a sparkline of more than a point or two can only
# come from Prometheus' history (query_range), fetched when rows are shown.
history_held() {
    promql 'min(count_over_time(wasmcustom_hfi_faults_aborts_total[1m]))' | python3 -c '
import json, sys
assert float(json.load(sys.stdin)["data"]["result"][0]["value"][1]) >= 15'
}
check_eventually "Prometheus holds 15 s of every pod's history" 60 history_held
start_console --no-journal --interval 30 --prometheus "$PROM_URL"
see "rows from Prometheus" " wasmcustom " 40
keys Enter
see "the detail view" "policies selecting this pod:"
long_sparkline() {
    screen | python3 -c '
import sys
line = next(l for l in sys.stdin if l.startswith("  aborts/s"))
assert sum(line.count(c) for c in "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588") >= 10, line'
}
check_eventually "the sparklines start from Prometheus' history" 20 long_sparkline
# Observed traffic (meshsim's --traffic) from Prometheus' rate() over
# Istio's series, from the first refresh on: the request rate and the
# latency quantiles of the observed column.
observed_in_detail() {
    screen | python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
rate = next(l for l in lines if l.startswith("  rate "))
latency = next(l for l in lines if l.startswith("  latency "))
assert re.search(r"requests [0-9.]+/s", rate), rate
assert re.search(r"p50 ~[0-9.]+[sm]? p95 ~[0-9.]+[sm]? p99 ~[0-9.]+[sm]? ms$", latency.rstrip()), latency'
}
check_eventually "the detail view's observed requests and latency come from Prometheus" 20 observed_in_detail
# The deployment table: Prometheus knows pods, not deployments; the pods of
# the deployments shown are asked for their window buckets at once (not a
# 30 s refresh later), and each deployment's quantiles add them up.
keys Escape v
see "the deployment table" "DEPLOYMENT"
deployment_quantiles_shown() {
    screen | python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
head = next(i for i, l in enumerate(lines) if l.startswith("DEPLOYMENT"))
cells = lambda line: dict(zip(lines[head].split(), line.split()))
rows = [cells(l) for l in lines[head + 1:] if re.match(r"^[a-z][a-z0-9-]* +[0-9]+ ", l)]
number = lambda text: re.fullmatch(r"[0-9.]+[kM]?", text or "")
delayed = [r for r in rows if number(r["DELAYS"]) and float(r["DELAYS"].rstrip("kM")) > 0]
assert len(rows) == 3 and delayed, rows
assert all(number(r["LAT50~"]) and number(r["LAT99~"]) for r in rows), rows
assert all(number(r["DLY50~"]) and number(r["DLY99~"]) for r in delayed), rows'
}
check_eventually "every deployment's latency quantiles, and the delay quantiles of those that delayed, from Prometheus" \
    20 deployment_quantiles_shown
keys q
exited_cleanly "console with --prometheus, detail view"

start_console --no-journal --interval 1 --prometheus "$PROM_URL"
see "the header names the Prometheus source" "Prometheus $PROM_URL every 1s (labels pod, namespace)"
see "counters read from Prometheus (the naming column)" " wasmcustom " 40

prometheus_stop
see "Prometheus stopped: a banner, not a crash" "PROMETHEUS UNREACHABLE" 30
check "the console still runs" not_on_screen "console exited"
see "the pods stay on screen" " wasmcustom "

prometheus_start "$MESHSIM_DIR/prometheus.yml" "$port"
gone "Prometheus back: the banner goes" "PROMETHEUS UNREACHABLE" 40
keys q
exited_cleanly "console with --prometheus"


# ---- the request budget, pod-proxy mode ----
meshsim_start "$MESHSIM_BIN" --seed 9 --pods 40
CONSOLE_ENV="HFITOP_REQUEST_LOG=$MESHSIM_DIR/requests.log" start_console --no-journal --interval 1 --max-qps 5
see "the stretched interval in the header" "scraping 40 pods every 9 s, budget 5/s; use --prometheus for faster refresh" 40
wait_until 60 test -s "$MESHSIM_DIR/requests.log"
first=$(wc -l <"$MESHSIM_DIR/requests.log")
start=$SECONDS
grown() { [ $(($(wc -l <"$MESHSIM_DIR/requests.log") - first)) -ge 60 ]; }
wait_until 60 grown
elapsed=$((SECONDS - start + 1))
# 60 more requests cannot take less than the budget allows: 5 a second,
# plus its burst and the scrapes already queued (--max-inflight, 16). A
# slower machine only takes longer.
within_budget() { [ $((5 * elapsed + 5 + 16)) -ge 60 ]; }
check "requests to the API server stay within --max-qps (60 took ${elapsed}s)" within_budget
keys q
exited_cleanly "console with --max-qps"
finish
