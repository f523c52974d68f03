// lib/files: the codec of the file sub-protocol's frames (kinds 0x30-0x39, docs/PROTOCOL.md
// §23). Pure: no I/O, no state; every decoder checks the exact layout and returns 0 or
// TRUFLUX_EPROTO, so it is fuzzable alone (fuzz/fuzz_file_ctrl.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "wire/frame.h"

namespace tff {

constexpr uint32_t CAP_FILES = 0x00000002;          // hello capability bit 1
constexpr uint64_t SIZE_UNKNOWN = ~uint64_t(0);     // OFFER size of a stream
constexpr size_t KEY_LEN = 16;                      // OFFER resume key
constexpr size_t NAME_MAX_LEN = 255;                // OFFER name, octets
constexpr size_t OFFER_FIXED = 28;                  // OFFER octets before the name
constexpr size_t DIGEST_LEN = 32;                   // END: SHA-256

struct offer {
    uint64_t size = SIZE_UNKNOWN;
    uint8_t key[KEY_LEN] = {0};  // all zero: not resumable
    uint16_t flags = 0;          // none defined; ignored
    std::string name;            // raw octets as sent (checked by name.h, not here)
};

struct accept {
    uint64_t offset = 0;  // first content octet the sender sends (resume)
    uint32_t credit = 0;  // initial credit, octets
};

// DECLINE and CANCEL: a code magnitude and a short text.
struct reason {
    uint32_t code = 0;
    std::string text;
};

struct end {
    uint64_t total = 0;
    uint8_t digest[DIGEST_LEN] = {0};
};

bool key_is_zero(const uint8_t key[KEY_LEN]);

// Encoders append the payload (no frame header) to out.
void offer_encode(const offer &o, std::vector<uint8_t> *out);
void accept_encode(const accept &a, std::vector<uint8_t> *out);
void reason_encode(uint32_t code, const char *text, std::vector<uint8_t> *out);
void end_encode(const end &e, std::vector<uint8_t> *out);
void credit_encode(uint32_t credit, std::vector<uint8_t> *out);

// Decoders: 0, or TRUFLUX_EPROTO when the payload does not have the documented layout
// (octets after the name of an OFFER are allowed and ignored: reserved for later revisions).
int offer_decode(const uint8_t *p, size_t len, offer *out);
int accept_decode(const uint8_t *p, size_t len, accept *out);
int reason_decode(const uint8_t *p, size_t len, reason *out);
int end_decode(const uint8_t *p, size_t len, end *out);
int credit_decode(const uint8_t *p, size_t len, uint32_t *out);

}  // namespace tff
