// lib/core: the per-thread buffers of scratch.h.
#include "core/scratch.h"

#include <new>

namespace tfcore {

namespace {

// Set by the buffers' destructor. A flag of its own: a store into an object being destroyed
// may be optimised away (its lifetime ends), so the object cannot say it is gone.
thread_local bool t_gone = false;

struct buffers {
    uint8_t *b[SCRATCH_SLOTS] = {};
    ~buffers() {
        for (uint8_t *p : b) delete[] p;
        t_gone = true;
    }
};
thread_local buffers t_buffers;

}  // namespace

uint8_t *thread_scratch(scratch_slot slot, size_t size) {
    if (t_gone) return nullptr;
    uint8_t *&p = t_buffers.b[slot];
    if (!p) p = new (std::nothrow) uint8_t[size];
    return p;
}

}  // namespace tfcore
