-- wrk: posts pre-signed CallRail deliveries read from a file of `signature<TAB>body`
-- lines (args[1]); each of the run's threads (args[2] of them) takes every n-th line,
-- so no two requests of a run share an idempotency key until the file is used up.

local thread_number = 0

function setup(thread)
  thread:set("thread_number", thread_number)
  thread_number = thread_number + 1
end

local lines = {}
local next_line
local stride

function init(args)
  for line in io.lines(args[1]) do
    local signature, body = line:match("^([^\t]*)\t(.*)$")
    lines[#lines + 1] = { signature, body }
  end
  stride = tonumber(args[2])
  next_line = thread_number
end

function request()
  local line = lines[(next_line % #lines) + 1]
  next_line = next_line + stride
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Signature"] = line[1],
  }, line[2])
end
