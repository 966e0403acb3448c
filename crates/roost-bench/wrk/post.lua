-- wrk script: create-status by the benchmark's accounts, spread over all of them.
-- ROOST_BENCH_TOKENS names the bench-tokens.txt that `roost-bench http --data-dir D` leaves in D.
local tokens = {}
for line in io.lines(os.getenv("ROOST_BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  local t = tokens[((i * 7919) % #tokens) + 1]
  return wrk.format("POST", "/api/v1/statuses",
    { ["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/x-www-form-urlencoded" },
    "status=a+benchmark+post+from+wrk+number+" .. i)
end
