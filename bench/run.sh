#!/usr/bin/env bash
# HTTP benchmark: builds release, seeds a fresh SQLite database (organization
# A: Enterprise (unlimited seats), 200 members, 50 pending invitations; organization B: 10,000 members), signs
# in an Owner and measures with wrk, 10 s at 32 connections each:
#   the Team page GET of A, the acceptance page GET (signed out), the invite POST (a unique
#   address per request, CSRF and session cookie included), a 1,000-address bulk invite (one
#   request, timed with curl), the Team page GET of B, the JSON API's members GET and
#   invitations POST (issue 15; no target yet), and a log-in flood (wrong passwords)
#   while the Team page of A is measured — once with the default per-IP limiter and once with
#   it effectively off, so that the hashing itself is what is measured.
# The Team page's exact bytes are served by a minimal actix-web server (examples/static_ceiling)
# with the app's worker count: the ceiling on this machine. Peak RSS comes from /proc.
# Prints the table and writes it to bench/results/latest.md. Exits non-zero when any scenario
# returned errors (such a scenario is marked ERROR, not reported as a result).
#
# Usage: bash bench/run.sh
# Environment: BENCH_DURATION (10s), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
#   BENCH_BULK_RUNS (5), BENCH_PORT (18080; +1 and +2 are used too), BENCH_KEEP=1 keeps the
#   temporary directory (database, server logs, raw wrk output), BENCH_PREBUILT=DIR uses the
#   release binaries in DIR instead of building (bench/compare.sh), BENCH_RESULTS_JSON=FILE
#   copies the raw results (one JSON object per scenario) there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
duration="${BENCH_DURATION:-10s}"
conns="${BENCH_CONNECTIONS:-32}"
threads="${BENCH_THREADS:-2}"
bulk_runs="${BENCH_BULK_RUNS:-5}"
port="${BENCH_PORT:-18080}"
ceiling_port=$((port + 1))
port2=$((port + 2))
report="python3 $root/bench/report.py"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian)"
  sudo_cmd=""
  [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y wrk >/dev/null 2>&1 ||
    { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y wrk >/dev/null; }
fi
command -v wrk >/dev/null || die "wrk is not installed and could not be installed"
command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required (standard library only)"

if [[ -n "${BENCH_PREBUILT:-}" ]]; then
  # bench/compare.sh: binaries built from another commit (joinery, examples/…).
  bin="$BENCH_PREBUILT/joinery"
  examples="$BENCH_PREBUILT/examples"
  log "using the binaries in $BENCH_PREBUILT"
else
  log "building release (joinery, examples bench_seed and static_ceiling)"
  cargo build --release --bin joinery --example bench_seed --example static_ceiling
  bin="$root/target/release/joinery"
  examples="$root/target/release/examples"
fi

# --- fresh database ------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/joinery-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ -n "${pg_db:-}" ]]; then
    psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [[ -n "${BENCH_KEEP:-}" ]]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

hexkey() { python3 -c "import secrets; print(secrets.token_hex($1))"; }
session_key=$(hexkey 64)
token_key=$(hexkey 32)
mkdir -p "$work/one" "$work/two"
log "seeding $work/one/joinery.db"
seed_out=$("$examples/bench_seed" --database-url "$work/one/joinery.db" --token-key "$token_key")
eval "$seed_out"
: "${ORG_A:?}" "${ORG_B:?}" "${ADMIN_EMAIL:?}" "${ADMIN_PASSWORD:?}" "${INVITE_TOKEN:?}"
# API_TOKEN: absent from a build older than the JSON API (bench/compare.sh), whose API
# scenarios are then skipped.
API_TOKEN="${API_TOKEN:-}"
# The second server (log-in flood without the limiter) starts from the same seeded state.
cp "$work/one/joinery.db" "$work/two/joinery.db"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- helpers -------------------------------------------------------------------------------
# start_server DIR PORT [ENV=VALUE…] — starts the release server, waits for /healthz, sets $server_pid.
start_server() {
  local dir=$1 p=$2
  shift 2
  env DATABASE_URL="$dir/joinery.db" JOINERY_DATA_DIR="$dir" JOINERY_BIND="127.0.0.1:$p" \
    JOINERY_BASE_URL="http://127.0.0.1:$p" \
    JOINERY_SESSION_KEY="$session_key" JOINERY_TOKEN_KEY="$token_key" \
    JOINERY_INVITATIONS_PER_HOUR=4000000000 "$@" \
    "$bin" serve >"$dir/server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "http://127.0.0.1:$p/healthz" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "server exited"; }
    sleep 0.05
  done
  die "server did not answer /healthz on port $p"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# rss_sampler PID OUT — writes VmRSS (KiB) of PID every 50 ms until killed; sets $sampler_pid.
rss_sampler() {
  (while [[ -r /proc/$1/status ]]; do
    awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || true
    sleep 0.05
  done) >"$2" &
  sampler_pid=$!
}
peak_of() { sort -n "$1" | tail -1; }
hwm_of() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# The first CSRF token in an HTML file (awk reads to the end: no SIGPIPE under pipefail).
csrf_of() {
  awk 'match($0, /name="csrf_token" value="[^"]*"/) && !found {
    s = substr($0, RSTART, RLENGTH); sub(/.*value="/, "", s); sub(/"$/, "", s); print s; found = 1
  }' "$1"
}

# sign_in PORT JAR — logs the admin in (GET /login for the CSRF token and cookie, POST /login).
sign_in() {
  local p=$1 jar=$2 csrf code
  curl -fsS -c "$jar" -b "$jar" -o "$jar.html" "http://127.0.0.1:$p/login"
  csrf=$(csrf_of "$jar.html")
  [[ -n "$csrf" ]] || die "no CSRF token on /login"
  code=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "email=$ADMIN_EMAIL" \
    --data-urlencode "password=$ADMIN_PASSWORD" --data-urlencode "next=/" \
    "http://127.0.0.1:$p/login")
  [[ "$code" == 303 ]] || die "log-in answered $code, not 303"
}
# cookie_of JAR — a Cookie header value with every cookie of Joinery's in a curl jar: the
# session's (once signed in) and the CSRF seed's (the token on a page is bound to it).
cookie_of() {
  awk '$6 ~ /^(__Host-)?joinery_/ {printf "%s%s=%s", sep, $6, $7; sep = "; "} END {print ""}' "$1"
}

