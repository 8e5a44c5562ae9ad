#!/usr/bin/env bash
# The console's safety through tmux against meshsim: keys typed before a
# dialog is drawn never answer it (checked through HFITOP_REQUEST_LOG);
# Ctrl-C asks while an action runs; the R confirmation counts and scrolls;
# policy forms refuse bad fields and show which; Enter shows a policy's
# rules; the kill switch removes every policy and watches the sidecars
# stop; test faults tell the truth; follow-up steps keep the target that
# was confirmed; the EnvoyFilter dialogs name what they act on.
#
#   tests/ui/safety.sh HFITOP MESHSIM
HFITOP=$1
MESHSIM_BIN=$2
. tests/meshsim/lib.sh
. tests/ui/lib.sh

REQUESTS="$MESHSIM_DIR/requests"
# Every request that changes something or fires a fault: writes (the
# access reviews hfitop posts at start excepted) and proxied requests to a
# pod or service other than the stats port.
changes() {
    grep -E '^(PATCH|PUT|DELETE|POST) |^GET /api/v1/namespaces/[^ ]*/(pods/[^ :/]*|services/[^ /]*)/proxy' "$REQUESTS" |
        grep -v 'selfsubjectaccessreviews' || true
}
nothing_written() { [ -z "$(changes)" ]; }

# typed_ahead NAME KEYS TITLE: KEYS then y then Enter in one write to the
# terminal; the dialog TITLE shows, and nothing was changed.
typed_ahead() {
    local name=$1 typed=$2 title=$3
    : >"$REQUESTS"
    tmx send-keys -t console -l "${typed}y"$'\r'
    see "type-ahead $name: the dialog is shown" "$title" 20
    check "type-ahead $name: nothing written ($(changes | head -n 3))" nothing_written
    keys Escape
    gone "type-ahead $name: closed" "$title" 10
}

# ---- type-ahead, confirmations, Ctrl-C ----
meshsim_start "$MESHSIM_BIN" --traffic 20
CONSOLE_ENV="HFITOP_REQUEST_LOG=$REQUESTS" start_console
see "console up" "TOTAL 6 pods, 6 sidecars" 60
see "footer offers the kill switch" "X KILL SWITCH"
typed_ahead "e" e "Apply the stats-inclusion EnvoyFilter?"
typed_ahead "E" E "Delete the stats-inclusion EnvoyFilter?"
typed_ahead "r" r "Restart deployment?"
typed_ahead "R" R "Restart every deployment in view"
typed_ahead "f" f "Fire test faults"
typed_ahead "X" X "KILL SWITCH: remove all"
keys p
see "policies open" "Policies of WasmPlugin hfi-fault in demo"
typed_ahead "p x" x "Remove policy?"
keys p
see "policies open again" "Policies of WasmPlugin hfi-fault in demo"
typed_ahead "p X" X "KILL SWITCH: remove all"
keys p
see "policies open once more" "Policies of WasmPlugin hfi-fault in demo"
typed_ahead "p a" a "Add a policy to the WasmPlugin"

# The help names the kill switch and Ctrl-C.
keys '?'
see "help: kill switch" "KILL SWITCH: remove every policy"
see "help: Ctrl-C asks too" "q Ctrl-C"
keys Escape

# The fire form: switching abort to delay resets the value (503 would be
# 503 ms); the verdict comes once faults were sent, answered and counted.
keys f
see "fire form" "Fire test faults"
see "abort's default" "status or ms     503"
keys Up Right
see "delay's own default" "status or ms     250"
keys Enter
see "the delays were counted" "the metrics pipeline works: faults were sent, answered, and counted" 60
keys Escape
# A slow delay keeps an action running: Ctrl-C asks, Esc goes on.
keys f
see "fire form again" "Fire test faults"
keys Up Right Down BSpace BSpace BSpace 4 0 0 0 Down BSpace BSpace 1 Enter
see "fire running" "sending..." 20
keys C-c
see "Ctrl-C asks while the fire runs" "Quit while an action runs?" 10
keys Escape
see "the slow fire ends, the console still up" "fired 1 at pod" 30

