-- truflux: the Lua 5.4 binding (on the SWIG module trufluxc).
--
-- Each server and client runs its network loop on a thread of the library; their events go
-- through one event queue (truflux/queue.h) that Lua drains on its own thread:
-- truflux.poll(timeout_ms) runs the callbacks of the events waiting, truflux.run(...) polls
-- until a condition holds or a deadline passes. Callbacks thus always run in Lua's thread,
-- inside poll/run. Failures raise truflux.Error objects ({code, name, message, detail}).
local C = require("trufluxc")
local msgpack = require("truflux_msgpack")

local M = { msgpack = msgpack, version = C.tf_version() }

local OK = 0
local TYPES = { empty = C.TRUFLUX_TYPE_EMPTY, binary = C.TRUFLUX_TYPE_BINARY,
                text = C.TRUFLUX_TYPE_TEXT, msgpack = C.TRUFLUX_TYPE_MSGPACK }
local TYPE_NAMES = {}
for k, v in pairs(TYPES) do TYPE_NAMES[v] = k end

---------------------------------------------------------------------------- errors

local Error = {}
Error.__index = Error
Error.__tostring = function(e) return e.message end
M.Error = Error

local function new_error(code, detail)
    local name = C.tf_errname(code)
    local text = name .. ": " .. C.tf_strerror(code)
    if detail and detail ~= "" then text = text .. " (" .. detail .. ")" end
    return setmetatable({ code = code, name = name, detail = detail or "", message = text },
                        Error)
end
M.new_error = new_error

-- Raises for a negative return code; passes anything else through.
local function check(rc, detail)
    if type(rc) == "number" and rc < 0 then error(new_error(rc, detail), 2) end
    return rc
end

local function last_error()
    return new_error(C.tf_last_error(), C.tf_last_error_detail())
end

-- Error codes by name, e.g. truflux.errors.ECONNREFUSED.
M.errors = {}
for k, v in pairs(C) do
    local name = type(k) == "string" and k:match("^TRUFLUX_(E[A-Z0-9]+)$")
    if name and type(v) == "number" and v < 0 then M.errors[name] = v end
end

---------------------------------------------------------------------------- protocol

local Protocol = {}
Protocol.__index = Protocol
Protocol.__gc = function(p) p:free() end

local function type_mask(types)
    if types == nil then return 0 end
    if type(types) == "string" then types = { types } end
    local mask = 0
    for _, t in ipairs(types) do
        local n = TYPES[t] or error("truflux: unknown payload type '" .. tostring(t) .. "'", 3)
        mask = mask | (1 << n)
    end
    return mask
end

--- A protocol: truflux.protocol{ "echo", "chat", data = { types = {"binary"}, max_size = 64 } }
-- Plain entries are messages of any type; keyed entries give a schema.
function M.protocol(def)
    local handle = C.truflux_protocol_new()
    if not handle then error(last_error(), 2) end
    local p = setmetatable({ handle = handle }, Protocol)
    for i, name in ipairs(def or {}) do p:add(name) end
    for name, schema in pairs(def or {}) do
        if type(name) == "string" then p:add(name, schema.types, schema.max_size) end
    end
    return p
end

--- Defines a message; returns its id.
function Protocol:add(name, types, max_size)
    return check(C.tf_protocol_add(self.handle, name, type_mask(types), max_size or 0))
end

function Protocol:id(name) return check(C.tf_protocol_id(self.handle, name)) end

function Protocol:free()
    if self.handle then
        C.truflux_protocol_free(self.handle)
        self.handle = nil
    end
end

---------------------------------------------------------------------------- options

local SECURE = { off = C.TRUFLUX_SECURE_OFF, optional = C.TRUFLUX_SECURE_OPTIONAL,
                 required = C.TRUFLUX_SECURE_REQUIRED }

