-- wrk script (wrk -s): every request with a signed principal header set of its own, each set sent once.
--
-- Services refuse a second use of a signature's nonce (401), so a wrk run straight to a service (or through
-- nginx) cannot repeat one set of headers. bench/presigned.py signs enough sets just before the run and
-- writes thread n's slice to <prefix><n>.txt (n = 0, 1, … as setup() numbers the threads): one request's
-- header fields per line, separated by tabs. Slices are disjoint, so no set is sent twice.
--
-- Arguments (after wrk's --): <prefix> <sets per thread>.
-- A thread that runs out of sets stops, and done() reports it and exits with status 3: the benchmark
-- fails the run rather than reuse a set or report a shortened run.

local threads = {}
local numbered = 0

function setup(thread)
   thread:set("id", numbered)
   numbered = numbered + 1
   table.insert(threads, thread)
end

function init(args)
   prefix = args[1]
   planned = tonumber(args[2])
   pool = assert(io.open(prefix .. id .. ".txt", "rb"))
   head = "GET " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\n"
   used = 0
   exhausted = 0
end

function request()
   local fields = pool:read("*l")
   if fields == nil then
      exhausted = exhausted + 1
      wrk.thread:stop()
      return head .. "\r\n" -- unsigned: refused (401) if it is sent at all
   end
   used = used + 1
   return head .. (fields:gsub("\t", "\r\n")) .. "\r\n\r\n"
end

function done(summary, latency, requests)
   local failed = false
   for _, thread in ipairs(threads) do
      local exhausted = thread:get("exhausted")
      io.write(string.format(
         "arrs-presigned: thread %d used %d of %d sets, %d request(s) found none left\n",
         thread:get("id"), thread:get("used"), thread:get("planned"), exhausted
      ))
      if exhausted > 0 then
         failed = true
      end
   end
   if failed then
      io.write("arrs-presigned: EXHAUSTED: a thread ran out of signed header sets; the pool is sized in bench/presigned.py\n")
      io.flush()
      os.exit(3)
   end
end