# fetch URL OUT JAR|"" EXPECT_STATUS MARKER — a curl pre-check of a scenario's response.
fetch() {
  local url=$1 out=$2 jar=$3 want=$4 marker=$5 code
  if [[ -n "$jar" ]]; then
    code=$(curl -sS -b "$jar" -o "$out" -w '%{http_code}' "$url")
  else
    code=$(curl -sS -o "$out" -w '%{http_code}' "$url")
  fi
  [[ "$code" == "$want" ]] || die "GET $url answered $code, not $want"
  grep -qF -- "$marker" "$out" || die "GET $url: the page lacks \"$marker\""
}

results="$work/results.jsonl"
: >"$results"
failed=0
ceiling_rps=""

# wrk_json RAW MIN_BYTES EXPECT_STATUS — parses wrk's output and adds "error" when the run had
# non-2xx/3xx answers, socket errors, answers smaller than the page (redirects to /login), or
# (with a Lua status count) any status but the expected one.
wrk_json() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
sys.path.insert(0, "bench")
import report
r = report.parse(sys.argv[1])
min_bytes, want = float(sys.argv[2]), sys.argv[3]
errors = []
if not r["rps"]:
    errors.append("no result")
if r["non2xx3xx"]:
    errors.append(f"{r['non2xx3xx']} non-2xx/3xx")
if r["socket_errors"]:
    errors.append(f"{r['socket_errors']} socket errors")
if min_bytes and r["bytes_per_req"] < min_bytes:
    errors.append(f"{r['bytes_per_req']:.0f} bytes/answer < {min_bytes:.0f}")
if want and r["statuses"]:
    other = {k: v for k, v in r["statuses"].items() if k != want}
    if other:
        errors.append("statuses " + ", ".join(f"{k}×{v}" for k, v in other.items()))
if errors:
    r["error"] = "; ".join(errors)
print(json.dumps(r))
EOF
}

