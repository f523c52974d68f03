// lib/transport: TLS 1.2 over any stream (see tls.h), with the engine of lib/crypto.
//
// Writing: records go to the inner stream straight from the engine's memory (or, for a
// batch of records from writev(), the thread's batch buffer) when nothing is queued, and
// otherwise into `wire_` (the engine's bio never refuses); the plaintext they hold is
// removed from the connection's queue only once the records have gone to the inner stream;
// until then those bytes stay at the head of the queue (`ahead_`), so the connection keeps
// asking to write and nothing is lost or reordered.
//
// writev() (a WebSocket's frame header and the queue's chains) seals records straight from
// the caller's vectors. Its octets count as taken once they are in records: it seals only
// while nothing waits for the inner stream, so what it holds is at most one batch of
// records (TLS_WRITE_BATCH of plaintext) beyond what the inner stream took.
#include "transport/tls.h"

#include <event2/buffer.h>
#include <sys/uio.h>

#include <algorithm>
#include <memory>
#include <new>

#include <truflux/error.h>

#include "core/config.h"
#include "core/scratch.h"
#include "crypto/names.h"
#include "crypto/tls_engine.h"

namespace tfx {

extern const transport tcp_transport;

namespace {

// Plaintext handed to the engine per call: once the handshake is done it seals several
// records at once (send_space: the batch buffer, or wire_), which then go out in one write.
constexpr size_t WRITE_CHUNK = tfc::TLS_WRITE_BATCH;
constexpr size_t RECORD = 16384;  // plaintext per TLS record
constexpr int MAX_IOV = 64;       // vectors writev() looks at per call
// A message this large with nothing queued is sealed from the sender's memory (write_direct
// through writev) rather than copied into the queue first: it fills a batch of records.
constexpr size_t LARGE_DIRECT = 64u << 10;
// A batch of sealed records (TLS_WRITE_BATCH of plaintext and each record's overhead).
constexpr size_t BATCH_BYTES = tfc::TLS_WRITE_BATCH + 256;

// Where a batch is sealed when it can go to the inner stream at once: one buffer per
// thread, so that a large message costs no allocation (a queue chain of 64 KiB, allocated
// and freed per batch, kept glibc growing and trimming the heap).
uint8_t *batch_buffer() { return tfcore::thread_scratch(tfcore::SCRATCH_TLS_BATCH, BATCH_BYTES); }

struct tls_ctx {
    tfc::tls_config *cfg = nullptr;
    std::string server_name;
    ~tls_ctx() { tfc::tls_config_free(cfg); }
};

class tls_stream final : public stream, private tfc::tls_bio {
public:
    tls_stream(stream *inner)
        : inner_(inner), direct_(inner->can_write_direct()) {}
    ~tls_stream() override {
        sess_.reset();
        if (wire_) evbuffer_free(wire_);
    }

    bool init(tls_ctx *ctx, const std::string &name, int *err) {
        sess_.reset(tfc::tls_session::create(ctx->cfg, name, this, err));
        return sess_ != nullptr;
    }

    ssize_t handshake() override {
        if (!done_) {
            int r = sess_->handshake();
            flush_wire();
            if (r == tfc::TLS_WANT_READ) return has_output() ? IO_WANT_WRITE : IO_WANT_READ;
            if (r == tfc::TLS_WANT_WRITE) return IO_WANT_WRITE;
            if (r != 0) {
                detail_ = sess_->error_detail();
                return r;
            }
            done_ = true;
        }
        // The last flight must be out before the connection counts the handshake done.
        if (flush_wire() < 0) return failed_;
        return has_output() ? IO_WANT_WRITE : 0;
    }

    ssize_t read(uint8_t *buf, size_t len) override {
        ssize_t r = sess_->read(buf, len);
        flush_wire();  // an alert or a key update may have been produced
        if (r == tfc::TLS_WANT_READ) return IO_WANT_READ;
        if (r == tfc::TLS_WANT_WRITE) return IO_WANT_WRITE;
        if (r < 0 && sess_->error_detail()[0]) detail_ = sess_->error_detail();
        return r;
    }

    ssize_t write(evbuffer *out) override {
        ssize_t total = 0;
        for (;;) {
            if (flush_wire() < 0) return total ? total : failed_;
            if (wire_len() > 0) break;  // the inner stream is full
            if (ahead_) {
                evbuffer_drain(out, ahead_);
                total += (ssize_t)ahead_;
                ahead_ = 0;
            }
            size_t avail = evbuffer_get_length(out);
            if (avail == 0) break;
            size_t take = std::min(avail, WRITE_CHUNK);
            const uint8_t *p = evbuffer_pullup(out, (ev_ssize_t)take);
            if (!p) return total ? total : (ssize_t)TRUFLUX_ENOMEM;
            ssize_t n = sess_->write(p, take);
            if (n == tfc::TLS_WANT_WRITE || n == tfc::TLS_WANT_READ) break;
            if (n < 0) return total ? total : n;
            ahead_ = (size_t)n;
        }
        if (total > 0) return total;
        return has_output() || ahead_ ? IO_WANT_WRITE : 0;
    }

