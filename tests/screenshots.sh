#!/usr/bin/env bash
# make screenshots: the console against meshsim in a real terminal (xterm
# under Xvfb), PNGs of the pod table, the detail and the fire-faults tally
# on the demo mesh, and of the doctor on a mesh with problems, into
# screenshots/. The console runs in tmux inside the
# xterm, so keys can be sent and the screen polled before each picture.
set -u
HFITOP=$1
MESHSIM_BIN=$2
OUT_DIR=${3:-screenshots}
. tests/meshsim/lib.sh

TMUX_SOCKET="$MESHSIM_DIR/tmux.sock"
tmx() { tmux -S "$TMUX_SOCKET" "$@"; }
XVFB_PID=
XTERM_PID=
cleanup() {
    [ -n "$XTERM_PID" ] && kill "$XTERM_PID" 2>/dev/null
    tmx kill-server 2>/dev/null
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
    meshsim_cleanup
}
trap cleanup EXIT

has() { tmx capture-pane -p -t shot | grep -qE -- "$1"; }
need() { # TEXT-REGEX SECONDS: wait for it, or stop with the screen shown
    wait_for "$2" has "$1" && return 0
    echo "screenshots: \"$1\" never appeared; the screen was:" >&2
    tmx capture-pane -p -t shot >&2
    exit 1
}
shoot() { # NAME
    sleep 0.5 # let xterm paint what tmux already shows
    import -display ":$DISPLAY_NUMBER" -window root "$MESHSIM_DIR/raw.png" &&
        convert "$MESHSIM_DIR/raw.png" -trim +repage "$OUT_DIR/$1.png" &&
        echo "screenshots: $OUT_DIR/$1.png"
}

mkdir -p "$OUT_DIR"
meshsim_start "$MESHSIM_BIN" --traffic 40
tmx new-session -d -s shot -x 150 -y 40 \
    "env LANG=C.UTF-8 TERM=xterm-256color $HFITOP --kubeconfig $KUBECONFIG -n demo"
tmx set-option -g status off # the pictures show the console, not tmux

DISPLAY_NUMBER=$((90 + RANDOM % 100))
Xvfb ":$DISPLAY_NUMBER" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$DISPLAY_NUMBER" ] && break; sleep 0.1; done
LANG=C.UTF-8 xterm -display ":$DISPLAY_NUMBER" -geometry 150x40+0+0 -fa 'DejaVu Sans Mono' -fs 10 \
    -bg black -fg grey90 -e tmux -S "$TMUX_SOCKET" attach -t shot &
XTERM_PID=$!

# The pod table once every sidecar has been scraped twice and counters move.
need 'wasmcustom' 30
need '[1-9][0-9]* +[0-9]+ +[0-9]+\.[0-9] ' 60
sleep 6
shoot pods

# Detail of a frontend pod, whose policy delays: the histogram fills.
tmx send-keys -t shot / f r o n t Enter Enter
need 'delay ms: count [1-9]' 60
shoot detail

tmx send-keys -t shot Escape / Escape f Enter
need 'the metrics pipeline works' 60
shoot fire

# The doctor on a mesh with problems to explain; the pane is respawned in
# place, so the xterm stays attached.
meshsim_start "$MESHSIM_BIN" --traffic 40 --scenario no-sidecar,restrictive-stats,legacy-names
tmx respawn-pane -k -t shot "env LANG=C.UTF-8 TERM=xterm-256color $HFITOP --kubeconfig $KUBECONFIG -n demo"
need 'TOTAL' 30
sleep 5
tmx send-keys -t shot d
need 'PROBLEM' 30
shoot doctor
