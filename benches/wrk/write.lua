-- Durable content-mode writes for wrk: each request a new fact (the run's start second, the
-- thread id and a counter in the text, so that none is a duplicate, not even of an earlier
-- run's), in tenant "writes".
--   AURRA_KEY=aurra_... wrk -t1 -c1 -d10s -s benches/wrk/write.lua http://127.0.0.1:8787
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  n = 0
  run = os.time()
  auth = "Bearer " .. os.getenv("AURRA_KEY")
end

function request()
  n = n + 1
  local body = string.format(
    '{"content": "run %d client %d wrote fact number %d during the wrk benchmark", "tenant_id": "writes"}',
    run, tid, n)
  return wrk.format("POST", "/agent/memories",
    { ["Authorization"] = auth, ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("write answered " .. status .. ": " .. body .. "\n")
    wrk.thread:stop()
  end
end