# measure NAME URL PID RAW MIN_BYTES [wrk args…] — one wrk run with RSS sampling; sets $json, $rss.
measure() {
  local name=$1 url=$2 pid=$3 raw=$4 min_bytes=$5 want=""
  shift 5
  if [[ "${1:-}" == --want=* ]]; then
    want=${1#--want=}
    shift
  fi
  log "$name: wrk -t$threads -c$conns -d$duration"
  rss_sampler "$pid" "$raw.rss"
  wrk -t"$threads" -c"$conns" -d"$duration" --latency --timeout 10s "$@" "$url" >"$raw" 2>&1 || true
  stop_pid "$sampler_pid"
  json=$(wrk_json "$raw" "$min_bytes" "$want")
  rss=$(peak_of "$raw.rss")
  if grep -q '"error"' <<<"$json"; then
    failed=1
    log "$name: ERROR — $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["error"])' "$json")"
  fi
}

bytes_of() { wc -c <"$1"; }

# --- server 1: default limiter -------------------------------------------------------------
log "starting server 1 on :$port"
start_server "$work/one" "$port"
pid1=$server_pid
jar="$work/admin.jar"
sign_in "$port" "$jar"
cookie=$(cookie_of "$jar")
[[ "$cookie" == *joinery_session=* ]] || die "no session cookie after log-in"
base="http://127.0.0.1:$port"
team_a="$base/orgs/$ORG_A/team"
team_b="$base/orgs/$ORG_B/team"
fetch "$team_a" "$work/team-a.html" "$jar" 200 "1–50 of 20"
csrf=$(csrf_of "$work/team-a.html")
[[ -n "$csrf" ]] || die "no CSRF token on the Team page"
team_bytes=$(bytes_of "$work/team-a.html")
log "Team page of A: $team_bytes bytes"

# The ceiling: the same bytes from a minimal actix-web server with the app's worker count.
"$examples/static_ceiling" --file "$work/team-a.html" --bind "127.0.0.1:$ceiling_port" \
  2>"$work/static.log" &
static_pid=$!
pids+=("$static_pid")
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$ceiling_port/" 2>/dev/null && break
  sleep 0.05
done
measure "static ceiling" "http://127.0.0.1:$ceiling_port/" "$static_pid" "$work/wrk-static.txt" \
  "$((team_bytes * 9 / 10))"
ceiling_rps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rps"] or "")' "$json")
$report record "$results" "Static ceiling (Team page bytes, minimal actix-web)" "$json" "$rss" \
  "—" "" "$ceiling_rps"
stop_pid "$static_pid"

measure "Team GET (A)" "$team_a" "$pid1" "$work/wrk-team-a.txt" "$((team_bytes * 9 / 10))" -H "Cookie: $cookie"
# A log-in flood's memory is bounded when it stays within the Team page's own peak plus two
# argon2id buffers (19 MiB each): hashing concurrency capped, buffers given back.
flood_bound_mib=$((rss / 1024 + 38))
$report record "$results" "Team page GET, A (200 members, 50 pending)" "$json" "$rss" \
  "≥10,000 req/s, p99 ≤15 ms" "rps >= 10000 and p99 <= 15" "$ceiling_rps"
team_a_rps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rps"] or 0)' "$json")
pages_rss=$rss

accept_url="$base/invitations/$INVITE_TOKEN"
fetch "$accept_url" "$work/accept.html" "" 200 "Create account &amp; join"
accept_bytes=$(bytes_of "$work/accept.html")
sessions_before=$($report count "$work/one/joinery.db" "select count(*) from sessions")
# Database writes while signed-out visitors read the page: SQLite's data_version, read on one
# connection before and after, changes when any other connection commits a change.
$report watch "$work/one/joinery.db" "$work/accept.done" >"$work/accept.writes" &
watch_pid=$!
sleep 0.2
measure "acceptance GET" "$accept_url" "$pid1" "$work/wrk-accept.txt" "$((accept_bytes * 9 / 10))"
touch "$work/accept.done"
wait "$watch_pid" || true
accept_writes=$(cat "$work/accept.writes")
sessions_after=$($report count "$work/one/joinery.db" "select count(*) from sessions")
$report record "$results" "Acceptance page GET (signed out)" "$json" "$rss" \
  "≥20,000 req/s, p99 ≤10 ms, 0 database writes (written: $accept_writes)" \
  "rps >= 20000 and p99 <= 10 and '$accept_writes' == 'no'" "$ceiling_rps"
log "acceptance GET wrote $((sessions_after - sessions_before)) new session rows; database written: $accept_writes"
((rss > pages_rss)) && pages_rss=$rss

fetch "$team_b" "$work/team-b.html" "$jar" 200 "1–50 of 100"
measure "Team GET (B)" "$team_b" "$pid1" "$work/wrk-team-b.txt" "$(($(bytes_of "$work/team-b.html") * 9 / 10))" \
  -H "Cookie: $cookie"
$report record "$results" "Team page GET, B (10,000 members)" "$json" "$rss" \
  "≥0.9× Team A ($(python3 -c "print(f'{0.9 * float($team_a_rps):,.0f}')") req/s)" \
  "rps >= 0.9 * $team_a_rps" "$ceiling_rps"
((rss > pages_rss)) && pages_rss=$rss
$report record "$results" "Peak RSS while only pages are served (Team A, acceptance, Team B)" \
  '{"ratio": false}' "$pages_rss" "≤40 MiB" "rss_mib <= 40"

# Log-in flood with the default per-IP limiter, while the Team page of A is measured.
# login_flood PORT PID JAR_FOR_TEAM_COOKIE LABEL — sets $flood_json, $team_json, $flood_rss.
login_flood() {
  local p=$1 pid=$2 team_cookie=$3 label=$4 fjar="$work/flood-$1.jar" fcsrf fcookie
  curl -fsS -c "$fjar" -o "$work/login-$p.html" "http://127.0.0.1:$p/login"
  fcsrf=$(csrf_of "$work/login-$p.html")
  fcookie=$(cookie_of "$fjar")
  [[ -n "$fcsrf" && -n "$fcookie" ]] || die "no CSRF token or cookie for the log-in flood"
  log "log-in flood ($label): wrk -t1 -c$conns -d$duration on POST /login, and the Team page of A"
  rss_sampler "$pid" "$work/flood-$p.rss"
  BENCH_CSRF="$fcsrf" BENCH_COOKIE="$fcookie" BENCH_EMAIL="${ADMIN_EMAIL/@/%40}" \
    wrk -t1 -c"$conns" -d"$duration" --latency --timeout 10s -s "$root/bench/wrk/login.lua" \
    "http://127.0.0.1:$p/login" >"$work/wrk-flood-$p.txt" 2>&1 &
  local flood_pid=$!
  sleep 0.5 # let the flood reach its stride before the measured run starts
  wrk -t1 -c"$conns" -d"$duration" --latency --timeout 10s -H "Cookie: $team_cookie" \
    "http://127.0.0.1:$p/orgs/$ORG_A/team" >"$work/wrk-flood-team-$p.txt" 2>&1 || true
  wait "$flood_pid" || true
  stop_pid "$sampler_pid"
  flood_rss=$(peak_of "$work/flood-$p.rss")
  # 401 = hashed and refused; 429 = the limiter; nothing else is acceptable.
  flood_json=$(wrk_json "$work/wrk-flood-$p.txt" 0 "")
  flood_json=$(python3 - "$flood_json" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
r.pop("error", None)  # 401 and 429 are the expected answers here
other = {k: v for k, v in r["statuses"].items() if k not in ("401", "429")}
bad = []
if other:
    bad.append("statuses " + ", ".join(f"{k}×{v}" for k, v in other.items()))
if r["socket_errors"]:
    bad.append(f"{r['socket_errors']} socket errors")
if not r["statuses"]:
    bad.append("no answers")
if bad:
    r["error"] = "; ".join(bad)
r["ratio"] = False
print(json.dumps(r))
EOF
)
  team_json=$(wrk_json "$work/wrk-flood-team-$p.txt" "$((team_bytes * 9 / 10))" "")
  for j in "$flood_json" "$team_json"; do
    grep -q '"error"' <<<"$j" && failed=1
  done
  log "log-in flood ($label): $(grep '^STATUS' "$work/wrk-flood-$p.txt" || echo 'no status line')"
}

login_flood "$port" "$pid1" "$cookie" "default limiter"
statuses=$(grep '^STATUS' "$work/wrk-flood-$port.txt" | sed 's/^STATUS //; s/=/×/g' || true)
$report record "$results" "Log-in flood, default limiter: POST /login ($statuses)" "$flood_json" \
  "$flood_rss" "bounded: ≤ Team-page peak + 38 MiB ($flood_bound_mib)" "rss_mib <= $flood_bound_mib"
$report record "$results" "… Team page GET, A, during that flood (-t1)" "$team_json" "" \
  "p99 ≤25 ms" "p99 <= 25" "$ceiling_rps"

# Invite POST: one new address per request (wrk Lua counter), every answer must be a 303.
invites_before=$($report count "$work/one/joinery.db" "select count(*) from invitations")
export BENCH_CSRF="$csrf" BENCH_COOKIE="$cookie" BENCH_TAG="$$"
measure "invite POST" "$base/orgs/$ORG_A/invitations" "$pid1" "$work/wrk-invite.txt" 0 \
  --want=303 -s "$root/bench/wrk/invite.lua"
invites_after=$($report count "$work/one/joinery.db" "select count(*) from invitations")
created=$((invites_after - invites_before))
answered=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["statuses"].get("303", 0))' "$json")
log "invite POST: $answered answers 303, $created invitations created"
if ((created < answered)); then
  failed=1
  json=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["error"]=f"only {sys.argv[2]} invitations for {sys.argv[3]} 303s"; print(json.dumps(r))' "$json" "$created" "$answered")
