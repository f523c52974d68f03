// lib/core: memory a thread lends, one call at a time, to whatever it runs (a loop thread's
// connections): a buffer per use (slot), made on first use and freed when the thread exits.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tfcore {

enum scratch_slot { SCRATCH_TLS_IN, SCRATCH_TLS_OUT, SCRATCH_TLS_BATCH, SCRATCH_RECORD,
                    SCRATCH_SLOTS };

// The calling thread's buffer for `slot`, at least `size` bytes (a slot is always asked for
// the same size). NULL when it cannot be made, or once the thread's destructors have run
// (an object torn down at exit after them may still write): callers then do without it.
uint8_t *thread_scratch(scratch_slot slot, size_t size);

}  // namespace tfcore
