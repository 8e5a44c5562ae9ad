# The counted checks of the shell tests: each adds to PASSED or FAILED and
# names what failed; the test ends with `echo "RESULT $PASSED $FAILED"`.
#
#   . tests/checks.sh
#   check "the man page" test -s "$MAN"

PASSED=0
FAILED=0

# check NAME COMMAND...: one expectation; the command's success decides.
check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name" >&2
    fi
}

# check_py NAME [ARGS...] <<'PY' ... PY: a Python check read from stdin;
# its assertion message is shown when it fails.
check_py() {
    local name=$1
    shift
    local err
    if err=$(python3 - "$@" 2>&1); then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name: $(echo "$err" | tail -n 3)" >&2
    fi
}
