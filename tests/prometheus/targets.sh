#!/usr/bin/env bash
# meshsim as a real Prometheus sees a mesh: the file_sd target list
# (--prometheus-targets), each sidecar's port 15090 on its own loopback
# address, the list following a rollout, and Debian's Prometheus 2.42
# scraping every sidecar: its PromQL answers (counters, histogram_quantile)
# equal what the same sidecars serve through the API server's pod proxy.
# Usage: targets.sh path/to/meshsim
. "$(dirname "$0")/../meshsim/lib.sh"
. "$(dirname "$0")/prom_lib.sh"
trap 'prometheus_stop; meshsim_cleanup' EXIT
MESHSIM=${1:?usage: targets.sh MESHSIM}
NS=/api/v1/namespaces/demo
TARGETS="$MESHSIM_DIR/targets.json"

meshsim_start "$MESHSIM" --seed 11 --prometheus-targets "$TARGETS"
kcurl "$SERVER$NS/pods" >"$MESHSIM_DIR/pods.json"

check_py "the target list names every injected pod, with the labels pod discovery gives" \
    "$TARGETS" "$MESHSIM_DIR/pods.json" <<'PY'
import json, re, sys
groups = json.load(open(sys.argv[1]))
pods = {p["metadata"]["name"]: p for p in json.load(open(sys.argv[2]))["items"]}
assert len(groups) == len(pods) == 6, (len(groups), len(pods))
seen = set()
for g in groups:
    assert len(g["targets"]) == 1 and re.match(r"^127\.\d+\.\d+\.\d+:\d+$", g["targets"][0]), g["targets"]
    host = g["targets"][0].split(":")[0]
    assert host != "127.0.0.1" and host not in seen, host  # an address per pod, as a pod IP
    seen.add(host)
    l = g["labels"]
    p = pods[l["pod"]]
    for name in l:
        assert re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", name), name
    assert l["namespace"] == l["__meta_kubernetes_namespace"] == "demo"
    assert l["__meta_kubernetes_pod_name"] == l["pod"]
    assert l["__meta_kubernetes_pod_ip"] == p["status"]["podIP"]
    assert l["__meta_kubernetes_pod_uid"] == p["metadata"]["uid"]
    assert l["__meta_kubernetes_pod_phase"] == "Running" and l["__meta_kubernetes_pod_ready"] == "true"
    assert l["__meta_kubernetes_pod_controller_kind"] == "ReplicaSet"
    assert l["__meta_kubernetes_pod_container_name"] == "istio-proxy"
    assert l["__meta_kubernetes_pod_container_port_number"] == "15090"
    assert l["__meta_kubernetes_pod_label_app"] == p["metadata"]["labels"]["app"]
    assert l["__meta_kubernetes_pod_labelpresent_app"] == "true"
    assert l["__meta_kubernetes_pod_label_security_istio_io_tlsMode"] == "istio"
    assert l["__meta_kubernetes_pod_annotation_prometheus_io_scrape"] == "true"
PY

