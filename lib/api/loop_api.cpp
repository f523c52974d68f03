// lib/api: the C API of truflux/loop.h.
#include <truflux/error.h>
#include <truflux/loop.h>

#include "api/guard.h"
#include "api/last_error.h"
#include "core/loop.h"

tf_loop *tfcore_loop_new(void *base, int *err);
int tfcore_loop_free(tf_loop *loop);
int tfcore_loop_run(tf_loop *loop);
int tfcore_loop_run_once(tf_loop *loop, int timeout_ms);
int tfcore_loop_start(tf_loop *loop);
int tfcore_loop_stop(tf_loop *loop);

static tf_loop_t *make_loop(void *base) {
    int err = 0;
    tf_loop *l = nullptr;
    try {
        l = tfcore_loop_new(base, &err);
    } catch (...) {
        err = TRUFLUX_ENOMEM;
    }
    if (!l) tfapi::set_last_error(err, "cannot create the event loop");
    return l;
}

extern "C" {

TRUFLUX_API tf_loop_t *truflux_loop_new(void) { return make_loop(nullptr); }

TRUFLUX_API tf_loop_t *truflux_loop_new_from_base(void *event_base) {
    if (!event_base) {
        tfapi::set_last_error(TRUFLUX_EINVAL, "event_base is NULL");
        return nullptr;
    }
    return make_loop(event_base);
}

TRUFLUX_API int truflux_loop_free(tf_loop_t *loop) {
    if (!loop) return 0;
    return tfapi::guard<int>([&] { return tfcore_loop_free(loop); });
}

TRUFLUX_API int tf_loop_run(tf_loop_t *loop) {
    if (!loop) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_loop_run(loop); });
}

TRUFLUX_API int tf_loop_run_once(tf_loop_t *loop, int timeout_ms) {
    if (!loop) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_loop_run_once(loop, timeout_ms); });
}

TRUFLUX_API int tf_loop_start(tf_loop_t *loop) {
    if (!loop) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_loop_start(loop); });
}

TRUFLUX_API int tf_loop_stop(tf_loop_t *loop) {
    if (!loop) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return tfcore_loop_stop(loop); });
}

TRUFLUX_API int tf_loop_call(tf_loop_t *loop, tf_call_cb fn, void *arg) {
    if (!loop || !fn) return TRUFLUX_EINVAL;
    return tfcore::post(loop, fn, arg);
}

TRUFLUX_API int tf_loop_in_thread(const tf_loop_t *loop) {
    return loop && tfcore::in_loop(loop) ? 1 : 0;
}

TRUFLUX_API void *tf_loop_event_base(tf_loop_t *loop) { return loop ? loop->base : nullptr; }

}  // extern "C"
