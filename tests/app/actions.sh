#!/usr/bin/env bash
# hfitop's actions end to end against meshsim: test faults fired through the
# API server proxy move the sidecar counters by exactly what the client saw;
# the EnvoyFilter is applied and deleted; a restart rolls new pods; a policy
# lands in the WasmPlugin and in the sidecars; --readonly and bad flags are
# refused with exit 2.
#
#   tests/app/actions.sh build/san/hfitop build/san/meshsim
set -u
HFITOP=$1
MESHSIM=$2
. "$(dirname "$0")/lib.sh"

# Bad flags need no cluster.
expect_exit "flags: bad --interval" 2 '--interval wants whole seconds' "$HFITOP" --once -o json --interval 0
expect_exit "flags: bad -o" 2 '-o wants json or table, got "yaml"' "$HFITOP" --once -o yaml
expect_exit "flags: unknown flag" 2 'unknown flag --bogus' "$HFITOP" --bogus
expect_exit "flags: missing value" 2 '--kubeconfig needs a value' "$HFITOP" --once --kubeconfig
expect_exit "flags: bad --max-inflight" 2 '--max-inflight wants a number' "$HFITOP" --once --max-inflight many
expect_exit "flags: unknown command" 2 'unknown command "frobnicate"' "$HFITOP" frobnicate
expect_exit "flags: fire wants a fault" 2 'exactly one of --abort STATUS and --delay-ms MS' "$HFITOP" fire web-0
expect_exit "flags: bad --abort" 2 '--abort wants an HTTP status' "$HFITOP" fire web-0 --abort 9999
expect_exit "flags: --rules alone" 2 '--rules goes with doctor' "$HFITOP" --rules
expect_exit "doctor --rules needs no cluster" 0 '| `stats-excluded` | problem |' "$HFITOP" doctor --rules
expect_exit "flags: missing kubeconfig" 2 '/nonexistent/kubeconfig' "$HFITOP" --kubeconfig /nonexistent/kubeconfig doctor

meshsim_start "$MESHSIM"

# kubectl's flags pick what is looked at.
expect_exit "flags: --context of the kubeconfig" 0 '"pods"' "$HFITOP" --context meshsim --once -o json
expect_exit "flags: unknown --context" 2 'nope' "$HFITOP" --context nope --once -o json
check_py "flags: -l selects pods" <<PY
import json, subprocess
out = subprocess.run(["$HFITOP", "--once", "-o", "json", "-l", "app=cart"], capture_output=True, text=True, check=True).stdout
pods = json.loads(out)["pods"]
assert len(pods) == 2 and all(p["deployment"] == "cart" for p in pods), pods
PY
check_py "flags: -n picks the namespace" <<PY
import json, subprocess
out = subprocess.run(["$HFITOP", "--once", "-o", "json", "-n", "default"], capture_output=True, text=True, check=True).stdout
assert json.loads(out)["pods"] == [], out
PY
expect_exit "flags: -n for doctor" 0 "namespace kube-system: 0 pods" "$HFITOP" --namespace=kube-system doctor

expect_exit "readonly: fire refused" 2 "refused under --readonly" "$HFITOP" --readonly fire x --abort 503
expect_exit "readonly: restart refused" 2 "refused under --readonly" "$HFITOP" --readonly restart cart
expect_exit "readonly: envoyfilter refused" 2 "refused under --readonly" "$HFITOP" --readonly envoyfilter apply

# field NAME KEY: a number from the last look's record of pod NAME.
field() {
    python3 -c '
import json, sys
p = [p for p in json.load(open(sys.argv[1]))["pods"] if p["name"] == sys.argv[2]][0]
print(p[sys.argv[3]])' "$MESHSIM_DIR/once.json" "$1" "$2"
}

