-- wrk's script for tests/browser/load.test.js: the desk's JSON API under a
-- mix of reads and changes.
--
-- Each of wrk's threads runs its own Lua state for its connections. When a
-- connection is free, request() sends the next step of a ticket this
-- thread made, if one is ready; otherwise a read of one of the tickets
-- made before the load (GET /api/tickets/:id, ids 1..LOAD_READ_IDS) or a
-- new ticket (POST /api/tickets, its description naming its key), in turn. A ticket's steps follow
-- create -> assign -> resolve, each sent only once the answer to the one
-- before it has come, with the version that answer gave (If-Match) and an
-- Idempotency-Key of its own: a ticket belongs to the thread that made it,
-- so no change can meet a conflict. wrk does not say which connection or
-- request an answer is for; the answer says itself: every one carries its
-- ticket (id, status, version), a read one of the tickets made before.
--
-- Every answer that is not 2xx is an error, and so is an answer that does
-- not fit (a ticket that was not asked about, a status that is not the
-- step's, an ETag that is not the ticket's version, a replay). done() writes, to LOAD_OUT, what the test checks:
--   summary REQUESTS READS CONNECT READ WRITE STATUS TIMEOUT
--   error THREAD DETAIL          (each thread's first errors)
--   count THREAD ERRORS          (each thread's error count)
--   ack STEP ID VERSION KEY      (every acknowledged change; STEP is
--                                 create, assign or resolve)
-- Environment: LOAD_COOKIE (the session), LOAD_CSRF (its token),
-- LOAD_READ_IDS (how many tickets to read), LOAD_OUT (the file).

local threads = {}

function setup(thread)
    thread:set("thread_no", #threads + 1)
    table.insert(threads, thread)
end

local cookie, csrf, read_ids
local ready = {}     -- steps ready to send: {action, id, version}
local waiting = {}   -- ticket id -> step sent, not answered yet
local sent = 0
local turn = 0
-- Globals, which done() reads from each thread (thread:get).
acks = {}            -- "STEP ID VERSION KEY" per acknowledged change
errors = {}          -- the first few errors, said
error_count = 0
reads = 0

function init(args)
    cookie = os.getenv("LOAD_COOKIE")
    csrf = os.getenv("LOAD_CSRF")
    read_ids = tonumber(os.getenv("LOAD_READ_IDS"))
    math.randomseed(thread_no)
end

local function fail(detail)
    error_count = error_count + 1
    if #errors < 5 then
        table.insert(errors, (detail:gsub("%s+", " ")))
    end
end

local function key()
    sent = sent + 1
    return "load-" .. thread_no .. "-" .. sent
end

-- A change under the Idempotency-Key k; a create's description names its
-- key, which its answer shows.
local function post(path, body, k, id, step, version)
    local headers = {
        ["Cookie"] = "arbor_session=" .. cookie,
        ["X-CSRF-Token"] = csrf,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = k,
    }
    if version then
        headers["If-Match"] = '"' .. version .. '"'
    end
    if id then
        waiting[id] = {step = step, key = k}
    end
    return wrk.format("POST", path, headers, body)
end

function request()
    local step = table.remove(ready, 1)
    if step then
        return post("/api/tickets/" .. step.id .. "/" .. step.action, "{}", key(), step.id,
            step.action, step.version)
    end
    turn = turn + 1
    if turn % 2 == 0 then
        local id = math.random(read_ids)
        return wrk.format("GET", "/api/tickets/" .. id, {["Cookie"] = "arbor_session=" .. cookie})
    end
    local k = key()
    return post("/api/tickets", '{"description":"Load ' .. k .. '","customer":"Load"}', k)
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        fail(status .. " " .. body:sub(1, 300))
        return
    end
    local id = tonumber(body:match('^{"ticket":{"id":(%d+),'))
    local state = body:match('"status":"(%a+)"')
    local version = tonumber(body:match('"version":(%d+)'))
    if not id or not state or not version then
        fail(status .. " without a ticket: " .. body:sub(1, 300))
        return
    end
    if headers["ETag"] ~= '"' .. version .. '"' then
        fail(status .. " for ticket " .. id .. " at version " .. version .. " with ETag "
            .. tostring(headers["ETag"]))
        return
    end
    if id <= read_ids then
        if status ~= 200 or state ~= "open" then
            fail("a read of ticket " .. id .. " answered " .. status .. " " .. state)
            return
        end
        reads = reads + 1
        return
    end
    if headers["Idempotent-Replayed"] then
        fail(status .. " for ticket " .. id .. " replayed, under a key sent once")
        return
    end
    local w = waiting[id]
    local step
    if w then
        step = w.step
        waiting[id] = nil
    elseif status == 201 and body:match('"description":"Load (load%-' .. thread_no .. '%-%d+)"') then
        step = "create"
        w = {key = body:match('"description":"Load (load%-%d+%-%d+)"')}
    else
        fail(status .. " for ticket " .. id .. " (" .. state .. "), which was not asked about")
        return
    end
    local want = {create = "open", assign = "assigned", resolve = "resolved"}
    if state ~= want[step] or (step ~= "create" and status ~= 200) then
        fail(step .. " of ticket " .. id .. " answered " .. status .. " " .. state)
        return
    end
    table.insert(acks, step .. " " .. id .. " " .. version .. " " .. w.key)
    if step == "create" then
        table.insert(ready, {action = "assign", id = id, version = version})
    elseif step == "assign" then
        table.insert(ready, {action = "resolve", id = id, version = version})
    end
end

function done(summary, latency, requests)
    local out = assert(io.open(os.getenv("LOAD_OUT"), "w"))
    local e = summary.errors
    local total_reads = 0
    for _, t in ipairs(threads) do
        total_reads = total_reads + (t:get("reads") or 0)
    end
    out:write(string.format("summary %d %d %d %d %d %d %d\n", summary.requests, total_reads,
        e.connect, e.read, e.write, e.status, e.timeout))
    for i, t in ipairs(threads) do
        out:write(string.format("count %d %d\n", i, t:get("error_count") or 0))
        for _, line in ipairs(t:get("errors") or {}) do
            out:write("error " .. i .. " " .. line .. "\n")
        end
        for _, line in ipairs(t:get("acks") or {}) do
            out:write("ack " .. line .. "\n")
        end
    end
    out:close()
end
