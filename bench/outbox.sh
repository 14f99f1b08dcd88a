#!/usr/bin/env bash
# Outbox delivery throughput: emails per second from the outbox to a real SMTP server
# on loopback (mailin-embedded), with one delivery task (an instance's default) and two, on
# SQLite and — when PostgreSQL is reachable — on PostgreSQL. Release build. Each run prints
# its target (≥ 1,000 emails/s from one instance with its default settings) and whether it
# was met. Usage: bench/outbox.sh [EMAILS]
set -euo pipefail
cd "$(dirname "$0")/.."
emails="${1:-4000}"
cargo build --release --example outbox_bench >/dev/null
bin=target/release/examples/outbox_bench
pg_admin="${JOINERY_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
verdict() {
  # The bench's line, then the target and whether it was met.
  local line=$1 rate
  rate=${line##*emails_per_second=}
  if ((rate >= 1000)); then
    echo "$line target=≥1000/s met=yes"
  else
    echo "$line target=≥1000/s met=NO"
  fi
}
for workers in 1 2; do
  verdict "$("$bin" --emails "$emails" --workers "$workers")"
  if psql "$pg_admin" -tAc 'select 1' >/dev/null 2>&1; then
    db="joinery_bench_$$_$workers"
    psql "$pg_admin" -qc "create database $db"
    verdict "$("$bin" --emails "$emails" --workers "$workers" --database-url "${pg_admin%/*}/$db")"
    psql "$pg_admin" -qc "drop database $db with (force)"
  fi
done
