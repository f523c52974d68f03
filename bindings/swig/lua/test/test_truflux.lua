-- The Lua binding's tests (tests/test_swig_lua.sh runs them): MessagePack, errors, each
-- payload type through an echo server, an encrypted session, a file transfer, a Lua server
-- (also on two loops, with its counters).
-- usage: test_truflux.lua URL SERVER_PUB OTHER_PUB ACCEPT_DIR WORK_DIR
--   URL: a `truflux serve --secure optional --key K --accept-files ACCEPT_DIR` server.
local truflux = require("truflux")
local mp = truflux.msgpack

local url, server_pub, other_pub, accept_dir, work = table.unpack(arg)
local passed, failed = 0, 0
local WAIT = 10000

local function check(ok, what)
    if ok then passed = passed + 1
    else
        failed = failed + 1
        io.stderr:write("FAIL: " .. what .. "\n")
    end
end

local function read_file(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

local function deep_equal(a, b)
    if type(a) ~= type(b) then return false end
    if type(a) ~= "table" then return a == b end
    for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
end

-- A client whose events are recorded for the test to wait on.
local function recording_client(options, protocol)
    local rec = { messages = {}, errors = {} }
    rec.client = truflux.client{
        protocol = protocol or { "echo" }, options = options,
        on_open = function() rec.opened = true end,
        on_message = function(_, m) rec.messages[#rec.messages + 1] = m end,
        on_error = function(_, e) rec.errors[#rec.errors + 1] = e end,
        on_secure_fail = function(_, e) rec.errors[#rec.errors + 1] = e end,
        on_secure = function(_, info) rec.secure = info end,
        on_close = function(_, code) rec.closed = code end,
        on_file_end = function(file, status) rec.file_end = { id = file.id, status = status } end,
    }
    return rec
end

---------------------------------------------------------------- msgpack
do
    local v = { int = 1, neg = -70000, big = math.maxinteger, min = math.mininteger, pi = 3.5,
                t = true, f = false, text = "h\u{e9}llo", list = { 1, "two", { x = 1 } },
                long = string.rep("x", 70000), bin = "\0\1\255" }
    check(deep_equal(v, mp.decode(mp.encode(v))), "msgpack round trip")
    -- Known encodings (the MessagePack spec's).
    check(mp.encode({ a = 1 }) == "\x81\xa1a\x01", "msgpack fixmap bytes")
    check(mp.encode(-129) == "\xd1\xff\x7f", "msgpack int16 bytes")
    check(mp.encode("\255") == "\xc4\x01\xff", "msgpack: non-UTF-8 string as bin")
    check(mp.encode(mp.array({})) == "\x90" and mp.encode({}) == "\x80", "msgpack empty tables")
    for _, bad in ipairs({ "\x92\x01", "\xc1", "\x01\x02", "\xdd\x7f\0\0\0" }) do
        check(not pcall(mp.decode, bad), "msgpack rejects " .. bad:gsub(".", function(c)
            return string.format("%02x", c:byte()) end))
    end
end

---------------------------------------------------------------- errors
do
    check(truflux.errors.ECONNREFUSED == -18 and truflux.errors.EQUEUEFULL == -70, "error codes")
    local p = truflux.protocol({ "echo" })
    local ok, err = pcall(p.add, p, "echo")
    check(not ok and getmetatable(err) == truflux.Error and err.name == "EEXIST",
          "duplicate message: " .. tostring(err))
    local rec = recording_client()
    rec.client:connect("tcp://127.0.0.1:1")
    check(truflux.run(function() return rec.closed end, WAIT), "refused: closes")
    check(rec.errors[1] and rec.errors[1].name == "ECONNREFUSED", "refused: ECONNREFUSED")
    check(rec.closed == truflux.errors.ECONNREFUSED, "refused: close reason")
    rec.client:close()
    local c = truflux.client{ protocol = { "echo" } }
    ok, err = pcall(c.connect, c, "nope://x")
    check(not ok and err.name == "EBADURL", "bad URL: " .. tostring(err))
    c:close()
    ok, err = pcall(truflux.client, { protocol = { "echo" }, options = { secure_ciphers = "ROT13" } })
    check(not ok and err.name == "EINVAL", "bad option: " .. tostring(err))
end

---------------------------------------------------------------- payloads
do
    local rec = recording_client()
    local conn = rec.client:connect(url)
    check(truflux.run(function() return rec.opened end, WAIT), "echo client opens")
    local host, port = conn:remote()
    check(host == "127.0.0.1" and math.type(port) == "integer" and port > 0, "remote address")
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    bytes = table.concat(bytes)
    local value = { n = 42, list = { "a", 2.5, false } }
    conn:send("echo", "h\u{e9}llo \u{2603}")
    conn:send("echo", bytes, "binary")
    conn:send("echo", value)
    conn:send("echo")
    local ok, err = pcall(conn.send, conn, "nosuch", "x")
    check(not ok and err.name == "ENOTFOUND", "unknown message: " .. tostring(err))
    check(truflux.run(function() return #rec.messages == 4 end, WAIT), "four echoes")
    local m = rec.messages
    check(m[1] and m[1].type == "text" and m[1].data == "h\u{e9}llo \u{2603}" and m[1].name == "echo",
          "text echo")
    check(m[2] and m[2].type == "binary" and m[2].data == bytes, "binary echo")
    check(m[3] and m[3].type == "msgpack" and deep_equal(m[3].value, value), "msgpack echo")
    check(m[4] and m[4].type == "empty" and m[4].data == "", "empty echo")
    rec.client:close()
    check(rec.closed == 0, "graceful close reason 0")
end

---------------------------------------------------------------- encrypted session
do
    local rec = recording_client({ peer_key_file = server_pub, secure_patterns = "NK" })
    local conn = rec.client:connect(url)
    check(truflux.run(function() return rec.opened end, WAIT), "secure client opens")
    check(rec.secure and rec.secure.pattern == "NK" and rec.secure.established, "on_secure NK")
    local info = conn:secure_info()
    local pub = read_file(server_pub):gsub("%s+$", "")
    check(info and info.established and info.peer_key == pub, "pinned server key")
    conn:send("echo", "secret")
    check(truflux.run(function() return #rec.messages == 1 end, WAIT)
          and rec.messages[1].data == "secret", "encrypted echo")
    rec.client:close()

    local wrong = recording_client({ peer_key_file = other_pub })
    wrong.client:connect(url)
    check(truflux.run(function() return #wrong.errors > 0 end, WAIT)
          and wrong.errors[1].name == "EPIN", "wrong pin gives EPIN")
    check(not wrong.opened, "wrong pin never opens")
    wrong.client:close()
end

---------------------------------------------------------------- file transfer
do
    local parts = {}
    for i = 1, 20000 do parts[i] = string.pack("<I4", (i * 2654435761) & 0xffffffff) end
    local content = table.concat(parts) -- 80000 bytes
    local path = work .. "/lua-upload.bin"
    local f = assert(io.open(path, "wb"))
    f:write(content)
    f:close()
    local rec = recording_client()
    local conn = rec.client:connect(url)
    check(truflux.run(function() return rec.opened end, WAIT), "file client opens")
    local id = conn:send_file(path)
    check(truflux.run(function() return rec.file_end end, 30000), "file transfer ends")
    check(rec.file_end and rec.file_end.status == 0 and rec.file_end.id == id,
          "file transfer status 0")
    local got_ok, got = pcall(read_file, accept_dir .. "/lua-upload.bin")
    check(got_ok and got == content, "received file has the same bytes")
    rec.client:close()
end

---------------------------------------------------------------- a Lua server
do
    local server_opened, server_closed, received = 0, false, nil
    local server = truflux.server{
        protocol = { "echo", "news" },
        on_open = function() server_opened = server_opened + 1 end,
        on_message = function(conn, msg) conn:send_raw(msg.name, msg.type, msg.data) end,
        on_close = function(conn) if conn == nil then server_closed = true end end,
        on_file_offer = function(file)
            if file.name == "take.txt" then file:accept_path(work .. "/taken.txt") end
        end,
        on_file_end = function(file, status) received = { name = file.name, status = status } end,
    }
    server:listen("tcp://127.0.0.1:0")
    check(server:port() > 0, "server port")
    local rec = recording_client(nil, { "echo", "news" })
    rec.client.protocol:free() -- the client holds its own reference
    rec.client:connect("tcp://127.0.0.1:" .. server:port())
    check(truflux.run(function() return rec.opened and server_opened == 1 end, WAIT),
          "client of the Lua server opens")
    rec.client:send("echo", { 1, 2 })
    check(truflux.run(function() return #rec.messages == 1 end, WAIT)
          and deep_equal(rec.messages[1].value, { 1, 2 }), "Lua server echo")
    check(server:broadcast("news", "all") == 0, "broadcast from another thread queues")
    check(truflux.run(function() return #rec.messages == 2 end, WAIT)
          and rec.messages[2].name == "news" and rec.messages[2].data == "all", "broadcast")
    -- Files the other way: the Lua server accepts one offer and declines another.
    for _, n in ipairs({ "take.txt", "skip.txt" }) do
        local f = assert(io.open(work .. "/" .. n, "wb"))
        f:write("content of " .. n)
        f:close()
    end
    rec.client:send_file(work .. "/take.txt")
    check(truflux.run(function() return received and rec.file_end end, WAIT)
          and received.status == 0 and rec.file_end.status == 0, "Lua server receives a file")
    local ok_read, taken = pcall(read_file, work .. "/taken.txt")
    check(ok_read and taken == "content of take.txt", "accepted file's content")
    received, rec.file_end = nil, nil
    rec.client:send_file(work .. "/skip.txt")
    check(truflux.run(function() return rec.file_end end, WAIT)
          and rec.file_end.status == truflux.errors.EDECLINED, "undecided offer is declined")
    server:close()
    check(server_closed, "server reports its end")
    check(truflux.run(function() return rec.closed end, WAIT)
          and rec.closed == truflux.errors.ESHUTDOWN, "server close reaches the client")
    rec.client:close()
end

---------------------------------------------------------------- a Lua server on two loops
do
    local N = 20
    local server = truflux.server{
        protocol = { "echo" },
        on_message = function(conn, msg) conn:send_raw(msg.name, msg.type, msg.data) end,
    }
    check(server:add_loop() == server and server:loops() == 2, "add_loop: two loops")
    server:listen("tcp://127.0.0.1:0")
    local ok, err = pcall(server.add_loop, server)
    check(not ok and err.name == "EINVAL" and server:loops() == 2,
          "add_loop after listen gives EINVAL: " .. tostring(err))
    local recs = {}
    for i = 1, N do
        local rec = recording_client()
        recs[i] = rec
        rec.client:connect("tcp://127.0.0.1:" .. server:port())
        rec.client:send("echo", "n" .. i)
    end
    local function all_echoed()
        for i, rec in ipairs(recs) do
            if not (rec.messages[1] and rec.messages[1].data == "n" .. i) then return false end
        end
        return true
    end
    check(truflux.run(all_echoed, WAIT), "every client of the two-loop server echoes")
    check(server:count() == N, "count over both loops: " .. server:count())
    local st = server:stats()
    check(st.active == N and st.opened == N and st.accepted == N and st.msgs_in == N
          and st.msgs_out == N and st.bytes_in > 0 and st.protocol_errors == 0
          and math.type(st.active) == "integer",
          string.format("stats over both loops: active %s opened %s msgs_in %s",
                        st.active, st.opened, st.msgs_in))
    for _, rec in ipairs(recs) do rec.client:close() end
    check(truflux.run(function() return server:count() == 0 end, WAIT), "clients gone")
    st = server:stats()
    check(st.active == 0 and st.opened == N, "stats after the clients left")
    server:close()
    ok, err = pcall(server.stats, server)
    check(not ok and err.name == "ECLOSED", "stats after close gives ECLOSED")
end

print(string.format("test_truflux.lua: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and passed > 0 and 0 or 1)