# target_of POD: the pod's loopback address in the list.
target_of() {
    python3 -c '
import json, sys
print(next(g["targets"][0] for g in json.load(open(sys.argv[1])) if g["labels"]["pod"] == sys.argv[2]))' "$TARGETS" "$1"
}
pods_in_list() {
    python3 -c '
import json, sys
for g in json.load(open(sys.argv[1])): print(g["labels"]["pod"])' "$TARGETS"
}
fe=$(pods_in_list | grep '^frontend-' | head -n 1)
fe_addr=$(target_of "$fe")
direct() { curl -sS --max-time 10 "http://$fe_addr/stats/prometheus"; }
proxied() { kcurl "$SERVER$NS/pods/$fe:15090/proxy/stats/prometheus"; }
same_counters() {
    diff <(direct | grep '^wasmcustom_hfi_faults_[a-z_]*total{') <(proxied | grep '^wasmcustom_hfi_faults_[a-z_]*total{')
}
check "the pod's own address serves the sidecar's /stats/prometheus" same_counters
direct_filter() { [ "$(curl -sS --max-time 10 "http://$fe_addr/stats/prometheus?filter=hfi_faults_aborts" | grep -vc '^#')" = 1 ]; }
check "the direct port honours filter, as 15090 does" direct_filter
direct_404() { [ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "http://$fe_addr/config_dump")" = 404 ]; }
check "the direct port routes only /stats/prometheus" direct_404

# ---- the list follows a rollout, and is never seen half written ----
python3 - "$TARGETS" "$MESHSIM_DIR/reads" <<'PY' &
import json, sys, time
end, bad, reads = time.time() + 8, 0, 0
while time.time() < end:
    try:
        json.load(open(sys.argv[1]))
    except ValueError:
        bad += 1
    reads += 1
open(sys.argv[2], "w").write("%d %d\n" % (reads, bad))
PY
reader=$!
restart='{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}}}}}'
kcurl -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' -d "$restart" \
    "$SERVER/apis/apps/v1/namespaces/demo/deployments/frontend" >/dev/null
rolled() {
    local list
    list=$(pods_in_list)
    ! grep -qx "$fe" <<<"$list" && [ "$(grep -c '^frontend-' <<<"$list")" = 2 ] && [ "$(wc -l <<<"$list")" = 6 ]
}
check "after a rollout the list holds the new pods and not the old ones" wait_until 30 rolled
wait "$reader"
never_half() { read -r reads bad <"$MESHSIM_DIR/reads" && [ "$reads" -gt 10 ] && [ "$bad" = 0 ]; }
check "the list is replaced whole: every read parses" never_half
gone_refuses() { ! curl -sS --max-time 5 "http://$fe_addr/stats/prometheus" >/dev/null 2>&1; }
check "a deleted pod's address stops answering" gone_refuses

# ---- Debian's Prometheus scraping every sidecar from the list ----
cat >"$MESHSIM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sidecars
    metrics_path: /stats/prometheus
    file_sd_configs:
      - files: ['$TARGETS']
        refresh_interval: 1s
EOF
prometheus_start "$MESHSIM_DIR/prometheus.yml"
check_eventually "every target in the list is up (unfiltered Envoy output parses)" 40 all_targets_up 6 sidecars

# Known faults through the plugin's header faults: pod i gets i+1 aborts
# and i+1 delays of 30*(i+1) ms.
i=0
for pod in $(pods_in_list); do
    for _ in $(seq $((i + 1))); do
        kcurl -o /dev/null -H 'x-hfi-fault-abort: 503' -H 'x-hfi-fault-token: meshsim-demo-token' \
            "$SERVER$NS/pods/$pod:8080/proxy/fire"
        kcurl -o /dev/null -H "x-hfi-fault-delay-ms: $((30 * (i + 1)))" -H 'x-hfi-fault-token: meshsim-demo-token' \
            "$SERVER$NS/pods/$pod:8080/proxy/fire"
    done
    i=$((i + 1))
done

# sidecar_values FILE: per pod, the counters and delay buckets as the pod
# proxy serves them, as JSON.
sidecar_values() {
    for pod in $(pods_in_list); do
        echo "== $pod"
        kcurl "$SERVER$NS/pods/$pod:15090/proxy/stats/prometheus?filter=hfi_faults"
    done >"$1"
}
# promql_matches_sidecars: PromQL over what Prometheus scraped equals the
# pod-proxy reading of the same sidecars, pod by pod.
promql_matches_sidecars() {
    sidecar_values "$MESHSIM_DIR/sidecars.txt"
    promql 'sum by (pod) (wasmcustom_hfi_faults_aborts_total)' >"$MESHSIM_DIR/q_aborts.json"
    promql 'sum by (pod) (wasmcustom_hfi_faults_delays_total)' >"$MESHSIM_DIR/q_delays.json"
    promql 'histogram_quantile(0.5, sum by (pod, le) (wasmcustom_hfi_faults_delay_duration_milliseconds_bucket))' \
        >"$MESHSIM_DIR/q_p50.json"
    promql 'histogram_quantile(0.99, sum by (pod, le) (wasmcustom_hfi_faults_delay_duration_milliseconds_bucket))' \
        >"$MESHSIM_DIR/q_p99.json"
    python3 - "$MESHSIM_DIR" <<'PY'
import json, math, re, sys
d = sys.argv[1]
side, pod = {}, None
for line in open(d + "/sidecars.txt"):
    if line.startswith("== "):
        pod = line[3:].strip(); side[pod] = {"buckets": []}
        continue
    m = re.match(r'^wasmcustom_hfi_faults_(aborts_total|delays_total)\{\} (\S+)$', line)
    if m: side[pod][m.group(1)] = float(m.group(2))
    m = re.match(r'^wasmcustom_hfi_faults_delay_duration_milliseconds_bucket\{le="([^"]+)"\} (\S+)$', line)
    if m: side[pod]["buckets"].append((float(m.group(1)), float(m.group(2))))
def quantile(q, buckets):
    # Prometheus promql/quantile.go bucketQuantile: linear inside the bucket
    # holding the rank; the +Inf bucket answers the bound before it.
    total = buckets[-1][1]
    if total == 0: return math.nan
    rank = q * total
    b = next(i for i, (_, c) in enumerate(buckets) if c >= rank)
    if b == len(buckets) - 1: return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0: return buckets[0][0]
    start, end = (0.0 if b == 0 else buckets[b - 1][0]), buckets[b][0]
    count = buckets[b][1] - (buckets[b - 1][1] if b else 0)
    rank -= buckets[b - 1][1] if b else 0
    return start + (end - start) * rank / count
def answer(name):
    r = json.load(open(d + "/" + name))["data"]["result"]
    return {s["metric"]["pod"]: float(s["value"][1]) for s in r}
aborts, delays, p50, p99 = answer("q_aborts.json"), answer("q_delays.json"), answer("q_p50.json"), answer("q_p99.json")
assert set(aborts) == set(side) == set(delays), (sorted(aborts), sorted(side))
for i, pod in enumerate(sorted(side)):
    s = side[pod]
    assert s["aborts_total"] >= 1 and s["delays_total"] >= 1, (pod, s)
    assert aborts[pod] == s["aborts_total"] and delays[pod] == s["delays_total"], (pod, aborts[pod], s)
    assert s["buckets"][-1][1] == s["delays_total"], ("histogram not flushed yet", pod)
    for q, got in ((0.5, p50), (0.99, p99)):
        want = quantile(q, s["buckets"])
        assert abs(got[pod] - want) < 1e-9 * max(1, abs(want)), (pod, q, got[pod], want)
PY
}
check_eventually "PromQL counters and histogram_quantile equal the sidecars read through the pod proxy" \
    40 promql_matches_sidecars

prometheus_stop
finish
