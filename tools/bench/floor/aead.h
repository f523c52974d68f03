/* tools/bench/floor/aead.h: the one cipher call of the encrypted floor: AES-256-GCM sealing
 * or opening a message in place, with a 96-bit nonce made of a message counter. One
 * implementation per crypto library (aead_mbedtls.c, aead_openssl.c), and aead_none.c for
 * the plain floor, so that floor.c is the same program for all three. */
#ifndef TRUFLUX_BENCH_FLOOR_AEAD_H
#define TRUFLUX_BENCH_FLOOR_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define FLOOR_TAG 16

typedef struct floor_aead floor_aead;

/* The library's name ("none" for the plain floor) and the tag length it appends (0 or 16). */
const char *floor_aead_name(void);
size_t floor_aead_tag(void);
/* A cipher context with a 32-byte key; NULL on failure. */
floor_aead *floor_aead_new(const uint8_t key[32]);
/* Encrypts buf[0..len) in place and writes the tag. 0 on success. */
int floor_aead_seal(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    uint8_t tag[FLOOR_TAG]);
/* Decrypts buf[0..len) in place if the tag verifies. 0 on success. */
int floor_aead_open(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    const uint8_t tag[FLOOR_TAG]);

#endif
