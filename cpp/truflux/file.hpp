// truflux/file.hpp: files and streams over a connection (truflux/file.h).
//
//   truflux::Server server(loop, proto);
//   truflux::Files files(server);          // enables files; declare it after the server
//   files.on_offer([](truflux::ConnectionRef, truflux::FileRef f) { f.accept_dir("/srv/in"); })
//        .on_end([](truflux::FileRef f, int status) { ... });
//   ...
//   truflux::File f = truflux::send_file(conn, "/tmp/report.pdf");   // on an open connection
//
// FileRef is the non-owning view handed to handlers (valid for the handler's duration); File
// is an owning reference (tf_file_retain), valid after its transfer ended, from any thread.
#ifndef TRUFLUX_CPP_FILE_HPP
#define TRUFLUX_CPP_FILE_HPP

#include <truflux/truflux.h>

#include <truflux/client.hpp>
#include <truflux/conn.hpp>
#include <truflux/error.hpp>
#include <truflux/server.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace truflux {

// The size of a stream whose length is not known in advance.
constexpr std::int64_t FileSizeUnknown = TRUFLUX_FILE_SIZE_UNKNOWN;

struct FileStats {
    std::int64_t total = FileSizeUnknown;  // offered size
    std::uint64_t offset = 0;              // where moving started (above 0 on a resume)
    std::uint64_t position = 0;            // content position reached
    std::uint64_t buffered = 0;            // receiver: waiting for the sink
    std::uint64_t peak_buffered = 0;
    std::uint64_t credit = 0;
    std::uint64_t zero_copy = 0;           // sender: bytes sent with sendfile(2)
};

// A stream source: copies at most `len` bytes into buf; returns the count, 0 at the end,
// TRUFLUX_EAGAIN (call wake() later) or a negative error. An exception ends the transfer
// with TRUFLUX_EINTERNAL.
using FileReadFn = std::function<long(void *buf, std::size_t len)>;
// A stream sink: takes at most `len` bytes; returns how many (fewer: full, call wake()
// later) or a negative error.
using FileWriteFn = std::function<long(const void *data, std::size_t len)>;
// Called once when the transfer ends, with on_end's status.
using FileCloseFn = std::function<void(int status)>;

class File;

namespace detail {

// Owns a stream's functions; the C close callback deletes it.
struct file_io_state {
    FileReadFn read;
    FileWriteFn write;
    FileCloseFn close;

    static long read_cb(void *arg, tf_file_t *, void *buf, std::size_t len) noexcept {
        try {
            return static_cast<file_io_state *>(arg)->read(buf, len);
        } catch (...) {
            return TRUFLUX_EINTERNAL;
        }
    }
    static long write_cb(void *arg, tf_file_t *, const void *data, std::size_t len) noexcept {
        try {
            return static_cast<file_io_state *>(arg)->write(data, len);
        } catch (...) {
            return TRUFLUX_EINTERNAL;
        }
    }
    static void close_cb(void *arg, tf_file_t *, int status) noexcept {
        std::unique_ptr<file_io_state> st(static_cast<file_io_state *>(arg));
        if (st->close) {
            try {
                st->close(status);
            } catch (...) {
            }
        }
    }
    tf_file_io_t io() noexcept {
        tf_file_io_t c = TRUFLUX_FILE_IO_INIT;
        c.arg = this;
        c.read = read ? &file_io_state::read_cb : nullptr;
        c.write = write ? &file_io_state::write_cb : nullptr;
        c.close = &file_io_state::close_cb;
        return c;
    }
};

// The operations shared by FileRef and File; D provides handle().
template <class D>
class file_ops {
public:
    // The offered name, size (FileSizeUnknown for a stream) and direction.
    std::string name() const { return tf_file_name(h()); }
    std::int64_t size() const noexcept { return tf_file_size(h()); }
    bool is_stream() const noexcept { return tf_file_is_stream(h()) != 0; }
    bool paused() const { return tf_file_is_paused(h()) != 0; }
    bool incoming() const noexcept { return tf_file_is_incoming(h()) != 0; }
    std::uint32_t id() const noexcept { return tf_file_id(h()); }
    ConnectionRef connection() const noexcept { return ConnectionRef(tf_file_conn(h())); }

    FileStats stats() const {
        tf_file_stats_t s{};
        s.size = sizeof s;
        check(tf_file_stats(h(), &s));
        FileStats out;
        out.total = s.total;
        out.offset = s.offset;
        out.position = s.position;
        out.buffered = s.buffered;
        out.peak_buffered = s.peak_buffered;
        out.credit = s.credit;
        out.zero_copy = s.zero_copy;
        return out;
    }