-- Options from a table keyed by the TRUFLUX_OPT_* names in lower case (max_message_size,
-- secure, peer_key_file, ...): numbers and booleans set integer options, strings set text
-- options (secure also takes "off", "optional", "required").
local function make_options(t)
    local opts = C.truflux_options_new()
    if not opts then error(last_error(), 3) end
    for k, v in pairs(t or {}) do
        local key = C["TRUFLUX_OPT_" .. tostring(k):upper()]
        if not key then
            C.truflux_options_free(opts)
            error("truflux: unknown option '" .. tostring(k) .. "'", 3)
        end
        if k == "secure" and type(v) == "string" then v = SECURE[v] or -1 end
        local rc
        if type(v) == "boolean" then rc = C.tf_options_set_int(opts, key, v and 1 or 0)
        elseif math.type(v) == "integer" then rc = C.tf_options_set_int(opts, key, v)
        else rc = C.tf_options_set_str(opts, key, tostring(v)) end
        if rc < 0 then
            C.truflux_options_free(opts)
            error(new_error(rc, "option " .. k), 3)
        end
    end
    return opts
end

---------------------------------------------------------------------------- connections

local Connection = {}
Connection.__index = Connection

local function payload(value, kind)
    if kind == nil then
        if value == nil then kind = "empty"
        elseif type(value) == "string" then kind = "text"
        else kind = "msgpack" end
    end
    local t = TYPES[kind] or error("truflux: unknown payload type '" .. tostring(kind) .. "'", 3)
    if t == C.TRUFLUX_TYPE_MSGPACK then return t, msgpack.encode(value) end
    if t == C.TRUFLUX_TYPE_EMPTY then return t, "" end
    return t, value
end

--- Sends a message by name. The type follows the value unless given ("text", "binary",
-- "msgpack", "empty"): a string is text, nil is empty, anything else MessagePack.
function Connection:send(name, value, kind)
    if not self.handle then error(new_error(C.TRUFLUX_ECLOSED), 2) end
    local t, data = payload(value, kind)
    return check(C.tf_send_name(self.handle, name, t, data))
end

--- Sends payload bytes as they are, with this type name (e.g. a MessagePack payload
-- received, passed on without decoding).
function Connection:send_raw(name, kind, data)
    if not self.handle then error(new_error(C.TRUFLUX_ECLOSED), 2) end
    local t = TYPES[kind] or error("truflux: unknown payload type '" .. tostring(kind) .. "'", 2)
    return check(C.tf_send_name(self.handle, name, t, data or ""))
end

--- Closes gracefully (code: the reason sent to the peer, default 0); on_close follows.
function Connection:close(code)
    if not self.handle then return end
    local rc = C.tf_conn_close(self.handle, C.TRUFLUX_CLOSE_GRACEFUL, code or 0)
    if rc ~= C.TRUFLUX_ECLOSED then check(rc) end
end

function Connection:is_open() return self.handle ~= nil and C.tf_conn_is_open(self.handle) ~= 0 end

function Connection:remote()
    return C.tfs_conn_remote_host(self.handle), C.tfs_conn_remote_port(self.handle)
end

local PATTERNS = { [0] = "NN", "NK", "XX", "IK" }
local CIPHERS = { [0] = "ChaChaPoly", "AESGCM" }

local function secure_table(info)
    return { established = info.established ~= 0, pattern = PATTERNS[info.pattern],
             cipher = CIPHERS[info.cipher], peer_key = C.tfs_secure_peer_key(info) }
end

--- What the secure handshake established, or nil when the connection has no secure layer.
function Connection:secure_info()
    local info = C.tf_secure_info_t()
    if C.tf_conn_secure_info(self.handle, info) ~= OK then return nil end
    return secure_table(info)
end

--- Offers the file at path to the peer; returns the transfer id its file events carry.
function Connection:send_file(path, name)
    return check(C.tfs_file_send_path(self.handle, path, name))
end

---------------------------------------------------------------------------- event loop

