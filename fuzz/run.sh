#!/usr/bin/env bash
# Run every fuzz target for a bounded time from its checked-in corpus (fuzz/corpus/<target>);
# a crash (panic, failed invariant, timeout, out of memory) exits non-zero and leaves the input
# in fuzz/artifacts/<target>/. Used by .ci/run; see fuzz/README.md.
#   fuzz/run.sh [target...]        (default: every target)
# Environment: HELLOCODE_FUZZ_SECONDS (per target, default 60),
#              HELLOCODE_FUZZ_TARGET_DIR (build directory, default fuzz/target).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${HELLOCODE_FUZZ_SECONDS:-60}"
export CARGO_TARGET_DIR="${HELLOCODE_FUZZ_TARGET_DIR:-$PWD/target}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(frame_decoder rest_bodies session)
fi

# cargo-fuzz needs a nightly toolchain (libFuzzer's instrumentation flags).
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain; install it with: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# No sanitizer: the code is safe Rust (unsafe_code is forbidden), so AddressSanitizer would
# only slow the build and the runs; panics and failed invariants abort either way.
cargo +nightly fuzz build --sanitizer none

for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds}s"
    scratch="$(mktemp -d -t "hellocode-fuzz-$target.XXXXXX")"
    options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1)
    if [ -f "$target.dict" ]; then
        options+=(-dict="$target.dict")
    fi
    # New inputs go to the scratch directory: the checked-in corpus is only read.
    cargo +nightly fuzz run --sanitizer none "$target" "$scratch" "corpus/$target" -- "${options[@]}"
    rm -rf "$scratch"
done
