/* tools/bench/floor/aead_none.c: the plain floor: no cipher at all. */
#include "aead.h"

struct floor_aead {
    int unused;
};

static floor_aead none;

const char *floor_aead_name(void) { return "none"; }
size_t floor_aead_tag(void) { return 0; }
floor_aead *floor_aead_new(const uint8_t key[32]) {
    (void)key;
    return &none;
}
int floor_aead_seal(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    uint8_t tag[FLOOR_TAG]) {
    (void)a, (void)counter, (void)buf, (void)len, (void)tag;
    return 0;
}
int floor_aead_open(floor_aead *a, uint64_t counter, uint8_t *buf, size_t len,
                    const uint8_t tag[FLOOR_TAG]) {
    (void)a, (void)counter, (void)buf, (void)len, (void)tag;
    return 0;
}
