#!/usr/bin/env bash
# hfitop's Prometheus source against Debian's Prometheus 2.42 scraping
# meshsim's sidecars: after known faults, `--once -o json --prometheus URL`
# equals the sidecar view (pod proxy) on every pod, counters exactly; a pod
# Prometheus does not scrape is unknown (null), not zero; a pod scraped by a
# slow job is stale; a job relabelling the pod label to pod_name (and the
# namespace to kubernetes_namespace) is detected; credentials and headers
# reach Prometheus; the doctor's Prometheus findings, each.
# Usage: source.sh path/to/meshsim path/to/hfitop
. "$(dirname "$0")/../meshsim/lib.sh"
. "$(dirname "$0")/prom_lib.sh"
MESHSIM=${1:?usage: source.sh MESHSIM HFITOP}
HFITOP=${2:?usage: source.sh MESHSIM HFITOP}
NS=/api/v1/namespaces/demo
TARGETS="$MESHSIM_DIR/targets.json"
FAKE_PID=
trap 'prometheus_stop; [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; meshsim_cleanup' EXIT

meshsim_start "$MESHSIM" --seed 3 --prometheus-targets "$TARGETS"
pods=$(python3 -c '
import json, sys
for g in json.load(open(sys.argv[1])): print(g["labels"]["pod"])' "$TARGETS")
unscraped=$(grep '^cart-' <<<"$pods" | sed -n 1p) # no job scrapes it
slow=$(grep '^cart-' <<<"$pods" | sed -n 2p)      # only a job with a 30 s interval

# Job sidecars scrapes every pod but those two, each second.
cat >"$MESHSIM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sidecars
    metrics_path: /stats/prometheus
    file_sd_configs: [{files: ['$TARGETS'], refresh_interval: 1s}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_name], regex: '$unscraped|$slow', action: drop}
  - job_name: slow
    scrape_interval: 30s
    scrape_timeout: 1s
    metrics_path: /stats/prometheus
    file_sd_configs: [{files: ['$TARGETS'], refresh_interval: 1s}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_name], regex: '$slow', action: keep}
EOF
prometheus_start "$MESHSIM_DIR/prometheus.yml"
check_eventually "every target up" 40 all_targets_up 4 sidecars

# Known faults: pod i gets i+1 aborts and i+1 delays of 20*(i+1) ms.
i=0
for pod in $pods; do
    for _ in $(seq $((i + 1))); do
        kcurl -o /dev/null -H 'x-hfi-fault-abort: 503' -H 'x-hfi-fault-token: meshsim-demo-token' \
            "$SERVER$NS/pods/$pod:8080/proxy/fire"
        kcurl -o /dev/null -H "x-hfi-fault-delay-ms: $((20 * (i + 1)))" -H 'x-hfi-fault-token: meshsim-demo-token' \
            "$SERVER$NS/pods/$pod:8080/proxy/fire"
    done
    i=$((i + 1))
done

once() { # once OUT [FLAGS...]: hfitop --once -o json
    local out=$1
    shift
    timeout 60 "$HFITOP" --once -o json --no-journal "$@" >"$out" 2>"$out.err"
}
# views_equal: the Prometheus view equals the sidecar view, pod by pod.
views_equal() {
    once "$MESHSIM_DIR/sidecars.json" || return 1
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" || return 1
    python3 - "$MESHSIM_DIR/sidecars.json" "$MESHSIM_DIR/prom.json" "$unscraped" "$slow" "$PROM_URL" <<'PY'
import json, math, sys
side = {p["name"]: p for p in json.load(open(sys.argv[1]))["pods"]}
doc = json.load(open(sys.argv[2]))
prom = {p["name"]: p for p in doc["pods"]}
unscraped, slow, url = sys.argv[3], sys.argv[4], sys.argv[5]
src = doc["source"]
assert src["kind"] == "prometheus" and src["url"] == url and src["pod_label"] == "pod", src
assert src["namespace_label"] == "namespace", src
assert set(side) == set(prom) and len(side) == 6, (sorted(side), sorted(prom))
exact = ["naming", "aborts_total", "delays_total", "overflow_total", "config_errors_total", "active_delays", "policies"]
for name, s in side.items():
    p = prom[name]
    if name == unscraped:
        # Prometheus holds nothing for it: unknown, not zero.
        assert s["aborts_total"] >= 1 and p["aborts_total"] is None and p["delays_total"] is None, p
        assert p["naming"] == "none" and p["last_scrape"] is None, p
        continue
    for k in exact:
        assert p[k] == s[k], (name, k, p[k], s[k])
    assert s["aborts_total"] >= 1 and s["delays_total"] >= 1, (name, s)
    sd, pd = s["delay_ms"], p["delay_ms"]
    assert sd["count"] == s["delays_total"], ("the sidecar has not flushed its histogram yet", name)
    assert pd["count"] == sd["count"] and pd["sum"] == sd["sum"], (name, pd, sd)
    assert pd["buckets"] == sd["buckets"], (name, pd["buckets"], sd["buckets"])
    for q in ("p50", "p95", "p99"):
        assert sd[q] is not None and abs(pd[q] - sd[q]) <= 1e-9 * max(1.0, abs(sd[q])), (name, q, pd[q], sd[q])
    assert p["last_scrape"] is not None and p["error"] is None, p
    # Istio's counters (destination reporter): every fire is one request,
    # each abort an error (503).
    so, po = s["observed"], p["observed"]
    assert so["requests_total"] >= 2 and so["errors_total"] >= 1, (name, so)
    assert po["requests_total"] == so["requests_total"] and po["errors_total"] == so["errors_total"], (name, po, so)
    if name != slow:
        assert p["stale"] is False, p
PY
}
check_eventually "--once through Prometheus equals the sidecar view on every pod (counters exactly)" 60 views_equal