    // Receiver: accepts a pending offer into dir/NAME, into exactly `path`, into a
    // descriptor (taken over; the caller keeps it if this throws) or into a function.
    // Throw EINVAL (not a pending offer), ENOTFOUND / EIO (cannot create the file), ECLOSED.
    void accept_dir(const std::string &dir) const { check_call(tf_file_accept_dir(h(), dir.c_str())); }
    void accept_path(const std::string &path) const {
        check_call(tf_file_accept_path(h(), path.c_str()));
    }
    void accept_fd(int fd) const { check(tf_file_accept_fd(h(), fd)); }
    void accept(FileWriteFn write, FileCloseFn close = FileCloseFn()) const {
        if (!write) throw error(TRUFLUX_EINVAL, "accept: no write function");
        std::unique_ptr<file_io_state> st(new file_io_state);
        st->write = std::move(write);
        st->close = std::move(close);
        tf_file_io_t io = st->io();
        check(tf_file_accept_stream(h(), &io));
        st.release();  // the C close callback owns it now
    }
    // Receiver: refuses a pending offer. Throws EINVAL (not pending) or ECLOSED.
    void decline() const { check(tf_file_decline(h())); }
    // Either side: ends the transfer. Returns false if it had already ended.
    bool cancel() const { return ended_ok(tf_file_cancel(h())); }
    // Either side: pauses / resumes. Return false if the transfer had ended.
    bool pause() const { return ended_ok(tf_file_pause(h())); }
    bool resume() const { return ended_ok(tf_file_resume(h())); }
    // A stream function has data (or room) again.
    bool wake() const { return ended_ok(tf_file_wake(h())); }

    void *user() const noexcept { return tf_file_user(h()); }
    template <class T>
    T *user_as() const noexcept { return static_cast<T *>(tf_file_user(h())); }
    void set_user(void *p) const noexcept { tf_file_set_user(h(), p); }

    File retain() const;

private:
    tf_file_t *h() const {
        tf_file_t *f = static_cast<const D *>(this)->handle();
        if (!f) throw error(TRUFLUX_EINVAL, "empty file handle");
        return f;
    }
    static bool ended_ok(int rc) {
        if (rc == TRUFLUX_ECLOSED) return false;
        check(rc);
        return true;
    }
};

}  // namespace detail

// A non-owning view of a transfer, handed to handlers.
class FileRef : public detail::file_ops<FileRef> {
public:
    FileRef() noexcept = default;
    explicit FileRef(tf_file_t *f) noexcept : f_(f) {}
    tf_file_t *handle() const noexcept { return f_; }
    explicit operator bool() const noexcept { return f_ != nullptr; }
    friend bool operator==(FileRef a, FileRef b) noexcept { return a.f_ == b.f_; }
    friend bool operator!=(FileRef a, FileRef b) noexcept { return a.f_ != b.f_; }

private:
    tf_file_t *f_ = nullptr;
};

