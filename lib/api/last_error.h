// lib/api: the thread-local last error behind tf_last_error / tf_last_error_detail, set by the
// core where a constructor or a URL/OS call fails.
#pragma once

namespace tfapi {

// Records code and a printf-style detail (truncated to 255 bytes) for this thread. A NULL
// fmt records the code's tf_strerror message as the detail.
void set_last_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace tfapi
