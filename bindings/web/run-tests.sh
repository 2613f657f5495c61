#!/usr/bin/env bash
# The web client module (hellocode.js): type-check it and test it against real servers.
#
#   bindings/web/run-tests.sh
#
# Needs the Rust toolchain (for the server binary), Node >= 20 and npm (`npm ci` installs the
# pinned devDependencies of package.json). Steps: build the server; npm ci; `tsc --noEmit` (the
# module is plain JavaScript with JSDoc types, checked strictly); the module's tests — its
# protocol logic against a scripted socket (tests/session.test.js), then against real servers
# (tests/client.test.js: reconnect and resume, the offline send queue, persistence across a
# reload, errors, timeouts) — and the transcript scenarios (tests/conformance.test.js), each
# file with servers of its own on random loopback ports.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}

step() { printf '\n== %s\n' "$*"; }

step "server binary"
(cd "$repo" && cargo build --quiet -p hellocode-server)
export HELLOCODE_SERVER_BIN="$target/debug/hellocode-server"

cd "$here"
step "npm ci (node $(node --version))"
npm ci --no-audit --no-fund --loglevel=error

step "tsc --noEmit"
npx tsc --noEmit -p .

step "module tests and transcript scenarios"
# Node 20's WebSocket is behind a flag (on by default from Node 22, where the flag is accepted).
node --experimental-websocket --test --test-concurrency=1 tests/session.test.js tests/client.test.js tests/conformance.test.js

# browser tests (web app)
# The web app (hellocode-server/web/, served by the binary above) in Debian's headless Chromium,
# driven by playwright-core (it never downloads a browser): two people chat in two browser
# contexts; writes docs/screenshots/. CHROMIUM=path picks another Chromium.
step "browser tests: the web app in headless Chromium"
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    echo "no Chromium at $chromium: apt-get install -y chromium (or set CHROMIUM)" >&2
    exit 1
fi
node --test --test-concurrency=1 browser-tests/webapp.test.mjs