fi
$report record "$results" "Invite POST (one new address each)" "$json" "$rss" "≥3,000 req/s" \
  "rps >= 3000" "$ceiling_rps"

# Bulk: 1,000 new addresses in one request, $bulk_runs times; each must answer 303 and create
# exactly 1,000 invitations.
log "bulk invite: $bulk_runs × 1,000 addresses"
times=()
bulk_error=""
rss_sampler "$pid1" "$work/bulk.rss"
for run in $(seq 1 "$bulk_runs"); do
  python3 -c "import sys; print('\n'.join(f'bulk-{sys.argv[1]}-{sys.argv[2]}-{i:04}@bulk.bench.test' for i in range(1000)))" \
    "$$" "$run" >"$work/bulk-$run.txt"
  out=$(curl -sS -b "$jar" -o /dev/null -w '%{http_code} %{time_total}' \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "emails@$work/bulk-$run.txt" \
    --data-urlencode "role=viewer" --data-urlencode "message=" "$base/orgs/$ORG_A/invitations")
  code=${out% *}
  seconds=${out#* }
  n=$($report count "$work/one/joinery.db" \
    "select count(*) from invitations where email like 'bulk-$$-$run-%'")
  [[ "$code" == 303 && "$n" == 1000 ]] || bulk_error="run $run answered $code and created $n"
  times+=("$seconds")
done
stop_pid "$sampler_pid"
bulk_json=$(python3 - "$bulk_error" "${times[@]}" <<'EOF'
import json, statistics, sys
err, times = sys.argv[1], [float(t) * 1000 for t in sys.argv[2:]]
r = {"rps": None, "p50": statistics.median(times), "p99": max(times), "ratio": False,
     "times_ms": times}
if err:
    r["error"] = err
print(json.dumps(r))
EOF
)
[[ -z "$bulk_error" ]] || failed=1
$report record "$results" "Bulk invite, 1,000 addresses (median; max in the p99 column)" \
  "$bulk_json" "$(peak_of "$work/bulk.rss")" "≤150 ms" "p99 <= 150"

# The JSON API beside the pages (issue 15), after the page scenarios so that they run on the
# same data as in builds without it: the members of A (200, one page of 200) and a
# POST of one new invitation each, with an API token of A acting as Admin.
if [[ -n "$API_TOKEN" ]]; then
  api_members="$base/api/v1/orgs/$ORG_A/members?limit=200"
  curl -fsS -H "Authorization: Bearer $API_TOKEN" -o "$work/api-members.json" "$api_members" ||
    die "the API members list did not answer"
  measure "API members GET (A)" "$api_members" "$pid1" "$work/wrk-api-members.txt" \
    "$(($(bytes_of "$work/api-members.json") * 9 / 10))" -H "Authorization: Bearer $API_TOKEN"
  $report record "$results" "API GET …/members, A (200 members, limit=200)" "$json" "$rss" "—" "" \
    "$ceiling_rps"
  export BENCH_API_TOKEN="$API_TOKEN"
  measure "API invite POST" "$base/api/v1/orgs/$ORG_A/invitations" "$pid1" "$work/wrk-api-invite.txt" 0 \
    --want=201 -s "$root/bench/wrk/api_invite.lua"
  $report record "$results" "API POST …/invitations (one new address each)" "$json" "$rss" "—" "" \
    "$ceiling_rps"
else
  log "no API token from the seed (a build before the JSON API): API scenarios skipped"
fi

hwm1=$(hwm_of "$pid1")
stop_pid "$pid1"

# --- server 2: the limiter effectively off, so the flood reaches argon2 --------------------
log "starting server 2 on :$port2 (JOINERY_LOGIN_ATTEMPTS_PER_MINUTE=60000)"
start_server "$work/two" "$port2" JOINERY_LOGIN_ATTEMPTS_PER_MINUTE=60000
pid2=$server_pid
jar2="$work/admin2.jar"
sign_in "$port2" "$jar2"
cookie2=$(cookie_of "$jar2")
fetch "http://127.0.0.1:$port2/orgs/$ORG_A/team" "$work/team-a2.html" "$jar2" 200 \
  "1–50 of 20"
login_flood "$port2" "$pid2" "$cookie2" "limiter off"
statuses=$(grep '^STATUS' "$work/wrk-flood-$port2.txt" | sed 's/^STATUS //; s/=/×/g' || true)
$report record "$results" "Log-in flood, limiter off: POST /login ($statuses)" "$flood_json" \
  "$flood_rss" "bounded: ≤ Team-page peak + 38 MiB ($flood_bound_mib)" "rss_mib <= $flood_bound_mib"
$report record "$results" "… Team page GET, A, during that flood (-t1)" "$team_json" "" \
  "p99 ≤25 ms" "p99 <= 25" "$ceiling_rps"
hwm2=$(hwm_of "$pid2")
stop_pid "$pid2"

$report record "$results" "Peak RSS, server 1 (every scenario above but the unlimited flood)" \
  '{"ratio": false}' "$hwm1" "≤64 MiB" "rss_mib <= 64"
$report record "$results" "Peak RSS, server 2 (the unlimited log-in flood)" \
  '{"ratio": false}' "$hwm2" "≤64 MiB" "rss_mib <= 64"

# --- server 3: the same page and API scenarios on PostgreSQL --------------------------------
# A fresh database on the local server (JOINERY_BENCH_POSTGRES_URL), seeded as above; the
# results fill the table's PostgreSQL columns. BENCH_SKIP_POSTGRES=1 leaves them empty.
pg_url="${JOINERY_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_results="$work/results-pg.jsonl"
: >"$pg_results"
if [[ -z "${BENCH_SKIP_POSTGRES:-}" ]] && psql "$pg_url" -tAc 'select 1' >/dev/null 2>&1; then
  pg_db="joinery_bench_$$"
  psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db" -c "CREATE DATABASE $pg_db" >/dev/null
  pg_bench_url="${pg_url%/*}/$pg_db"
  log "seeding PostgreSQL database $pg_db"
  eval "$("$examples/bench_seed" --database-url "$pg_bench_url" --token-key "$token_key")"
  API_TOKEN="${API_TOKEN:-}"
  mkdir -p "$work/pg"
  port3=$((port + 3))
  log "starting server 3 on :$port3 (PostgreSQL)"
  start_server "$work/pg" "$port3" DATABASE_URL="$pg_bench_url"
  pid3=$server_pid
  jar3="$work/admin3.jar"
  sign_in "$port3" "$jar3"
  cookie3=$(cookie_of "$jar3")
  base3="http://127.0.0.1:$port3"
  fetch "$base3/orgs/$ORG_A/team" "$work/team-a3.html" "$jar3" 200 "1–50 of 20"
  csrf3=$(csrf_of "$work/team-a3.html")
  measure "PostgreSQL: Team GET (A)" "$base3/orgs/$ORG_A/team" "$pid3" "$work/wrk-pg-team-a.txt" \
    "$((team_bytes * 8 / 10))" -H "Cookie: $cookie3"
  $report record "$pg_results" "Team page GET, A (200 members, 50 pending)" "$json" "$rss" "" ""
  fetch "$base3/invitations/$INVITE_TOKEN" "$work/accept3.html" "" 200 "Create account &amp; join"
  measure "PostgreSQL: acceptance GET" "$base3/invitations/$INVITE_TOKEN" "$pid3" \
    "$work/wrk-pg-accept.txt" "$((accept_bytes * 9 / 10))"
  $report record "$pg_results" "Acceptance page GET (signed out)" "$json" "$rss" "" ""
  fetch "$base3/orgs/$ORG_B/team" "$work/team-b3.html" "$jar3" 200 "1–50 of 100"
  measure "PostgreSQL: Team GET (B)" "$base3/orgs/$ORG_B/team" "$pid3" "$work/wrk-pg-team-b.txt" \
    "$(($(bytes_of "$work/team-b3.html") * 9 / 10))" -H "Cookie: $cookie3"
  $report record "$pg_results" "Team page GET, B (10,000 members)" "$json" "$rss" "" ""
  export BENCH_CSRF="$csrf3" BENCH_COOKIE="$cookie3" BENCH_TAG="pg$$"
  measure "PostgreSQL: invite POST" "$base3/orgs/$ORG_A/invitations" "$pid3" "$work/wrk-pg-invite.txt" 0 \
    --want=303 -s "$root/bench/wrk/invite.lua"
  $report record "$pg_results" "Invite POST (one new address each)" "$json" "$rss" "" ""
  if [[ -n "$API_TOKEN" ]]; then
    measure "PostgreSQL: API members GET (A)" "$base3/api/v1/orgs/$ORG_A/members?limit=200" "$pid3" \
      "$work/wrk-pg-api-members.txt" 0 -H "Authorization: Bearer $API_TOKEN"
    $report record "$pg_results" "API GET …/members, A (200 members, limit=200)" "$json" "$rss" "" ""
    export BENCH_API_TOKEN="$API_TOKEN"
    measure "PostgreSQL: API invite POST" "$base3/api/v1/orgs/$ORG_A/invitations" "$pid3" \
      "$work/wrk-pg-api-invite.txt" 0 --want=201 -s "$root/bench/wrk/api_invite.lua"
    $report record "$pg_results" "API POST …/invitations (one new address each)" "$json" "$rss" "" ""
  fi
  hwm3=$(hwm_of "$pid3")
  stop_pid "$pid3"
  $report record "$pg_results" "Peak RSS, server 1 (every scenario above but the unlimited flood)" \
    '{"ratio": false}' "$hwm3" "" ""
else
  log "PostgreSQL not reachable at $pg_url (or BENCH_SKIP_POSTGRES set): its column stays empty"
fi

# --- report --------------------------------------------------------------------------------
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p bench/results
{
  echo "# HTTP benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified)');" \
    "$(nproc) CPUs; release build; SQLite (and PostgreSQL $(psql "$pg_url" -tAc 'show server_version' 2>/dev/null || echo '—') in its columns); wrk -t$threads -c$conns -d$duration" \
    "(the log-in floods: two wrk -t1 -c$conns side by side)." \
    "Load average before: $load_before; after: $load_after."
  echo
  $report table "$results" "$ceiling_rps" "$pg_results"
  echo
  echo "Team page of A: $team_bytes bytes uncompressed. The acceptance GET created" \
    "$((sessions_after - sessions_before)) session rows. The invite POST created $created invitations." \
    "Bulk runs (s, curl time_total): ${times[*]}."
} >bench/results/latest.md
echo
cat bench/results/latest.md
[[ -z "${BENCH_RESULTS_JSON:-}" ]] || cp "$results" "$BENCH_RESULTS_JSON"
if ((failed)); then
  die "some scenarios returned errors (marked ERROR above); they are not results"
fi
