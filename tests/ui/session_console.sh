#!/usr/bin/env bash
# The console in a chaos session: observed traffic beside injected faults,
# the deployment table, windows, a table that fits its terminal, filters,
# sorting, scrolling details and dialogs, the age of the data on screen.
# Through tmux against meshsim, polling the screen (tests/ui/lib.sh).
#
#   tests/ui/session_console.sh HFITOP MESHSIM
HFITOP=$1
MESHSIM_BIN=$2
. tests/ui/lib.sh

# A row of the table whose first cell starts with $1 and whose cells match
# the extended regex $2 after it.
row_matches() { screen | grep -qE "^$1.*$2"; }
first_row_is() { first_row | grep -q "^$1"; }

meshsim_start "$MESHSIM_BIN" --traffic 40
start_console
see "observed columns" "RPS"
see "error ratio column" "ERR%"
see "latency estimate column" "LAT99~"
see "estimates explained" "~: estimated from histogram buckets"
see "window in the header" "window 1m"
see "data age in the header" "oldest data"
check "observed rates arrive" wait_for 30 row_matches cart- '[0-9]+\.[0-9] +[0-9.]+%'

# The window key cycles 10s, 1m, 5m.
keys w
see "window 5m" "window 5m"
keys w
see "window 10s" "window 10s"
keys w
see "window back to 1m" "window 1m"

# The deployment table: a row per deployment with its pods, and back.
keys v
see "deployment table" "DEPLOYMENT"
check "a row per deployment" wait_for 10 row_matches 'cart ' ' 2 '
check "failing count column" wait_for 10 has "FAILING"
keys Enter
see "deployment detail" "deployment cart"
see "deployment detail lists its pods" "its pods:"
see "deployment detail: injected beside observed" "observed (Istio, inbound"
keys Escape
see "back to the deployment table" "DEPLOYMENT"

# A rollout replaces cart's pods; the deployment's totals keep what the
# old pods counted (the new ones start from zero).
lifetime_aborts() { screen | sed -n 's/^ *lifetime *aborts \([0-9.]*k*\) .*/\1/p' | head -n 1; }
as_number() { python3 -c "import sys; t = sys.argv[1]; print(float(t[:-1]) * 1000 if t.endswith('k') else float(t))" "$1"; }
cart_counted() { keys Enter; wait_for 5 has "deployment cart"; local n; n=$(lifetime_aborts); keys Escape; [ -n "$n" ] && [ "$(as_number "$n")" != 0.0 ] && echo "$n"; }
old_cart_pods=$(kubectl --kubeconfig "$KUBECONFIG" -n demo get pods -o name | grep '/cart-' | cut -d/ -f2)
before=
for _ in $(seq 30); do before=$(cart_counted) && break; sleep 1; done
check "cart has counted aborts before the rollout" test -n "$before"
keys r
see "restart confirmation for the selected deployment" "deployment cart in namespace demo"
keys y
see "restart sent" "HTTP 200" 30
old_pods_gone() { ! kubectl --kubeconfig "$KUBECONFIG" -n demo get pods -o name | grep -qF -e "$(echo "$old_cart_pods" | head -n 1)" -e "$(echo "$old_cart_pods" | tail -n 1)"; }
check "cart rolled out" wait_for 90 old_pods_gone
keys Enter
see "cart's detail after the rollout" "deployment cart"
totals_kept() { local n; n=$(lifetime_aborts); [ -n "$n" ] && python3 -c "import sys; sys.exit(0 if $(as_number "$n") >= $(as_number "$before") else 1)"; }
check "deployment totals survive the rollout ($before before)" wait_for 30 totals_kept
keys Escape
keys v
see "back to pods" "TOTAL 6 pods"

# The pod detail: injected beside observed, over the window and lifetime.
keys Enter
see "pod detail: injected" "injected (the plugin)"
see "pod detail: observed" "observed (Istio, inbound: reporter=destination)"
see "pod detail: lifetime row" "lifetime"
keys Escape

# Sorting: the sort column shows its direction; numbers sort largest first;
# a picker chooses the column directly.
see "sort direction on the name" "POD▲"
keys '>'
see "sort picker" "Sort by"
for _ in $(seq 12); do keys j; done # AB/S, the 13th column
keys Enter
see "sorted by a number, largest first" "sorted by AB/S, largest first"
see "numeric sort column points down" "AB/S▼"
keys S
see "reversed" "AB/S▲"

