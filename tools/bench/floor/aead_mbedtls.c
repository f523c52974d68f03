/* tools/bench/floor/aead_mbedtls.c: AES-256-GCM with mbedTLS 2.28, the library's default
 * crypto backend: the floor for truflux's encrypted transport on that backend. */
#include <stdlib.h>

#include <mbedtls/gcm.h>

#include "aead.h"

struct floor_aead {
    mbedtls_gcm_context gcm;
};

static void nonce_of(uint64_t counter, uint8_t iv[12]) {
    for (int i = 0; i < 4; i++) iv[i] = 0;
    for (int i = 0; i < 8; i++) iv[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

const char *floor_aead_name(void) { return "mbedtls"; }
size_t floor_aead_tag(void) { return FLOOR_TAG; }

floor_aead *floor_aead_new(const uint8_t key[32]) {
    floor_aead *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    mbedtls_gcm_init(&a->gcm);
    if (mbedtls_gcm_setkey(&a->gcm, MBEDTLS_CIPHER_ID_AES, key, 256) != 0) {
        mbedtls_gcm_free(&a->gcm);
        free(a);
        return NULL;
    }
    return a;
}

int floor_aead_seal(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    uint8_t tag[FLOOR_TAG]) {
    uint8_t iv[12];
    nonce_of(counter, iv);
    return mbedtls_gcm_crypt_and_tag(&a->gcm, MBEDTLS_GCM_ENCRYPT, len, iv, sizeof iv, NULL, 0,
                                     buf, buf, FLOOR_TAG, tag);
}

int floor_aead_open(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    const uint8_t tag[FLOOR_TAG]) {
    uint8_t iv[12];
    nonce_of(counter, iv);
    return mbedtls_gcm_auth_decrypt(&a->gcm, len, iv, sizeof iv, NULL, 0, tag, FLOOR_TAG, buf,
                                    buf);
}
