-- wrk script: the Zipf-like workload of bench/zipf.ts (the original; keep the two in step).
-- args: <spec.lua> <host:port>. Prints one JSON object (summary, percentiles, cache counts).
local spec, host, run
local counter = 0
hits, misses = 0, 0 -- globals: done() reads them per thread with thread:get()
local threads = {}
local total_weight = 0
local deep_mul = 1

local function multiplier_for(n)
  for _, p in ipairs({ 7919, 104729, 15485863, 2147483647 }) do
    if n % p ~= 0 then return p end
  end
  return 1
end

local function zipf_rank(n, s, u)
  local x
  if s == 1 then x = math.exp(u * math.log(n + 1)) else x = (((n + 1) ^ (1 - s) - 1) * u + 1) ^ (1 / (1 - s)) end
  return math.min(n, math.max(1, math.floor(x)))
end

local function permute(rank, n, mul) return ((rank - 1) * mul) % n + 1 end
local function user() return permute(zipf_rank(spec.users, spec.s, math.random()), spec.users, spec.userMul) end
local function doc()
  if spec.uniformDocs then return 1 + math.floor(math.random() * spec.documents) end
  return permute(zipf_rank(spec.documents, spec.s, math.random()), spec.documents, spec.docMul)
end

local function get(path) return "GET " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n" end
local function send(method, path, body)
  return method .. " " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. spec.token
    .. "\r\nContent-Type: application/json\r\nContent-Length: "
    .. #body .. "\r\n\r\n" .. body
end

local build = {
  profile = function() return get("/users/" .. user()) end,
  first = function() return get("/users/" .. user() .. "/documents?limit=" .. spec.pageSize) end,
  next = function()
    local n = #spec.deepUsers
    local i = permute(zipf_rank(n, spec.s, math.random()), n, deep_mul)
    local cursor = spec.cursors[1]
    if #spec.cursors > 1 then cursor = spec.cursors[i] end
    return get("/users/" .. spec.deepUsers[i] .. "/documents?limit=" .. spec.pageSize .. "&cursor=" .. cursor)
  end,
  doc = function() return get("/documents/" .. doc()) end,
  ustats = function() return get("/users/" .. user() .. "/stats") end,
  gstats = function() return get("/stats") end,
  fixed = function() return get("/") end,
  patchUser = function() local id = user(); return send("PATCH", "/users/" .. id, '{"name":"User ' .. id .. '"}') end,
  postDoc = function()
    return send("POST", "/documents", '{"userId":' .. user() .. ',"title":"Bench document","body":"bench","status":"draft"}')
  end,
  patchDoc = function() local id = doc(); return send("PATCH", "/documents/" .. id, '{"title":"Document ' .. id .. '"}') end,
  postUser = function()
    counter = counter + 1
    return send("POST", "/users",
      '{"email":"bench-' .. spec.nonce .. '-' .. run .. '-' .. tid .. '-' .. counter .. '@example.com","name":"Bench user"}')
  end,
}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  spec = dofile(args[1])
  host = args[2]
  -- Seeded from /dev/urandom: two runs started within the same second must not replay the same
  -- ids, nor (run id) create the same e-mail addresses.
  local f = io.open("/dev/urandom", "rb")
  local b1, b2, b3, b4 = f:read(4):byte(1, 4)
  f:close()
  local seed = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
  math.randomseed(seed + tid)
  run = string.format("%08x", seed)
  for _, m in ipairs(spec.mix) do total_weight = total_weight + m[2] end
  if #spec.deepUsers > 0 then deep_mul = multiplier_for(#spec.deepUsers) end
end

function request()
  if spec.kind ~= "mixed" then return build[spec.kind]() end
  local u = math.random() * total_weight
  for _, m in ipairs(spec.mix) do
    u = u - m[2]
    if u < 0 then return build[m[1]]() end
  end
  return build.profile()
end

-- Cache outcome per response: the service's Server-Timing "cache" entry, or the raw server's x-cache.
function response(status, headers, body)
  local h = headers["server-timing"] or headers["Server-Timing"] or headers["x-cache"] or headers["X-Cache"]
  if h then
    if string.find(h, "hit", 1, true) then hits = hits + 1 elseif string.find(h, "miss", 1, true) then misses = misses + 1 end
  end
end

function done(summary, latency, requests)
  local h, m = 0, 0
  for _, t in ipairs(threads) do h = h + (t:get("hits") or 0); m = m + (t:get("misses") or 0) end
  local e = summary.errors
  local pct = {}
  for _, p in ipairs({ 1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9, 99.99, 100 }) do
    local v = latency:percentile(p)
    if p == 100 then v = latency.max end -- percentile(100) answers 0
    table.insert(pct, string.format("[%g,%d]", p, v))
  end
  io.write(string.format(
    '\nBENCH_JSON {"durationUs":%d,"requests":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"pct":[%s]},"hits":%d,"misses":%d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev, table.concat(pct, ","), h, m))
end
