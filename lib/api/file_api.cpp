// lib/api: the C API of truflux/file.h. Each call checks its handles, then runs on the
// connection's loop thread (call_sync), where the transfer's state lives.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

#include <truflux/error.h>
#include <truflux/file.h>

#include "api/guard.h"
#include "api/last_error.h"
#include "core/client.h"
#include "core/server.h"
#include "files/name.h"
#include "files/session.h"

namespace {

using tff::session;

// Runs f on the loop of `conn` and returns its result.
template <class F>
int on_loop(tf_conn *conn, F &&f) {
    int rc = TRUFLUX_EINTERNAL;
    tfcore::call_sync(conn->loop, [&] { rc = f(); });
    return rc;
}

bool callbacks_ok(const tf_file_callbacks_t *cbs) {
    return !cbs || cbs->size >= sizeof(size_t) + sizeof(void *);
}

bool io_ok(const tf_file_io_t *io) {
    return io && io->size >= sizeof(size_t) + sizeof(void *);
}

tf_file_io_t copy_io(const tf_file_io_t *io) {
    tf_file_io_t c{};
    memcpy(&c, io, std::min(io->size, sizeof c));
    c.size = sizeof c;
    return c;
}

int open_error(const char *path, int e) {
    int rc = e == ENOENT || e == ENOTDIR ? TRUFLUX_ENOTFOUND : TRUFLUX_EIO;
    tfapi::set_last_error(rc, "%s: %s", path, strerror(e));
    return rc;
}

// Offers f (name, size, key, source set) on conn. On success *out gets the caller's
// reference (or it is dropped); on failure f is destroyed, its source disowned first when
// the caller keeps the descriptor.
int start_offer(tf_conn *conn, tf_file *f, tf_file_t **out, bool disown_on_failure) {
    int rc = on_loop(conn, [&] {
        session *s = session::of(conn);
        return s ? s->offer(f) : TRUFLUX_ENOTSUP;
    });
    if (rc != 0) {
        if (disown_on_failure) f->src->disown();
        tff::file_release(f);
        return rc;
    }
    if (out) {
        *out = f;
    } else {
        tff::file_release(f);
    }
    return 0;
}

// Runs an operation on a transfer's session; ECLOSED once the transfer has ended.
template <class F>
int on_session(tf_file *f, F &&op) {
    return on_loop(f->conn, [&] {
        session *s = f->sess;
        return s ? op(s) : TRUFLUX_ECLOSED;
    });
}

}  // namespace

extern "C" {

TRUFLUX_API int tf_server_set_file_callbacks(tf_server_t *server,
                                             const tf_file_callbacks_t *cbs) {
    if (!server || !callbacks_ok(cbs)) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        // Every loop of the server keeps its own callbacks (tf_server_add_loop).
        return tfcore_server_each(server, [&](tf_server *ep) {
            tff::enable(ep, cbs);
            return 0;
        });
    });
}

TRUFLUX_API int tf_client_set_file_callbacks(tf_client_t *client,
                                             const tf_file_callbacks_t *cbs) {
    if (!client || !callbacks_ok(cbs)) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        tfcore::call_sync(client->loop, [&] {
            tff::enable(client, cbs);
            if (client->conn && !session::of(client->conn)) tff::attach(client->conn, client->files);
        });
        return 0;
    });
}

TRUFLUX_API int tf_file_send_path(tf_conn_t *conn, const char *path, const char *name,
                                  tf_file_t **file) {
    if (file) *file = nullptr;
    if (!conn || !path) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        std::string nm = name ? std::string(name) : tff::name_from_path(path);
        if (tff::check_name(nm) != 0) return (int)TRUFLUX_EFILENAME;
        // O_NONBLOCK: opening a FIFO would otherwise wait for a writer (it is refused below).
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) return open_error(path, errno);
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            tfapi::set_last_error(TRUFLUX_EIO, "%s: not a regular file", path);
            return (int)TRUFLUX_EIO;
        }
        tf_file *f = new (std::nothrow) tf_file(conn);
        if (!f) {
            close(fd);
            return (int)TRUFLUX_ENOMEM;
        }
        f->src = tff::file_source(fd, true);
        f->name = nm;
        f->size = (int64_t)st.st_size;
        f->resumable = tff::file_key(fd, nm, f->key);
        return start_offer(conn, f, file, false);
    });
}

