/* tools/bench/floor/aead_openssl.c: AES-256-GCM with OpenSSL 3 libcrypto (EVP, which uses
 * AES-NI and PCLMUL): the floor for truflux's encrypted transport on the OpenSSL backend. */
#include <stdlib.h>

#include <openssl/evp.h>

#include "aead.h"

struct floor_aead {
    EVP_CIPHER_CTX *enc, *dec;
};

static void nonce_of(uint64_t counter, uint8_t iv[12]) {
    for (int i = 0; i < 4; i++) iv[i] = 0;
    for (int i = 0; i < 8; i++) iv[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

const char *floor_aead_name(void) { return "openssl"; }
size_t floor_aead_tag(void) { return FLOOR_TAG; }

floor_aead *floor_aead_new(const uint8_t key[32]) {
    floor_aead *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->enc = EVP_CIPHER_CTX_new();
    a->dec = EVP_CIPHER_CTX_new();
    /* The key schedule is set up once; each message only sets its nonce. */
    if (!a->enc || !a->dec ||
        EVP_EncryptInit_ex(a->enc, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
        EVP_DecryptInit_ex(a->dec, EVP_aes_256_gcm(), NULL, key, NULL) != 1) {
        EVP_CIPHER_CTX_free(a->enc);
        EVP_CIPHER_CTX_free(a->dec);
        free(a);
        return NULL;
    }
    return a;
}

int floor_aead_seal(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    uint8_t tag[FLOOR_TAG]) {
    uint8_t iv[12];
    int n = 0;
    nonce_of(counter, iv);
    if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, iv) != 1) return -1;
    /* EVP takes int lengths: feed large messages in pieces. */
    for (size_t off = 0; off < len;) {
        int step = len - off > (1u << 30) ? (1 << 30) : (int)(len - off);
        if (EVP_EncryptUpdate(a->enc, buf + off, &n, buf + off, step) != 1) return -1;
        off += (size_t)step;
    }
    if (EVP_EncryptFinal_ex(a->enc, buf + len, &n) != 1) return -1;
    return EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, FLOOR_TAG, tag) == 1 ? 0 : -1;
}

int floor_aead_open(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    const uint8_t tag[FLOOR_TAG]) {
    uint8_t iv[12];
    int n = 0;
    nonce_of(counter, iv);
    if (EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, iv) != 1) return -1;
    for (size_t off = 0; off < len;) {
        int step = len - off > (1u << 30) ? (1 << 30) : (int)(len - off);
        if (EVP_DecryptUpdate(a->dec, buf + off, &n, buf + off, step) != 1) return -1;
        off += (size_t)step;
    }
    if (EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, FLOOR_TAG, (void *)tag) != 1)
        return -1;
    return EVP_DecryptFinal_ex(a->dec, buf + len, &n) == 1 ? 0 : -1;
}