# Strict policy form: the field in error is shown, nothing is written.
keys p
see "policies for the form" "Policies of WasmPlugin hfi-fault in demo"
keys a
see "policy form" "Add a policy to the WasmPlugin hfi-fault in demo"
: >"$REQUESTS"
keys s t r i c t Tab Tab Tab Tab Tab BSpace BSpace a b c Enter
see "percentage refused in the form" "<- a number in 0..100" 10
keys BSpace BSpace BSpace 1 0 Tab BSpace BSpace 3 0 0 Enter
see "bare duration refused in the form" "<- a duration with its unit" 10
check "refused fields wrote nothing" nothing_written
keys BSpace BSpace BSpace 1 h Enter
see "policy added" "policy strict applied" 30
keys p
see "its time left" "strict" 30
hour_left() { screen | grep -qE 'strict .*(59m5[0-9]s|1h00m) left'; }
check "an hour left" wait_for 20 hour_left
# Enter shows the selected policy's rules.
keys Enter
see "rules of the first policy" "Policy frontend-faults" 10
see "its rules" "rule 1: method exact GET, path prefix /product/" 10
keys Escape

# The kill switch: one confirmation naming all, one write, every sidecar stops.
keys X
see "kill switch confirmation" "KILL SWITCH: remove all 4 policies?" 10
see "it names WasmPlugin, namespace and context" "WasmPlugin hfi-fault in namespace demo, context meshsim: all 4 policies" 10
: >"$REQUESTS"
keys y
see "kill switch result" "all 4 policies removed" 30
see "every sidecar stopped" "faults stopped on all 6 pods" 90
check "one write" test "$(changes | grep -c '^PATCH .*/wasmplugins/')" -eq 1
keys Escape
# Answered once drawn: r then y restarts the selected pod's deployment.
keys r
see "restart dialog" "Restart deployment?"
keys y
see "restart answered" "restarted at" 30
keys C-c
exited_cleanly "Ctrl-C with nothing running" 130 # 128 + SIGINT, as a shell reports it

# ---- R counts and scrolls when there are more deployments than rows ----
meshsim_start "$MESHSIM_BIN" --pods 100
ROWS=16 start_console
see "many pods" "pods 100" 90
keys R
see "R counts the deployments" "8 deployments in namespace demo, context meshsim" 20
see "R scrolls" "(lines 1-" 10
gone "the last one is below" "svc-005" 5
for _ in 1 2 3 4 5 6 7 8; do keys Down; done
see "scrolled to the last" "svc-005" 10
keys Escape q
exited_cleanly "R"

# ---- test faults where nothing can inject one ----
meshsim_start "$MESHSIM_BIN" --scenario no-sidecar
start_console
see "no-sidecar console" "inventory-" 60
keys / i n v e n t o r y Enter
gone "only inventory listed" "frontend-" 10
keys f
see "fire form at inventory" "Fire test faults"
keys Enter
see "no sidecar: said why" "has no istio-proxy sidecar" 30
see "no sidecar: no verdict claimed" "nothing was answered: no verdict on the metrics pipeline" 10
check "no sidecar: no claim that it works" lacks "the metrics pipeline works"
keys Escape q
exited_cleanly "no-sidecar"

# ---- the target is the one confirmed: e, then r (apply, then restart), then
# another namespace before the apply answers: the restarts still go to the
# deployments of the namespace confirmed. A TLS front holds the
# EnvoyFilter's answer for a few seconds (tests/tls_front.py --hold).
meshsim_start "$MESHSIM_BIN"
FRONT_PID=
trap '[ -n "$FRONT_PID" ] && kill "$FRONT_PID" 2>/dev/null; tmx kill-server 2>/dev/null; meshsim_cleanup' EXIT
check "front listening" meshsim_front --hold '/envoyfilters/' --seconds 6
KUBECONFIG="$MESHSIM_DIR/front.kubeconfig" CONSOLE_ENV="HFITOP_REQUEST_LOG=$REQUESTS" start_console
see "through the front" "TOTAL 6 pods, 6 sidecars" 60
keys e
see "apply dialog" "Apply the stats-inclusion EnvoyFilter?"
: >"$REQUESTS"
keys r
see "applying, restarts to follow" "applying the EnvoyFilter, then restarting" 10
keys n
see "namespace picker while the apply waits" "Namespace (context" 10
see "namespaces listed" "kube-system" 10
keys k
keys Enter
gone "another namespace shown" "namespace demo  every" 10
restarted_demo() { grep -q '^PATCH /apis/apps/v1/namespaces/demo/deployments/' "$REQUESTS"; }
check "the restarts went to demo, as confirmed" wait_for 30 restarted_demo
check "no restart elsewhere ($(grep '^PATCH /apis/apps/v1/' "$REQUESTS" | grep -v '/namespaces/demo/' | head -n 2))" \
    bash -c "! grep '^PATCH /apis/apps/v1/' '$REQUESTS' | grep -qv '/namespaces/demo/'"