TRUFLUX_API int tf_file_send_fd(tf_conn_t *conn, int fd, const char *name, int64_t size,
                                tf_file_t **file) {
    if (file) *file = nullptr;
    if (!conn || fd < 0 || !name || size < TRUFLUX_FILE_SIZE_UNKNOWN) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        std::string nm = name;
        if (tff::check_name(nm) != 0) return (int)TRUFLUX_EFILENAME;
        struct stat st;
        if (fstat(fd, &st) != 0) return (int)TRUFLUX_EINVAL;
        tf_file *f = new (std::nothrow) tf_file(conn);
        if (!f) return (int)TRUFLUX_ENOMEM;
        f->name = nm;
        if (S_ISREG(st.st_mode)) {
            if (size > (int64_t)st.st_size) {
                tff::file_release(f);
                return (int)TRUFLUX_EINVAL;
            }
            f->src = tff::file_source(fd, true);
            f->size = size < 0 ? (int64_t)st.st_size : size;
            f->resumable = tff::file_key(fd, nm, f->key);
        } else {
            f->src = tff::stream_source(fd);
            f->size = size;
        }
        return start_offer(conn, f, file, true);
    });
}

TRUFLUX_API int tf_file_send_stream(tf_conn_t *conn, const tf_file_io_t *io, const char *name,
                                    int64_t size, tf_file_t **file) {
    if (file) *file = nullptr;
    if (!conn || !io_ok(io) || !name || size < TRUFLUX_FILE_SIZE_UNKNOWN) return TRUFLUX_EINVAL;
    tf_file_io_t c = copy_io(io);
    if (!c.read) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        std::string nm = name;
        if (tff::check_name(nm) != 0) return (int)TRUFLUX_EFILENAME;
        tf_file *f = new (std::nothrow) tf_file(conn);
        if (!f) return (int)TRUFLUX_ENOMEM;
        f->name = nm;
        f->size = size;
        f->src = tff::callback_source(c);
        return start_offer(conn, f, file, false);
    });
}

TRUFLUX_API int tf_file_accept_dir(tf_file_t *file, const char *dir) {
    if (!file || !dir) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        return on_session(file, [&](session *s) {
            if (!file->incoming || file->st != tff::state::offered) return (int)TRUFLUX_EINVAL;
            std::unique_ptr<tff::sink> k;
            std::string why;
            int rc = s->make_path_sink(file, dir, file->name, &k, &why);
            if (rc != 0) {
                tfapi::set_last_error(rc, "%s", why.c_str());
                return rc;
            }
            return s->accept(file, k);
        });
    });
}

TRUFLUX_API int tf_file_accept_path(tf_file_t *file, const char *path) {
    if (!file || !path || !*path) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        std::string p = path;
        size_t slash = p.rfind('/');
        std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
        std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
        if (base.empty() || base == "." || base == "..") return (int)TRUFLUX_EINVAL;
        return on_session(file, [&](session *s) {
            if (!file->incoming || file->st != tff::state::offered) return (int)TRUFLUX_EINVAL;
            std::unique_ptr<tff::sink> k;
            std::string why;
            int rc = s->make_path_sink(file, dir, base, &k, &why);
            if (rc != 0) {
                tfapi::set_last_error(rc, "%s", why.c_str());
                return rc;
            }
            return s->accept(file, k);
        });
    });
}

TRUFLUX_API int tf_file_accept_fd(tf_file_t *file, int fd) {
    if (!file || fd < 0) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        return on_session(file, [&](session *s) {
            if (!file->incoming || file->st != tff::state::offered) return (int)TRUFLUX_EINVAL;
            std::unique_ptr<tff::sink> k = tff::fd_sink(fd);
            int rc = s->accept(file, k);
            if (rc != 0) k->disown();  // the caller keeps fd
            return rc;
        });
    });
}

