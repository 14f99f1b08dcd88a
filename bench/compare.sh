#!/usr/bin/env bash
# Compares two commits on this machine: builds each in a temporary worktree (release; each
# commit's build is cached under target/bench-compare/), then runs this checkout's
# bench/run.sh against each commit's binaries one after the other — the same script, database
# seed and load for both — and prints, per scenario, both figures and the ratio new/old.
#
# Usage: bash bench/compare.sh [OLD [NEW]]     (defaults: HEAD~1 and HEAD; any git revision)
# Environment: as bench/run.sh (BENCH_DURATION, BENCH_CONNECTIONS, …).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
old=$(git rev-parse --short "${1:-HEAD~1}")
new=$(git rev-parse --short "${2:-HEAD}")
work=$(mktemp -d "${TMPDIR:-/tmp}/joinery-compare.XXXXXX")
cleanup() {
  for rev in "$old" "$new"; do git worktree remove --force "$work/$rev" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

build() {
  local rev=$1 target="$root/target/bench-compare/$1"
  printf '==> building %s\n' "$rev" >&2
  git worktree add --detach --quiet "$work/$rev" "$rev"
  (cd "$work/$rev" && CARGO_TARGET_DIR="$target" \
    cargo build --release --quiet --bin joinery --example bench_seed --example static_ceiling)
  echo "$target/release"
}
old_bin=$(build "$old")
new_bin=$(build "$new")

for rev in "$old" "$new"; do
  bins=$old_bin
  [[ "$rev" == "$new" ]] && bins=$new_bin
  printf '==> benchmarking %s\n' "$rev" >&2
  BENCH_PREBUILT="$bins" BENCH_RESULTS_JSON="$work/$rev.jsonl" bash bench/run.sh >"$work/$rev.log" 2>&1 ||
    { tail -20 "$work/$rev.log" >&2; echo "bench/run.sh failed for $rev" >&2; exit 1; }
done

python3 - "$work/$old.jsonl" "$work/$new.jsonl" "$old" "$new" <<'PY'
import json, sys
def rows(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        out[r["scenario"]] = r
    return out
old, new = rows(sys.argv[1]), rows(sys.argv[2])
a, b = sys.argv[3], sys.argv[4]
def fmt(v, d=0):
    return "—" if v is None else f"{v:,.{d}f}"
def ratio(x, y):
    return "—" if not x or y is None else f"{y / x:.2f}×"
print(f"| scenario | req/s {a} | req/s {b} | new/old | p99 ms {a} | p99 ms {b} | new/old |")
print("|---|---|---|---|---|---|---|")
for name, o in old.items():
    n = new.get(name, {})
    orps, nrps = o.get("rps"), n.get("rps")
    op99, np99 = o.get("p99"), n.get("p99")
    print(f"| {name} | {fmt(orps)} | {fmt(nrps)} | {ratio(orps, nrps)} | "
          f"{fmt(op99, 2)} | {fmt(np99, 2)} | {ratio(op99, np99)} |")
PY
