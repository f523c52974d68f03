// lib/files: file names on the wire. A name is one path component: the receiver refuses
// anything that could reach outside the directory it writes into, and never "repairs" a
// hostile name; the sender cleans up the names it derives from paths. Pure.
#pragma once
#include <cstdint>
#include <string>

namespace tff {

// Prefix of the receiver's temporary files; offered names never start with it.
constexpr const char *TEMP_PREFIX = ".tfpart-";

// 0 if `name` is acceptable (docs/PROTOCOL.md §23.6): 1-255 octets of UTF-8, no C0 or C1
// control character or DEL (so no NUL), no '/' or '\\', not "." or "..", not starting with
// TEMP_PREFIX. Else TRUFLUX_EFILENAME.
int check_name(const std::string &name);

// A name that passes check_name, derived from the last component of a path: separators and
// control characters become '_', invalid UTF-8 octets too; cut to 255 octets on a character
// boundary; "" / "." / ".." become "_".
std::string name_from_path(const std::string &path);

// The name with anything not printable ASCII (and '\\' and '"') escaped as \xHH: safe to show
// in a log or an event even when the name was refused.
std::string printable_name(const std::string &raw);

// The receiver's temporary name for `name`: TEMP_PREFIX, 32 hex digits of the resume key
// (random for a transfer that cannot resume), '-', then at most 200 octets of the name.
std::string temp_name(const std::string &name, const uint8_t key[16]);

}  // namespace tff