    // A small frame from the connection's own buffer becomes one record sealed in the
    // engine's memory and sent from there: no queue, no allocation. Only with the library's
    // record layer, whose write() takes a whole record at once; only a frame in one piece
    // (a record needs contiguous plaintext); and only when nothing waits for the socket,
    // so that the connection's queue still tells how much is unsent (backpressure).
    // A large message (direct_min) is sealed from the sender's memory by the gather write,
    // batch after batch while the socket takes them; the caller queues what is left.
    bool can_write_direct() const override {
        return done_ && direct_ && sess_->fast_records();
    }
    size_t direct_min() const override { return can_write_direct() ? LARGE_DIRECT : SIZE_MAX; }
    ssize_t write_direct(const uint8_t *hdr, size_t hlen, const void *data,
                         size_t len) override {
        if (data && len && can_write_direct() && !ahead_) {
            iovec v[2] = {{const_cast<uint8_t *>(hdr), hlen}, {const_cast<void *>(data), len}};
            return writev(v, 2);
        }
        if (!can_write_direct() || len != 0 || data || hlen > RECORD || ahead_)
            return IO_NO_DIRECT;
        if (flush_wire() < 0) return failed_;
        if (wire_len() > 0 || inner_->has_output()) return IO_WANT_WRITE;
        ssize_t n = sess_->write(hdr, hlen);
        if (n == tfc::TLS_WANT_WRITE || n == tfc::TLS_WANT_READ) return IO_WANT_WRITE;
        return n;
    }

    bool can_writev() const override { return done_ && sess_->fast_records(); }
    ssize_t writev(const iovec *iov, int n) override {
        if (!can_writev()) return IO_NO_DIRECT;
        // Bytes of the write() path are at the head of its queue: they go first.
        if (ahead_) return IO_WANT_WRITE;
        iovec v[MAX_IOV];
        int k = std::min(n, MAX_IOV), at = 0;
        std::copy(iov, iov + k, v);
        ssize_t total = 0;
        for (;;) {
            if (flush_wire() < 0) return total ? total : failed_;
            if (wire_len() > 0 || inner_->has_output()) break;  // the inner stream is full
            while (at < k && v[at].iov_len == 0) at++;
            if (at == k) break;
            batching_ = true;
            ssize_t r = sess_->writev(v + at, k - at);
            batching_ = false;
            if (r == tfc::TLS_WANT_WRITE || r == tfc::TLS_WANT_READ || r == 0) break;
            if (r < 0) return total ? total : r;
            total += r;
            for (size_t left = (size_t)r; left;) {
                size_t step = std::min(left, v[at].iov_len);
                v[at].iov_base = static_cast<uint8_t *>(v[at].iov_base) + step;
                v[at].iov_len -= step;
                left -= step;
                if (v[at].iov_len == 0) at++;
            }
        }
        if (total > 0) return total;
        while (at < k && v[at].iov_len == 0) at++;
        return at < k || has_output() ? IO_WANT_WRITE : 0;
    }

    void trim() override { sess_->trim(); }
    bool has_pending() const override { return sess_->pending() || inner_->has_pending(); }
    bool has_output() const override {
        return wire_len() > 0 || inner_->has_output();
    }
    void shutdown_write() override {
        sess_->close_notify();
        flush_wire();
        inner_->shutdown_write();
    }
    const char *error_detail() const override {
        if (!detail_.empty()) return detail_.c_str();
        return inner_->error_detail();
    }
    const char *name() const override { return "tls"; }
    int fd() const override { return inner_->fd(); }

private:
    // tls_bio: records out go to wire_, bytes in come from the inner stream.
    ssize_t send(const uint8_t *p, size_t n) override {
        size_t took = 0;
        // Nothing queued before: straight to the socket from the engine's memory, and only
        // what the socket does not take is copied (no allocation per small record).
        if (can_send_now()) {
            ssize_t w = inner_->write_direct(p, n, nullptr, 0);
            if (w < 0 && w != IO_WANT_WRITE) return w;
            if (w > 0) took = (size_t)w;
        }
        if (took < n && (!wire() || evbuffer_add(wire_, p + took, n - took) != 0))
            return TRUFLUX_ENOMEM;
        return (ssize_t)n;
    }
    bool can_send_now() const { return direct_ && wire_len() == 0 && !inner_->has_output(); }
    ssize_t recv(uint8_t *p, size_t n) override {
        ssize_t r = inner_->read(p, n);
        if (r == IO_WANT_READ || r == IO_WANT_WRITE) return tfc::TLS_WANT_READ;
        return r;
    }
    uint8_t *send_space(size_t n) override {
        // writev(): records that can go at once are sealed in the thread's buffer and sent
        // from there (send_commit); only what the socket leaves is copied to wire_. The
        // queue's path, write(), keeps sealing into wire_ (truflux-tls was 5-7 % slower at
        // 1 and 10 MB with the batch buffer).
        batch_ = batching_ && n <= BATCH_BYTES && can_send_now() ? batch_buffer() : nullptr;
        if (batch_) return batch_;
        if (!wire() || evbuffer_reserve_space(wire_, (ev_ssize_t)n, &space_, 1) < 1 ||
            space_.iov_len < n)
            return nullptr;
        return static_cast<uint8_t *>(space_.iov_base);
    }
    void send_commit(size_t n) override {
        if (batch_) {
            uint8_t *b = batch_;
            batch_ = nullptr;
            // A failed send is met again by the next write to the inner stream; these
            // records wait in wire_ for it like any others.
            ssize_t w = inner_->write_direct(b, n, nullptr, 0);
            size_t took = w > 0 ? (size_t)w : 0;
            if (took < n && (!wire() || evbuffer_add(wire_, b + took, n - took) != 0))
                failed_ = TRUFLUX_ENOMEM;
            return;
        }
        space_.iov_len = n;
        evbuffer_commit_space(wire_, &space_, 1);
    }

