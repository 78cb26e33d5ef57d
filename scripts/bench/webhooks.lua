-- wrk: posts pre-signed CallRail deliveries read from a file of `signature<TAB>body`
-- lines (args[1]); each of the run's threads (args[2] of them) starts at its own line
-- and takes every n-th one, so no two requests of a run share an idempotency key until
-- the file is used up. Each thread counts the outcomes Otto answered; `done` prints
-- them as one line, `outcomes processed=P duplicate_ignored=D other=O`, which
-- scripts/bench/run.py checks against what the scenario means (a "unique" run that
-- saw a duplicate is not the workload it names, and fails).
--
-- wrk loads this file into every thread's own Lua state: `setup` runs in the main
-- state and hands each thread its number through a global (`thread_index`); a
-- file-level `local` of that name would shadow it in the thread and every thread would
-- start at line 0.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
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
  next_line = thread_index
  processed, duplicate_ignored, other = 0, 0, 0
end

function request()
  local line = lines[(next_line % #lines) + 1]
  next_line = next_line + stride
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Signature"] = line[1],
  }, line[2])
end

function response(status, headers, body)
  if status == 200 and body:find('"status":"processed"', 1, true) then
    processed = processed + 1
  elseif status == 200 and body:find('"status":"duplicate_ignored"', 1, true) then
    duplicate_ignored = duplicate_ignored + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = { processed = 0, duplicate_ignored = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  io.write(string.format("outcomes processed=%d duplicate_ignored=%d other=%d\n",
    totals.processed, totals.duplicate_ignored, totals.other))
end
