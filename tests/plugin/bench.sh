#!/usr/bin/env bash
# BENCH lines for the plugin: module size, and instructions per request
# counted by callgrind through the test host against a pass-through module
# measured the same way. Per-request cost is the difference between a long
# and a short run divided by the extra requests, so set-up cost cancels out.
set -euo pipefail
bench_bin=$1 plugin_wasm=$2 passthrough_wasm=$3

size=$(stat -c %s "$plugin_wasm")
# The earlier Rust plugin of this design was 1.7 MB.
awk -v s="$size" 'BEGIN { printf "BENCH plugin_wasm_size %d bytes ref=rust_hfi_plugin 1700000 ratio=%.4f\n", s, s / 1700000 }'

instructions() { # module wasm requests [rules]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench_bin" "$@" 2>&1 |
        awk '/Collected :/ { print $NF }'
}
per_request() { # module wasm [rules]
    local short long
    short=$(instructions "$1" "$2" 1000 "${@:3}")
    long=$(instructions "$1" "$2" 11000 "${@:3}")
    echo $(( (long - short) / 10000 ))
}
ours=$(per_request hfi_fault "$plugin_wasm")
ref=$(per_request passthrough "$passthrough_wasm")
awk -v o="$ours" -v r="$ref" 'BEGIN {
    printf "BENCH plugin_instr_per_request %d instructions ref=passthrough_module %d ratio=%.2f\n", o, r, o / r
    printf "# the plugin itself adds %d instructions per request over the pass-through (16 non-matching rules)\n", o - r }'

# A regex rule against a prefix rule, each as what it adds over the
# pass-through: bot|spider|crawl on a 31-byte user-agent it does not match.
regex=$(per_request hfi_fault "$plugin_wasm" regex)
prefix=$(per_request hfi_fault "$plugin_wasm" prefix)
awk -v g="$regex" -v p="$prefix" -v r="$ref" 'BEGIN {
    printf "BENCH plugin_regex_rule_ratio %d instructions ref=prefix_rule %d ratio=%.2f\n", g - r, p - r, (g - r) / (p - r)
    printf "# instructions a rule adds to a request over the pass-through: regex bot|spider|crawl on a 31-byte user-agent, and a path prefix\n" }'