-- One queue for every server and client; sources[tag] is the object events belong to.
local queue
local sources = {}
local next_tag = 1
local conns = {} -- tfs_conn_key -> Connection, between OPEN and CLOSE

local function get_queue()
    if not queue then
        queue = C.truflux_queue_new(0)
        if not queue then error(last_error(), 3) end
    end
    return queue
end

local function register(obj)
    local tag = next_tag
    next_tag = next_tag + 1
    sources[tag] = obj
    return tag
end

-- The Connection an event is about: the one opened earlier, or a wrapper valid only during
-- the callback (a connection that never opened).
local function event_conn(ev, src)
    local h = C.tf_event_conn(ev)
    if not h then return nil end
    local key = C.tfs_conn_key(h)
    local c = conns[key]
    if c then return c end
    if src.conn and src.conn.key == key then return src.conn end
    return setmetatable({ handle = h, key = key, transient = true }, Connection)
end

local File = {}
File.__index = File

local function event_file(ev, conn)
    local h = C.tf_event_file(ev)
    return setmetatable({ handle = h, conn = conn, id = C.tf_file_id(h),
                          name = C.tf_file_name(h), size = C.tf_file_size(h),
                          incoming = C.tf_file_is_incoming(h) ~= 0 }, File)
end

-- The transfer's handle is borrowed from its event: usable during the callback only.
local function file_handle(f)
    return f.handle or error(new_error(C.TRUFLUX_ECLOSED, "file event already handled"), 3)
end

--- For an offer, during on_file_offer: accept into directory dir / exactly path, or decline.
function File:accept_dir(dir)
    check(C.tf_file_accept_dir(file_handle(self), dir))
    self.decided = true
end
function File:accept_path(path)
    check(C.tf_file_accept_path(file_handle(self), path))
    self.decided = true
end
function File:decline()
    check(C.tf_file_decline(file_handle(self)))
    self.decided = true
end
--- Ends the transfer (the peer is told; on_file_end follows with ECANCELED).
function File:cancel() check(C.tf_file_cancel(file_handle(self))) end

local K = {
    OPEN = C.TRUFLUX_EVENT_OPEN, MESSAGE = C.TRUFLUX_EVENT_MESSAGE,
    CLOSE = C.TRUFLUX_EVENT_CLOSE, ERROR = C.TRUFLUX_EVENT_ERROR,
    DRAIN = C.TRUFLUX_EVENT_DRAIN, SECURE = C.TRUFLUX_EVENT_SECURE,
    SECURE_FAIL = C.TRUFLUX_EVENT_SECURE_FAIL, FILE_OFFER = C.TRUFLUX_EVENT_FILE_OFFER,
    FILE_ACCEPT = C.TRUFLUX_EVENT_FILE_ACCEPT, FILE_DECLINE = C.TRUFLUX_EVENT_FILE_DECLINE,
    FILE_PROGRESS = C.TRUFLUX_EVENT_FILE_PROGRESS, FILE_CANCEL = C.TRUFLUX_EVENT_FILE_CANCEL,
    FILE_ERROR = C.TRUFLUX_EVENT_FILE_ERROR, FILE_END = C.TRUFLUX_EVENT_FILE_END,
}

local function call(src, name, ...)
    local f = src[name]
    if f then f(...) end
end

