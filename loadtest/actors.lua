-- wrk: POST a small JSON body to PATH (env), where "{id}" in PATH becomes one
-- of IDS ids (0 .. IDS-1), taken in turn (each thread starts at its own
-- offset). Every scenario of actors.sh uses this script, with or without
-- "{id}", so the load generator does the same work on both sides.
local path = os.getenv("PATH_TEMPLATE") or "/"
local ids = tonumber(os.getenv("IDS") or "1")
local body = '{"n":1}'
local headers = { ["Content-Type"] = "application/json" }
local counter = 0
local tid = 0

function setup(thread)
  thread:set("tid", tid)
  tid = tid + 1
end

function init(args)
  counter = (tonumber(wrk.thread:get("tid")) or 0) * 7919
end

function request()
  counter = counter + 1
  local p = path:gsub("{id}", tostring(counter % ids))
  return wrk.format("POST", p, headers, body)
end
