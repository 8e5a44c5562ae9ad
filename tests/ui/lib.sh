# The console tests' harness: hfitop in a real terminal (a private tmux
# server) against meshsim, keys sent, the screen read back. Every wait
# polls the screen until the expected text appears, bounded; none is a
# fixed sleep.
#
#   HFITOP=build/san/hfitop MESHSIM_BIN=build/san/meshsim
#   . tests/ui/lib.sh

. tests/meshsim/lib.sh

TMUX_SOCKET="$MESHSIM_DIR/tmux.sock" # a private tmux server: the user's is never touched
tmx() { tmux -S "$TMUX_SOCKET" "$@"; }
trap 'tmx kill-server 2>/dev/null; meshsim_cleanup' EXIT
# Killing a server's last session stops the server, racing the next
# new-session: a session that outlives the consoles keeps it up.
tmx new-session -d -s keeper "sleep 3600"

# start_console [HFITOP FLAGS...]; CONSOLE_ENV, COLS and ROWS shape it.
# The kubeconfig's own context namespace is replaced by -n demo.
start_console() {
    tmx kill-session -t console 2>/dev/null
    tmx new-session -d -s console -x "${COLS:-150}" -y "${ROWS:-40}" \
        "env LANG=C.UTF-8 ${CONSOLE_ENV:-} $HFITOP --kubeconfig $KUBECONFIG -n demo $* 2>$MESHSIM_DIR/console.err; echo console exited \$?; sleep 600"
}
keys() { tmx send-keys -t console "$@"; }
screen() { tmx capture-pane -p -t console; }
has() { screen | grep -qF -- "$1"; }
# tmux may be captured between two chunks of a redraw: an absence counts
# only when three captures in a row agree.
steadily() {
    local k
    for k in 1 2 3; do
        "$@" || return 1
        [ "$k" -lt 3 ] && sleep 0.3
    done
    return 0
}
lacks() { steadily not_on_screen "$1"; }
not_on_screen() { ! screen | grep -qF -- "$1"; }
# A pod row whose NAMING cell says none: its sidecar shows no HFI metrics.
excluded_row() { screen | grep -qE ' (yes|nat) none '; }
no_excluded_row() { steadily not_excluded_row; }
not_excluded_row() { ! excluded_row; }
# The pod table's first row (the line after the column titles).
first_row() { screen | grep -A1 '^POD' | sed -n 2p; }
first_row_starts() { first_row | grep -q "^$1"; }

# see NAME TEXT [SECONDS]: the text appears on the screen in time.
see() {
    local name=$1 text=$2 limit=${3:-30}
    if wait_for "$limit" has "$text"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name: \"$text\" not on screen after ${limit}s; screen:" >&2
        screen | sed 's/^/    | /' | head -n 45 >&2
    fi
}
gone() { # NAME TEXT [SECONDS]: the text leaves the screen in time.
    local name=$1 text=$2 limit=${3:-30}
    if wait_for "$limit" lacks "$text"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name: \"$text\" still on screen after ${limit}s" >&2
        screen | sed 's/^/    | /' | head -n 45 >&2
    fi
}
exited_cleanly() { # NAME [STATUS]: the console quit with STATUS (0; 128+N after signal N) and the sanitizers said nothing
    see "$1 exits" "console exited ${2:-0}" 20
    check "$1 no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$MESHSIM_DIR/console.err'"
}
