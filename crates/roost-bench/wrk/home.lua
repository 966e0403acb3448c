-- wrk script: home timelines (limit 20) of the benchmark's accounts, round robin.
-- ROOST_BENCH_TOKENS names the bench-tokens.txt that `roost-bench http --data-dir D` leaves in D.
local tokens = {}
for line in io.lines(os.getenv("ROOST_BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  local t = tokens[(i % #tokens) + 1]
  return wrk.format("GET", "/api/v1/timelines/home?limit=20", { ["Authorization"] = "Bearer " .. t })
end
