#!/usr/bin/env bash
# Build the uniffi library, generate its Kotlin and Swift bindings, and test them.
#
#   bindings/uniffi/run-tests.sh            tests (about 3 min from a warm target directory)
#   bindings/uniffi/run-tests.sh --bench    the BENCHMARKS.md figures instead (release build)
#
# Needs the Rust toolchain, Java 17, npm and apt. Idempotent: Kotlin (the npm registry's
# `kotlin-compiler`, pinned below, into target/uniffi-tools) and JNA (Debian's `libjna-java`) are
# installed only when missing. Steps: check that the library's dependency tree has no sqlx or
# warp; build the server and the library; generate Kotlin and Swift with the crate's own
# uniffi-bindgen; check that every function the library exports is in the Swift bindings, the C
# header and the module map; compile the generated Kotlin, the hand-written Flow adapter and the
# test programs; run the Kotlin client tests and the transcript suite against real servers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
kotlin_version=2.4.20
tools=${HELLOCODE_TOOLS:-$repo/target/uniffi-tools}
target=${CARGO_TARGET_DIR:-$repo/target}
out=$target/uniffi-bindings
mode=${1:-test}

step() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

step "tools"
java -version 2>&1 | head -1
kotlin_home=$tools/node_modules/kotlin-compiler
if [ ! -f "$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar" ]; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "kotlin-compiler@$kotlin_version"
fi
jna=/usr/share/java/jna.jar
if [ ! -f "$jna" ]; then
    as_root apt-get install -y libjna-java || { as_root apt-get update && as_root apt-get install -y libjna-java; }
fi
echo "kotlin $(cat "$kotlin_home/build.txt" 2>/dev/null || echo "$kotlin_version") at $kotlin_home; jna at $(readlink -f "$jna")"
classpath_libs=$jna:$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar:$kotlin_home/lib/kotlin-stdlib.jar

step "dependency tree of the library has neither sqlx nor warp"
tree=$(cd "$repo" && cargo tree --quiet -p hellocode-ffi -e normal --prefix none)
if forbidden=$(grep -E '^(sqlx|sqlx-[a-z-]+|warp) ' <<<"$tree"); then
    echo "forbidden dependencies in hellocode-ffi:" >&2
    echo "$forbidden" >&2
    exit 1
fi
echo "ok ($(sort -u <<<"$tree" | wc -l) crates)"

profile=debug
if [ "$mode" = --bench ]; then profile=release; fi
step "server and library ($profile)"
cd "$repo"
cargo build --quiet -p hellocode-server
if [ "$profile" = release ]; then
    cargo build --quiet --release -p hellocode-ffi
else
    cargo build --quiet -p hellocode-ffi
fi
library=$target/$profile/libhellocode_ffi.so

step "bindings"
rm -rf "$out/kotlin" "$out/swift"
bindgen() {
    cargo run --quiet -p hellocode-ffi --features cli --bin uniffi-bindgen -- \
        generate --library "$library" --no-format "$@"
}
bindgen --language kotlin --out-dir "$out/kotlin"
bindgen --language swift --out-dir "$out/swift"
ls "$out/kotlin/uniffi/hellocode" "$out/swift"

step "swift: every exported function is in hellocode.swift, hellocodeFFI.h and the module map"
swift=$out/swift/hellocode.swift
header=$out/swift/hellocodeFFI.h
modulemap=$out/swift/hellocodeFFI.modulemap
grep -q 'header "hellocodeFFI.h"' "$modulemap" || { echo "module map does not name the header" >&2; exit 1; }
grep -q '^module hellocodeFFI' "$modulemap" || { echo "module map does not define hellocodeFFI" >&2; exit 1; }
camel() { awk -F_ '{ s = $1; for (i = 2; i <= NF; i++) s = s toupper(substr($i, 1, 1)) substr($i, 2); print s }' <<<"$1"; }
symbols=$(nm -D --defined-only "$library" | awk '{print $3}' | grep '^uniffi_hellocode_' || true)
[ "$(wc -l <<<"$symbols")" -gt 50 ] || { echo "too few exported symbols: $symbols" >&2; exit 1; }
missing=()
checked=0
for symbol in $symbols; do
    grep -q "\\b$symbol\\b" "$header" || missing+=("$symbol (header)")
    name=${symbol#uniffi_hellocode_ffi_fn_}
    swift_name=""
    case $name in
        method_*) swift_name=$(camel "${name#method_*_}") ;; # method_<object>_<method>
        func_*) swift_name=$(camel "${name#func_}") ;;
        constructor_*_new) grep -q "init(" "$swift" || missing+=("$symbol (init)") ;;
    esac
    if [ -n "$swift_name" ]; then
        grep -Eq "func \`?$swift_name\`?\(" "$swift" || missing+=("$symbol (swift func $swift_name)")
        grep -q "$symbol" "$swift" || missing+=("$symbol (not called by the swift file)")
        checked=$((checked + 1))
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    printf 'missing: %s\n' "${missing[@]}" >&2
    exit 1
fi
echo "ok: $(wc -l <<<"$symbols") symbols in the header, $checked functions and methods in Swift"

step "kotlin: compile the bindings, the Flow adapter and the tests"
started=$(date +%s)
rm -rf "$out/classes"
"$kotlin_home/bin/kotlinc" -nowarn -cp "$classpath_libs" -d "$out/classes" \
    "$out/kotlin/uniffi/hellocode/hellocode.kt" "$here/kotlin/HelloCodeFlow.kt" "$here"/kotlin/tests/*.kt
echo "compiled in $(($(date +%s) - started)) s"

run() {
    HELLOCODE_REPO=$repo HELLOCODE_SERVER_BIN=$target/debug/hellocode-server \
        java -Djna.library.path="$(dirname "$library")" -cp "$out/classes:$classpath_libs" "$@"
}

if [ "$mode" = --bench ]; then
    step "benchmark: a Kotlin call vs the same call in Rust"
    run hellocode.tests.BenchKt "${BENCH_PINGS:-2000}"
    stripped=$(mktemp)
    strip -o "$stripped" "$library"
    echo "stripped release library: $(stat -c %s "$stripped") bytes ($(du -h "$stripped" | cut -f1))"
    rm -f "$stripped"
    exit 0
fi

step "kotlin client tests"
run hellocode.tests.ClientTestsKt

step "kotlin transcript suite"
run hellocode.tests.ConformanceKt
