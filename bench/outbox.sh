#!/usr/bin/env bash
# Outbox delivery throughput: emails per second from the outbox to a real SMTP server
# on loopback (mailin-embedded), with one and two delivery workers, on SQLite and — when
# PostgreSQL is reachable — on PostgreSQL. Release build. Usage: bench/outbox.sh [EMAILS]
set -euo pipefail
cd "$(dirname "$0")/.."
emails="${1:-2000}"
cargo build --release --example outbox_bench >/dev/null
bin=target/release/examples/outbox_bench
pg_admin="${JOINERY_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
for workers in 1 2; do
  "$bin" --emails "$emails" --workers "$workers"
  if psql "$pg_admin" -tAc 'select 1' >/dev/null 2>&1; then
    db="joinery_bench_$$_$workers"
    psql "$pg_admin" -qc "create database $db"
    "$bin" --emails "$emails" --workers "$workers" --database-url "${pg_admin%/*}/$db"
    psql "$pg_admin" -qc "drop database $db with (force)"
  fi
done
