#!/usr/bin/env bash
# BENCH lines of the Prometheus source and of the request budget:
#
#   prom_source_refresh_10000_pods_s  one console refresh of 10,000 pods
#     (values and rates of every pod, quantiles and buckets of a screenful)
#     from Debian's Prometheus holding their series, the median of 15
#     (Prometheus scrapes the target, 27 MB, every 5 s: a refresh that meets
#     a scrape is slower, and 5 refreshes left the median to chance); ref =
#     one `hfitop --once` refresh of 1,000 pods through the pod proxy in the
#     same run (its own speed: --max-qps out of the way).
#   apiserver_rps_1000_pods  requests a second the console sends the API
#     server at steady state, 1,000 pods, default flags; ref = the budget.
#
# Prometheus gets the 10,000 pods' series from one target exposing them all
# (honor_labels keeps their pod and namespace labels), as a federation or
# aggregating exporter would serve them.
#
#   tests/prometheus/bench.sh build/hfitop build/meshsim build/bench_prom_source
set -u
HFITOP=$1
MESHSIM=$2
BENCH_BIN=$3
PODS=10000
SHOWN=40
. tests/meshsim/lib.sh
. tests/prometheus/prom_lib.sh
TMUX_SOCKET="$MESHSIM_DIR/tmux.sock"
tmx() { tmux -S "$TMUX_SOCKET" "$@"; }
SERIES_PID=
trap 'prometheus_stop; tmx kill-server 2>/dev/null; [ -n "$SERIES_PID" ] && kill "$SERIES_PID"; meshsim_cleanup' EXIT
fail() {
    echo "bench: $*" >&2
    exit 1
}

# ---- the reference: 1,000 pods through the pod proxy ----
meshsim_start "$MESHSIM" --pods 1000
elapsed() { python3 -c 'import sys; print("%.4f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$EPOCHREALTIME"; }
walls=()
for _ in 1 2 3; do
    start=$EPOCHREALTIME
    "$HFITOP" --once -o json --no-journal --max-qps 10000 >"$MESHSIM_DIR/once.json" 2>"$MESHSIM_DIR/once.err" ||
        fail "hfitop --once failed: $(cat "$MESHSIM_DIR/once.err")"
    walls+=("$(elapsed "$start")")
done
ref=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n 2p)

# ---- the console's requests at steady state, default flags ----
tmx new-session -d -s keeper "sleep 3600"
tmx new-session -d -s console -x 150 -y 40 \
    "env LANG=C.UTF-8 HFITOP_REQUEST_LOG=$MESHSIM_DIR/requests.log $HFITOP --kubeconfig $KUBECONFIG --no-journal; sleep 600"
# The first pass over the pods is behind us after 20 s; then 30 s counted.
sleep 20
first=$(wc -l <"$MESHSIM_DIR/requests.log")
start=$EPOCHREALTIME
sleep 30
last=$(wc -l <"$MESHSIM_DIR/requests.log")
rps=$(python3 -c 'import sys; print(int(sys.argv[1]) / float(sys.argv[2]))' $((last - first)) "$(elapsed "$start")")
tmx send-keys -t console q
meshsim_stop

# ---- 10,000 pods' series in Prometheus ----
mkdir -p "$MESHSIM_DIR/series"
python3 - "$MESHSIM_DIR/series/metrics" "$PODS" <<'PY'
import sys
bounds = ["0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "30000",
          "60000", "300000", "600000", "1800000", "3600000", "+Inf"]
n = int(sys.argv[2])
out = []
counters = ["aborts_total", "delays_total", "overflow_total", "config_errors_total"]
for name in counters + ["active_delays", "policies"]:
    out.append("# TYPE wasmcustom_hfi_faults_%s %s" % (name, "counter" if name.endswith("_total") else "gauge"))
    for i in range(n):
        out.append('wasmcustom_hfi_faults_%s{namespace="bench",pod="pod-%05d"} %d' % (name, i, i % 97))
out.append("# TYPE wasmcustom_hfi_faults_delay_duration_milliseconds histogram")
for i in range(n):
    labels = 'namespace="bench",pod="pod-%05d"' % i
    for k, le in enumerate(bounds):
        out.append('wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{%s,le="%s"} %d' % (labels, le, k * (i % 7)))
    out.append("wasmcustom_hfi_faults_delay_duration_milliseconds_sum{%s} %d" % (labels, 100 * (i % 7)))
    out.append("wasmcustom_hfi_faults_delay_duration_milliseconds_count{%s} %d" % (labels, 19 * (i % 7)))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
(cd "$MESHSIM_DIR/series" && exec python3 -u -m http.server --bind 127.0.0.1 0 >"$MESHSIM_DIR/series.log" 2>&1) &
SERIES_PID=$!
wait_until 20 grep -q 'Serving HTTP' "$MESHSIM_DIR/series.log" || fail "the series server did not start"
series_port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$MESHSIM_DIR/series.log" | head -n 1)
cat >"$MESHSIM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
  scrape_timeout: 5s
scrape_configs:
  - job_name: aggregated
    honor_labels: true
    metrics_path: /metrics
    static_configs: [{targets: ['127.0.0.1:$series_port']}]
EOF
prometheus_start "$MESHSIM_DIR/prometheus.yml"
# rate() needs two samples of every series.
rates_ready() {
    promql 'count(rate(wasmcustom_hfi_faults_aborts_total[1m]))' | grep -q "\"$PODS\""
}
wait_until 180 rates_ready || fail "Prometheus does not hold $PODS pods' rates after 180 s"
meshsim_start "$MESHSIM" --pods 1
shown=$(seq -f 'pod-%05g' 0 $((SHOWN - 1)))
read -r refresh held < <("$BENCH_BIN" "$KUBECONFIG" "$PROM_URL" bench 15 $shown) || fail "the Prometheus refresh failed"
[ "$held" = "$PODS" ] || fail "the refresh held $held pods, not $PODS"

python3 - "$refresh" "$ref" "$rps" <<'PY'
import sys
refresh, ref, rps = (float(x) for x in sys.argv[1:4])
print("BENCH prom_source_refresh_10000_pods_s %.3f s ref=pod_proxy_refresh_1000_pods_s %.3f ratio=%.3f"
      % (refresh, ref, refresh / ref))
print("BENCH apiserver_rps_1000_pods %.1f req/s ref=max_qps_default 50 ratio=%.3f" % (rps, rps / 50))
PY
