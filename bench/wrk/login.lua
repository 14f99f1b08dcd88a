-- wrk script for the log-in flood: POST /login with a wrong password (a real account, so
-- every attempt that gets past the rate limiter costs one argon2id verification). Counts
-- response statuses: 401 = hashed and refused, 429 = refused by the per-IP limiter.
--   BENCH_CSRF, BENCH_COOKIE (a Cookie header value: name=value; …), BENCH_EMAIL
local threads = {}
local csrf = os.getenv("BENCH_CSRF") or ""
local cookie = os.getenv("BENCH_COOKIE") or ""
local email = os.getenv("BENCH_EMAIL") or "owner%40bench.test"

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = cookie
  wrk.body = "csrf_token=" .. csrf .. "&email=" .. email .. "&password=not-the-password&next=%2F"
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do
      total[code] = (total[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(total) do
    table.insert(parts, code .. "=" .. n)
  end
  table.sort(parts)
  io.write("STATUS " .. table.concat(parts, " ") .. "\n")
end
