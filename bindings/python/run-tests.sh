#!/usr/bin/env bash
# Build the `hellocode` wheel, install it into a virtualenv, and test it against a real server.
#
#   bindings/python/run-tests.sh [VENV]     (default: a new temporary directory)
#
# Needs the Rust toolchain, python3 (>= 3.9, with venv) and access to PyPI. Steps: create the
# venv; pip install maturin, pytest, mypy; check that the extension's dependency tree has no
# sqlx or warp; build the server binary and the wheel; install the wheel; import it from
# outside the source tree; run `mypy --strict` on the tests and examples/python; run pytest.
#
# The wheel is a debug build: from a clean target directory it took 1 min 39 s on two shared
# cores (about 6 s when only the bindings changed), and the tests do not need speed. Set
# MATURIN_ARGS=--release for an optimized wheel (benchmarks, distribution).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${1:-$(mktemp -d -t hellocode-venv.XXXXXX)}
python=${PYTHON:-python3}
scratch=$(mktemp -d -t hellocode-python-tests.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

step() { printf '\n== %s\n' "$*"; }

step "virtualenv at $venv"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest mypy

step "dependency tree of the extension has neither sqlx nor warp"
tree=$(cd "$repo" && cargo tree --quiet -p hellocode-python -e normal --prefix none)
if forbidden=$(grep -E '^(sqlx|sqlx-[a-z-]+|warp) ' <<<"$tree"); then
    echo "forbidden dependencies in hellocode-python:" >&2
    echo "$forbidden" >&2
    exit 1
fi
echo "ok ($(sort -u <<<"$tree" | wc -l) crates)"

step "server binary"
(cd "$repo" && cargo build --quiet -p hellocode-server)

step "wheel"
started=$(date +%s)
(cd "$here" && "$venv/bin/maturin" build --quiet --strip --out "$scratch/wheels" ${MATURIN_ARGS:-})
echo "built in $(($(date +%s) - started)) s: $(ls "$scratch/wheels")"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
    --no-deps "$scratch"/wheels/hellocode-*.whl

step "import from outside the source tree"
(cd "$scratch" && "$venv/bin/python" -c '
import hellocode, hellocode.blocking, sys
assert "site-packages" in hellocode.__file__, hellocode.__file__
print("hellocode", hellocode.__version__, "from", hellocode.__file__)
')

step "mypy --strict"
"$venv/bin/mypy" --strict --cache-dir "$scratch/mypy" "$here/tests" "$repo/examples/python"

step "pytest"
cd "$here"
HELLOCODE_SERVER_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/hellocode-server" "$venv/bin/python" -m pytest \
    -p no:cacheprovider -W error::pytest.PytestUnraisableExceptionWarning -q tests
