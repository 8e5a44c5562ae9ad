#!/usr/bin/env bash
# The README's troubleshooting table is the doctor's rule table, row for
# row: a finding added to the doctor without a row, or a row without a
# finding, fails here.
set -u
hfitop=$1
readme=${2:-README.md}
want=$(mktemp) got=$(mktemp)
trap 'rm -f "$want" "$got"' EXIT
"$hfitop" doctor --rules >"$want"
sed -n '/<!-- hfitop doctor --rules: begin -->/,/<!-- hfitop doctor --rules: end -->/p' "$readme" | sed '1d;$d' >"$got"
if [ -s "$want" ] && diff -u "$want" "$got"; then
    echo "RESULT 1 0"
else
    echo "README.md's troubleshooting table differs from hfitop doctor --rules (above)"
    echo "RESULT 0 1"
    exit 1
fi
