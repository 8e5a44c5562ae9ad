#!/usr/bin/env bash
# The console as a user meets it: hfitop in a real terminal (tmux) against
# meshsim, keys sent, the screen read back. Every wait polls the screen
# until the expected text appears, bounded; none is a fixed sleep.
#
#   tests/ui/console.sh HFITOP MESHSIM
HFITOP=$1
MESHSIM_BIN=$2
. tests/ui/lib.sh

# ---- the default demo mesh ----
meshsim_start "$MESHSIM_BIN" --traffic 20
start_console
see "pod names" "frontend-"
see "all deployments" "checkout-"
see "plugin state in the header" "WasmPlugin hfi-fault"
see "counters scraped" "wasmcustom"
see "totals row" "TOTAL 6 pods, 6 sidecars"

# Sorting: by pod name first; reversed, frontend comes first.
check "sorted by pod name" wait_for 10 first_row_starts cart-
keys S
check "reversed order" wait_for 10 first_row_starts frontend-
keys s
see "sort column moves" "sorted by DEPLOY"
keys S s s s s s s s s s s s s s s s s s s s # normal order, then 19 steps from DEPLOY round to POD
check "back to pod order" wait_for 10 first_row_starts cart-

# Filter.
keys / c h e c k
see "filter prompt" "filter: check_"
keys Enter
gone "filter hides other pods" "frontend-" 10
see "filter keeps matches" "checkout-"
keys / Escape
see "filter cleared" "frontend-" 10

# Detail of the selected pod; Esc goes back.
keys Enter
see "detail summary" "delay ms over the pod's lifetime: count"
see "detail rates" "aborts/s"
see "detail policies" "policies selecting this pod:"
keys Escape
see "back to the table" "TOTAL 6 pods"

# Fire test faults at the selected pod: the tally and the counters.
keys f
see "fire form" "Fire test faults"
keys Enter
see "fire tally" "aborted 10" 60
see "counters caught up" "the metrics pipeline works" 30
keys Escape

# Policies: the list, one added from the form with its time left, removed.
keys p
see "policies dialog" "Policies of WasmPlugin hfi-fault in demo"
see "demo policy listed" "checkout-faults"
keys a
see "policy form" "Add a policy to the WasmPlugin hfi-fault in demo"
keys u i t e s t Enter
see "policy added" "HTTP 200" 30
keys p
see "new policy listed" "uitest" 30
see "time left shown" "left" 10
keys G
for _ in 1 2 3 4 5 6 7 8; do keys j; done # the new policy is the last
keys x
see "remove confirmation" "policy uitest from the pluginConfig of WasmPlugin hfi-fault"
keys y
see "policy removed" "HTTP 200" 30
keys p
see "policies again" "Policies of WasmPlugin hfi-fault in demo" 30
check "removed policy gone" wait_for 20 lacks "uitest"
keys Escape

# Help lists the actions; the doctor view opens.
keys '?'
see "help" "fire test faults at the selected pod"
keys Escape d
see "doctor view" "pods checked"
keys Escape

# Namespace picker lists namespaces.
keys n
see "namespace picker" "Namespace (context"
keys Escape

# Resize: too small, compact, back.
tmx resize-window -t console -x 50 -y 12
see "too small" "terminal too small"
see "too small says the size" "50x12, needs 60x15"
tmx resize-window -t console -x 70 -y 20
see "compact layout" "frontend-"
check "compact drops columns" wait_for 10 lacks "DEPLOY"
tmx resize-window -t console -x 150 -y 40
see "full layout again" "DEPLOY"

# The API server stops answering, then comes back: a banner that clears.
kill -STOP "$MESHSIM_PID"
see "unreachable banner" "API SERVER UNREACHABLE" 90
kill -CONT "$MESHSIM_PID"
gone "banner clears" "API SERVER UNREACHABLE" 60

keys q
exited_cleanly "q"

# Colour: escape sequences for colours only without NO_COLOR.
coloured() { tmx capture-pane -e -p -t console | grep -q $'\e\\[3[1-7]m'; }
start_console
see "coloured console up" "frontend-"
check "colours by default" wait_for 10 coloured
keys C-c
exited_cleanly "Ctrl-C" 130 # SIGINT: 128 + 2, as a shell reports it
not_coloured() { ! coloured; }
CONSOLE_ENV="NO_COLOR=1" start_console
see "NO_COLOR console up" "frontend-"
see "NO_COLOR console scraped" "wasmcustom"
check "NO_COLOR: no colour" not_coloured
keys q
exited_cleanly "NO_COLOR"

# --readonly: no actions.
start_console --readonly
see "read-only header" "[read-only]"
keys e
see "action refused" "read-only: 'e' would change the cluster"
keys '?'
see "help up" "namespace picker"
check "help hides actions" lacks "fire test faults"
keys q
exited_cleanly "readonly"

# ---- what the access review denies is not offered ----
meshsim_start "$MESHSIM_BIN" --scenario api-403-proxy
start_console
see "403 console up" "frontend-"
check "fire not offered" wait_for 20 lacks "f fire"
keys f
see "fire refused by the access review" "not allowed: the access review says you may not get pods/proxy"
keys q
exited_cleanly "access review"

