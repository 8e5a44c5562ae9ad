#!/usr/bin/env bash
# Runs each test command given as an argument, adds up the `RESULT <passed>
# <failed>` lines they print, and closes with `N passed, N failed`. A command
# that crashes or exits non-zero without a RESULT line counts as one failure.
# Each line says how long its command took (the suite's time is kept under
# 15 minutes; this says where it goes).
set -u
# hfitop keeps a session journal under $XDG_STATE_HOME: the suite's runs
# write theirs into a directory of their own, not the user's.
XDG_STATE_HOME=$(mktemp -d "${TMPDIR:-/tmp}/hfitop-state.XXXXXX")
export XDG_STATE_HOME
trap 'rm -rf "$XDG_STATE_HOME"' EXIT
passed=0 failed=0
for cmd in "$@"; do
    out=$(mktemp)
    started=$SECONDS
    bash -c "$cmd" >"$out" 2>&1
    rc=$?
    took=$((SECONDS - started))
    line=$(grep -E '^RESULT [0-9]+ [0-9]+$' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        read -r _ p f <<<"$line"
        passed=$((passed + p)) failed=$((failed + f))
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
    else
        failed=$((failed + 1))
    fi
    if [ "$rc" -ne 0 ] || [ -z "$line" ] || [ "${f:-0}" -ne 0 ]; then
        echo "---- $cmd (exit $rc, ${took} s)"
        grep -v '^RESULT ' "$out" | tail -n 60
    else
        echo "ok   $cmd (${p} passed, ${took} s)"
    fi
    rm -f "$out"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