    // Moves records to the inner stream as far as it takes them: 0, or < 0 when it failed.
    int flush_wire() {
        if (failed_) return failed_;
        while (wire_len() > 0) {
            ssize_t n = inner_->write(wire_);
            if (n > 0) continue;
            if (n == 0 || n == IO_WANT_WRITE || n == IO_WANT_READ) return 0;
            failed_ = (int)n;
            return failed_;
        }
        // Drained: an idle connection keeps no buffer.
        if (wire_) {
            evbuffer_free(wire_);
            wire_ = nullptr;
        }
        return 0;
    }
    size_t wire_len() const { return wire_ ? evbuffer_get_length(wire_) : 0; }
    evbuffer *wire() {
        if (!wire_) wire_ = evbuffer_new();
        return wire_;
    }

    std::unique_ptr<stream> inner_;
    evbuffer *wire_ = nullptr;  // records the inner stream has not taken (made when needed)
    evbuffer_iovec space_ = {};  // reserved by send_space()
    uint8_t *batch_ = nullptr;   // send_space() lent the thread's batch buffer
    bool batching_ = false;      // within writev(): send_space() may lend it
    bool direct_;                // inner_ can write from our memory (write_direct)
    std::unique_ptr<tfc::tls_session> sess_;
    size_t ahead_ = 0;  // bytes at the head of the queue already in records
    bool done_ = false;
    int failed_ = 0;
    std::string detail_;
};

void *tls_ctx_new_fn(const tfcore::config &cfg, bool server, int *err, std::string *detail) {
    return tls_ctx_new(cfg, server, err, detail);
}

stream *tls_wrap(void *ctx, int fd, bool server, const std::string &host, int *err) {
    stream *tcp = tcp_transport.wrap(nullptr, fd, server, host, err);
    if (!tcp) return nullptr;
    return tls_stream_over(ctx, tcp, server, host, err);
}

}  // namespace

void *tls_ctx_new(const tfcore::config &cfg, bool server, int *err, std::string *detail) {
    tfc::tls_params p;
    p.server = server;
    if (const std::string *v = cfg.str(TRUFLUX_OPT_TLS_CERT_FILE)) p.cert_file = *v;
    if (const std::string *v = cfg.str(TRUFLUX_OPT_TLS_KEY_FILE)) p.key_file = *v;
    if (const std::string *v = cfg.str(TRUFLUX_OPT_TLS_CA_FILE)) p.ca_file = *v;
    if (const std::string *v = cfg.str(TRUFLUX_OPT_TLS_PIN_SHA256)) {
        if (server) {
            *err = TRUFLUX_EINVAL;
            *detail = "TRUFLUX_OPT_TLS_PIN_SHA256 is for clients";
            return nullptr;
        }
        if (tfc::parse_sha256_hex(*v, p.pin) != 0) {
            *err = TRUFLUX_EINVAL;
            *detail = "TLS pin: not a SHA-256 in hex";
            return nullptr;
        }
        p.has_pin = true;
    }
    p.client_cert = server ? cfg.tls_client_cert : 0;
    p.insecure = !server && cfg.tls_insecure;
    auto *ctx = new (std::nothrow) tls_ctx();
    if (!ctx) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    ctx->cfg = tfc::tls_config_new(p, err, detail);
    if (!ctx->cfg) {
        delete ctx;
        return nullptr;
    }
    if (const std::string *v = cfg.str(TRUFLUX_OPT_TLS_SERVER_NAME)) ctx->server_name = *v;
    return ctx;
}

void tls_ctx_free(void *ctx) { delete static_cast<tls_ctx *>(ctx); }

stream *tls_stream_over(void *ctx, stream *inner, bool server, const std::string &host, int *err) {
    auto *c = static_cast<tls_ctx *>(ctx);
    tls_stream *s = new (std::nothrow) tls_stream(inner);
    if (!s) {
        delete inner;
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    std::string name = server ? std::string() : c->server_name.empty() ? host : c->server_name;
    if (!s->init(c, name, err)) {
        delete s;
        return nullptr;
    }
    return s;
}

extern const transport tls_transport = {"tls", tls_ctx_new_fn, tls_ctx_free, tls_wrap};

}  // namespace tfx