# q asks while the restarts have not answered: ask again until they have.
quit_when_idle() {
    has "console exited" && return 0
    keys q
    wait_for 2 has "console exited" && return 0
    keys Escape
    return 1
}
check "quits once the restarts answered" wait_for 60 quit_when_idle
exited_cleanly "target fixed at confirmation"
kill "$FRONT_PID" 2>/dev/null
wait "$FRONT_PID" 2>/dev/null
trap 'tmx kill-server 2>/dev/null; meshsim_cleanup' EXIT

# ---- a configuration the plugin rejects, written by someone else ----
meshsim_start "$MESHSIM_BIN"
expect_code "a bad policy written behind hfitop's back" 200 PATCH \
    /apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/hfi-fault \
    -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"pluginConfig":{"policies":[{"metadata":{"name":"bad"},"spec":{"rules":[{"fault":{"abort":{"httpStatus":99}}}]}}]}}}'
start_console
see "the header says the plugin rejects it" \
    'pluginConfig REJECTED by the plugin, no policy applies (policy "bad": spec.rules[0].fault.abort.httpStatus' 60
keys q
exited_cleanly "rejected configuration"

# ---- e and E name the EnvoyFilter they act on, and refuse a name that
# would address another resource ("." is the namespace's whole collection) ----
printf 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: bystander}\nspec: {}\n' \
    >"$MESHSIM_DIR/bystander.yaml"
start_console --envoyfilter "$MESHSIM_DIR/bystander.yaml"
see "console up with --envoyfilter" "TOTAL 6 pods" 60
keys E
see "the delete dialog names the object and its file" "DELETE EnvoyFilter bystander (of $MESHSIM_DIR/bystander.yaml)"
keys Escape e
see "the apply dialog too" "server-side apply of EnvoyFilter bystander ($MESHSIM_DIR/bystander.yaml)"
keys Escape q
exited_cleanly "--envoyfilter named in the dialogs"
printf 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: "."}\nspec: {}\n' \
    >"$MESHSIM_DIR/dot.yaml"
CONSOLE_ENV="HFITOP_REQUEST_LOG=$REQUESTS" start_console --envoyfilter "$MESHSIM_DIR/dot.yaml"
see "console up with a manifest named '.'" "TOTAL 6 pods" 60
: >"$REQUESTS"
keys E
see "E: the manifest is refused on the status line" 'invalid resource name ".": may not be' 10
check "E: no dialog" not_on_screen "Delete the stats-inclusion EnvoyFilter?"
keys e
see "e: refused too" 'invalid resource name ".": may not be' 10
check "e: no dialog" not_on_screen "Apply the stats-inclusion EnvoyFilter?"
check "nothing written ($(changes | head -n 3))" nothing_written
keys q
exited_cleanly "a manifest named '.'"

# ---- the kill switch clears every WasmPlugin that holds policies: Istio
# applies each one selecting a workload (istio/istio pilot/pkg/model/
# push_context.go, WasmPluginsByListenerInfo), not the first alone ----
meshsim_start "$MESHSIM_BIN"
WPS=/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins
expect_code "a second WasmPlugin with two policies" 201 POST "$WPS" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"zz-second","namespace":"demo"},"spec":{"url":"file:///hfi-fault.wasm","selector":{"matchLabels":{"app":"cart"}},"pluginConfig":{"policies":[{"metadata":{"name":"other-1"},"spec":{"selector":{"service":"cart"},"rules":[{"fault":{"abort":{"httpStatus":503}}}]}},{"metadata":{"name":"other-2"},"spec":{"rules":[]}}]}}}'
CONSOLE_ENV="HFITOP_REQUEST_LOG=$REQUESTS" start_console
see "console up with two WasmPlugins" "TOTAL 6 pods, 6 sidecars" 60
keys p
see "policies of the first" "Policies of WasmPlugin hfi-fault in demo"
keys x
see "x names the WasmPlugin it writes" "policy frontend-faults from the pluginConfig of WasmPlugin hfi-fault" 10
keys Escape p
see "policies again" "Policies of WasmPlugin hfi-fault in demo"
keys a
see "the form names it too" "Add a policy to the WasmPlugin hfi-fault in demo" 10
keys Escape X
see "kill switch over both" "KILL SWITCH: remove all 5 policies?" 10
see "it counts the WasmPlugins" "2 WasmPlugins in namespace demo, context meshsim: all 5 policies removed, one write each" 10
see "it names the second" "WasmPlugin zz-second: 2 policies" 10
: >"$REQUESTS"
keys y
see "the second cleared" "WasmPlugin demo/zz-second: all 2 policies removed" 30
see "the first cleared" "WasmPlugin demo/hfi-fault: all 3 policies removed" 30
see "every sidecar stopped" "faults stopped on all 6 pods" 90
check "one write each ($(changes | head -n 3))" test "$(changes | grep -c '^PATCH .*/wasmplugins/\(hfi-fault\|zz-second\) ')" -eq 2
for name in hfi-fault zz-second; do
    expect_code "read back $name" 200 GET "$WPS/$name"
    check_py "no policy left in $name" "$MESHSIM_DIR/body" <<'PY'
