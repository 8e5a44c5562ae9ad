# Shared by the meshsim shell tests: start meshsim on a free loopback port,
# wait (bounded) for its ready line, talk to it with curl or kubectl, count
# checks, print `RESULT <passed> <failed>`, and always stop meshsim.
#
#   . tests/meshsim/lib.sh
#   meshsim_start "$MESHSIM" --scenario no-sidecar
#   check "pods listed" api_get /api/v1/namespaces/demo/pods
#   finish

set -u
. "$(dirname "${BASH_SOURCE[0]}")/../checks.sh"
MESHSIM_PID=
MESHSIM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/meshsim-test.XXXXXX")

# Stops meshsim with SIGTERM; a crash, an unclean exit or a sanitizer
# report on the way out is a failed check.
meshsim_stop() {
    if [ -n "$MESHSIM_PID" ]; then
        local rc
        kill "$MESHSIM_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$MESHSIM_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$MESHSIM_PID" 2>/dev/null
        wait "$MESHSIM_PID" 2>/dev/null
        rc=$?
        MESHSIM_PID=
        if [ "$rc" -ne 0 ] || grep -qE 'Sanitizer|runtime error' "$MESHSIM_DIR/err"; then
            FAILED=$((FAILED + 1))
            echo "FAIL meshsim exited with $rc" >&2
            grep -A 30 -E 'Sanitizer|runtime error' "$MESHSIM_DIR/err" | head -n 40 >&2
        fi
    fi
}

meshsim_cleanup() {
    meshsim_stop
    rm -rf "$MESHSIM_DIR"
}
trap meshsim_cleanup EXIT
trap 'exit 1' INT TERM

# meshsim_start BINARY [ARGS...]: sets SERVER, KUBECONFIG and the curl
# credential files; fails the whole test if meshsim is not ready in 30 s.
meshsim_start() {
    local bin=$1
    shift
    meshsim_stop
    : >"$MESHSIM_DIR/out"
    "$bin" --listen 127.0.0.1:0 --kubeconfig "$MESHSIM_DIR/kubeconfig" "$@" >"$MESHSIM_DIR/out" 2>"$MESHSIM_DIR/err" &
    MESHSIM_PID=$!
    SERVER=
    for _ in $(seq 300); do
        SERVER=$(sed -n 's/^meshsim ready \(https:.*\)$/\1/p' "$MESHSIM_DIR/out")
        [ -n "$SERVER" ] && break
        kill -0 "$MESHSIM_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$SERVER" ]; then
        echo "meshsim did not start: $(cat "$MESHSIM_DIR/err")" >&2
        FAILED=$((FAILED + 1))
        finish
    fi
    export KUBECONFIG="$MESHSIM_DIR/kubeconfig"
    python3 - "$KUBECONFIG" "$MESHSIM_DIR" <<'PY'
import base64, re, sys
text = open(sys.argv[1]).read()
def field(name):
    m = re.search(r"^\s*%s: (\S+)$" % re.escape(name), text, re.M)
    return m.group(1) if m else None
for name, out in (("certificate-authority-data", "ca.pem"), ("client-certificate-data", "cert.pem"),
                  ("client-key-data", "key.pem")):
    v = field(name)
    if v:
        open("%s/%s" % (sys.argv[2], out), "wb").write(base64.b64decode(v))
token = field("token")
open("%s/token" % sys.argv[2], "w").write(token or "")
PY
}

# curl with the kubeconfig's credentials; extra arguments pass through.
# CURL_HTTP=--http1.1 keeps to HTTP/1.1; curl's default offers h2.
CURL_HTTP=${CURL_HTTP:---http2}
kcurl() {
    local auth=(--cert "$MESHSIM_DIR/cert.pem" --key "$MESHSIM_DIR/key.pem")
    if [ -s "$MESHSIM_DIR/token" ]; then
        auth=(-H "Authorization: Bearer $(cat "$MESHSIM_DIR/token")")
    fi
    curl -sS "$CURL_HTTP" --max-time 20 --cacert "$MESHSIM_DIR/ca.pem" "${auth[@]}" "$@"
}

# http_code METHOD PATH [CURL ARGS...]: prints the status code; the body
# goes to $MESHSIM_DIR/body.
http_code() {
    local method=$1 path=$2
    shift 2
    kcurl -o "$MESHSIM_DIR/body" -w '%{http_code}' -X "$method" "$@" "$SERVER$path"
}

body() { cat "$MESHSIM_DIR/body"; }

# expect_code NAME WANT METHOD PATH [CURL ARGS...]: status code and a
# Status body with that code (for errors).
expect_code() {
    local name=$1 want=$2
    shift 2
    local got
    got=$(http_code "$@")
    if [ "$got" = "$want" ]; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name: got $got, want $want: $(head -c 300 "$MESHSIM_DIR/body")" >&2
    fi
}

# A Status body with the given code and reason.
is_status() {
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "Status" and s["apiVersion"] == "v1" and s["status"] == "Failure", s
assert s["code"] == int(sys.argv[2]) and s["reason"] == sys.argv[3], s
' "$MESHSIM_DIR/body" "$1" "$2"
}

# wait_for SECONDS COMMAND...: polls (bounded) until the command succeeds.
wait_for() {
    local limit=$1
    shift
    for _ in $(seq $((limit * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

finish() {
    meshsim_stop
    echo "RESULT $PASSED $FAILED"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# meshsim_front [OPTION...]: a TLS front (tests/tls_front.py, with its
# --hold or --stale options) between hfitop and meshsim, serving a
# certificate of its own; sets FRONT_PID and writes
# $MESHSIM_DIR/front.kubeconfig, which reaches meshsim through it. Fails
# when the front is not listening within 20 s. The caller's EXIT trap
# kills FRONT_PID.
meshsim_front() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$MESHSIM_DIR/front.key" -out "$MESHSIM_DIR/front.pem" >/dev/null 2>&1 || return 1
    rm -f "$MESHSIM_DIR/front.port"
    python3 tests/tls_front.py --upstream "$SERVER" --ca "$MESHSIM_DIR/ca.pem" --cert "$MESHSIM_DIR/cert.pem" \
        --key "$MESHSIM_DIR/key.pem" --serve-cert "$MESHSIM_DIR/front.pem" --serve-key "$MESHSIM_DIR/front.key" \
        --port-file "$MESHSIM_DIR/front.port" "$@" >/dev/null 2>"$MESHSIM_DIR/front.err" &
    FRONT_PID=$!
    wait_for 20 test -s "$MESHSIM_DIR/front.port" || return 1
    python3 - "$KUBECONFIG" "$MESHSIM_DIR/front.kubeconfig" "$(cat "$MESHSIM_DIR/front.port")" \
        "$MESHSIM_DIR/front.pem" <<'PY'
import base64, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cluster = cfg["clusters"][0]["cluster"]
cluster["server"] = "https://127.0.0.1:%s" % sys.argv[3]
cluster["certificate-authority-data"] = base64.b64encode(open(sys.argv[4], "rb").read()).decode()
yaml.safe_dump(cfg, open(sys.argv[2], "w"))
PY
}
