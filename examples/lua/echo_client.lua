-- examples/lua/echo_client.lua: sends each argument to a truflux echo server (the CLI's
-- `truflux serve` or examples/c/echo_server) as text, a MessagePack value and raw bytes, and
-- prints what comes back. Callbacks run inside truflux.run, on this thread.
--
--   LUA_PATH='bindings/swig/lua/?.lua' LUA_CPATH='build/bindings/swig/lua/?.so' \
--     lua5.4 examples/lua/echo_client.lua tcp://127.0.0.1:7000 hello world
local truflux = require("truflux")

local url = arg[1]
if not url or not arg[2] then
    io.stderr:write("usage: echo_client.lua URL TEXT...\n")
    os.exit(2)
end

local replies = 0
local client <close> = truflux.client{
    protocol = { "echo" },
    on_message = function(conn, msg)
        replies = replies + 1
        if msg.type == "msgpack" then
            print(string.format("value: text=%s length=%d", msg.value.text, msg.value.length))
        elseif msg.type == "binary" then
            print("binary: " .. #msg.data .. " bytes")
        else
            print(msg.type .. ": " .. msg.data)
        end
    end,
    on_error = function(conn, err) io.stderr:write("error: " .. tostring(err) .. "\n") end,
}
client:connect(url)
local expected = 0
for i = 2, #arg do
    client:send("echo", arg[i])
    client:send("echo", { text = arg[i], length = #arg[i] })
    client:send("echo", arg[i], "binary")
    expected = expected + 3
end
if not truflux.run(function() return replies == expected end, 5000) then
    io.stderr:write("timed out: " .. replies .. " of " .. expected .. " replies\n")
    os.exit(1)
end