local function dispatch(ev)
    local src = sources[C.tfs_event_tag(ev)]
    if not src then return end -- WAKE, or a source already freed
    local kind = C.tf_event_kind(ev)
    local conn = event_conn(ev, src)
    if kind == K.OPEN then
        if conn.transient then
            conn.transient = nil
            C.tf_conn_retain(conn.handle)
            conn.retained = true
            conn.owner = src
            conns[conn.key] = conn
        end
        call(src, "on_open", conn)
    elseif kind == K.MESSAGE then
        local t = C.tfs_event_msg_type(ev)
        local msg = { id = C.tfs_event_msg_id(ev), name = C.tfs_event_msg_name(ev),
                      type = TYPE_NAMES[t], data = C.tfs_event_msg_data(ev) }
        if t == C.TRUFLUX_TYPE_MSGPACK then msg.value = msgpack.decode(msg.data)
        elseif t ~= C.TRUFLUX_TYPE_EMPTY then msg.value = msg.data end
        call(src, "on_message", conn, msg)
    elseif kind == K.CLOSE then
        local code, remote = C.tf_event_code(ev), C.tf_event_remote(ev) ~= 0
        if src.on_closed then src:on_closed(conn) end
        -- The connection stays usable during on_close, and is released even if it raises.
        local ok, err = pcall(call, src, "on_close", conn, code, remote)
        if conn then
            conns[conn.key] = nil
            if conn.retained then
                C.tf_conn_release(conn.handle)
                conn.retained = nil
                conn.handle = nil
            end
        end
        if not ok then error(err, 0) end
    elseif kind == K.ERROR or kind == K.SECURE_FAIL then
        local e = new_error(C.tf_event_code(ev), C.tf_event_detail(ev))
        call(src, kind == K.ERROR and "on_error" or "on_secure_fail", conn, e)
    elseif kind == K.DRAIN then
        call(src, "on_drain", conn)
    elseif kind == K.SECURE then
        local info = C.tf_secure_info_t()
        C.tf_event_secure_info(ev, info)
        call(src, "on_secure", conn, secure_table(info))
    elseif kind >= K.FILE_OFFER and kind <= K.FILE_END then
        local file = event_file(ev, conn)
        if kind == K.FILE_OFFER then
            local ok, err = pcall(call, src, "on_file_offer", file)
            -- An offer nobody decided is declined: the queue would otherwise hold it forever.
            if not file.decided then C.tf_file_decline(file.handle) end
            if not ok then error(err, 0) end
        elseif kind == K.FILE_ACCEPT then call(src, "on_file_accept", file)
        elseif kind == K.FILE_DECLINE then call(src, "on_file_decline", file)
        elseif kind == K.FILE_PROGRESS then
            call(src, "on_file_progress", file, C.tfs_event_progress_done(ev),
                 C.tfs_event_progress_total(ev))
        elseif kind == K.FILE_CANCEL then call(src, "on_file_cancel", file)
        elseif kind == K.FILE_ERROR then
            call(src, "on_file_error", file, new_error(C.tf_event_code(ev), C.tf_event_detail(ev)))
        elseif kind == K.FILE_END then call(src, "on_file_end", file, C.tf_event_code(ev)) end
        file.handle = nil
    end
    if conn and conn.transient then conn.handle = nil end
end

--- Runs the callbacks of every event waiting, after waiting up to timeout_ms (default 0;
-- negative: no limit) for the first. Returns the number of events handled.
function M.poll(timeout_ms)
    local q = get_queue()
    if check(C.tf_queue_wait(q, timeout_ms or 0)) == 0 then return 0 end
    local n = 0
    while true do
        local ev = C.tf_queue_pop(q)
        if not ev then break end
        n = n + 1
        local ok, err = pcall(dispatch, ev)
        C.truflux_event_free(ev)
        if not ok then error(err, 0) end
    end
    return n
end

--- Polls until done() returns true (checked before each wait) or timeout_ms passes.
-- Returns true when done() held, false on timeout.
function M.run(done, timeout_ms)
    local deadline = C.tfs_now_ms() + (timeout_ms or 10000)
    while true do
        if done and done() then return true end
        local left = deadline - C.tfs_now_ms()
        if left <= 0 then return false end
        M.poll(left < 50 and left or 50)
    end
end

--- Milliseconds of a monotonic clock (for deadlines).
M.now_ms = C.tfs_now_ms

---------------------------------------------------------------------------- endpoints