# ---- fire aborts at one pod ----
once_json "fire: before"
pod=$(python3 -c 'import json,sys; print([p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "cart"][0])' "$MESHSIM_DIR/once.json")
before=$(field "$pod" aborts_total)
"$HFITOP" fire "$pod" --abort 503 --count 20 >"$MESHSIM_DIR/fire.out" 2>&1
check "fire: exits 0" test $? -eq 0
seen=$(sed -n 's/^aborted \([0-9]*\) of 20$/\1/p' "$MESHSIM_DIR/fire.out")
check "fire: every request came back 503" grep -q ": 503 x20$" "$MESHSIM_DIR/fire.out"
check "fire: latency percentiles reported" grep -qE '^latency_ms p50=[0-9.]+ p95=[0-9.]+ max=[0-9.]+$' "$MESHSIM_DIR/fire.out"
check "fire: the token is never printed" bash -c "! grep -q meshsim-demo-token '$MESHSIM_DIR/fire.out'"
once_json "fire: after"
after=$(field "$pod" aborts_total)
check "fire: aborts_total rose by exactly the aborts seen ($before + ${seen:-?} = $after)" \
    test -n "$seen" -a "$seen" -eq 20 -a "$((after - before))" -eq "${seen:-0}"

# ---- fire delays at one pod: counters and the histogram ----
before=$(field "$pod" delays_total)
"$HFITOP" fire "$pod" --delay-ms 120 --count 5 >"$MESHSIM_DIR/fire.out" 2>&1
check "fire delay: exits 0, five answers" grep -q ": 200 x5$" "$MESHSIM_DIR/fire.out"
# Both ends count whole milliseconds on their own clocks: allow a little.
check_py "fire delay: p50 latency about the delay or more" "$MESHSIM_DIR/fire.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"p50=([0-9.]+)", text)
assert m and float(m.group(1)) >= 110, text
PY
once_json "fire delay: after"
check "fire delay: delays_total rose by 5" test "$(($(field "$pod" delays_total) - before))" -eq 5

# ---- fire at a service: spread over its pods, counted once each ----
svc_total() {
    python3 -c '
import json, sys
print(sum(p["aborts_total"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "frontend"))' "$MESHSIM_DIR/once.json"
}
before=$(svc_total)
"$HFITOP" fire svc/frontend --abort 502 --count 8 >"$MESHSIM_DIR/fire.out" 2>&1
seen=$(sed -n 's/^aborted \([0-9]*\) of 8$/\1/p' "$MESHSIM_DIR/fire.out")
once_json "fire service: after"
check "fire service: frontend aborts rose by the 502s seen (${seen:-?})" \
    test -n "$seen" -a "$seen" -eq 8 -a "$(($(svc_total) - before))" -eq "${seen:-0}"

expect_exit "fire: unknown pod" 1 "not found" "$HFITOP" fire no-such-pod --abort 503 --count 1

# ---- the EnvoyFilter ----
ef=/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/hfi-wasm-stats
expect_exit "envoyfilter: apply" 0 "EnvoyFilter demo/hfi-wasm-stats applied" "$HFITOP" envoyfilter apply
expect_code "envoyfilter: present after apply" 200 GET "$ef"
check_py "envoyfilter: the built-in manifest, managed by hfitop" "$MESHSIM_DIR/body" <<'PY'
import json, sys
ef = json.load(open(sys.argv[1]))
assert ef["spec"]["configPatches"][0]["applyTo"] == "BOOTSTRAP", ef
assert ef["spec"]["workloadSelector"]["labels"] == {"hfi-enabled": "true"}, ef
assert any(m.get("manager") == "hfitop" and m.get("operation") == "Apply" for m in ef["metadata"].get("managedFields", [])), ef["metadata"]
PY
expect_exit "envoyfilter: apply again" 0 "applied" "$HFITOP" envoyfilter apply
# Another field manager sets the same EnvoyFilter's patches (an atomic
# list) to others: hfitop's apply is not forced (as kubectl's is not by
# default), so it is a 409 naming the conflict, and their patches stay.
expect_code "envoyfilter: another manager takes the patches" 200 PATCH "$ef?fieldManager=gitops&force=true" \
    -H 'Content-Type: application/apply-patch+yaml' \
    -d '{"apiVersion":"networking.istio.io/v1alpha3","kind":"EnvoyFilter","metadata":{"name":"hfi-wasm-stats"},"spec":{"configPatches":[{"applyTo":"HTTP_FILTER","patch":{"operation":"REMOVE"}}]}}'
expect_exit "envoyfilter: apply over another manager's field" 1 'conflict with "gitops"' "$HFITOP" envoyfilter apply
check "envoyfilter: the conflict says nothing changed" grep -q "nothing changed: hfitop does not take over fields" "$MESHSIM_DIR/expect"
expect_code "envoyfilter: read after the conflict" 200 GET "$ef"
check_py "envoyfilter: the other manager's patches stay" "$MESHSIM_DIR/body" <<'PY'
import json, sys
assert json.load(open(sys.argv[1]))["spec"]["configPatches"][0]["applyTo"] == "HTTP_FILTER"
PY
expect_exit "envoyfilter: delete" 0 "EnvoyFilter demo/hfi-wasm-stats deleted" "$HFITOP" envoyfilter delete
expect_code "envoyfilter: gone after delete" 404 GET "$ef"
expect_exit "envoyfilter: delete when absent" 0 "was not there" "$HFITOP" envoyfilter delete
printf 'kind: ConfigMap\nmetadata: {name: x}\n' >"$MESHSIM_DIR/notef.yaml"
expect_exit "envoyfilter: --envoyfilter not an EnvoyFilter" 1 "not an EnvoyFilter" \
    "$HFITOP" --envoyfilter "$MESHSIM_DIR/notef.yaml" envoyfilter apply
# A name that is a dot segment addresses another resource once the path is
# resolved (RFC 3986 5.2.4, which libcurl applies): ".", the namespace's
# whole collection. client-go refuses such names before any request
# (rest/request.go Name, IsValidPathSegmentName), and so must hfitop.
printf 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: bystander}\nspec: {}\n' \
    >"$MESHSIM_DIR/bystander.yaml"
