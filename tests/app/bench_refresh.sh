#!/usr/bin/env bash
# BENCH lines for one full `hfitop --once -o json` refresh of 1,000 pods on
# meshsim (list every pod, scrape every sidecar once through the pod proxy):
# wall seconds, CPU seconds and peak RSS of hfitop, the median of 3 runs,
# measured with /usr/bin/time (Debian's `time`).
#
# No other client does this same work in the same run, so the references
# are the targets of issue 4: 2 s wall, 1 CPU-second, 64 MB. meshsim serves
# every scrape on one thread in the same machine, so the wall time includes
# its share. The request budget (--max-qps, 50 a second by default) would
# make it 20 s by design: it is raised out of the way, to measure hfitop.
#
#   tests/app/bench_refresh.sh build/hfitop build/meshsim
set -u
HFITOP=$1
MESHSIM=$2
PODS=1000
RUNS=3

dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-refresh.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

"$MESHSIM" --listen 127.0.0.1:0 --kubeconfig "$dir/kubeconfig" --pods "$PODS" >"$dir/out" 2>"$dir/err" &
pid=$!
for _ in $(seq 600); do
    grep -q '^meshsim ready ' "$dir/out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q '^meshsim ready ' "$dir/out"; then
    echo "bench_refresh: meshsim did not start: $(cat "$dir/err")" >&2
    exit 1
fi

for i in $(seq "$RUNS"); do
    if ! /usr/bin/time -f '%e %U %S %M' -o "$dir/time.$i" \
        "$HFITOP" --kubeconfig "$dir/kubeconfig" --once -o json --max-qps 10000 >"$dir/once.json" 2>"$dir/once.err"; then
        echo "bench_refresh: hfitop --once failed: $(cat "$dir/once.err")" >&2
        exit 1
    fi
    # A refresh that lost pods or scrapes measures nothing.
    python3 - "$dir/once.json" "$PODS" <<'PY' || exit 1
import json, sys
pods = json.load(open(sys.argv[1]))["pods"]
bad = [p["name"] for p in pods if p["error"] or p["naming"] == "none"]
if len(pods) != int(sys.argv[2]) or bad:
    sys.exit("bench_refresh: %d pods, %d without metrics" % (len(pods), len(bad)))
PY
done

python3 - "$dir" "$RUNS" <<'PY'
import statistics, sys
runs = []
for i in range(1, int(sys.argv[2]) + 1):
    wall, user, system, rss_kb = open("%s/time.%d" % (sys.argv[1], i)).read().split()[-4:]
    runs.append((float(wall), float(user) + float(system), int(rss_kb) / 1024.0))
wall = statistics.median(r[0] for r in runs)
cpu = statistics.median(r[1] for r in runs)
rss = statistics.median(r[2] for r in runs)
for name, value, unit, ref_name, ref in (
        ("refresh_1000_pods_s", wall, "s", "target_wall_s", 2.0),
        ("refresh_1000_pods_cpu_s", cpu, "s", "target_cpu_s", 1.0),
        ("refresh_1000_pods_rss_mb", rss, "MB", "target_rss_mb", 64.0)):
    print("BENCH %s %.3f %s ref=%s %g ratio=%.3f" % (name, value, unit, ref_name, ref, value / ref))
PY
