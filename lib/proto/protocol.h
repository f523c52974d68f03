// lib/proto: protocol definitions (message names -> ids, schemas, states, handlers) and the
// definition's fingerprint. No I/O. The C API in lib/api/protocol_api.cpp forwards here.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <truflux/protocol.h>

namespace tfp {

// FNV-1a 32-bit over the name's bytes, masked to 31 bits (docs/PROTOCOL.md, "Message ids").
uint32_t name_id(const char *name, size_t len);

struct message {
    uint32_t id;
    std::string name;
    unsigned types;      // TRUFLUX_TYPES_* mask, never 0 (0 is stored as TRUFLUX_TYPES_ANY)
    uint32_t max_size;   // 0: the connection's maximum
    uint32_t states;     // bit i: valid in state i; 0: valid in every state
    tf_message_cb cb = nullptr;
    void *user = nullptr;
};

}  // namespace tfp

// The public handle. Built on one thread, frozen on first use by a server or client, then
// read-only (so any thread may read it without locks).
struct tf_protocol {
    std::atomic<int> refs{1};
    std::atomic<bool> frozen{false};
    std::vector<tfp::message> msgs;                   // sorted by id
    std::unordered_map<std::string, size_t> by_name;  // name -> index in msgs
    std::unordered_map<uint32_t, size_t> by_id;       // id -> index in msgs
    std::vector<std::string> states;
    uint8_t fp[32] = {0};                              // valid once frozen

    int64_t add(const char *name, unsigned types, uint32_t max_size);
    int add_state(const char *name);
    int allow(const char *message, const char *state);
    int on(const char *message, tf_message_cb cb, void *user);

    const tfp::message *find(uint32_t id) const;
    const tfp::message *find(const char *name) const;
    int state_index(const char *name) const;

    // Freezes the definition (idempotent, call from the building thread) and computes fp.
    void freeze();
    // Computes the fingerprint of the current definition into out.
    void fingerprint(uint8_t out[32]) const;
    // Ascending ids, for the hello.
    std::vector<uint32_t> ids() const;

    // Schema check of an outgoing or incoming payload for message m: type allowed, size
    // within m.max_size (if set) and conn_max, text valid UTF-8, msgpack well-formed, empty
    // has length 0. Returns 0, TRUFLUX_EINVAL (type out of range), TRUFLUX_ESCHEMA,
    // TRUFLUX_EMSGSIZE or TRUFLUX_EUTF8.
    static int check(const tfp::message &m, int type, const void *data, size_t len,
                     uint32_t conn_max);

    void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
    void release();
};