expect_exit "envoyfilter: a second EnvoyFilter" 0 "applied" "$HFITOP" --envoyfilter "$MESHSIM_DIR/bystander.yaml" envoyfilter apply
for bad in . .. a/b 50%; do
    printf 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: "%s"}\nspec: {}\n' "$bad" \
        >"$MESHSIM_DIR/bad.yaml"
    expect_exit "envoyfilter: delete of a manifest named '$bad' refused" 1 "invalid resource name \"$bad\": may not" \
        "$HFITOP" --envoyfilter "$MESHSIM_DIR/bad.yaml" envoyfilter delete
    expect_exit "envoyfilter: apply of a manifest named '$bad' refused" 1 "invalid resource name \"$bad\": may not" \
        "$HFITOP" --envoyfilter "$MESHSIM_DIR/bad.yaml" envoyfilter apply
done
expect_code "envoyfilter: the other EnvoyFilter is untouched" 200 GET "${ef%/*}/bystander"
expect_exit "restart: a deployment named '..' is refused" 1 'invalid resource name "..": may not be' "$HFITOP" restart ..
expect_exit "envoyfilter: delete the second one" 0 "deleted" "$HFITOP" --envoyfilter "$MESHSIM_DIR/bystander.yaml" envoyfilter delete

# ---- restart ----
old_cart=$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "cart"))' "$MESHSIM_DIR/once.json")
expect_exit "restart: cart" 0 "deployment demo/cart restarted at" "$HFITOP" restart cart
expect_code "restart: restartedAt on the template" 200 GET /apis/apps/v1/namespaces/demo/deployments/cart
check_py "restart: annotation is RFC 3339" "$MESHSIM_DIR/body" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
v = d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v), v
PY
check "restart: new cart pods replace the old" wait_for 60 rolled_out cart "$old_cart"
expect_exit "restart: unknown deployment" 1 "not found" "$HFITOP" restart no-such-deployment