// An owning reference to a transfer. Move-only.
class File : public detail::file_ops<File> {
public:
    File() noexcept = default;
    // Adopts a reference the caller owned (as tf_file_send_* return).
    static File adopt(tf_file_t *f) noexcept {
        File x;
        x.f_ = f;
        return x;
    }
    explicit File(FileRef r) noexcept : f_(r.handle() ? tf_file_retain(r.handle()) : nullptr) {}
    ~File() noexcept { reset(); }
    File(File &&o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    File &operator=(File &&o) noexcept {
        if (this != &o) {
            reset();
            f_ = std::exchange(o.f_, nullptr);
        }
        return *this;
    }
    File(const File &) = delete;
    File &operator=(const File &) = delete;
    void swap(File &o) noexcept { std::swap(f_, o.f_); }
    friend void swap(File &a, File &b) noexcept { a.swap(b); }

    void reset() noexcept {
        if (f_) tf_file_release(std::exchange(f_, nullptr));
    }
    tf_file_t *handle() const noexcept { return f_; }
    FileRef ref() const noexcept { return FileRef(f_); }
    operator FileRef() const noexcept { return FileRef(f_); }
    explicit operator bool() const noexcept { return f_ != nullptr; }

private:
    tf_file_t *f_ = nullptr;
};

template <class D>
inline File detail::file_ops<D>::retain() const {
    return File(FileRef(h()));
}

// Offers the regular file at `path` (name: its last component unless given). Throws
// ENOTSUP (files not enabled on both sides), ECLOSED, ENOTFOUND, EIO, EFILENAME, ...
inline File send_file(ConnectionRef c, const std::string &path, const std::string &name = "") {
    tf_file_t *f = nullptr;
    detail::check_call(
        tf_file_send_path(c.handle(), path.c_str(), name.empty() ? nullptr : name.c_str(), &f));
    return File::adopt(f);
}

// Offers what is read from fd (taken over on success): a regular file, or a pipe/socket
// read to its end (size: FileSizeUnknown or the exact length).
inline File send_fd(ConnectionRef c, int fd, const std::string &name,
                    std::int64_t size = FileSizeUnknown) {
    tf_file_t *f = nullptr;
    detail::check(tf_file_send_fd(c.handle(), fd, name.c_str(), size, &f));
    return File::adopt(f);
}

// Offers a stream produced by `read` (size: FileSizeUnknown or the exact length).
inline File send_stream(ConnectionRef c, const std::string &name, std::int64_t size,
                        FileReadFn read, FileCloseFn close = FileCloseFn()) {
    if (!read) throw error(TRUFLUX_EINVAL, "send_stream: no read function");
    std::unique_ptr<detail::file_io_state> st(new detail::file_io_state);
    st->read = std::move(read);
    st->close = std::move(close);
    tf_file_io_t io = st->io();
    tf_file_t *f = nullptr;
    detail::check(tf_file_send_stream(c.handle(), &io, name.c_str(), size, &f));
    st.release();  // the C close callback owns it now
    return File::adopt(f);
}

using FileOfferHandler = std::function<void(ConnectionRef, FileRef)>;
using FileHandler = std::function<void(FileRef)>;
using FileProgressHandler = std::function<void(FileRef, std::uint64_t done, std::int64_t total)>;
using FileErrorHandler = std::function<void(FileRef, int code, std::string_view detail)>;
using FileEndHandler = std::function<void(FileRef, int status)>;

// Enables files on a Server or a Client and holds the handlers of their file events
// (truflux/file.h's tf_file_callbacks_t). Build it before listening / connecting, and
// destroy it before the Server or Client (declare it after them): its destructor stops the
// events. Set handlers before listening / connecting, or on the loop's thread. Move-only.
// Whatever a handler throws goes to on_error (with TRUFLUX_EINTERNAL), or is dropped.
class Files {
public:
    explicit Files(Server &server) : st_(new state) {
        server_ = server.handle();
        tf_file_callbacks_t cbs = st_->callbacks();
        detail::check(tf_server_set_file_callbacks(server_, &cbs));
    }
    explicit Files(Client &client) : st_(new state) {
        client_ = client.handle();
        tf_file_callbacks_t cbs = st_->callbacks();
        detail::check(tf_client_set_file_callbacks(client_, &cbs));
    }
    ~Files() noexcept { destroy(); }
    Files(Files &&o) noexcept
        : st_(std::exchange(o.st_, nullptr)), server_(std::exchange(o.server_, nullptr)),
          client_(std::exchange(o.client_, nullptr)) {}
    Files &operator=(Files &&o) noexcept {
        if (this != &o) {
            destroy();
            st_ = std::exchange(o.st_, nullptr);
            server_ = std::exchange(o.server_, nullptr);
            client_ = std::exchange(o.client_, nullptr);
        }
        return *this;
    }
    Files(const Files &) = delete;
    Files &operator=(const Files &) = delete;

    // The peer offers a file: accept (FileRef::accept_*) or decline, now or later (retain()).
    // Without this handler every offer is declined.
    Files &on_offer(FileOfferHandler f) { return set(&state::offer, std::move(f)); }
    Files &on_accept(FileHandler f) { return set(&state::accept, std::move(f)); }
    Files &on_decline(FileHandler f) { return set(&state::decline, std::move(f)); }
    Files &on_pause(FileHandler f) { return set(&state::pause, std::move(f)); }
    Files &on_resume(FileHandler f) { return set(&state::resume, std::move(f)); }
    Files &on_progress(FileProgressHandler f) { return set(&state::progress, std::move(f)); }
    Files &on_cancel(FileHandler f) { return set(&state::cancel, std::move(f)); }
    Files &on_error(FileErrorHandler f) { return set(&state::error, std::move(f)); }
    // Exactly once per transfer: 0 on success, else TRUFLUX_EDECLINED, TRUFLUX_ECANCELED,
    // TRUFLUX_ECLOSED or the error.
    Files &on_end(FileEndHandler f) { return set(&state::end, std::move(f)); }

private:
    struct state {
        FileOfferHandler offer;
        FileHandler accept, decline, pause, resume, cancel;
        FileProgressHandler progress;
        FileErrorHandler error;
        FileEndHandler end;
        // Atomic: a server on several loops (Server::add_loop) runs callbacks on several
        // threads.
        std::atomic<int> depth{0};
        std::atomic<bool> doomed{false};

