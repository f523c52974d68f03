/* tools/bench/floor/aead_ni.cpp: AES-256-GCM on AES-NI and PCLMULQDQ with the library's own
 * code (lib/crypto/aesgcm_ni.cpp, compiled into this program), which the mbedTLS build uses
 * for AES-GCM where the CPU has them: the floor for truflux's encrypted transport there. */
#include <cstdlib>
#include <cstring>
#include <new>

#include "crypto/aesgcm_ni.h"

extern "C" {
#include "aead.h"
}

namespace tfc {
// The library's wipe lives in its crypto backend, which this program does not link.
void wipe(void *p, size_t len) {
    volatile unsigned char *q = static_cast<volatile unsigned char *>(p);
    while (len--) *q++ = 0;
}
}  // namespace tfc

struct floor_aead {
    tfc::aesgcm_ni_key key;
};

static void nonce_of(uint64_t counter, uint8_t iv[12]) {
    for (int i = 0; i < 4; i++) iv[i] = 0;
    for (int i = 0; i < 8; i++) iv[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

extern "C" const char *floor_aead_name(void) { return "aes-ni"; }
extern "C" size_t floor_aead_tag(void) { return FLOOR_TAG; }

extern "C" floor_aead *floor_aead_new(const uint8_t key[32]) {
    if (!tfc::aesgcm_ni_available()) return nullptr;
    floor_aead *a = new (std::nothrow) floor_aead;
    if (a) tfc::aesgcm_ni_init(&a->key, key);
    return a;
}

extern "C" int floor_aead_seal(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                               uint8_t tag[FLOOR_TAG]) {
    uint8_t iv[12];
    nonce_of(counter, iv);
    tfc::aesgcm_ni_seal(&a->key, iv, nullptr, 0, buf, len, buf, tag);
    return 0;
}

extern "C" int floor_aead_open(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                               const uint8_t tag[FLOOR_TAG]) {
    uint8_t iv[12];
    nonce_of(counter, iv);
    return tfc::aesgcm_ni_open(&a->key, iv, nullptr, 0, buf, len, tag, buf) ? 0 : -1;
}
