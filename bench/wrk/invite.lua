-- wrk script for the invite POST: a unique address on every request (per-thread counter,
-- thread id and a per-run tag), the CSRF token and the session cookie from the environment.
-- Counts response statuses so the bench can refuse a run that was not all 303s.
--   BENCH_CSRF, BENCH_COOKIE (a Cookie header value: name=value; …), BENCH_TAG (unique per run)
local threads = {}
local csrf = os.getenv("BENCH_CSRF") or ""
local cookie = os.getenv("BENCH_COOKIE") or ""
local tag = os.getenv("BENCH_TAG") or "run"

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  counter = 0
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = cookie
end

function request()
  counter = counter + 1
  local body = "csrf_token=" .. csrf
    .. "&emails=w-" .. tag .. "-t" .. tid .. "-" .. counter .. "%40wrk.bench.test"
    .. "&role=viewer&message=Welcome+aboard"
  return wrk.format(nil, nil, nil, body)
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