-- What servers and clients share: a loop on a library thread, events into the queue.
local function new_endpoint(kind, spec)
    assert(type(spec) == "table", "truflux." .. kind .. "{...} takes a table")
    local proto = spec.protocol
    if getmetatable(proto) ~= Protocol then
        proto = M.protocol(proto or {})
    end
    local loop = C.truflux_loop_new()
    if not loop then error(last_error(), 3) end
    local opts = make_options(spec.options)
    local handle
    if kind == "server" then handle = C.truflux_server_new(loop, proto.handle, opts)
    else handle = C.truflux_client_new(loop, proto.handle, opts) end
    local err = not handle and last_error()
    C.truflux_options_free(opts)
    if not handle then
        C.truflux_loop_free(loop)
        error(err, 3)
    end
    local obj = {}
    for k, v in pairs(spec) do obj[k] = v end
    obj.loop, obj.handle, obj.protocol = loop, handle, proto
    obj.tag = register(obj)
    local q = get_queue()
    if kind == "server" then
        check(C.tfs_server_use_queue(handle, q, obj.tag))
        check(C.tfs_server_use_queue_files(handle, q, obj.tag))
    else
        check(C.tfs_client_use_queue(handle, q, obj.tag))
        check(C.tfs_client_use_queue_files(handle, q, obj.tag))
    end
    return obj
end

-- Frees the native objects: the loop stops first, so nothing reports into the queue after.
local function free_endpoint(obj, free_fn)
    if not obj.handle then return end
    local added = obj.added_loops or {}
    C.tf_loop_stop(obj.loop)
    -- Each loop of Server:add_loop holds a part of the server: stopped before the server is
    -- freed, freed after it.
    for _, l in ipairs(added) do C.tf_loop_stop(l) end
    free_fn(obj.handle)
    C.truflux_loop_free(obj.loop)
    for _, l in ipairs(added) do C.truflux_loop_free(l) end
    obj.handle, obj.loop, obj.added_loops = nil, nil, nil
    sources[obj.tag] = nil
    for key, c in pairs(conns) do
        if c.owner == obj then
            C.tf_conn_release(c.handle)
            c.handle = nil
            conns[key] = nil
        end
    end
end

local Client = {}
Client.__index = Client

--- A client: truflux.client{ protocol = ..., options = {...}, on_open = fn(conn),
-- on_message = fn(conn, msg), on_close = fn(conn, reason, remote), on_error = fn(conn, err),
-- on_secure = fn(conn, info), on_file_end = fn(file, status), ... }
function M.client(spec)
    local c = setmetatable(new_endpoint("client", spec), Client)
    check(C.tf_loop_start(c.loop))
    return c
end

--- Starts connecting to url ("tcp://HOST:PORT"); on_open or on_error/on_close follow.
function Client:connect(url)
    check(C.tf_client_connect(self.handle, url))
    local h = C.tf_client_conn(self.handle)
    self.conn = setmetatable({ handle = h, key = C.tfs_conn_key(h) }, Connection)
    self.closed = false
    return self.conn
end

function Client:on_closed(conn) if conn == self.conn then self.closed = true end end

--- Sends on the client's connection (queued until it opens); see Connection:send.
function Client:send(name, value, kind)
    if not self.conn then error(new_error(C.TRUFLUX_ECLOSED), 2) end
    return self.conn:send(name, value, kind)
end

function Client:send_file(path, name) return self.conn:send_file(path, name) end

--- Closes gracefully, runs the callbacks until the close finished (at most timeout_ms,
-- default 5000), then frees the client. Idempotent.
function Client:close(timeout_ms)
    if not self.handle then return end
    if self.conn and not self.closed then
        local rc = C.tf_client_close(self.handle, C.TRUFLUX_CLOSE_GRACEFUL)
        if rc == OK then M.run(function() return self.closed end, timeout_ms or 5000) end
    end
    if self.conn then self.conn.handle = nil end
    free_endpoint(self, C.truflux_client_free)