# ---- the context picker ----
python3 - "$KUBECONFIG" "$MESHSIM_DIR/two-contexts" <<'PY'
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
first = cfg["contexts"][0]
other = {"name": "other", "context": dict(first["context"], namespace="kube-system")}
cfg["contexts"].append(other)
yaml.safe_dump(cfg, open(sys.argv[2], "w"))
PY
KUBECONFIG="$MESHSIM_DIR/two-contexts" start_console
see "two contexts: first" "context meshsim"
keys c
see "context picker" "Context (now meshsim)"
see "context picker lists other" "other"
keys j Enter
see "switched context" "context other, namespace kube-system"
see "header follows" "namespace kube-system"
keys q
exited_cleanly "context picker"

# ---- restrictive-stats: the metrics appear on restarted pods ----
meshsim_start "$MESHSIM_BIN" --scenario restrictive-stats
start_console
see "pods listed" "frontend-"
check "metrics excluded" wait_for 30 excluded_row
keys e
see "filter dialog" "Apply the stats-inclusion EnvoyFilter?"
see "dialog names the namespace and context" "into namespace demo, context meshsim"
see "dialog warns about the agent" "lack BOOTSTRAP_XDS_AGENT=true"
keys a
see "annotation applied" "HTTP 200" 30
check "old pods without metrics gone" wait_for 90 no_excluded_row
see "new pods have metrics" "wasmcustom" 30
keys q
exited_cleanly "annotate"

# The EnvoyFilter route: proxies started with BOOTSTRAP_XDS_AGENT=true
# take the filter once restarted.
meshsim_start "$MESHSIM_BIN" --scenario restrictive-stats
for d in frontend cart checkout; do
    kubectl --kubeconfig "$KUBECONFIG" -n demo patch deployment "$d" --type=strategic -p \
        '{"spec":{"template":{"metadata":{"annotations":{"proxy.istio.io/config":"{proxyMetadata: {BOOTSTRAP_XDS_AGENT: \"true\"}}"}}}}}' \
        >/dev/null 2>&1
done
start_console
see "agent pods listed" "frontend-"
gone "rollout to agent pods done" "Terminating" 90
check "still excluded" wait_for 60 excluded_row
keys e
see "filter dialog again" "Apply the stats-inclusion EnvoyFilter?"
check "no agent warning now" wait_for 10 lacks "lack BOOTSTRAP_XDS_AGENT"
keys r
see "filter in the header" "EnvoyFilter: hfi-wasm-stats" 30
check "restarted pods show metrics" wait_for 90 no_excluded_row
see "metrics flow after the filter" "wasmcustom" 30
keys q
exited_cleanly "envoyfilter"

# ---- the doctor view names each scenario's problem ----
doctor_sees() { # SCENARIO FINDING-TEXT
    meshsim_start "$MESHSIM_BIN" --scenario "$1"
    start_console
    see "$1: pods" "-" 30
    keys d
    see "$1: doctor finding" "$2" 60
    keys q
    exited_cleanly "$1"
}
# The doctor's fix for excluded stats: the annotation, and the metrics come.
meshsim_start "$MESHSIM_BIN" --scenario restrictive-stats
start_console
check "doctor fix: metrics excluded first" wait_for 30 excluded_row
keys d
see "doctor fix: finding" "[stats-excluded]" 60
keys Enter
see "doctor fix: confirmation" "Add the stats-inclusion annotation?"
see "doctor fix: names the deployment" "on the pod template of deployment cart"
keys y
see "doctor fix: applied" "HTTP 200" 30
keys Escape
cart_flows() { screen | grep -qE '^cart-.* wasmcustom'; }
cart_excluded() { screen | grep -qE '^cart-.* none '; }
cart_fixed() { cart_flows && ! cart_excluded; }
check "doctor fix: cart's metrics flow" wait_for 90 steadily cart_fixed
check "doctor fix: the others are untouched" excluded_row
keys q
exited_cleanly "doctor fix"

doctor_sees no-sidecar "[no-sidecar]"
doctor_sees plugin-missing "[no-wasmplugin]"
doctor_sees plugin-failed "[plugin-not-loaded]"
doctor_sees restrictive-stats "[stats-excluded]"
doctor_sees legacy-names "[naming-legacy]"
doctor_sees bare-names "[naming-bare]"
doctor_sees slow-sidecar "[sidecar-timeout]"
doctor_sees flaky-sidecar "[sidecar-flaky]"
doctor_sees api-403-proxy "[rbac-pods-proxy]"

# The API server refusing the credentials: a banner says so.
meshsim_start "$MESHSIM_BIN" --scenario api-401
start_console
see "api-401: banner" "CREDENTIALS REJECTED" 60
keys q
exited_cleanly "api-401"

# Throttling and an expiring watch: the pods still come, with counters.
for scenario in api-429 watch-expiry; do
    meshsim_start "$MESHSIM_BIN" --scenario "$scenario" --traffic 10
    start_console
    see "$scenario: pods" "TOTAL 6 pods, 6 sidecars" 60
    see "$scenario: counters" "wasmcustom" 60
    keys q
    exited_cleanly "$scenario"
done

finish
