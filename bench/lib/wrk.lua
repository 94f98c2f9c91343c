-- Generic wrk script for bench/run: one endpoint per run, described by the environment.
--   BENCH_METHOD, BENCH_PATH   the request (path includes the query string; "{id}" as in the body)
--   BENCH_BODY                 JSON body; "{uniq}" becomes a value unique in this run, "{id}"
--                              the next of BENCH_IDS (comma-separated) in turn
--   BENCH_TOKEN                optional Bearer token
--   BENCH_ACCEPT_ENCODING      optional Accept-Encoding (phones' browsers always send one)
--   BENCH_OUT                  where done() writes its JSON summary
-- wrk counts every response with status > 399 as a status error; bench/run subtracts them.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/healthz"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local accept_encoding = os.getenv("BENCH_ACCEPT_ENCODING")
local run_id = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local out = os.getenv("BENCH_OUT")
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "[^,]+") do
  table.insert(ids, id)
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local headers = {}
local counter = 0
local fixed_request

function init(args)
  headers["Content-Type"] = "application/json"
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  if accept_encoding and accept_encoding ~= "" then
    headers["Accept-Encoding"] = accept_encoding
  end
  if not (body and (body:find("{uniq}", 1, true) or body:find("{id}", 1, true)))
      and not path:find("{id}", 1, true) then
    fixed_request = wrk.format(method, path, headers, body ~= "" and body or nil)
  end
end

function request()
  if fixed_request then
    return fixed_request
  end
  counter = counter + 1
  local uniq = run_id .. "-" .. id .. "-" .. counter
  local text = (body or ""):gsub("{uniq}", uniq)
  local target = path
  if #ids > 0 then
    -- Threads start at different places in the list, so all of it is in use at once.
    local next = ids[(counter + id * 7919) % #ids + 1]
    text = text:gsub("{id}", next)
    target = target:gsub("{id}", next)
  end
  return wrk.format(method, target, headers, text ~= "" and text or nil)
end

function done(summary, latency, requests)
  local e = summary.errors
  local json = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p95":%d,"p99":%d,"max":%d}}',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max)
  if out and out ~= "" then
    local f = assert(io.open(out, "w"))
    f:write(json, "\n")
    f:close()
  else
    io.write(json, "\n")
  end
end