# ---- annotate writes onto the deployment as it read it: someone else sets
# their own proxy.istio.io/config between hfitop's read and its write (a
# front answers the read after making that write, tests/tls_front.py --stale);
# the write is refused with 409, hfitop reads again and refuses to replace
# theirs, as it does when it sees it at once ----
DEP=/apis/apps/v1/namespaces/demo/deployments/checkout
FRONT_PID=
trap '[ -n "$FRONT_PID" ] && kill "$FRONT_PID" 2>/dev/null; meshsim_cleanup' EXIT
check "annotate: front listening" meshsim_front \
    --stale "^$DEP\$" --write-method PATCH --write-path "$DEP" --write-type application/strategic-merge-patch+json \
    --write-body '{"spec":{"template":{"metadata":{"annotations":{"proxy.istio.io/config":"terminationDrainDuration: 10s"}}}}}'
expect_exit "annotate: someone else's annotation, written after the read, is not replaced" 1 \
    "already has a proxy.istio.io/config annotation" "$HFITOP" --kubeconfig "$MESHSIM_DIR/front.kubeconfig" annotate checkout
check "annotate: the front made its write ($(cat "$MESHSIM_DIR/front.err"))" grep -q "answered 200" "$MESHSIM_DIR/front.err"
expect_code "annotate: read back" 200 GET "$DEP"
check_py "annotate: their annotation stays" "$MESHSIM_DIR/body" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["spec"]["template"]["metadata"]["annotations"]
assert a["proxy.istio.io/config"] == "terminationDrainDuration: 10s", a
PY
kill "$FRONT_PID" 2>/dev/null
wait "$FRONT_PID" 2>/dev/null
trap meshsim_cleanup EXIT

# ---- policies ----
cat >"$MESHSIM_DIR/policy.json" <<'EOF'
{"metadata": {"name": "cart-extra"}, "spec": {"selector": {"service": "cart", "namespace": "demo"},
 "rules": [{"match": {"path": {"prefix": "/never"}}, "fault": {"percentage": 1, "abort": {"httpStatus": 500}}}]}}
EOF
policies_of_cart() {
    timeout 60 "$HFITOP" --once -o json >"$MESHSIM_DIR/once.json" 2>/dev/null || return 1
    python3 - "$MESHSIM_DIR/once.json" "$1" <<'PY'
import json, sys
pods = [p for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "cart"]
assert pods and all(p["policies"] == int(sys.argv[2]) for p in pods), [p["policies"] for p in pods]
PY
}
check "policy: cart starts with one" policies_of_cart 1
expect_exit "policy: apply" 0 "WasmPlugin demo/hfi-fault: policy cart-extra applied" "$HFITOP" policy apply "$MESHSIM_DIR/policy.json"
check "policy: the sidecars load it (ECDS)" wait_for 20 policies_of_cart 2
expect_exit "policy: apply again replaces" 0 "policy cart-extra applied" "$HFITOP" policy apply - <"$MESHSIM_DIR/policy.json"
check "policy: still two" policies_of_cart 2
expect_exit "policy: remove" 0 "policy cart-extra removed" "$HFITOP" policy remove cart-extra
check "policy: back to one" wait_for 20 policies_of_cart 1
expect_exit "policy: remove unknown" 1 "no policy named cart-extra" "$HFITOP" policy remove cart-extra
expect_exit "policy: not JSON" 1 "must be a JSON object with metadata.name" "$HFITOP" policy apply /dev/null