        struct scope {
            explicit scope(state *s) noexcept : s_(s) { ++s_->depth; }
            ~scope() {
                if (--s_->depth == 0 && s_->doomed) delete s_;
            }
            state *s_;
        };

        template <class F>
        void guarded(tf_file_t *f, F &&fn) noexcept {
            try {
                fn();
            } catch (const std::exception &ex) {
                report(f, ex.what());
            } catch (...) {
                report(f, "unknown exception");
            }
        }
        void report(tf_file_t *f, const char *what) noexcept {
            if (!error) return;
            try {
                error(FileRef(f), TRUFLUX_EINTERNAL, std::string("handler threw: ") + what);
            } catch (...) {
            }
        }

        static state *self(void *u) noexcept { return static_cast<state *>(u); }
        static void offer_cb(void *u, tf_conn_t *c, tf_file_t *f) noexcept {
            state *s = self(u);
            scope sc(s);
            if (s->offer) {
                s->guarded(f, [&] { s->offer(ConnectionRef(c), FileRef(f)); });
            } else {
                tf_file_decline(f);
            }
        }
        static void plain(void *u, tf_file_t *f, FileHandler state::*m) noexcept {
            state *s = self(u);
            scope sc(s);
            if (s->*m) s->guarded(f, [&] { (s->*m)(FileRef(f)); });
        }
        static void accept_cb(void *u, tf_file_t *f) noexcept { plain(u, f, &state::accept); }
        static void decline_cb(void *u, tf_file_t *f) noexcept { plain(u, f, &state::decline); }
        static void pause_cb(void *u, tf_file_t *f) noexcept { plain(u, f, &state::pause); }
        static void resume_cb(void *u, tf_file_t *f) noexcept { plain(u, f, &state::resume); }
        static void cancel_cb(void *u, tf_file_t *f) noexcept { plain(u, f, &state::cancel); }
        static void progress_cb(void *u, tf_file_t *f, std::uint64_t d, std::int64_t t) noexcept {
            state *s = self(u);
            scope sc(s);
            if (s->progress) s->guarded(f, [&] { s->progress(FileRef(f), d, t); });
        }
        static void error_cb(void *u, tf_file_t *f, int code, const char *detail) noexcept {
            state *s = self(u);
            scope sc(s);
            if (!s->error) return;
            try {
                s->error(FileRef(f), code, detail ? detail : "");
            } catch (...) {
            }
        }
        static void end_cb(void *u, tf_file_t *f, int status) noexcept {
            state *s = self(u);
            scope sc(s);
            if (s->end) s->guarded(f, [&] { s->end(FileRef(f), status); });
        }

        tf_file_callbacks_t callbacks() noexcept {
            tf_file_callbacks_t c = TRUFLUX_FILE_CALLBACKS_INIT;
            c.user = this;
            c.on_offer = &state::offer_cb;
            c.on_accept = &state::accept_cb;
            c.on_decline = &state::decline_cb;
            c.on_pause = &state::pause_cb;
            c.on_resume = &state::resume_cb;
            c.on_progress = &state::progress_cb;
            c.on_cancel = &state::cancel_cb;
            c.on_error = &state::error_cb;
            c.on_end = &state::end_cb;
            return c;
        }
    };

    template <class M, class F>
    Files &set(M state::*member, F f) {
        if (!st_) throw error(TRUFLUX_EINVAL, "Files was moved from");
        st_->*member = std::move(f);
        return *this;
    }

    void destroy() noexcept {
        if (!st_) return;
        // No event reaches the handlers after this (the C library copies NULL callbacks);
        // files stay enabled on the endpoint.
        if (server_) tf_server_set_file_callbacks(server_, nullptr);
        if (client_) tf_client_set_file_callbacks(client_, nullptr);
        state *s = std::exchange(st_, nullptr);
        if (s->depth > 0) {
            s->doomed = true;
        } else {
            delete s;
        }
    }

    state *st_ = nullptr;
    tf_server_t *server_ = nullptr;
    tf_client_t *client_ = nullptr;
};

}  // namespace truflux

#endif