TRUFLUX_API int tf_file_accept_stream(tf_file_t *file, const tf_file_io_t *io) {
    if (!file || !io_ok(io)) return TRUFLUX_EINVAL;
    tf_file_io_t c = copy_io(io);
    if (!c.write) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] {
        return on_session(file, [&](session *s) {
            if (!file->incoming || file->st != tff::state::offered) return (int)TRUFLUX_EINVAL;
            std::unique_ptr<tff::sink> k = tff::callback_sink(c);
            return s->accept(file, k);
        });
    });
}

TRUFLUX_API int tf_file_decline(tf_file_t *file) {
    if (!file) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return on_session(file, [&](session *s) { return s->decline(file); }); });
}

TRUFLUX_API int tf_file_cancel(tf_file_t *file) {
    if (!file) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return on_session(file, [&](session *s) { return s->cancel(file); }); });
}

TRUFLUX_API int tf_file_pause(tf_file_t *file) {
    if (!file) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return on_session(file, [&](session *s) { return s->pause(file); }); });
}

TRUFLUX_API int tf_file_resume(tf_file_t *file) {
    if (!file) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return on_session(file, [&](session *s) { return s->resume(file); }); });
}

TRUFLUX_API int tf_file_wake(tf_file_t *file) {
    if (!file) return TRUFLUX_EINVAL;
    return tfapi::guard<int>([&] { return on_session(file, [&](session *s) { return s->wake(file); }); });
}

TRUFLUX_API tf_file_t *tf_file_retain(tf_file_t *file) {
    if (file) tff::file_retain(file);
    return file;
}

TRUFLUX_API void tf_file_release(tf_file_t *file) {
    if (file) tff::file_release(file);
}

TRUFLUX_API void tf_file_set_user(tf_file_t *file, void *user) {
    if (file) file->user.store(user, std::memory_order_relaxed);
}

TRUFLUX_API void *tf_file_user(const tf_file_t *file) {
    return file ? file->user.load(std::memory_order_relaxed) : nullptr;
}

TRUFLUX_API const char *tf_file_name(const tf_file_t *file) {
    return file ? file->name.c_str() : "";
}

TRUFLUX_API int64_t tf_file_size(const tf_file_t *file) {
    return file ? file->size : TRUFLUX_FILE_SIZE_UNKNOWN;
}

TRUFLUX_API int tf_file_is_stream(const tf_file_t *file) {
    return file && file->size < 0 ? 1 : 0;
}

TRUFLUX_API int tf_file_is_paused(const tf_file_t *file) {
    if (!file) return 0;
    tf_file *f = const_cast<tf_file *>(file);
    return tfapi::guard<int>([&] { return on_loop(f->conn, [&] { return f->paused() ? 1 : 0; }); });
}

TRUFLUX_API int tf_file_is_incoming(const tf_file_t *file) {
    return file && file->incoming ? 1 : 0;
}

TRUFLUX_API tf_conn_t *tf_file_conn(const tf_file_t *file) { return file ? file->conn : nullptr; }

TRUFLUX_API uint32_t tf_file_id(const tf_file_t *file) { return file ? file->id : 0; }

TRUFLUX_API int tf_file_stats(const tf_file_t *file, tf_file_stats_t *out) {
    if (!file || !out || out->size < sizeof(size_t)) return TRUFLUX_EINVAL;
    tf_file *f = const_cast<tf_file *>(file);
    return tfapi::guard<int>([&] {
        tf_file_stats_t s{};
        on_loop(f->conn, [&] {
            s.total = f->size;
            s.offset = f->offset;
            s.position = f->incoming ? f->written : f->pos;
            s.buffered = f->buffered();
            s.peak_buffered = f->peak_buffered;
            s.credit = f->credit;
            s.zero_copy = f->zero_copy;
            return 0;
        });
        size_t n = std::min(out->size, sizeof s);
        s.size = out->size;
        memcpy(out, &s, n);
        return 0;
    });
}

}  // extern "C"
