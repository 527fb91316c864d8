-- The current-truth list of 20 for wrk, in tenant "list" (preloaded by scripts/http-load).
--   AURRA_KEY=aurra_... wrk -t2 -c64 -d10s --latency -s benches/wrk/list.lua http://127.0.0.1:8787
function init(args)
  auth = "Bearer " .. os.getenv("AURRA_KEY")
end

function request()
  return wrk.format("GET", "/agent/memories?tenant_id=list&limit=20", { ["Authorization"] = auth })
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("list answered " .. status .. ": " .. body .. "\n")
    wrk.thread:stop()
  end
end