# Observed rates: once Prometheus holds a pod's request series, 5 more
# aborts (all 503) show as at least 5 requests and mostly errors over the
# 60 s window (rate() extrapolates a little), with latency quantiles.
rated=$(grep -v -e "^$unscraped\$" -e "^$slow\$" <<<"$pods" | sed -n 1p)
for _ in 1 2 3 4 5; do
    kcurl -o /dev/null -H 'x-hfi-fault-abort: 503' -H 'x-hfi-fault-token: meshsim-demo-token' \
        "$SERVER$NS/pods/$rated:8080/proxy/fire"
done
observed_rates() {
    once "$MESHSIM_DIR/sidecars.json" || return 1
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" || return 1
    python3 - "$MESHSIM_DIR/sidecars.json" "$MESHSIM_DIR/prom.json" "$rated" <<'PY'
import json, sys
side = {p["name"]: p for p in json.load(open(sys.argv[1]))["pods"]}
prom = {p["name"]: p for p in json.load(open(sys.argv[2]))["pods"]}
so, po = side[sys.argv[3]]["observed"], prom[sys.argv[3]]["observed"]
assert po["requests_total"] == so["requests_total"] and po["errors_total"] == so["errors_total"], (po, so)
assert po["rps"] is not None and 0.9 * 5 / 60 <= po["rps"] <= 1.5 * so["requests_total"] / 60, po
assert po["error_ratio"] is not None and 0.5 < po["error_ratio"] <= 1, po
assert po["p50_ms"] is not None and po["p99_ms"] is not None and po["p50_ms"] <= po["p99_ms"], po
# Deployments add their pods up, from the first refresh on; where
# Prometheus scrapes every pod of one, its counters equal the sidecar's.
docs = [json.load(open(f)) for f in sys.argv[1:3]]
side_deps, prom_deps = ({d["name"]: d for d in doc["deployments"]} for doc in docs)
pods_of = lambda name: [p for p in prom.values() if p["deployment"] == name]
for name, d in prom_deps.items():
    obs = d["observed"]
    known = [p["observed"] for p in pods_of(name) if p["observed"]["requests_total"] is not None]
    assert obs["requests_total"] == sum(o["requests_total"] for o in known), (name, obs, known)
    assert obs["errors_total"] == sum(o["errors_total"] for o in known), (name, obs, known)
    rates = [o["rps"] for o in known if o["rps"] is not None]
    assert rates or obs["rps"] is None, (name, obs, known)
    assert not rates or abs(obs["rps"] - sum(rates)) < 1e-9, (name, obs, known)
    if len(known) == len(pods_of(name)):
        for k in ("requests_total", "errors_total"):
            assert obs[k] == side_deps[name]["observed"][k], (name, k, obs, side_deps[name]["observed"])
    # The error ratio of the deployment: errors over requests, both rates.
    rated = [o for o in known if o["rps"] and o["error_ratio"] is not None]
    if rated:
        want = sum(o["rps"] * o["error_ratio"] for o in rated) / sum(o["rps"] for o in rated)
        assert abs(obs["error_ratio"] - want) < 1e-9, (name, obs, known)
PY
}
check_eventually "observed requests and errors through Prometheus: counters equal the sidecar's, rates from rate()" 30 \
    observed_rates

