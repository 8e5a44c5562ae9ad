# Shared by the hfitop end-to-end tests: meshsim's test library (start,
# stop, check, finish) plus checks on hfitop's output and exit codes.
#
#   HFITOP=build/san/hfitop; . tests/app/lib.sh

. "$(dirname "${BASH_SOURCE[0]}")/../meshsim/lib.sh"

# Bounded runs: a hang is a failure, not a stuck suite.
hfitop() { timeout 90 "$HFITOP" "$@"; }

# doctor_case NAME WANT_EXIT TEXT...: doctor's exit code and that its
# output (stdout and stderr) holds each TEXT.
doctor_case() {
    local name=$1 want=$2
    shift 2
    hfitop doctor >"$MESHSIM_DIR/doctor" 2>&1
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        FAILED=$((FAILED + 1))
        echo "FAIL $name: doctor exit $rc, want $want" >&2
        head -n 40 "$MESHSIM_DIR/doctor" >&2
        return
    fi
    PASSED=$((PASSED + 1))
    for text in "$@"; do
        if grep -qF -- "$text" "$MESHSIM_DIR/doctor"; then
            PASSED=$((PASSED + 1))
        else
            FAILED=$((FAILED + 1))
            echo "FAIL $name: doctor output lacks \"$text\":" >&2
            head -n 40 "$MESHSIM_DIR/doctor" >&2
        fi
    done
    if grep -qE 'Sanitizer|runtime error' "$MESHSIM_DIR/doctor"; then
        FAILED=$((FAILED + 1))
        echo "FAIL $name: sanitizer report" >&2
    fi
}

# once_json NAME: --once -o json into $MESHSIM_DIR/once.json, exit 0.
once_json() {
    check "$1: --once -o json exits 0" bash -c "timeout 90 '$HFITOP' --once -o json >'$MESHSIM_DIR/once.json' 2>'$MESHSIM_DIR/once.err'"
}

# pods_check NAME PYTHON: a check over `pods` (the --once records).
pods_check() {
    local name=$1 code=$2
    check_py "$name" "$MESHSIM_DIR/once.json" <<PY
import json, sys
pods = json.load(open(sys.argv[1]))["pods"]
by_dep = {}
for p in pods:
    by_dep.setdefault(p["deployment"], []).append(p)
$code
PY
}

# expect_exit NAME WANT TEXT COMMAND...: the command's exit code, and TEXT
# in its output (stdout and stderr).
expect_exit() {
    local name=$1 want=$2 text=$3
    shift 3
    timeout 90 "$@" >"$MESHSIM_DIR/expect" 2>&1
    local rc=$?
    if [ "$rc" -eq "$want" ] && grep -qF -- "$text" "$MESHSIM_DIR/expect"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name: exit $rc (want $want), output: $(head -c 400 "$MESHSIM_DIR/expect")" >&2
    fi
}

# pods_check_roll NAME PYTHON: pods_check over the last rolled_out look.
pods_check_roll() {
    cp "$MESHSIM_DIR/roll.json" "$MESHSIM_DIR/once.json"
    pods_check "$@"
}

# rolled_out DEPLOYMENT OLD_NAMES: only new, Running pods of it remain.
rolled_out() {
    timeout 60 "$HFITOP" --once -o json >"$MESHSIM_DIR/roll.json" 2>/dev/null || return 1
    python3 - "$MESHSIM_DIR/roll.json" "$1" "$2" <<'PY'
import json, sys
pods = [p for p in json.load(open(sys.argv[1]))["pods"] if p["deployment"] == sys.argv[2]]
old = set(sys.argv[3].split())
assert len(pods) == 2 and not old & {p["name"] for p in pods}, pods
assert all(p["phase"] == "Running" for p in pods)
PY
}