import json, sys
assert json.load(open(sys.argv[1]))["spec"]["pluginConfig"]["policies"] == []
PY
done
keys Escape

# ---- the fire form fires at the pod it named: when that pod goes away
# while the form is open, the selection under it moves to a neighbour, and
# the fault must not follow it ----
keys f
see "fire form for a pod about to go" "Fire test faults"
target=$(screen | sed -n 's/.*│ pod \([^ ,]*\), deployment .*/\1/p' | head -n 1)
expect_code "the named pod deleted (${target:-none read})" 200 DELETE "/api/v1/namespaces/demo/pods/$target"
only_in_form() { [ "$(screen | grep -c -- "$target")" -eq 1 ]; }
check "its row left the table" wait_for 30 only_in_form
: >"$REQUESTS"
keys Enter
see "the fire at it answered" "not found" 30
check "no fault went to another pod ($(changes | head -n 2))" test -z "$(changes | grep -v "/pods/$target/")"
keys Escape

# ---- quitting stops a fire: the requests in flight are dropped and no
# further one goes out in their place ----
fired() { grep -cE '^GET /api/v1/namespaces/demo/pods/[^ :/]*/proxy/' "$REQUESTS" || true; }
: >"$REQUESTS"
keys f
see "fire form before quitting" "Fire test faults"
keys Up Right Down BSpace BSpace BSpace 2 0 0 0 0 Down BSpace BSpace 5 0 Enter
see "a slow fire of 50 running" "sending..." 20
check "eight in flight" wait_for 20 test "$(fired)" -eq 8
keys Escape
gone "the tally closed, the fire goes on" "Test faults" 10
keys q
see "q asks while the fire runs" "Quit while an action runs?" 10
keys y
exited_cleanly "quit during a fire"
check "no request started after the quit ($(fired) fired)" test "$(fired)" -eq 8

# ---- pluginConfig.policies that is not a list: the plugin rejects it and
# keeps enforcing its last policies; X replaces it by an empty list ----
meshsim_start "$MESHSIM_BIN"
expect_code "policies made an object" 200 PATCH "$WPS/hfi-fault" -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"pluginConfig":{"policies":{"oops":true}}}}'
start_console
see "console up, policies not a list" "TOTAL 6 pods, 6 sidecars" 60
keys X
see "X offers to clear them" "KILL SWITCH: clear pluginConfig.policies?" 10
see "it says why" "WasmPlugin hfi-fault in namespace demo, context meshsim: pluginConfig.policies is not a list" 10
keys y
see "cleared" "WasmPlugin demo/hfi-fault: pluginConfig.policies, not a list, replaced by an empty list" 30
see "the sidecars stop" "faults stopped on all 6 pods" 90
keys Escape q
exited_cleanly "policies not a list"

# ---- E deletes the EnvoyFilter as the console read it: one changed
# between the dialog and y stays (DeleteOptions preconditions) ----
meshsim_start "$MESHSIM_BIN"
EF=/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/hfi-wasm-stats
check "an EnvoyFilter to delete" "$HFITOP" envoyfilter apply
start_console
see "the console read it" "EnvoyFilter: hfi-wasm-stats" 60
keys E
see "E says it deletes it only unchanged" "deleted only if unchanged since" 10
expect_code "someone changes it meanwhile" 200 PATCH "$EF" -H 'Content-Type: application/merge-patch+json' \
    -d '{"metadata":{"labels":{"changed":"yes"}}}'
keys y
see "refused: changed since shown" "changed since it was shown" 30
expect_code "it is still there" 200 GET "$EF"
rv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$MESHSIM_DIR/body")
# Once the console has read it again, E deletes it.
dialog_shows_current() {
    keys E
    wait_for 5 has "Delete the stats-inclusion EnvoyFilter?" || return 1
    has "(resourceVersion $rv)" && return 0
    keys Escape
    sleep 1
    return 1
}
check "E shows the version now stored" wait_for 60 dialog_shows_current
keys y
see "deleted" "EnvoyFilter demo/hfi-wasm-stats deleted" 30
expect_code "gone" 404 GET "$EF"
keys q
exited_cleanly "E with preconditions"

finish