# The plugin's own rates through Prometheus, one query per counter: 20
# more aborts on one pod, no delays; its aborts/s is Prometheus' rate() of
# its aborts counter over the 60 s window, its delays/s that of the delays
# counter (the two are not swapped, nor one missing).
for _ in $(seq 20); do
    kcurl -o /dev/null -H 'x-hfi-fault-abort: 503' -H 'x-hfi-fault-token: meshsim-demo-token' \
        "$SERVER$NS/pods/$rated:8080/proxy/fire"
done
counter_rates() {
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" || return 1
    for c in aborts delays; do
        promql "sum by (pod) (rate(wasmcustom_hfi_faults_${c}_total{pod=\"$rated\"}[60s]))" >"$MESHSIM_DIR/$c.json" ||
            return 1
    done
    python3 - "$MESHSIM_DIR/prom.json" "$MESHSIM_DIR/aborts.json" "$MESHSIM_DIR/delays.json" "$rated" <<'PY'
import json, sys
p = next(p for p in json.load(open(sys.argv[1]))["pods"] if p["name"] == sys.argv[4])
def rate_of(path):
    result = json.load(open(path))["data"]["result"]
    assert len(result) == 1, result
    return float(result[0]["value"][1])
aborts, delays = rate_of(sys.argv[2]), rate_of(sys.argv[3])
# Evaluated a moment apart, the two windows hold almost the same samples.
assert p["aborts_per_s"] is not None and p["aborts_per_s"] >= 0.9 * 20 / 60, p
assert abs(p["aborts_per_s"] - aborts) <= 0.2 * aborts, (p["aborts_per_s"], aborts)
assert p["delays_per_s"] is not None and abs(p["delays_per_s"] - delays) <= 0.2 * max(delays, 1 / 60), (p["delays_per_s"], delays)
assert p["delays_per_s"] < p["aborts_per_s"] / 2, p
PY
}
check_eventually "the plugin's aborts/s and delays/s through Prometheus are rate() of each counter" 30 counter_rates

# Deployments' quantiles over the window. Prometheus knows pods, not
# deployments: hfitop adds the rate() of its pods' buckets together. Fresh
# delays of a different length and number on each pod; then a deployment's
# delay and latency quantiles must be what Prometheus' histogram_quantile
# gives over the sum of its pods' bucket rates, read just before and just
# after hfitop's refresh. The two readings may differ by the scrapes'
# millisecond jitter (rate() divides by the sampled interval): 1 % apart at
# most, or try again.
i=0
for pod in $pods; do
    for _ in $(seq $((i % 3 + 1))); do
        kcurl -o /dev/null -H "x-hfi-fault-delay-ms: $((10 * (i + 1) * (i + 1)))" \
            -H 'x-hfi-fault-token: meshsim-demo-token' "$SERVER$NS/pods/$pod:8080/proxy/fire"
    done
    i=$((i + 1))
done
cat >"$MESHSIM_DIR/oracle.py" <<'PY'
# oracle.py PROM_URL ONCE_JSON OUT_JSON: for each deployment of ONCE_JSON,
# histogram_quantile over the sum of its pods' bucket rates, from Prometheus.
import json, math, sys, urllib.parse, urllib.request
doc = json.load(open(sys.argv[2]))
window = max(int(doc["window_s"]), 4)
deps = {}
for p in doc["pods"]:
    if p["deployment"]:
        deps.setdefault(p["deployment"], []).append(p["name"])
def quantile(q, metric, pods):
    sel = 'namespace="demo", pod=~"%s"' % "|".join(pods)  # DNS labels: no regex metacharacters
    query = "histogram_quantile(%s, sum by (le) (rate(%s[%ds])))" % (q, metric % sel, window)
    body = urllib.parse.urlencode({"query": query}).encode()
    result = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/query", body, timeout=10))["data"]["result"]
    value = float(result[0]["value"][1]) if result else math.nan
    return None if math.isnan(value) else value
