# Shared by the Prometheus tests, on top of tests/meshsim/lib.sh (or
# tests/ui/lib.sh, which sources it): start Debian's Prometheus on a free
# loopback port with a given configuration, wait (bounded) for it and for
# its targets, query it; the caller's EXIT trap calls prometheus_stop.
#
#   . tests/meshsim/lib.sh
#   . tests/prometheus/prom_lib.sh
#   trap 'prometheus_stop; meshsim_cleanup' EXIT
#   meshsim_start "$MESHSIM" --prometheus-targets "$MESHSIM_DIR/targets.json"
#   prometheus_start "$MESHSIM_DIR/prometheus.yml"
#   wait_for 30 all_targets_up 6
#   promql 'sum by (pod) (wasmcustom_hfi_faults_aborts_total)'

PROM_PID=
PROM_URL=
PROM_DIR="$MESHSIM_DIR/prometheus"

prometheus_stop() {
    if [ -n "$PROM_PID" ]; then
        kill "$PROM_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$PROM_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PROM_PID" 2>/dev/null
        wait "$PROM_PID" 2>/dev/null
        PROM_PID=
    fi
}

# prometheus_start CONFIG [PORT]: sets PROM_URL; fails the whole test when
# Prometheus is not ready in 30 s. PORT (default: any free one) lets a test
# start it again where hfitop already looks for it.
prometheus_start() {
    local config=$1 port=${2:-0}
    if ! command -v prometheus >/dev/null; then
        echo "prometheus is not installed (make deps installs Debian's package)" >&2
        FAILED=$((FAILED + 1))
        finish
    fi
    mkdir -p "$PROM_DIR"
    : >"$PROM_DIR/log"
    prometheus --config.file="$config" --storage.tsdb.path="$PROM_DIR/data" \
        --web.listen-address="127.0.0.1:$port" --log.level=info >"$PROM_DIR/log" 2>&1 &
    PROM_PID=$!
    PROM_URL=
    for _ in $(seq 300); do
        if grep -q 'Server is ready to receive web requests' "$PROM_DIR/log"; then
            PROM_URL=http://$(sed -n 's/.*msg="Listening on" address=\([0-9.:]*\).*/\1/p' \
                "$PROM_DIR/log" | tail -n 1)
            break
        fi
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$PROM_URL" ] || [ "$PROM_URL" = http:// ]; then
        echo "prometheus did not start: $(tail -n 5 "$PROM_DIR/log")" >&2
        FAILED=$((FAILED + 1))
        finish
    fi
}

# promql QUERY: the JSON answer of an instant query.
promql() {
    curl -sS --max-time 10 --data-urlencode "query=$1" "$PROM_URL/api/v1/query"
}

# all_targets_up N [JOB]: exactly N active targets (of JOB), every one up.
all_targets_up() {
    curl -sS --max-time 10 "$PROM_URL/api/v1/targets?state=active" | python3 -c '
import json, sys
want, job = int(sys.argv[1]), sys.argv[2]
ts = [t for t in json.load(sys.stdin)["data"]["activeTargets"] if not job or t["labels"]["job"] == job]
assert len(ts) == want and all(t["health"] == "up" for t in ts), [(t["labels"], t["health"], t["lastError"]) for t in ts]
' "$1" "${2:-}"
}

# wait_until SECONDS COMMAND...: polls until the command succeeds, bounded
# by the clock (each try may itself take a while).
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# check_eventually NAME SECONDS COMMAND...: polls (bounded) until the
# command succeeds; when it never does, shows what its last try said.
check_eventually() {
    local name=$1 limit=$2
    shift 2
    if wait_until "$limit" "$@"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name: $("$@" 2>&1 | tail -n 3)" >&2
    fi
}
