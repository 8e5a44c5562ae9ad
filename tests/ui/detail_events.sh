#!/usr/bin/env bash
# The detail view lists the selected pod's recent events, as `kubectl
# describe pod` ends with them (the scheduler's and the kubelet's at start),
# and another pod's when the selection moves.
#
#   tests/ui/detail_events.sh HFITOP MESHSIM
HFITOP=$1
MESHSIM_BIN=$2
. tests/ui/lib.sh

meshsim_start "$MESHSIM_BIN"
ROWS=60 start_console
see "console up" "TOTAL 6 pods"
keys Enter
see "events section" "events:"
see "the scheduler's event" "Normal Scheduled (default-scheduler): Successfully assigned demo/"
see "the kubelet's events" "Normal Started (kubelet): Started container istio-proxy"
# The pod the listed events are about, and whether the detail's title names it.
events_pod() { screen | grep -o 'Successfully assigned demo/[a-z0-9-]*' | head -n 1 | cut -d/ -f2; }
titled() { [ -n "$1" ] && screen | head -n 3 | grep -qF -- "$1"; }
pod=$(events_pod)
check "the events are the selected pod's" titled "$pod"
other_pods_events() { local p; p=$(events_pod); [ "$p" != "$pod" ] && titled "$p"; }
keys j
check "the next pod: its own events" wait_for 20 other_pods_events
keys Escape
see "back to the table" "TOTAL"
keys q
exited_cleanly "detail events"

finish
