-- wrk script (wrk -s): each request a path of its own from a list, in turn, with fixed headers (wrk -H).
--
-- bench/analyses.py writes the list (one path with its query per line) so that no single answer is
-- asked for again and again: thread n starts at line n × (lines ÷ threads) and walks the list from there,
-- wrapping round. Every answer is checked: its status must be 200 and, when a needle is given, its body
-- must contain it (a scorecard's `"parts_missing":[]`: a partial answer is no answer). done() prints the
-- latency percentiles (p95 is not in wrk's own report) and the counts, one `arrs-rotate:` line each.
--
-- Arguments (after wrk's --): <file of paths> <threads> [needle].

local threads = {}
local numbered = 0

function setup(thread)
   thread:set("id", numbered)
   numbered = numbered + 1
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(args[1], "rb"))
   paths = {}
   for line in file:lines() do
      if line ~= "" then
         table.insert(paths, line)
      end
   end
   file:close()
   assert(#paths > 0, "no paths in " .. args[1])
   needle = args[3]
   -- Each thread runs in a Lua state of its own that knows only its id: the thread count is an argument.
   position = (id * math.floor(#paths / math.max(1, tonumber(args[2])))) % #paths
   sent, ok, wrong_status, incomplete = 0, 0, 0, 0
end

function request()
   position = position % #paths + 1
   sent = sent + 1
   return wrk.format("GET", paths[position])
end

function response(status, headers, body)
   if status ~= 200 then
      wrong_status = wrong_status + 1
   elseif needle ~= nil and (body == nil or not string.find(body, needle, 1, true)) then
      incomplete = incomplete + 1
   else
      ok = ok + 1
   end
end

function done(summary, latency, requests)
   local totals = {sent = 0, ok = 0, wrong_status = 0, incomplete = 0}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + thread:get(name)
      end
   end
   io.write(string.format(
      "arrs-rotate: ok %d wrong_status %d incomplete %d sent %d\n",
      totals.ok, totals.wrong_status, totals.incomplete, totals.sent
   ))
   for _, p in ipairs({50, 90, 95, 99, 99.9}) do
      io.write(string.format("arrs-rotate: p%s %d\n", tostring(p), latency:percentile(p)))
   end
   io.write(string.format("arrs-rotate: max %d mean %.1f\n", latency.max, latency.mean))
end
