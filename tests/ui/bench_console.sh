#!/usr/bin/env bash
# BENCH lines for the console's own cost, in a real terminal (tmux) against
# meshsim, CPU read from /proc/PID/stat (user + system):
#   idle_cpu_pct               the 6-pod demo mesh at the default 2 s
#                              interval, over 30 s;
#   console_cpu_5000_pods_pct  5,000 pods at --interval 10, once every pod
#                              has been read, over 30 s; and with it
#   console_5000_pods_oldest_data_s  the header's age of the oldest data
#                              then: whether the console kept up.
# The reference of each is `hfitop --once -o json` on the same mesh (one
# scrape of every pod, its CPU by /usr/bin/time) scaled to the console's
# scrape rate: once_cpu_seconds / interval. What the console spends above
# it is drawing and keeping the model.
#
#   tests/ui/bench_console.sh build/hfitop build/meshsim
set -u
HFITOP=$1
MESHSIM=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-console.XXXXXX")
meshsim_pid=
tmx() { tmux -S "$dir/tmux.sock" "$@"; }
cleanup() {
    tmx kill-server 2>/dev/null
    [ -n "$meshsim_pid" ] && kill "$meshsim_pid" 2>/dev/null && wait "$meshsim_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

start_meshsim() {
    [ -n "$meshsim_pid" ] && kill "$meshsim_pid" 2>/dev/null && wait "$meshsim_pid" 2>/dev/null
    : >"$dir/out"
    "$MESHSIM" --listen 127.0.0.1:0 --kubeconfig "$dir/kubeconfig" "$@" >"$dir/out" 2>"$dir/err" &
    meshsim_pid=$!
    for _ in $(seq 600); do
        grep -q '^meshsim ready ' "$dir/out" && return 0
        kill -0 "$meshsim_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench_console: meshsim did not start: $(cat "$dir/err")" >&2
    exit 1
}

# The console in tmux; its pid in $dir/pid.
start_console() {
    tmx kill-session -t console 2>/dev/null
    rm -f "$dir/pid"
    tmx new-session -d -s console -x 200 -y 50 \
        "sh -c 'echo \$\$ >$dir/pid; exec env LANG=C.UTF-8 $HFITOP --kubeconfig $dir/kubeconfig -n demo --no-journal $*' 2>$dir/console.err"
    for _ in $(seq 100); do [ -s "$dir/pid" ] && break; sleep 0.1; done
}

# wait_screen SECONDS COMMAND: until the command (over the screen) succeeds.
screen_shows() { tmx capture-pane -p -t console | grep -qF -- "$1"; }
screen_lacks() { ! tmx capture-pane -p -t console | grep -qF -- "$1"; }
wait_screen() {
    local limit=$1
    shift
    for _ in $(seq $((limit * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    echo "bench_console: timed out waiting for: $*" >&2
    tmx capture-pane -p -t console | head -n 5 >&2
    exit 1
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# percent_over PID SECONDS: the process's CPU over that wall time.
percent_over() {
    local pid=$1 seconds=$2 t0 t1
    t0=$(cpu_ticks "$pid")
    sleep "$seconds"
    t1=$(cpu_ticks "$pid")
    python3 -c "import os; print('%.3f' % ((($t1) - ($t0)) / os.sysconf('SC_CLK_TCK') / $seconds * 100))"
}

# once_cpu_seconds: user + system CPU of one --once refresh of every pod.
once_cpu_seconds() {
    /usr/bin/time -f '%U %S' -o "$dir/time" "$HFITOP" --kubeconfig "$dir/kubeconfig" -n demo --no-journal \
        --max-qps 10000 --once -o json >"$dir/once.json" 2>"$dir/once.err" || {
        echo "bench_console: --once failed: $(cat "$dir/once.err")" >&2
        exit 1
    }
    awk '{ print $1 + $2 }' "$dir/time"
}

report() { # NAME VALUE REF_NAME REF
    python3 -c "
v, r = $2, $4
print('BENCH $1 %.3f %% ref=$3 %.3f ratio=%s' % (v, r, ('%.2f' % (v / r)) if r > 0 else 'inf'))"
}

# ---- idle: the demo mesh, default interval ----
start_meshsim
start_console
wait_screen 60 screen_shows "TOTAL 6 pods, 6 sidecars"
wait_screen 60 screen_shows "oldest data"
sleep 4
idle=$(percent_over "$(cat "$dir/pid")" 30)
tmx kill-session -t console
once=$(once_cpu_seconds)
report idle_cpu_pct "$idle" once_scaled_to_2s_interval "$(python3 -c "print($once / 2 * 100)")"

# ---- 5,000 pods, one scrape of each every 10 s ----
# The request budget (--max-qps, 50 a second by default) would stretch the
# interval to 100 s: out of the way, as the figure is about the console.
start_meshsim --pods 5000
start_console --interval 10 --max-qps 10000
wait_screen 120 screen_shows "TOTAL 5000 pods"
wait_screen 120 screen_lacks "none yet"
wait_screen 10 screen_lacks "no data yet"
sleep 5
busy=$(percent_over "$(cat "$dir/pid")" 30)
# Whether it kept up: the header's age of the oldest data on screen, next
# to the interval it should stay near.
oldest=$(tmx capture-pane -p -t console | sed -n 's/.*oldest data \([0-9]*\)s.*/\1/p' | head -n 1)
tmx kill-session -t console
once=$(once_cpu_seconds)
report console_cpu_5000_pods_pct "$busy" once_scaled_to_10s_interval "$(python3 -c "print($once / 10 * 100)")"
[ -n "$oldest" ] && python3 -c "print('BENCH console_5000_pods_oldest_data_s %d s ref=interval_s 10 ratio=%.2f' % ($oldest, $oldest / 10))"