delay = "wasmcustom_hfi_faults_delay_duration_milliseconds_bucket{%s}"
latency = 'istio_request_duration_milliseconds_bucket{reporter="destination", %s}'
json.dump({name: {"delay_p50_ms": quantile(0.5, delay, pods), "delay_p99_ms": quantile(0.99, delay, pods),
                  "p50_ms": quantile(0.5, latency, pods), "p99_ms": quantile(0.99, latency, pods)}
           for name, pods in deps.items()}, open(sys.argv[3], "w"))
PY
deployment_quantiles() {
    once "$MESHSIM_DIR/pods.json" --prometheus "$PROM_URL" &&
        python3 "$MESHSIM_DIR/oracle.py" "$PROM_URL" "$MESHSIM_DIR/pods.json" "$MESHSIM_DIR/before.json" &&
        once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" &&
        python3 "$MESHSIM_DIR/oracle.py" "$PROM_URL" "$MESHSIM_DIR/pods.json" "$MESHSIM_DIR/after.json" || return 1
    python3 - "$MESHSIM_DIR/prom.json" "$MESHSIM_DIR/before.json" "$MESHSIM_DIR/after.json" <<'PY'
import json, sys
doc, before, after = (json.load(open(f)) for f in sys.argv[1:4])
once = {d["name"]: d for d in doc["deployments"]}
close = lambda a, b: (a is None) == (b is None) and (a is None or abs(a - b) <= 0.01 * max(1.0, abs(b)))
for name, want in after.items():
    d = once[name]
    got = {"delay_p50_ms": d["delay_p50_ms"], "delay_p99_ms": d["delay_p99_ms"],
           "p50_ms": d["observed"]["p50_ms"], "p99_ms": d["observed"]["p99_ms"]}
    for k, v in want.items():
        assert close(before[name][k], v), ("Prometheus' own readings moved", name, k, before[name][k], v)
        assert close(got[k], v), (name, k, got, want)
# Every deployment was fired at; where its pods' delays differ, so do p50
# and p99.
assert len(after) >= 2 and all(w["delay_p99_ms"] is not None for w in after.values()), after
assert any(once[n]["delay_p50_ms"] < once[n]["delay_p99_ms"] for n in after), once
PY
}
check_eventually "deployments' delay and latency quantiles are histogram_quantile over their pods' summed rates" 40 \
    deployment_quantiles

slow_is_stale() {
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" || return 1
    python3 - "$MESHSIM_DIR/prom.json" "$slow" <<'PY'
import json, sys
p = next(p for p in json.load(open(sys.argv[1]))["pods"] if p["name"] == sys.argv[2])
assert p["stale"] is True and p["aborts_total"] is not None, p
PY
}
check_eventually "a pod whose newest sample is older than two scrape intervals is stale" 30 slow_is_stale

# ---- Prometheus behind TLS: --prometheus-ca, --prometheus-insecure-skip-tls-verify ----
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=prometheus-front \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$MESHSIM_DIR/front.key" -out "$MESHSIM_DIR/front.crt" \
    >/dev/null 2>&1
python3 "$(dirname "$0")/../tls_front.py" --upstream "$PROM_URL" --serve-cert "$MESHSIM_DIR/front.crt" \
    --serve-key "$MESHSIM_DIR/front.key" --port-file "$MESHSIM_DIR/front.port" &
FRONT_PID=$!
trap 'prometheus_stop; kill "$FRONT_PID" 2>/dev/null; [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; meshsim_cleanup' EXIT
wait_until 10 test -s "$MESHSIM_DIR/front.port"
FRONT=https://127.0.0.1:$(cat "$MESHSIM_DIR/front.port")
unverified_refused() {
    once "$MESHSIM_DIR/tls.json" --prometheus "$FRONT"
    [ $? -eq 2 ] && grep -qi 'certificate' "$MESHSIM_DIR/tls.json.err"
}
check "an https Prometheus whose certificate no CA vouches for is refused (exit 2), naming the certificate" \
    unverified_refused
