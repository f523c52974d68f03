// libFuzzer target: the file sub-protocol's payload codec and name rules (lib/files/wire.h,
// name.h; docs/PROTOCOL.md §23). Input: byte 0 selects the frame kind (0x30 + byte % 10), the
// rest is its payload. A payload that decodes must re-encode to exactly the bytes it came
// from (OFFER: up to the end of its name); a name that passes check_name must be one safe
// path component; the printable and temporary forms of any name keep their promises.
// Seeds: fuzz/corpus/fuzz_file_ctrl/ (one valid payload per kind).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "files/name.h"
#include "files/wire.h"

namespace {

void check_name_rules(const std::string &name) {
    std::string shown = tff::printable_name(name);
    for (char c : shown)
        if (c < 0x20 || c > 0x7e) std::abort();
    uint8_t key[16];
    std::memset(key, 0x42, sizeof key);
    if (tff::temp_name(name, key).size() > 8 + 32 + 1 + 200) std::abort();
    if (tff::check_name(name) == 0) {
        if (name.empty() || name.size() > 255 || name == "." || name == "..") std::abort();
        for (unsigned char c : name)
            if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') std::abort();
        if (name.compare(0, 8, ".tfpart-") == 0) std::abort();
    }
    // Whatever the input, a name derived from it as a path passes.
    if (tff::check_name(tff::name_from_path(name)) != 0) std::abort();
}

void same(const std::vector<uint8_t> &out, const uint8_t *p, size_t len) {
    if (out.size() != len || (len && std::memcmp(out.data(), p, len) != 0)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t kind = uint8_t(0x30 + data[0] % 10);
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    std::vector<uint8_t> out;
    switch (kind) {
    case tfw::KIND_FILE_OFFER: {
        tff::offer o;
        if (tff::offer_decode(p, len, &o) != 0) break;
        if (o.name.empty() || o.name.size() > tff::NAME_MAX_LEN) std::abort();
        tff::offer_encode(o, &out);
        same(out, p, tff::OFFER_FIXED + o.name.size());
        check_name_rules(o.name);
        break;
    }
    case tfw::KIND_FILE_ACCEPT: {
        tff::accept a;
        if (tff::accept_decode(p, len, &a) != 0) break;
        tff::accept_encode(a, &out);
        same(out, p, len);
        break;
    }
    case tfw::KIND_FILE_DECLINE:
    case tfw::KIND_FILE_CANCEL: {
        tff::reason r;
        if (tff::reason_decode(p, len, &r) != 0) break;
        if (r.code > 0x7FFFFFFF || r.text.size() > 125) std::abort();
        // The text may hold a NUL; the encoder takes C strings, so compare up to it.
        std::string text = r.text.c_str();
        tff::reason_encode(r.code, text.c_str(), &out);
        if (out.size() != 4 + text.size() || std::memcmp(out.data() + 4, text.data(), text.size()))
            std::abort();
        break;
    }
    case tfw::KIND_FILE_END: {
        tff::end e;
        if (tff::end_decode(p, len, &e) != 0) break;
        tff::end_encode(e, &out);
        same(out, p, len);
        break;
    }
    case tfw::KIND_FILE_CREDIT: {
        uint32_t c = 0;
        if (tff::credit_decode(p, len, &c) != 0) break;
        if (c == 0) std::abort();
        tff::credit_encode(c, &out);
        same(out, p, len);
        break;
    }
    default:
        // PAUSE, RESUME, DONE and CHUNK carry nothing to parse; use the bytes as a name.
        check_name_rules(std::string(reinterpret_cast<const char *>(p), len));
        break;
    }
    return 0;
}
