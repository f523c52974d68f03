/* truflux/loop.h: the event loop. One loop owns one libevent event_base.
 *
 * Three ways to drive it:
 *  - in the caller's thread: tf_loop_run() (until tf_loop_stop) or tf_loop_run_once();
 *  - on a thread the library owns: tf_loop_start() ... tf_loop_stop();
 *  - attached to an event_base the program already runs: truflux_loop_new_from_base().
 * Callbacks of every object on a loop fire on the thread that runs the loop.
 */
#ifndef TRUFLUX_LOOP_H
#define TRUFLUX_LOOP_H

#include <truflux/version.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tf_loop tf_loop_t;

/* A function run on the loop's thread by tf_loop_call(). */
typedef void (*tf_call_cb)(void *arg);

/* Creates a loop with its own event_base. Returns NULL on failure (tf_last_error()). */
TRUFLUX_API tf_loop_t *truflux_loop_new(void);

/* Creates a loop on an event_base the caller owns and runs (a `struct event_base *`, passed
 * as void * so that this header needs no libevent header). The caller keeps ownership of the
 * base and must outlive the loop. In this mode, call functions other than the ones marked
 * "any thread" on the thread that runs the base. Returns NULL on failure. */
TRUFLUX_API tf_loop_t *truflux_loop_new_from_base(void *event_base);

/* Frees the loop. Stops and joins its own thread if tf_loop_start() started one. Every
 * server and client on the loop must have been freed first (TRUFLUX_EBUSY otherwise, and
 * nothing is freed). NULL is a no-op returning 0. Not from a callback of this loop. */
TRUFLUX_API int truflux_loop_free(tf_loop_t *loop);

/* Runs the loop in the calling thread until tf_loop_stop(). Returns 0, or TRUFLUX_EBUSY if
 * the loop is already running (on any thread), TRUFLUX_ENOTSUP for an attached loop. */
TRUFLUX_API int tf_loop_run(tf_loop_t *loop);

/* Runs one iteration in the calling thread: waits up to timeout_ms (negative: no limit) for
 * events, then runs the callbacks that are ready. Returns 0 or TRUFLUX_EBUSY/ENOTSUP. */
TRUFLUX_API int tf_loop_run_once(tf_loop_t *loop, int timeout_ms);

/* Starts a thread owned by the library that runs the loop until tf_loop_stop().
 * Returns 0, TRUFLUX_EBUSY (already running) or TRUFLUX_ENOTSUP (attached loop). */
TRUFLUX_API int tf_loop_start(tf_loop_t *loop);

/* Stops the loop. Any thread. When called from another thread than the loop's own library
 * thread, it also waits for that thread to end. Idempotent. Returns 0. */
TRUFLUX_API int tf_loop_stop(tf_loop_t *loop);

/* Runs fn(arg) on the loop's thread, soon, in call order. Any thread. Returns 0, or
 * TRUFLUX_ECLOSED when the loop is being freed (fn then never runs). */
TRUFLUX_API int tf_loop_call(tf_loop_t *loop, tf_call_cb fn, void *arg);

/* Nonzero when the calling thread is running this loop's callbacks now. Any thread. */
TRUFLUX_API int tf_loop_in_thread(const tf_loop_t *loop);

/* The loop's `struct event_base *`, for integrating other libevent users. */
TRUFLUX_API void *tf_loop_event_base(tf_loop_t *loop);

#ifdef __cplusplus
}
#endif
#endif
