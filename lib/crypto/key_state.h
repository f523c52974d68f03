// lib/crypto: the bookkeeping both backends share for a key's working state (backend.h,
// aead::trim): when a key gets a state of its own, the count of such states, key ids.
#pragma once
#include <cstdint>

namespace tfc {
namespace key_state {

// A key's first messages in a direction use its thread's shared state; this many, then it
// gets its own.
constexpr uint8_t OWN_AFTER = 4;

// Counts one message in `uses` (saturating; reset by trim()). True when the key should have
// a state of its own now.
inline bool count_use(uint8_t &uses) {
    if (uses < 255) uses++;
    return uses > OWN_AFTER;
}

// A number no other key of the process has had (never 0): what a thread's shared state
// records as the key it holds.
uint64_t new_id();
// A state of a key's own was made (+1) or freed (-1): aead::contexts_held().
void count_state(long delta);

}  // namespace key_state
}  // namespace tfc
