-- Replays pre-signed requests for wrk, cycling through them.
-- Usage: wrk ... -s wrk-replay.lua <base url> -- <request file> <PUT body bytes> [<expected
-- response body bytes>]
-- Request file: one request per line, tab-separated: METHOD, path?query, then optional
-- "Name: value" headers (header-signed requests carry Authorization, x-amz-date, ...).
-- Every response status is checked here (unless BENCH_CHECK_RESPONSES=0): non-2xx responses are
-- counted per status and the first one is kept for the report; so are 2xx responses whose body
-- length differs from the expected one (as "bad-length"). done() prints one JSON line.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests = {}
local cursor = 0
non2xx = 0
bad_statuses = {}
first_bad = ""
local expect_bytes = 0

function init(args)
  local file = args[1]
  local body_bytes = tonumber(args[2] or "0") or 0
  expect_bytes = tonumber(args[3] or "0") or 0
  local body = nil
  if body_bytes > 0 then
    body = string.rep("b", body_bytes)
  end
  for line in io.lines(file) do
    if line ~= "" then
      local fields = {}
      for field in string.gmatch(line, "[^\t]+") do
        table.insert(fields, field)
      end
      local headers = {}
      for i = 3, #fields do
        local name, value = string.match(fields[i], "^([^:]+): (.*)$")
        headers[name] = value
      end
      local method = fields[1]
      local request_body = nil
      if method == "PUT" then
        request_body = body
      end
      table.insert(requests, wrk.format(method, fields[2], headers, request_body))
    end
  end
  if #requests == 0 then
    error("no requests in " .. file)
  end
  -- Threads start at different offsets so they do not walk the same keys in lockstep.
  -- (Each thread has its own Lua state: the thread count is not known here, a stride is.)
  cursor = (thread_index * 7919) % #requests
end

function request()
  cursor = cursor % #requests + 1
  return requests[cursor]
end

if os.getenv("BENCH_CHECK_RESPONSES") ~= "0" then
  function response(status, headers, body)
    local key = nil
    if status < 200 or status > 299 then
      key = tostring(status)
    elseif expect_bytes > 0 and #(body or "") ~= expect_bytes then
      key = "bad-length"
    end
    if key then
      non2xx = non2xx + 1
      bad_statuses[key] = (bad_statuses[key] or 0) + 1
      if first_bad == "" then
        first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
    end
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests_)
  local total_non2xx = 0
  local statuses = {}
  local first = ""
  for _, thread in ipairs(threads) do
    total_non2xx = total_non2xx + thread:get("non2xx")
    for status, n in pairs(thread:get("bad_statuses")) do
      statuses[status] = (statuses[status] or 0) + n
    end
    if first == "" then
      first = thread:get("first_bad")
    end
  end
  if os.getenv("BENCH_CHECK_RESPONSES") == "0" then
    -- Without the Lua hook, wrk's own count of status >= 400 is all there is.
    total_non2xx = summary.errors.status
    if total_non2xx > 0 then
      statuses[">=400"] = total_non2xx
    end
  end
  local parts = {}
  for status, n in pairs(statuses) do
    table.insert(parts, json_string(status) .. ":" .. n)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"bytes":%d,"durationSec":%.6f,"non2xx":%d,"badStatuses":{%s},' ..
      '"firstBad":%s,"socketErrors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latencyP50Ms":%.3f,"latencyP99Ms":%.3f}\n',
    summary.requests, summary.bytes, summary.duration / 1e6, total_non2xx, table.concat(parts, ","),
    json_string(first), summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
