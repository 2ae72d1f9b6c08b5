#!/usr/bin/env bash
# The project's test command (README): builds everything, makes sure the local services the
# tests use are up, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL and Redis: start them if they are down (never skip silently).
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi

# The API tests run Python tools from PyPI (a generated client, openapi-spec-validator, schemathesis,
# jsonschema for the AsyncAPI document), pinned in tests/openapi-tools.txt, in a venv.
OPENAPI_VENV="${CARGO_TARGET_DIR:-target}/openapi-client-venv"
if ! cmp -s tests/openapi-tools.txt "$OPENAPI_VENV/installed-tools.txt"; then
  [ -x "$OPENAPI_VENV/bin/pip" ] || python3 -m venv "$OPENAPI_VENV"
  "$OPENAPI_VENV/bin/pip" install --quiet -r tests/openapi-tools.txt
  cp tests/openapi-tools.txt "$OPENAPI_VENV/installed-tools.txt"
fi
export ANIWORLD_OPENAPI_VENV="$(cd "$OPENAPI_VENV" && pwd)"

# Black-box tests run the real `aniworld` binary and the example plugin library: build them first.
cargo build --workspace --locked
cargo test --workspace --locked

# Browser tests of the web UI (tests/e2e): Debian's Chromium driven by playwright-core against the
# real `aniworld serve` and the fixture site (both built above). Screenshots: target/e2e-screenshots/.
if [ ! -x /usr/bin/chromium ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
fi
(cd tests/e2e && npm ci --no-audit --no-fund && npm test)