# same_view FILE_A FILE_B: equal pods, counters exactly (the faults are done).
same_view() {
    python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["source"]["kind"] == b["source"]["kind"] == "prometheus", (a["source"], b["source"])
pa, pb = ({p["name"]: p for p in d["pods"]} for d in (a, b))
assert set(pa) == set(pb) and len(pa) == 6, (sorted(pa), sorted(pb))
for name, p in pa.items():
    for k in ("naming", "aborts_total", "delays_total", "overflow_total", "config_errors_total", "policies", "stale"):
        assert p[k] == pb[name][k], (name, k, p[k], pb[name][k])
PY
}
with_ca() {
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" &&
        once "$MESHSIM_DIR/tls.json" --prometheus "$FRONT" --prometheus-ca "$MESHSIM_DIR/front.crt" &&
        same_view "$MESHSIM_DIR/prom.json" "$MESHSIM_DIR/tls.json" &&
        ! grep -qi 'insecure' "$MESHSIM_DIR/tls.json.err"
}
check_eventually "with --prometheus-ca the https view equals the plain-HTTP view" 30 with_ca
insecure() {
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" &&
        once "$MESHSIM_DIR/tls.json" --prometheus "$FRONT" --prometheus-insecure-skip-tls-verify &&
        same_view "$MESHSIM_DIR/prom.json" "$MESHSIM_DIR/tls.json" &&
        grep -qF "warning: --prometheus-insecure-skip-tls-verify is set: the certificate of Prometheus at $FRONT is not checked" \
            "$MESHSIM_DIR/tls.json.err"
}
check_eventually "--prometheus-insecure-skip-tls-verify works and says so on stderr" 30 insecure
kill "$FRONT_PID" 2>/dev/null

# ---- the doctor's Prometheus findings ----
doctor_json() { # doctor_json OUT WANT_EXIT [FLAGS...]
    local out=$1 want=$2
    shift 2
    timeout 90 "$HFITOP" doctor -o json --no-journal "$@" >"$out" 2>"$out.err"
    [ $? -eq "$want" ]
}
finding() { # finding FILE ID SUBJECT_PART DETAIL_PART
    python3 - "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
fs = [f for f in doc["findings"] if f["id"] == sys.argv[2]]
assert fs, [f["id"] for f in doc["findings"]]
f = fs[0]
assert sys.argv[3] in f["subject"] or sys.argv[3] in f["pods"], f
assert sys.argv[4] in f["detail"], f
assert f["kind"] == "problem" and f["fix"] and f["diagnosis"], f
PY
}
no_series_and_stale() {
    doctor_json "$MESHSIM_DIR/doctor.json" 1 --prometheus "$PROM_URL" &&
        finding "$MESHSIM_DIR/doctor.json" prometheus-no-series "$unscraped" "although the sidecar serves them" &&
        finding "$MESHSIM_DIR/doctor.json" prometheus-stale "$slow" "newest sample" &&
        python3 -c '
import json, sys
ids = [f["id"] for f in json.load(open(sys.argv[1]))["findings"]]
assert ids.count("prometheus-no-series") == 1 and ids.count("prometheus-stale") == 1, ids' "$MESHSIM_DIR/doctor.json"
}
check_eventually "doctor: prometheus-no-series for the pod no job scrapes, prometheus-stale for the slow one" 30 \
    no_series_and_stale
