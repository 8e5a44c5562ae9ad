#!/usr/bin/env bash
# BENCH meshsim_scrape_rps: /stats/prometheus scrapes per second across
# 1,000 pods through the pod proxy, 16 concurrent HTTP/1.1 clients. The
# reference serves the same bytes from a static file (--static-stats), so
# the ratio is what the plugin instances and Envoy-format rendering cost.
# Usage: bench.sh path/to/meshsim
. "$(dirname "$0")/lib.sh"
MESHSIM=${1:?usage: bench.sh MESHSIM}
PODS=1000
ROUNDS=3
CLIENTS=16

# scrape_rate: scrapes/s for every pod, ROUNDS times, CLIENTS at once.
scrape_rate() {
    local cfg="$MESHSIM_DIR/urls" start end
    kcurl "$SERVER/api/v1/namespaces/demo/pods" | python3 -c '
import json, sys
server, rounds = sys.argv[1], int(sys.argv[2])
names = [p["metadata"]["name"] for p in json.load(sys.stdin)["items"]]
for _ in range(rounds):
    for n in names:
        print("url = \"%s/api/v1/namespaces/demo/pods/%s:15090/proxy/stats/prometheus\"\noutput = \"/dev/null\"" % (server, n))
' "$SERVER" "$ROUNDS" >"$cfg"
    start=$(date +%s%N)
    CURL_HTTP=--http1.1 kcurl --no-progress-meter --parallel --parallel-max "$CLIENTS" -K "$cfg" -w '%{http_code}\n' >"$MESHSIM_DIR/codes"
    end=$(date +%s%N)
    if [ "$(grep -c '^200$' "$MESHSIM_DIR/codes")" -ne $((PODS * ROUNDS)) ]; then
        echo "bench: not every scrape answered 200" >&2
        exit 1
    fi
    python3 -c "print('%.0f' % ($PODS * $ROUNDS / (($end - $start) / 1e9)))"
}

meshsim_start "$MESHSIM" --pods "$PODS"
ours=$(scrape_rate)
pod=$(kcurl "$SERVER/api/v1/namespaces/demo/pods?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["name"])')
kcurl -o "$MESHSIM_DIR/static.txt" "$SERVER/api/v1/namespaces/demo/pods/$pod:15090/proxy/stats/prometheus"
meshsim_start "$MESHSIM" --pods "$PODS" --static-stats "$MESHSIM_DIR/static.txt"
ref=$(scrape_rate)
meshsim_stop
echo "BENCH meshsim_scrape_rps $ours scrapes/s ref=static_file $ref ratio=$(python3 -c "print('%.2f' % ($ours / $ref))")"
