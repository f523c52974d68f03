// lib/core/scratch: a thread's lent buffers. Each slot is one buffer per thread, the same at
// every call, another on another thread; and once the thread's destructors have run, an
// object torn down after them (which may still write: a close frame at exit) gets NULL, not
// the freed buffer.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <thread>

#include "core/scratch.h"

namespace {

void test_one_buffer_per_thread_and_slot(void **) {
    uint8_t *a = tfcore::thread_scratch(tfcore::SCRATCH_TLS_IN, 4096);
    uint8_t *b = tfcore::thread_scratch(tfcore::SCRATCH_TLS_OUT, 4096);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    std::memset(a, 0x5a, 4096);  // the size asked for is there (ASan checks)
    assert_ptr_equal(tfcore::thread_scratch(tfcore::SCRATCH_TLS_IN, 4096), a);
    uint8_t *other = nullptr;
    std::thread t([&] { other = tfcore::thread_scratch(tfcore::SCRATCH_TLS_IN, 4096); });
    t.join();
    assert_non_null(other);
    assert_ptr_not_equal(other, a);
}

struct late_user {
    uint8_t **seen = nullptr;
    ~late_user() {
        if (seen) *seen = tfcore::thread_scratch(tfcore::SCRATCH_RECORD, 1024);
    }
};

void test_null_after_the_threads_destructors(void **) {
    uint8_t *during = nullptr, *after = reinterpret_cast<uint8_t *>(1);
    std::thread t([&] {
        // Made before the thread's buffers, so destroyed after them.
        thread_local late_user late;
        late.seen = &after;
        during = tfcore::thread_scratch(tfcore::SCRATCH_RECORD, 1024);
    });
    t.join();
    assert_non_null(during);
    assert_null(after);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_buffer_per_thread_and_slot),
        cmocka_unit_test(test_null_after_the_threads_destructors),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
