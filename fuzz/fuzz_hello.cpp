// libFuzzer target: the hello payload decoder. A payload that decodes must satisfy the
// documented invariants and re-encode to exactly the same bytes (the layout has no slack).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "wire/hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfw::hello h;
    if (tfw::hello_decode(data, size, &h) != 0) return 0;
    if (size < tfw::HELLO_FIXED_SIZE || std::memcmp(data, "TFLX", 4) != 0) std::abort();
    if (h.ids.size() > 4096) std::abort();
    for (size_t i = 0; i < h.ids.size(); i++) {
        if (h.ids[i] & 0x80000000u) std::abort();
        if (i && h.ids[i - 1] >= h.ids[i]) std::abort();
    }
    std::vector<uint8_t> out;
    tfw::hello_encode(h, &out);
    if (out.size() != size || std::memcmp(out.data(), data, size) != 0) std::abort();
    tfw::hello again;
    if (tfw::hello_decode(out.data(), out.size(), &again) != 0) std::abort();
    return 0;
}