closed_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
unreachable() {
    doctor_json "$MESHSIM_DIR/doctor.json" 1 --prometheus "http://127.0.0.1:$closed_port" &&
        finding "$MESHSIM_DIR/doctor.json" prometheus-unreachable "127.0.0.1:$closed_port" "unreachable"
}
check "doctor: prometheus-unreachable names the URL and why" unreachable
sidecar_addr=$(python3 -c '
import json, sys
print(json.load(open(sys.argv[1]))[0]["targets"][0])' "$TARGETS")
not_the_api() {
    doctor_json "$MESHSIM_DIR/doctor.json" 1 --prometheus "http://$sidecar_addr" &&
        finding "$MESHSIM_DIR/doctor.json" prometheus-query-failed "$sidecar_addr" "is not a Prometheus query API"
}
check "doctor: prometheus-query-failed for a URL that is not the query API" not_the_api

# A stand-in API that wants a bearer token or basic auth (alice, p@ss) and
# a tenant header, and answers an empty vector when it gets them.
printf 'sekret-token\n' >"$MESHSIM_DIR/token"
python3 - "$MESHSIM_DIR/fake.port" <<'PY' &
import base64, http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        basic = "Basic " + base64.b64encode(b"alice:p@ss").decode()
        ok = (self.headers.get("Authorization") in ("Bearer sekret-token", basic) and
              self.headers.get("X-Scope-OrgID") == "tenant-1")
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = answer
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
srv.timeout = 60
open(sys.argv[1], "w").write(str(srv.server_address[1]))
for _ in range(40):
    srv.handle_request()
PY
FAKE_PID=$!
wait_until 10 test -s "$MESHSIM_DIR/fake.port"
FAKE=http://127.0.0.1:$(cat "$MESHSIM_DIR/fake.port")
unauthorized() {
    doctor_json "$MESHSIM_DIR/doctor.json" 1 --prometheus "$FAKE" --prometheus-header X-Scope-OrgID:tenant-1 &&
        finding "$MESHSIM_DIR/doctor.json" prometheus-unauthorized "$FAKE" "refused the credentials"
}
check "doctor: prometheus-unauthorized when the token is missing" unauthorized
authorized() {
    once "$MESHSIM_DIR/fake.json" --prometheus "$FAKE" --prometheus-bearer-token-file "$MESHSIM_DIR/token" \
        --prometheus-header X-Scope-OrgID:tenant-1 &&
        python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["source"]["kind"] == "prometheus" and all(p["aborts_total"] is None for p in d["pods"]), d' "$MESHSIM_DIR/fake.json"
}
check "the bearer token file and --prometheus-header reach Prometheus" authorized
basic_from_url() {
    once "$MESHSIM_DIR/fake.json" --prometheus "http://alice:p%40ss@${FAKE#http://}" \
        --prometheus-header X-Scope-OrgID:tenant-1 &&
        python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["source"]["url"] == sys.argv[2], d["source"]  # shown without the credentials' "$MESHSIM_DIR/fake.json" "$FAKE"
}
check "basic auth from the URL reaches Prometheus, and the URL is shown without it" basic_from_url
refused_once() {
    ! once "$MESHSIM_DIR/fake.json" --prometheus "$FAKE" && grep -q 'refused the credentials' "$MESHSIM_DIR/fake.json.err"
}
check "--once says why when Prometheus refuses, and exits 2" refused_once
bad_url() { timeout 20 "$HFITOP" --once --no-journal --prometheus "ftp://x" 2>&1 | grep -q 'wants an http:// or https:// URL'; }
check "a URL that is not http(s) is refused with a message" bad_url

# ---- a job that relabels the pod label to pod_name ----
prometheus_stop
cat >"$MESHSIM_DIR/prometheus-renamed.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: renamed
    metrics_path: /stats/prometheus
    file_sd_configs: [{files: ['$TARGETS'], refresh_interval: 1s}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod_name}
      - {source_labels: [__meta_kubernetes_namespace], target_label: kubernetes_namespace}
      - {regex: '^(pod|namespace)$', action: labeldrop}
EOF
rm -rf "$PROM_DIR"
prometheus_start "$MESHSIM_DIR/prometheus-renamed.yml"
check_eventually "the renaming job's targets are up" 40 all_targets_up 6 renamed
renamed_equal() {
    once "$MESHSIM_DIR/sidecars.json" || return 1
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" || return 1
    python3 - "$MESHSIM_DIR/sidecars.json" "$MESHSIM_DIR/prom.json" <<'PY'
import json, sys
side = {p["name"]: p for p in json.load(open(sys.argv[1]))["pods"]}
doc = json.load(open(sys.argv[2]))
assert doc["source"]["pod_label"] == "pod_name", doc["source"]
assert doc["source"]["namespace_label"] == "kubernetes_namespace", doc["source"]
for p in doc["pods"]:
    s = side[p["name"]]
    for k in ("aborts_total", "delays_total", "policies"):
        assert p[k] is not None and p[k] == s[k], (p["name"], k, p[k], s[k])
PY
}
check_eventually "pod_name and kubernetes_namespace are detected and read" 40 renamed_equal
given_labels() {
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" --prometheus-pod-label pod_name \
        --prometheus-namespace-label kubernetes_namespace &&
        python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert all(p["aborts_total"] is not None for p in d["pods"]), d["pods"]' "$MESHSIM_DIR/prom.json"
}
check "--prometheus-pod-label and --prometheus-namespace-label are used as given" given_labels
# A pod label that none of the series carries: Prometheus answers series
# without it, which name no pod; every pod is unknown, nothing fails.
absent_pod_label() {
    once "$MESHSIM_DIR/prom.json" --prometheus "$PROM_URL" --prometheus-pod-label no_such_label \
        --prometheus-namespace-label kubernetes_namespace &&
        python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pods"] and all(p["aborts_total"] is None and p["naming"] == "none" for p in d["pods"]), d["pods"]' \
            "$MESHSIM_DIR/prom.json"
}
check "a pod label no series carries: every pod unknown, not a failure" absent_pod_label

prometheus_stop
finish