# ---- fire tells the truth ----
once_json "fire: pods now"
pod=$(python3 -c 'import json,sys; print([p["name"] for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == "frontend"][0])' "$MESHSIM_DIR/once.json")
wp_patch() { # NAME JSON: a merge patch of the WasmPlugin's pluginConfig
    expect_code "$1" 200 PATCH /apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault \
        -H 'Content-Type: application/merge-patch+json' -d "{\"spec\":{\"pluginConfig\":$2}}"
}
fired_nothing() { ! grep -qE "^GET /api/v1/namespaces/demo/pods/$pod/proxy" "$MESHSIM_DIR/requests"; }
bad_token() { # NAME JSON-STRING TEXT: a token that could inject headers is refused, nothing sent
    wp_patch "$1: token set" "{\"header_faults\":{\"enabled\":true,\"token\":$2}}"
    : >"$MESHSIM_DIR/requests"
    HFITOP_REQUEST_LOG="$MESHSIM_DIR/requests" expect_exit "$1: refused" 1 "$3" "$HFITOP" fire "$pod" --abort 503 --count 1
    check "$1: names the token as the cause" grep -q "header-fault token of WasmPlugin hfi-fault" "$MESHSIM_DIR/expect"
    check "$1: nothing fired" fired_nothing
}
bad_token "token with CR LF" '"t\r\nImpersonate-User: admin"' "a carriage return (CR) at byte 2"
bad_token "token with LF" '"t\nx"' "a line feed (LF) at byte 2"
bad_token "token with a space" '"to ken"' "a space at byte 3"
bad_token "token not ASCII" '"t\u00f6ken"' "a byte outside ASCII at byte 2"
wp_patch "token restored" '{"header_faults":{"enabled":true,"token":"meshsim-demo-token"}}'

wp_patch "max_delay_ms 100" '{"header_faults":{"max_delay_ms":100}}'
expect_exit "fire delay above the cap: says it was capped" 0 \
    "delay capped at 100 ms by pluginConfig.header_faults.max_delay_ms (asked 400)" "$HFITOP" fire "$pod" --delay-ms 400 --count 2
wp_patch "max_delay_ms back" '{"header_faults":{"max_delay_ms":30000}}'
expect_exit "fire: one count range" 2 "--count wants a number from 1 to 10000" "$HFITOP" fire "$pod" --abort 503 --count 10001

# Header faults switched off: fire says why, doctor notes it.
expect_code "header faults off" 200 PATCH /apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault \
    -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"pluginConfig":{"header_faults":{"enabled":false}}}}'
expect_exit "header faults off: fire refuses" 1 "no WasmPlugin in the namespace has header faults enabled" \
    "$HFITOP" fire "$pod" --abort 503 --count 1
expect_exit "header faults off: doctor notes it" 0 "note [header-faults-off] deployment cart" "$HFITOP" doctor

# Where nothing can inject, fire fails and says why.
meshsim_start "$MESHSIM" --scenario no-sidecar
inv=$(timeout 60 "$HFITOP" --once -o json | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)["pods"] if p["deployment"] == "inventory"][0])')
expect_exit "fire at a pod without a sidecar: exit 1" 1 "has no istio-proxy sidecar" "$HFITOP" fire "$inv" --abort 503 --count 3
meshsim_start "$MESHSIM" --scenario plugin-failed
cpod=$(timeout 60 "$HFITOP" --once -o json | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)["pods"] if p["deployment"] == "checkout"][0])')
expect_exit "fire where the plugin is not loaded: exit 1" 1 "no request carried a fault" \
    "$HFITOP" fire "$cpod" --abort 503 --count 3
# The API server throttles every third request: fire waits as told.
meshsim_start "$MESHSIM" --scenario api-429
cartpod=$(timeout 60 "$HFITOP" --once -o json | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)["pods"] if p["deployment"] == "cart"][0])')
expect_exit "fire under 429: every request aborted in the end" 0 ": 503 x9" "$HFITOP" fire "$cartpod" --abort 503 --count 9
check "fire under 429: all nine counted" grep -q "^aborted 9 of 9$" "$MESHSIM_DIR/expect"

# Nobody answering is "could not look".
meshsim_stop
expect_exit "no API server: doctor" 2 "could not list pods in namespace demo" "$HFITOP" doctor
expect_exit "no API server: --once" 2 "could not list pods" "$HFITOP" --once -o table

finish