end
Client.__close = Client.close
Client.__gc = function(c) free_endpoint(c, C.truflux_client_free) end

local Server = {}
Server.__index = Server

--- A server: truflux.server{ protocol = ..., options = {...}, on_open = ..., ... }; then
-- server:listen(url, ...) once, with every address.
function M.server(spec)
    return setmetatable(new_endpoint("server", spec), Server)
end

--- Listens on every url given ("tcp://HOST:PORT", port 0 picks one) and starts serving.
function Server:listen(...)
    if self.started then error(new_error(C.TRUFLUX_EBUSY, "listen once, with every address"), 2) end
    for _, url in ipairs({ ... }) do
        check(C.tf_server_listen(self.handle, url), url)
    end
    check(C.tf_loop_start(self.loop))
    self.started = true
    return self
end

--- Spreads the server over one more network loop, run by a thread of the library
-- (tf_server_add_loop): every address then gets one listening socket per loop
-- (SO_REUSEPORT), and the kernel shares new connections out among them. Before
-- server:listen only (EINVAL after). Callbacks still run in Lua's thread, inside poll/run.
function Server:add_loop()
    if not self.handle then error(new_error(C.TRUFLUX_ECLOSED, "server closed"), 2) end
    local loop = C.truflux_loop_new()
    if not loop then error(last_error(), 2) end
    -- Running before it joins the server, so that a failure leaves nothing half-added.
    local rc = C.tf_loop_start(loop)
    if rc == OK then rc = C.tf_server_add_loop(self.handle, loop) end
    if rc ~= OK then
        C.tf_loop_stop(loop)
        C.truflux_loop_free(loop)
        error(new_error(rc, self.started and "add_loop: only before listen"
                                or C.tf_last_error_detail()), 2)
    end
    self.added_loops = self.added_loops or {}
    self.added_loops[#self.added_loops + 1] = loop
    return self
end

--- The loops the server runs on: its own and the added ones.
function Server:loops() return 1 + #(self.added_loops or {}) end

function Server:port() return C.tf_server_port(self.handle) end
function Server:count() return C.tf_server_count(self.handle) end

local SERVER_STATS = { "accepted", "opened", "active", "refused_limit", "message_size",
                       "handshake_timeouts", "idle_timeouts", "protocol_errors",
                       "secure_errors", "transport_errors", "peer_lost", "msgs_in", "msgs_out",
                       "bytes_in", "bytes_out" }

--- The server's counters (truflux/server.h's tf_server_stats_t) as a table of integers,
-- summed over every loop: accepted, opened, active (open now), msgs_in, bytes_out, ...
function Server:stats()
    if not self.handle then error(new_error(C.TRUFLUX_ECLOSED, "server closed"), 2) end
    local st = C.tf_server_stats_t()
    check(C.tf_server_stats(self.handle, st))
    local out = {}
    for _, k in ipairs(SERVER_STATS) do out[k] = st[k] end
    return out
end

function Server:on_closed(conn) if conn == nil then self.closed = true end end

--- Sends to every open connection but `except` (a Connection, optional).
function Server:broadcast(name, value, kind, except)
    local id = self.protocol:id(name)
    local t, data = payload(value, kind)
    return check(C.tfs_server_broadcast(self.handle, id, t, data, except and except.handle))
end

--- Closes every connection gracefully, runs the callbacks until done (at most timeout_ms),
-- then frees the server. Idempotent.
function Server:close(timeout_ms)
    if not self.handle then return end
    if self.started and not self.closed then
        if C.tf_server_close(self.handle, C.TRUFLUX_CLOSE_GRACEFUL) == OK then
            M.run(function() return self.closed end, timeout_ms or 5000)
        end
    end
    free_endpoint(self, C.truflux_server_free)
end
Server.__close = Server.close
Server.__gc = function(s) free_endpoint(s, C.truflux_server_free) end

return M
