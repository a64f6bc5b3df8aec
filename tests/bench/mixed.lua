-- mixed.lua: a wrk script rotating through four Tessera requests on the demo data
-- (`tessera make-demo DIR`), counting answers per kind and status.
--
--   GET  /scan?recursive=true                              (scan)
--   GET  /classify?path=slides/pyramid.ome.tif             (classify, cached after the first)
--   POST /overlap {"a": "labels/truth.tif", "b": "labels/predicted.tif"}   (overlap, 512x512)
--   POST /topk    {"values": [3, 1, null, 1, 2, 8, 5], "k": 3}             (topk)
--
-- Every kind expects 200. A 503 carrying Retry-After is counted as "shed" (the server
-- refused work it could not queue: reported, never hidden); any other status, and a 503
-- without Retry-After, is "unexpected". wrk's response() does not say which connection an
-- answer belongs to, so each request carries X-Request-Id = its kind, which Tessera echoes.
--
-- Usage: wrk -t2 -c64 -d60s --latency -s tests/bench/mixed.lua http://127.0.0.1:PORT
--        wrk ... -s mixed.lua http://127.0.0.1:PORT -- overlap   (only some kinds, comma list)
-- done() prints, after wrk's own summary, lines a script can parse:
--   mixed-status KIND STATUS COUNT        one per (kind, status) seen
--   mixed-total  ok=N shed=N unexpected=N unknown=N
--   mixed-latency p50_ms=X p99_ms=X max_ms=X rps=X errors=connect,read,write,timeout

local kinds = {
   { name = "scan", method = "GET", path = "/scan?recursive=true" },
   { name = "classify", method = "GET", path = "/classify?path=slides/pyramid.ome.tif" },
   { name = "overlap", method = "POST", path = "/overlap",
     body = '{"a": "labels/truth.tif", "b": "labels/predicted.tif"}' },
   { name = "topk", method = "POST", path = "/topk",
     body = '{"values": [3, 1, null, 1, 2, 8, 5], "k": 3}' },
}
local expected = 200

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local wanted = nil
   if args[1] ~= nil then
      wanted = {}
      for k in string.gmatch(args[1], "[^,]+") do wanted[k] = true end
   end
   requests = {}
   for _, k in ipairs(kinds) do
      if wanted == nil or wanted[k.name] then
         local headers = { ["X-Request-Id"] = k.name }
         if k.body ~= nil then headers["Content-Type"] = "application/json" end
         table.insert(requests, wrk.format(k.method, k.path, headers, k.body))
      end
   end
   assert(#requests > 0, "no request kind selected")
   counts = {} -- counts["kind status"] = n; status "503-shed" for a 503 with Retry-After
   next_request = 0
end

function request()
   next_request = next_request % #requests + 1
   return requests[next_request]
end

function response(status, headers, body)
   local kind = headers["X-Request-Id"] or "unknown"
   local key
   if status == 503 and headers["Retry-After"] ~= nil then
      key = kind .. " 503-shed"
   else
      key = kind .. " " .. status
   end
   counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests_stats)
   local merged = {}
   for _, thread in ipairs(threads) do
      local c = thread:get("counts")
      if c ~= nil then
         for key, n in pairs(c) do merged[key] = (merged[key] or 0) + n end
      end
   end
   local keys = {}
   for key in pairs(merged) do table.insert(keys, key) end
   table.sort(keys)
   local ok, shed, unexpected, unknown = 0, 0, 0, 0
   for _, key in ipairs(keys) do
      local kind, status = key:match("^(%S+) (%S+)$")
      local n = merged[key]
      io.write(string.format("mixed-status %s %s %d\n", kind, status, n))
      if kind == "unknown" then
         unknown = unknown + n
      end
      if status == tostring(expected) and kind ~= "unknown" then
         ok = ok + n
      elseif status == "503-shed" then
         shed = shed + n
      else
         unexpected = unexpected + n
      end
   end
   io.write(string.format("mixed-total ok=%d shed=%d unexpected=%d unknown=%d\n",
                          ok, shed, unexpected, unknown))
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
               "mixed-latency p50_ms=%.3f p99_ms=%.3f max_ms=%.3f rps=%.1f errors=%d,%d,%d,%d\n",
               latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
               summary.requests / secs, e.connect, e.read, e.write, e.timeout))
end
