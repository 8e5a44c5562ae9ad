#!/usr/bin/env bash
# Renders manifests/ into a directory ready for `kubectl apply -k`:
#   render.sh SRC OUT --module build/hfi-fault.wasm
#       the module copied into OUT/module/, its sha256 in the WasmPlugin,
#       the `module` component switched on (served in-cluster)
#   render.sh SRC OUT --oci oci://REGISTRY/hfi-fault@sha256:DIGEST
#       the url in OUT/oci/, the `oci` component switched on
# Each substitution is checked to have happened exactly once, so a changed
# source file fails here rather than rendering something half-filled.
set -euo pipefail
src=${1:?usage: render.sh SRC OUT --module WASM | --oci URL}
out=${2:?usage: render.sh SRC OUT --module WASM | --oci URL}
mode=${3:?usage: render.sh SRC OUT --module WASM | --oci URL}
arg=${4:?usage: render.sh SRC OUT --module WASM | --oci URL}
tmp="$out.tmp"

# replace FILE OLD NEW: literal, exactly one line equal to OLD.
replace() {
    python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1:4]
lines = open(path).read().split("\n")
hits = [i for i, l in enumerate(lines) if l == old]
if len(hits) != 1:
    sys.exit("render.sh: %s: want exactly one line %r, found %d" % (path, old, len(hits)))
lines[hits[0]] = new
open(path, "w").write("\n".join(lines))
PY
}

rm -rf "$tmp"
mkdir -p "$tmp"
cp -R "$src/." "$tmp/"
case $mode in
--module)
    [ -s "$arg" ] || { echo "render.sh: no module at $arg (make plugin)" >&2; exit 1; }
    cp "$arg" "$tmp/module/hfi-fault.wasm"
    sha=$(sha256sum "$arg" | cut -d' ' -f1)
    replace "$tmp/wasmplugin.yaml" '  sha256: "0000000000000000000000000000000000000000000000000000000000000000"' \
        "  sha256: \"$sha\""
    replace "$tmp/kustomization.yaml" '#components: [module]' 'components: [module]'
    ;;
--oci)
    case $arg in
    oci://?*) ;;
    *) echo "render.sh: OCI_URL must start with oci:// (got $arg)" >&2; exit 1 ;;
    esac
    replace "$tmp/oci/kustomization.yaml" '      value: oci://REGISTRY/hfi-fault:TAG' "      value: $arg"
    replace "$tmp/kustomization.yaml" '#components: [module]' 'components: [oci]'
    ;;
*)
    echo "render.sh: unknown mode $mode" >&2
    exit 1
    ;;
esac
rm -rf "$out"
mv "$tmp" "$out"
