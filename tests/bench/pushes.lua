-- wrk's requests for the ack-path benchmark: each thread cycles through its own share of the
-- pushes in the file named by the first script argument (one "path<TAB>body" per line; the
-- second argument is wrk's thread count), so no push is sent by two threads.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  pushes = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % tonumber(args[2]) == id then
      local path, body = line:match("^([^\t]*)\t(.*)$")
      table.insert(pushes, wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body))
    end
    n = n + 1
  end
  next_push = 0
end

function request()
  next_push = next_push % #pushes + 1
  return pushes[next_push]
end
