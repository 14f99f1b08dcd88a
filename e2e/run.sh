#!/usr/bin/env bash
# Joinery's browser suite: headless Chromium (Debian's), driven by playwright-core under Node's
# own test runner. From the repository root or anywhere: `bash e2e/run.sh`.
#   1. installs Debian's chromium and chromium-driver when /usr/bin/chromium is missing;
#   2. installs the suite's npm packages exactly as locked (npm ci);
#   3. builds the server (cargo build --locked, debug);
#   4. runs e2e/tests/*.test.js — each file starts its own `joinery --dev` on a free
#      127.0.0.1 port with a temporary data directory — then prints the per-page table of axe
#      and html-validate results and the test runner's summary.
# Exits non-zero when any test fails. Never downloads a browser: playwright-core drives
# /usr/bin/chromium (CHROMIUM_PATH overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n== %s ==\n' "$*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "e2e: Node.js (20.19 or later) and npm are needed" >&2
  exit 1
fi

# Debian packages: the browser, and the PostgreSQL client library the binary links against.
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export CHROMIUM_PATH
missing=()
[ -x "$CHROMIUM_PATH" ] || missing+=(chromium chromium-driver)
dpkg -s libpq-dev >/dev/null 2>&1 || missing+=(libpq-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing ${missing[*]} (Debian)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
"$CHROMIUM_PATH" --version

step "node packages (npm ci)"
node --version
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)

step "cargo build --locked"
cargo build --locked

step "browser suite (node --test)"
rm -rf e2e/artifacts
mkdir -p e2e/artifacts
# The spec reporter to the terminal and to a file, so the summary can be printed again last.
set +e
(cd e2e && node --test --test-concurrency=1 --test-reporter=spec tests/) 2>&1 \
  | tee e2e/artifacts/test-output.txt
status=${PIPESTATUS[0]}
set -e

node e2e/report.js || true

summary=$(grep -E '^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' e2e/artifacts/test-output.txt || true)
printf '\n%s\n' "$summary"
passed=$(printf '%s\n' "$summary" | sed -n 's/^ℹ pass \([0-9]*\)$/\1/p')
failed=$(printf '%s\n' "$summary" | sed -n 's/^ℹ fail \([0-9]*\)$/\1/p')
if [ -z "$passed" ]; then
  echo "e2e: the test runner printed no summary" >&2
  exit 1
fi
echo "e2e: ${passed} passed, ${failed:-0} failed"
if [ "$status" -ne 0 ] || [ "${failed:-0}" -ne 0 ]; then exit 1; fi
