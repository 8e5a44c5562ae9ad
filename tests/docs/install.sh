#!/usr/bin/env bash
# `make install` into a DESTDIR, as a packager runs it: the binary, the
# kubectl-hfitop link that kubectl finds on the PATH, the man page hfitop(1)
# rendered by man without a warning and saying what --help and the
# console's ? view say, the bash and zsh completions loading, the plugin.
#
#   tests/docs/install.sh SAN DOCGEN   (SAN 0 or 1: which build `make install`
#                                       takes; DOCGEN its hfitop-docgen)
set -u
. "$(dirname "$0")/../checks.sh"
SAN=${1:-0}
DOCGEN=${2:-build/hfitop-docgen}
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/hfitop-install.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

if ! make --no-print-directory -s install SAN="$SAN" DESTDIR="$STAGE/dest" PREFIX=/usr >"$STAGE/make.log" 2>&1; then
    echo "FAIL make install" >&2
    tail -n 20 "$STAGE/make.log" >&2
    echo "RESULT 0 1"
    exit 1
fi
ROOT="$STAGE/dest/usr"
BIN="$ROOT/bin"
MAN="$ROOT/share/man/man1/hfitop.1"
BASH_COMPLETION="$ROOT/share/bash-completion/completions/hfitop"
ZSH_COMPLETION="$ROOT/share/zsh/vendor-completions/_hfitop"

check "hfitop installed, executable" test -x "$BIN/hfitop"
check "kubectl-hfitop is a relative link to hfitop" test "$(readlink "$BIN/kubectl-hfitop")" = hfitop
check "the man page" test -s "$MAN"
check "the plugin" cmp "$ROOT/share/hfitop/hfi-fault.wasm" build/hfi-fault.wasm
check "nothing outside DESTDIR's PREFIX" test "$(ls "$STAGE/dest")" = usr
version=$("$BIN/hfitop" --version)
check "--version" bash -c "[[ '$version' =~ ^hfitop\ [0-9]+\.[0-9]+\.[0-9]+ ]]"
check "kubectl hfitop --version: kubectl finds the plugin on the PATH" \
    bash -c "[ \"\$(PATH='$BIN':\$PATH kubectl hfitop --version)\" = '$version' ]"
check "kubectl hfitop --help speaks of kubectl hfitop" \
    bash -c "PATH='$BIN':\$PATH kubectl hfitop --help | grep -q '^usage: kubectl hfitop \[flags\]'"

# The man page: no warning from man or groff, and what --help says.
warnings=$(MANWIDTH=80 man --warnings -l "$MAN" 2>&1 >/dev/null)
check "man -l renders without warnings${warnings:+: $warnings}" test -z "$warnings"
MANWIDTH=1000 man -l "$MAN" 2>/dev/null | tr -s ' ' >"$STAGE/man.txt"
"$BIN/hfitop" --help >"$STAGE/help.txt"
check_py "the man page has every command and flag of --help" "$STAGE/help.txt" "$STAGE/man.txt" <<'PY'
import re, sys
help_text, man = open(sys.argv[1]).read(), " ".join(open(sys.argv[2]).read().split())
synopses = re.findall(r"^(?:usage:| +)\s*hfitop (\S.*?)(?:\s{2,}.*)?$", help_text, re.M)
assert len(synopses) >= 10, synopses
for s in synopses:
    assert "hfitop " + " ".join(s.split()) in man, s
flags = re.findall(r"^  (-\S+(?:, -\S+)?)", help_text, re.M)
assert len(flags) >= 20, flags
for f in flags:
    assert f in man, f
PY
"$DOCGEN" keys >"$STAGE/keys.txt"
check "the key table" test -s "$STAGE/keys.txt"
check_py "the man page has every key of the console's ? view" "$STAGE/keys.txt" "$STAGE/man.txt" <<'PY'
import sys
man = " ".join(open(sys.argv[2]).read().split())
for line in open(sys.argv[1]):
    keys, what = line.rstrip("\n").split("\t")
    assert keys + " " + " ".join(what.split()) in man, (keys, what)
PY
# Every flag main.c parses is in --help (and so in the man page).
check_py "--help lists every flag the parser takes" tui/main.c "$STAGE/help.txt" <<'PY'
import re, sys
source, help_text = open(sys.argv[1]).read(), open(sys.argv[2]).read()
for flag in sorted(set(re.findall(r'"(--?[a-z][a-z-]*)"', source))):
    assert re.search(r"(^|[ ,])%s([ ,=]|$)" % re.escape(flag), help_text, re.M), flag
PY

# bash: the completion loads and completes commands, subcommands, flags.
complete_bash() { # WORDS... : what _hfitop offers for the last word
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _hfitop; echo "${COMPREPLY[*]}"' \
        _ "$BASH_COMPLETION" "$@"
}
check "bash: complete -p hfitop" bash -c "source '$BASH_COMPLETION' && complete -p hfitop | grep -q -- '-F _hfitop hfitop'"
check "bash: complete -p kubectl-hfitop" bash -c "source '$BASH_COMPLETION' && complete -p kubectl-hfitop"
check "bash: commands" test "$(complete_bash hfitop do)" = doctor
check "bash: after flags with values" test "$(complete_bash hfitop -n demo --interval 5 envo)" = envoyfilter
check "bash: subcommands" test "$(complete_bash hfitop policy '')" = "apply remove list show"
check "bash: flags" test "$(complete_bash hfitop --no-)" = "--no-color --no-journal"
check "bash: -o values" test "$(complete_bash hfitop --once -o '')" = "json table"

# zsh: compinit finds the function for both names, and it loads.
if command -v zsh >/dev/null; then
    check "zsh: the completion parses" zsh -n "$ZSH_COMPLETION"
    check "zsh: compinit registers _hfitop for hfitop and kubectl-hfitop" zsh -f -c "
        fpath=('${ZSH_COMPLETION%/*}' \$fpath); autoload -Uz compinit && compinit -u -D
        [[ \$_comps[hfitop] == _hfitop && \$_comps[kubectl-hfitop] == _hfitop ]] && autoload -Uz +X _hfitop"
else
    echo "zsh is not installed: the zsh completion was not loaded (make deps installs it)" >&2
fi

echo "RESULT $PASSED $FAILED"
[ "$FAILED" -eq 0 ]
