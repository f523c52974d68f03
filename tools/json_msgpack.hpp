// tools/json_msgpack.hpp: one JSON text to one MessagePack value, for `connect --type
// msgpack`. Integers become the smallest MessagePack integer, other numbers float 64.
#pragma once

#include <string>
#include <string_view>

namespace tfcli {

// Encodes the JSON text `json` (one value, surrounding whitespace allowed) into `out`.
// Returns false with `err` set on malformed input.
bool json_to_msgpack(std::string_view json, std::string &out, std::string &err);

}  // namespace tfcli
