#!/usr/bin/env bash
# make demo: meshsim's default mesh (namespace demo, frontend/cart/checkout
# with a fault policy and background traffic) and the console against it.
# meshsim stops when the console exits, however it exits.
set -u
meshsim=$1 hfitop=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/hfitop-demo.XXXXXX")
"$meshsim" --listen 127.0.0.1:0 --kubeconfig "$dir/kubeconfig" --traffic 20 >"$dir/out" 2>"$dir/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 300); do
    grep -q '^meshsim ready' "$dir/out" && break
    kill -0 "$pid" 2>/dev/null || { echo "meshsim failed to start:" >&2; cat "$dir/err" >&2; exit 1; }
    sleep 0.1
done
grep -q '^meshsim ready' "$dir/out" || { echo "meshsim was not ready in 30 s" >&2; exit 1; }
echo "$(cat "$dir/out"); kubeconfig $dir/kubeconfig (try: kubectl --kubeconfig $dir/kubeconfig get pods -n demo)"
"$hfitop" --kubeconfig "$dir/kubeconfig" -n demo