# Filters: a regular expression, ! to keep the others; shown in the
# header; Esc clears it.
keys / '^(cart|checkout)' Enter
gone "regex filter hides frontend" "frontend-" 10
see "regex filter keeps cart" "cart-"
see "regex filter keeps checkout" "checkout-"
see "filter in the header" "filter ^(cart|checkout) (Esc clears)"
keys Escape
see "Esc clears the filter" "frontend-" 10
see "filter cleared" "filter cleared"
keys / '!cart' Enter
gone "negated filter hides cart" "cart-" 10
see "negated filter keeps frontend" "frontend-"
keys Escape
see "negation cleared" "cart-" 10

# The column chooser switches columns off; POD and ERROR cannot go.
keys C
see "column chooser" "Columns (Enter switches one on or off"
see "POD always stays" "POD [x] pod name (always)"
for _ in $(seq 7); do keys j; done # NAMING
keys Enter
see "NAMING switched off" "NAMING [ ]"
keys Escape
check "NAMING column gone" wait_for 10 lacks "wasmcustom"
keys C
see "column chooser again" "Columns (Enter switches one on or off"
for _ in $(seq 7); do keys j; done
keys Enter
see "NAMING switched on" "NAMING [x]"
keys Escape
see "NAMING back" "wasmcustom"

# A pod name too long for its column keeps both ends: the unique suffix.
kubectl --kubeconfig "$KUBECONFIG" apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: recommendations-with-a-rather-long-deployment-name, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: recommendations}}
  template:
    metadata: {labels: {app: recommendations}}
    spec: {containers: [{name: app, image: "hashicorp/http-echo:1.0"}]}
YAML
see "long pod listed" "TOTAL 7 pods" 30
long_pod=$(kubectl --kubeconfig "$KUBECONFIG" -n demo get pods -o name | sed -n 's|^pod/\(recommendations-.*\)|\1|p')
long_suffix=${long_pod: -5}

# 60x15, the smallest size: the table keeps ERROR, the detail scrolls,
# a long confirmation wraps and scrolls.
tmx resize-window -t console -x 60 -y 15
see "60 columns: ERROR stays" "ERROR"
see "60 columns: injected abort rate stays" "AB/S"
shortened_in_the_middle() { screen | grep -qE "^recommendation.*….*${long_suffix}( |\$)"; }
check "60 columns: the long name keeps its suffix ($long_suffix)" wait_for 10 shortened_in_the_middle
keys Enter
see "small detail scrolls" "PgUp PgDn scroll"
keys NPage NPage
see "scrolled to the policies" "policies selecting this pod:"
keys Escape
keys e
see "confirmation at 60x15" "Apply the stats-inclusion EnvoyFilter?"
see "wrapped, not cut" "(manifests/envoyfilter-wasm-stats.yaml)"
keys j j j j j j j j
see "scrolled to its end" "deployments with sidecars: "
keys Escape
keys f
see "fire form at 60x15, its keys wrapped" "edit   Enter go   Esc cancel"
keys Enter
see "fire tally at 60x15" "aborted 10," 60
see "fire verdict wrapped, not cut" "counted by the sidecar" 30
keys Escape
tmx resize-window -t console -x 40 -y 10
see "too small message fits 40 columns" "40x10, needs 60x15"
tmx resize-window -t console -x 150 -y 40
see "full size again" "LAT99~"
keys q
exited_cleanly "session console"

# Data that is not coming: cart's sidecar answers after the scrape timeout.
# The header says how old the data in view is, and sorting by SCRAPE puts
# the pods without data on top.
meshsim_start "$MESHSIM_BIN" --scenario slow-sidecar
start_console
see "slow: pods" "frontend-"
see "slow: the header counts pods without data" "none yet from 2 pods" 40
keys '>'
see "slow: sort picker" "Sort by"
for _ in $(seq 18); do keys j; done # SCRAPE
keys Enter
see "slow: sorted by SCRAPE" "sorted by SCRAPE, largest first"
check "slow: the oldest (never read) on top" wait_for 10 first_row_is cart-
see "slow: failing count in the totals" "2 failing" 40
tmx resize-window -t console -x 60 -y 15
see "slow: failing count kept at 60 columns" "2 failing"
keys q
exited_cleanly "slow sidecar"

finish
