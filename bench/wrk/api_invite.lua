-- wrk script for the JSON API's POST …/invitations: one new address per request (per-thread
-- counter, thread id and a per-run tag), the API token from the environment. Counts response
-- statuses so the bench can refuse a run that was not all 201s.
--   BENCH_API_TOKEN, BENCH_TAG (unique per run)
local threads = {}
local token = os.getenv("BENCH_API_TOKEN") or ""
local tag = os.getenv("BENCH_TAG") or "run"

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  counter = 0
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local body = '{"emails":["api-' .. tag .. '-t' .. tid .. '-' .. counter
    .. '@wrk.bench.test"],"role":"viewer","message":"Welcome aboard"}'
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
