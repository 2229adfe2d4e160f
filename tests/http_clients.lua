-- SPDX-License-Identifier: MIT
--
-- wrk against the guide's demo service (tests/http_clients.py --demo): the
-- requests cycle through its routes and every answer's status and body is
-- checked.  Run with -t1 (the counts live in the one thread's state).
-- Prints "checked N answers, M wrong".
local routes = {
  { "/", 200, '{"message":"Hello"}' },
  { "/user/3/profile", 200, '{"user":{"id":3},"posts":{"user_id":3,"posts":[]}}' },
}
local sent = 0
checked, wrong = 0, 0 -- globals: done() reads them through the thread
local worker

function setup(thread)
  worker = thread
end

function request()
  sent = sent + 1
  return wrk.format("GET", routes[(sent - 1) % #routes + 1][1])
end

-- With keep-alive and one request in flight per connection, answers come
-- back on each connection in the order sent; a shared cursor would mix
-- connections up, so the body tells which route it answers.
function response(status, headers, body)
  checked = checked + 1
  local ok = false
  for _, r in ipairs(routes) do
    if body == r[3] then
      ok = status == r[2] and headers["Content-Type"] == "application/json"
        and tonumber(headers["Content-Length"]) == #body
    end
  end
  if not ok then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("checked %d answers, %d wrong\n", worker:get("checked") or 0,
    worker:get("wrong") or 0))
end
