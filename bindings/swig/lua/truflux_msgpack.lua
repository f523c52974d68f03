-- truflux_msgpack (truflux.msgpack): a small MessagePack encoder/decoder for
-- TRUFLUX_TYPE_MSGPACK payloads: nil, booleans, integers, floats, strings, and tables as
-- arrays or maps. Ext types are refused. Lua has one string type for text and bytes: a
-- string that is valid UTF-8 is encoded as a MessagePack str, any other as bin; both decode
-- to Lua strings.
local M = {}

local pack, unpack, type, mtype = string.pack, string.unpack, type, math.type

-- A table is an array when its keys are exactly 1..n; the empty table is an empty map
-- (tables are maps first in Lua). M.array(t) marks a table as an array whatever its keys.
local array_mt = {}
function M.array(t) return setmetatable(t or {}, array_mt) end

local function is_array(t)
    if getmetatable(t) == array_mt then return true, #t end
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    if n == 0 then return false, 0 end
    for i = 1, n do
        if t[i] == nil then return false, n end
    end
    return true, n
end

local encode

local function head(buf, n, fix, small, t16, t32, fixmax)
    if fix and n <= fixmax then
        buf[#buf + 1] = string.char(fix + n)
    elseif small and n < 0x100 then
        buf[#buf + 1] = pack(">BB", small, n)
    elseif n < 0x10000 then
        buf[#buf + 1] = pack(">BI2", t16, n)
    elseif n < 0x100000000 then
        buf[#buf + 1] = pack(">BI4", t32, n)
    else
        error("msgpack: object too large", 3)
    end
end

local function encode_int(buf, v)
    if v >= 0 then
        if v < 0x80 then buf[#buf + 1] = pack("B", v)
        elseif v < 0x100 then buf[#buf + 1] = pack(">BB", 0xcc, v)
        elseif v < 0x10000 then buf[#buf + 1] = pack(">BI2", 0xcd, v)
        elseif v < 0x100000000 then buf[#buf + 1] = pack(">BI4", 0xce, v)
        else buf[#buf + 1] = pack(">BI8", 0xcf, v) end
    else
        if v >= -32 then buf[#buf + 1] = pack("b", v)
        elseif v >= -0x80 then buf[#buf + 1] = pack(">Bb", 0xd0, v)
        elseif v >= -0x8000 then buf[#buf + 1] = pack(">Bi2", 0xd1, v)
        elseif v >= -0x80000000 then buf[#buf + 1] = pack(">Bi4", 0xd2, v)
        else buf[#buf + 1] = pack(">Bi8", 0xd3, v) end
    end
end

encode = function(buf, v, depth)
    if depth > 64 then error("msgpack: nesting deeper than 64", 0) end
    local t = type(v)
    if v == nil then
        buf[#buf + 1] = "\xc0"
    elseif t == "boolean" then
        buf[#buf + 1] = v and "\xc3" or "\xc2"
    elseif t == "number" then
        if mtype(v) == "integer" then encode_int(buf, v)
        else buf[#buf + 1] = pack(">Bd", 0xcb, v) end
    elseif t == "string" then
        if utf8.len(v) then head(buf, #v, 0xa0, 0xd9, 0xda, 0xdb, 31)
        else head(buf, #v, nil, 0xc4, 0xc5, 0xc6, 0) end
        buf[#buf + 1] = v
    elseif t == "table" then
        local arr, n = is_array(v)
        if arr then
            head(buf, n, 0x90, nil, 0xdc, 0xdd, 15)
            for i = 1, n do encode(buf, v[i], depth + 1) end
        else
            head(buf, n, 0x80, nil, 0xde, 0xdf, 15)
            for k, x in pairs(v) do
                encode(buf, k, depth + 1)
                encode(buf, x, depth + 1)
            end
        end
    else
        error("msgpack: cannot encode a " .. t, 0)
    end
end

--- The MessagePack encoding of a Lua value (a string).
function M.encode(v)
    local buf = {}
    encode(buf, v, 0)
    return table.concat(buf)
end

local decode

local function take(s, pos, n)
    if pos + n - 1 > #s then error("msgpack: truncated", 0) end
    return s:sub(pos, pos + n - 1), pos + n
end

local function seq(s, pos, n, map, depth)
    local t = map and {} or M.array({})
    for i = 1, n do
        local k, v
        if map then
            k, pos = decode(s, pos, depth + 1)
            if k == nil then error("msgpack: nil map key", 0) end
        else
            k = i
        end
        v, pos = decode(s, pos, depth + 1)
        t[k] = v
    end
    return t, pos
end

local fixed = {
    [0xcc] = ">I1", [0xcd] = ">I2", [0xce] = ">I4", [0xcf] = ">I8",
    [0xd0] = ">i1", [0xd1] = ">i2", [0xd2] = ">i4", [0xd3] = ">i8",
    [0xca] = ">f", [0xcb] = ">d",
}
local sized = { -- tag: length format, kind
    [0xd9] = { ">I1", "str" }, [0xda] = { ">I2", "str" }, [0xdb] = { ">I4", "str" },
    [0xc4] = { ">I1", "str" }, [0xc5] = { ">I2", "str" }, [0xc6] = { ">I4", "str" },
    [0xdc] = { ">I2", "arr" }, [0xdd] = { ">I4", "arr" },
    [0xde] = { ">I2", "map" }, [0xdf] = { ">I4", "map" },
}

decode = function(s, pos, depth)
    if depth > 64 then error("msgpack: nesting deeper than 64", 0) end
    if pos > #s then error("msgpack: truncated", 0) end
    local b = s:byte(pos)
    pos = pos + 1
    if b < 0x80 then return b, pos end
    if b >= 0xe0 then return b - 0x100, pos end
    if b >= 0xa0 and b <= 0xbf then return take(s, pos, b - 0xa0) end
    if b >= 0x90 and b <= 0x9f then return seq(s, pos, b - 0x90, false, depth) end
    if b >= 0x80 and b <= 0x8f then return seq(s, pos, b - 0x80, true, depth) end
    if b == 0xc0 then return nil, pos end
    if b == 0xc2 then return false, pos end
    if b == 0xc3 then return true, pos end
    local f = fixed[b]
    if f then
        if pos + pack(f, 0):len() - 1 > #s then error("msgpack: truncated", 0) end
        return unpack(f, s, pos)
    end
    local z = sized[b]
    if z then
        if pos + pack(z[1], 0):len() - 1 > #s then error("msgpack: truncated", 0) end
        local n
        n, pos = unpack(z[1], s, pos)
        if z[2] == "str" then return take(s, pos, n) end
        return seq(s, pos, n, z[2] == "map", depth)
    end
    error(string.format("msgpack: unsupported type 0x%02x", b), 0)
end

--- The Lua value a MessagePack string holds (exactly one value, nothing after it).
function M.decode(s)
    local v, pos = decode(s, 1, 0)
    if pos ~= #s + 1 then error("msgpack: trailing bytes", 0) end
    return v
end

return M
