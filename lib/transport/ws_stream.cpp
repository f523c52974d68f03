// lib/transport: truflux over WebSocket (see ws_stream.h and docs/PROTOCOL.md 3.3).
//
// Reading: recv(2) lands in the connection's decoder buffer; the frame parser unmasks the
// payload and compacts it to the front of that buffer in the same pass, so the truflux bytes
// reach the decoder without another copy. Writing: the frames queued in the connection's
// evbuffer form one binary message (several frames per message, up to BATCH_MAX); a server
// sends its header and the queue's chains with one sendmsg(2); a client, which must mask,
// masks through a bounded scratch buffer, one fragment at a time.
//
// Over TLS (wss://, wss.cpp) the same class runs over an inner stream instead of the socket:
// every octet it reads or writes goes through low_recv() / low_sendv(), which then use the
// inner stream. One that gathers (stream::writev: TLS with the library's record layer)
// seals records straight from the header and the queue's chains, as sendmsg(2) would send
// them; otherwise the octets are copied into a bounded buffer of our own (low_out_) for
// the inner stream's write().
#include "transport/ws_stream.h"

#include <event2/buffer.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include <truflux/error.h>

#include "core/config.h"
#include "transport/http_head.h"
#include "transport/ws_codec.h"
#include "transport/ws_handshake.h"
#include "transport/ws_sha1.h"
#include "wire/frame.h"

namespace tfx {

bool sniff_is_http(uint8_t first);  // sniff.cpp

namespace {

constexpr size_t BATCH_MAX = 1u << 20;       // frames packed into one message, when several
constexpr size_t CLIENT_FRAG = 64u << 10;    // a client's fragments (masked via scratch)
constexpr int MAX_IOV = 64;
constexpr size_t STAGE_CAP = 2 * (ws::MAX_HEADER + ws::MAX_CONTROL);
// Over an inner stream that cannot gather: octets we hold for it (two TLS records). Not
// more: a larger buffer, allocated and freed per message, kept glibc growing and trimming
// the heap at every 128 kB roundtrip (page faults; truflux-wss 128 kB row 0.51 s with
// 256 KiB, 0.34 with 64, 0.29 with 32).
constexpr size_t LOW_CAP = 32u << 10;
// Over TLS: a message up to this size is written directly as one piece, built on the stack
// (one record); a larger one through the TLS stream's gather write.
constexpr size_t DIRECT_SMALL = 256;
constexpr size_t DIRECT_FROM = 64u << 10;  // see direct_min()

ssize_t errno_result(bool writing) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return writing ? IO_WANT_WRITE : IO_WANT_READ;
    if (errno == ECONNRESET || errno == EPIPE) return TRUFLUX_ECONNRESET;
    return TRUFLUX_EIO;
}

void random_bytes(void *p, size_t n) {
    uint8_t *b = static_cast<uint8_t *>(p);
    while (n) {
        ssize_t r = getrandom(b, n, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            // No entropy source: keys stay distinct per process and call, if not secret.
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)p;
            for (; n; n--, x = x * 6364136223846793005ull + 1442695040888963407ull)
                *b++ = (uint8_t)(x >> 56);
            return;
        }
        b += r;
        n -= (size_t)r;
    }
}

// Tracks truflux frame boundaries through a message's payload: each message must hold whole
// frames (PROTOCOL.md 3.3), which lets a browser peer parse every message on its own.
struct frame_bounds {
    uint8_t hdr[tfw::HEADER_SIZE];
    uint8_t have = 0;
    uint64_t body = 0;
    void feed(const uint8_t *p, size_t n) {
        while (n) {
            if (body) {
                size_t k = body < n ? (size_t)body : n;
                body -= k;
                p += k;
                n -= k;
                continue;
            }
            hdr[have++] = *p++;
            n--;
            if (have == tfw::HEADER_SIZE) {
                body = (uint64_t)hdr[5] << 24 | (uint64_t)hdr[6] << 16 | (uint64_t)hdr[7] << 8 |
                       hdr[8];
                have = 0;
            }
        }
    }
    bool at_boundary() const { return have == 0 && body == 0; }
};

// Octets of whole frames at the front of `out` that one message carries: all of it when it
// fits BATCH_MAX (the queue only ever holds whole frames), else as many frames as fit, and
// at least one.
size_t batch_len(evbuffer *out) {
    size_t total = evbuffer_get_length(out);
    if (total <= BATCH_MAX) return total;
    size_t at = 0;
    evbuffer_ptr pos;
    evbuffer_ptr_set(out, &pos, 0, EVBUFFER_PTR_SET);
    while (at + tfw::HEADER_SIZE <= total) {
        uint8_t h[tfw::HEADER_SIZE];
        if (evbuffer_copyout_from(out, &pos, h, sizeof h) != (ssize_t)sizeof h) break;
        size_t flen = tfw::HEADER_SIZE + ((size_t)h[5] << 24 | (size_t)h[6] << 16 |
                                          (size_t)h[7] << 8 | h[8]);
        if (at && at + flen > BATCH_MAX) break;
        at += flen;
        if (at >= total || evbuffer_ptr_set(out, &pos, flen, EVBUFFER_PTR_ADD) != 0) break;
    }
    return at < total ? at : total;
}

ws::parser_limits limits_for(bool server) {
    ws::parser_limits l;
    l.expect_masked = server;
    l.text_ok = false;  // truflux rides in binary messages only
    // No size limit at this layer: the payload streams into the truflux decoder, which
    // checks every frame's length against the maximum message size before buffering it.
    return l;
}

class ws_stream final : public stream {
public:
    enum mode_t { SNIFF, SERVER_HTTP, ANSWER, CLIENT_HTTP, OPEN, RAW };

    ws_stream(int fd, bool server, mode_t mode) : fd_(fd), server_(server), mode_(mode),
                                                  parser_(limits_for(server)) {
        random_bytes(&rng_, sizeof rng_);
        rng_ |= 1;
    }
    ~ws_stream() override {
        delete head_;
        // A stream ended without our close frame (a client after its truflux close, an
        // aborted connection) still says goodbye if the socket takes it at once.
        if (mode_ == OPEN && !close_sent_ && !frame_active()) {
            close_pending_ = true;
            close_code_ = ws::CLOSE_NORMAL;
            close_reason_.clear();
            flush_control();
        }
        if (low_out_) evbuffer_free(low_out_);
        if (release_) release_(release_arg_);
    }

    // Runs over `inner` (owned from now on) instead of the socket. Always true (the buffer
    // toward it is made when needed).
    bool set_inner(stream *inner) {
        inner_.reset(inner);
        fd_ = inner->fd();
        return true;
    }

    ssize_t handshake() override;
    ssize_t read(uint8_t *buf, size_t len) override;
    ssize_t write(evbuffer *out) override;
    // One WebSocket message from the caller's memory (the server's frames are not masked:
    // no copy at all; a client's are masked into its scratch). Over TLS, a small message is
    // built on the stack and handed to the TLS stream's own direct write; a larger one goes
    // as over the socket, through the TLS stream's gather write when it has one.
    bool can_write_direct() const override {
        return (mode_ == OPEN || mode_ == RAW) && (!inner_ || inner_->can_write_direct());
    }
    ssize_t write_direct(const uint8_t *hdr, size_t hlen, const void *data, size_t len) override;
    ssize_t write_direct_inner(const uint8_t *hdr, size_t hlen, const void *data, size_t len);
    ssize_t write_direct_masked(const uint8_t *hdr, size_t hlen, const void *data, size_t len);
    // Over a TLS stream that gathers, a message that fills a batch of records on its own
    // gains nothing from waiting in the queue: it is sealed from the caller's memory (a
    // client's masked through its scratch).
    size_t direct_min() const override {
        return gather_ && mode_ == OPEN ? DIRECT_FROM : SIZE_MAX;
    }
    size_t sent_control_and_header(size_t w);
    void trim() override {
        if (inner_) inner_->trim();
    }
    bool has_pending() const override {
        return in_off_ < in_.size() || (inner_ && inner_->has_pending());
    }
    void shutdown_write() override;
    bool has_output() const override {
        return low_has_output() ||
               (mode_ == OPEN &&
                (stage_off_ < stage_len_ || (!close_sent_ && (pong_pending_ || close_pending_))));
    }
    const char *error_detail() const override {
        if (!detail_.empty()) return detail_.c_str();
        return inner_ ? inner_->error_detail() : nullptr;
    }
    // Over TLS: "wss", or the inner stream's "tls" for raw truflux on a sniffing listener.
    const char *name() const override {
        if (mode_ == RAW) return inner_ ? inner_->name() : "tcp";
        return inner_ ? "wss" : "ws";
    }
    int fd() const override { return fd_; }
    // Only a raw truflux client on a sniffing listener (named "tcp") is sent file segments.
    void expect_file_segments() override { segments_ = true; }

    std::string path_;       // server: accepted path ("" any); client: request target
    std::string authority_;  // client: Host
    std::string answer_;     // ANSWER: the response head to send
    bool refusing_ = false;  // ANSWER: it is a refusal
    void (*release_)(void *) = nullptr;  // adopted: lets the HTTP server's side go
    void *release_arg_ = nullptr;

private:
    bool frame_active() const { return hdr_off_ < hdr_len_ || frame_left_ > 0; }
    // A client's fragment: over a TLS stream that gathers, one that with its header fills
    // a batch of records (tfc::TLS_WRITE_BATCH) and leaves no small record behind.
    size_t frag_max() const { return gather_ ? CLIENT_FRAG - ws::MAX_HEADER : CLIENT_FRAG; }
    void next_mask(uint8_t key[4]) {
        // xorshift64*: masks must not be predictable by what the payload is (RFC 6455
        // 10.3); the seed comes from getrandom(2).
        rng_ ^= rng_ >> 12;
        rng_ ^= rng_ << 25;
        rng_ ^= rng_ >> 27;
        uint64_t v = rng_ * 0x2545F4914F6CDD1Dull;
        memcpy(key, &v, 4);
    }
    void put_control(uint8_t op, const uint8_t *p, size_t n);
    void stage_control();
    bool flush_control();
    ssize_t fail_ws(uint16_t status, const char *why, int code);
    ssize_t send_answer();
    ssize_t server_handshake();
    ssize_t client_handshake();
    ssize_t step_handshake();
    ssize_t take_in(uint8_t *buf, size_t len);
    ssize_t low_recv(uint8_t *p, size_t n);
    ssize_t low_sendv(const iovec *iov, int n);
    ssize_t low_send(const void *p, size_t n) {
        iovec v = {const_cast<void *>(p), n};
        return low_sendv(&v, 1);
    }
    int low_flush();
    bool low_has_output() const { return inner_ && (low_len() > 0 || inner_->has_output()); }
    size_t low_len() const { return low_out_ ? evbuffer_get_length(low_out_) : 0; }
    bool low_buf() {
        if (!low_out_) low_out_ = evbuffer_new();
        return low_out_ != nullptr;
    }
    void keep_rest(const uint8_t *p, size_t n) { in_.assign(p, p + n); in_off_ = 0; }

    int fd_;
    bool server_;
    mode_t mode_;
    uint64_t rng_ = 0;
    std::string detail_;
    std::unique_ptr<stream> inner_;  // wss: the TLS stream under us; NULL: the socket itself
    evbuffer *low_out_ = nullptr;    // wss: our octets the inner stream has not taken yet
                                     // (made when needed, freed once drained)
    int low_failed_ = 0;             // wss: the inner stream's write error, reported once seen
    bool inner_done_ = false;        // wss: the inner stream's handshake finished
    bool gather_ = false;            // wss: ... and it has a gather write (writev)
    bool segments_ = false;          // RAW: the queue may hold file segments

    // Handshake.
    http::head_parser *head_ = nullptr;
    size_t answer_off_ = 0;
    bool request_sent_ = false;
    std::string key_;
    std::vector<uint8_t> in_;  // octets read past the HTTP head, handed out by read() first
    size_t in_off_ = 0;

    // Reading.
    ws::parser parser_;
    frame_bounds bounds_;
    uint64_t msg_bytes_ = 0;
    bool close_recv_ = false;
    int failed_ = 0;

    // Control frames of ours: at most one pong (the latest ping's, RFC 6455 5.5.3) and the
    // close, staged onto the wire between data frames. Their room exists only while one is
    // due or being written: an idle connection holds none.
    struct control_room {
        uint8_t stage[STAGE_CAP];
        uint8_t pong[ws::MAX_CONTROL];
    };
    std::unique_ptr<control_room> ctl_;
    bool room() {
        if (!ctl_) ctl_.reset(new (std::nothrow) control_room);
        return ctl_ != nullptr;
    }
    void drop_room() {
        if (stage_len_ == 0 && !pong_pending_) ctl_.reset();
    }
    size_t stage_len_ = 0, stage_off_ = 0;
    bool pong_pending_ = false;
    size_t pong_len_ = 0;
    bool close_pending_ = false, close_sent_ = false;
    uint16_t close_code_ = ws::CLOSE_NORMAL;
    std::string close_reason_;

    // The data frame being written.
    uint8_t hdr_[ws::MAX_HEADER];
    size_t hdr_len_ = 0, hdr_off_ = 0;
    uint64_t frame_left_ = 0;    // payload octets of the frame not yet written
    uint64_t msg_left_ = 0;      // client: octets of the message not yet put in a frame
    bool msg_first_ = false;
    std::unique_ptr<uint8_t[]> scratch_;  // client: the masked fragment
    size_t scratch_off_ = 0;
};

// ---- control frames -------------------------------------------------------------------------

void ws_stream::put_control(uint8_t op, const uint8_t *p, size_t n) {
    if (!room()) return;  // without memory the frame is lost; the connection ends anyway
    uint8_t key[4];
    if (!server_) next_mask(key);
    uint8_t *at = ctl_->stage + stage_len_;
    size_t h = ws::header_write(at, op, true, n, server_ ? nullptr : key);
    if (server_) {
        memcpy(at + h, p, n);
    } else {
        ws::mask_copy(at + h, p, n, key, 0);
    }
    stage_len_ += h + n;
}

// Moves pending control frames onto the stage (between data frames only).
void ws_stream::stage_control() {
    if (stage_off_ < stage_len_ || frame_active() || close_sent_) return;
    stage_len_ = stage_off_ = 0;
    if (pong_pending_) {
        put_control(ws::OP_PONG, ctl_->pong, pong_len_);
        pong_pending_ = false;
    }
    if (close_pending_) {
        uint8_t p[ws::MAX_CONTROL];
        size_t n = 0;
        if (close_code_ != ws::CLOSE_NO_STATUS) {
            p[0] = (uint8_t)(close_code_ >> 8);
            p[1] = (uint8_t)close_code_;
            n = 2 + std::min(close_reason_.size(), ws::MAX_CONTROL - 2);
            memcpy(p + 2, close_reason_.data(), n - 2);
        }
        put_control(ws::OP_CLOSE, p, n);
        close_pending_ = false;
        close_sent_ = true;
    }
}

// Sends staged control frames now if the socket takes them. True when the stage is empty
// and no close waits for a data frame to end.
bool ws_stream::flush_control() {
    stage_control();
    while (stage_off_ < stage_len_) {
        ssize_t n = low_send(ctl_->stage + stage_off_, stage_len_ - stage_off_);
        if (n <= 0) return false;
        stage_off_ += (size_t)n;
    }
    stage_len_ = stage_off_ = 0;
    drop_room();
    return !close_pending_;
}

// A violation by the peer: close with `status` (best effort), report `code` from now on.
ssize_t ws_stream::fail_ws(uint16_t status, const char *why, int code) {
    detail_ = std::string("WebSocket: ") + why;
    failed_ = code;
    if (!close_sent_) {
        close_pending_ = true;
        pong_pending_ = false;
        close_code_ = status;
        close_reason_ = why;
        flush_control();
    }
    return code;
}

// ---- handshake ------------------------------------------------------------------------------

ssize_t ws_stream::send_answer() {
    while (answer_off_ < answer_.size()) {
        ssize_t n = low_send(answer_.data() + answer_off_, answer_.size() - answer_off_);
        if (n < 0) return n;
        answer_off_ += (size_t)n;
    }
    if (refusing_) {
        if (inner_) {
            // The refusal must be through TLS before its close_notify.
            if (low_flush() < 0) return TRUFLUX_EHTTP;
            if (low_has_output()) return IO_WANT_WRITE;
            inner_->shutdown_write();
        } else {
            shutdown(fd_, SHUT_WR);
        }
        return TRUFLUX_EHTTP;
    }
    mode_ = OPEN;
    answer_.clear();
    answer_.shrink_to_fit();
    return 0;
}

ssize_t ws_stream::server_handshake() {
    if (!head_) {
        head_ = new (std::nothrow) http::head_parser(http::head_parser::REQUEST);
        if (!head_) return TRUFLUX_ENOMEM;
    }
    for (;;) {
        uint8_t buf[4096];
        ssize_t n = in_off_ < in_.size() ? take_in(buf, sizeof buf) : low_recv(buf, sizeof buf);
        if (n == 0) {
            detail_ = "peer closed the connection during the HTTP upgrade";
            return TRUFLUX_EEOF;
        }
        if (n < 0) return n;
        long used = head_->feed(buf, (size_t)n);
        ws::upgrade_answer a;
        if (used < 0) {
            a.status = head_->error_status();
            a.why = head_->why();
            a.text = ws::refusal_text(a.status, a.why, false);
        } else if (!head_->done()) {
            continue;
        } else {
            keep_rest(buf + used, (size_t)n - (size_t)used);
            ws::check_request(ws::request_of(*head_), path_, &a);
        }
        refusing_ = a.status != 101;
        if (refusing_) detail_ = std::string("HTTP upgrade refused: ") + a.why;
        answer_ = std::move(a.text);
        delete head_;
        head_ = nullptr;
        mode_ = ANSWER;
        return send_answer();
    }
}

ssize_t ws_stream::client_handshake() {
    if (!request_sent_) {
        if (answer_.empty()) {
            uint8_t raw[16];
            random_bytes(raw, sizeof raw);
            key_ = ws::base64_encode(raw, sizeof raw);
            answer_ = ws::build_request(authority_, path_, key_);  // our request, here
        }
        while (answer_off_ < answer_.size()) {
            ssize_t n = low_send(answer_.data() + answer_off_, answer_.size() - answer_off_);
            if (n < 0) return n;
            answer_off_ += (size_t)n;
        }
        request_sent_ = true;
        answer_.clear();
        head_ = new (std::nothrow) http::head_parser(http::head_parser::RESPONSE);
        if (!head_) return TRUFLUX_ENOMEM;
    }
    for (;;) {
        uint8_t buf[4096];
        ssize_t n = low_recv(buf, sizeof buf);
        if (n == 0) {
            detail_ = "server closed the connection during the HTTP upgrade";
            return TRUFLUX_EHTTP;
        }
        if (n < 0) return n;
        long used = head_->feed(buf, (size_t)n);
        if (used < 0) {
            detail_ = std::string("malformed HTTP answer: ") + head_->why();
            return TRUFLUX_EHTTP;
        }
        if (!head_->done()) continue;
        std::string why;
        if (!ws::check_response(*head_, key_, &why)) {
            detail_ = "HTTP upgrade failed: " + why;
            return TRUFLUX_EHTTP;
        }
        keep_rest(buf + used, (size_t)n - (size_t)used);
        delete head_;
        head_ = nullptr;
        mode_ = OPEN;
        return 0;
    }
}

ssize_t ws_stream::handshake() {
    if (inner_ && !inner_done_) {
        ssize_t r = inner_->handshake();
        if (r != 0) return r;
        inner_done_ = true;
        // Whether it gathers is settled with its handshake (TLS: which record layer).
        gather_ = inner_->can_writev();
    }
    ssize_t r = step_handshake();
    if (!inner_ || (r != 0 && r != IO_WANT_READ)) return r;
    // What we wrote (a request, a 101) must leave the inner stream before we wait to read,
    // and before the connection counts the handshake done.
    if (low_flush() < 0) return low_failed_;
    return low_has_output() ? IO_WANT_WRITE : r;
}

ssize_t ws_stream::step_handshake() {
    switch (mode_) {
    case SNIFF: {
        uint8_t b;
        if (inner_) {
            // No peeking through TLS: the first octets read wait in in_ for whoever follows.
            if (in_off_ >= in_.size()) {
                uint8_t buf[4096];
                ssize_t n = low_recv(buf, sizeof buf);
                if (n == 0) return TRUFLUX_EEOF;
                if (n < 0) return n;
                keep_rest(buf, (size_t)n);
            }
            b = in_[in_off_];
        } else {
            ssize_t n = recv(fd_, &b, 1, MSG_PEEK);
            if (n == 0) return TRUFLUX_EEOF;
            if (n < 0) return errno_result(false);
        }
        if (!sniff_is_http(b)) {
            mode_ = RAW;
            return 0;
        }
        mode_ = SERVER_HTTP;
        return server_handshake();
    }
    case SERVER_HTTP: return server_handshake();
    case ANSWER: return send_answer();
    case CLIENT_HTTP: return client_handshake();
    default: return 0;
    }
}

// ---- reading --------------------------------------------------------------------------------

// Octets kept in in_, up to len.
ssize_t ws_stream::take_in(uint8_t *buf, size_t len) {
    size_t n = std::min(len, in_.size() - in_off_);
    memcpy(buf, in_.data() + in_off_, n);
    in_off_ += n;
    if (in_off_ == in_.size()) {
        in_.clear();
        in_.shrink_to_fit();
        in_off_ = 0;
    }
    return (ssize_t)n;
}

ssize_t ws_stream::read(uint8_t *buf, size_t len) {
    if (mode_ == RAW) {
        if (in_off_ < in_.size()) return take_in(buf, len);
        return low_recv(buf, len);
    }
    if (failed_) return failed_;
    if (close_recv_) return 0;
    for (int round = 0; round < 4; round++) {
        size_t n;
        if (in_off_ < in_.size()) {
            n = (size_t)take_in(buf, len);
        } else {
            ssize_t r = low_recv(buf, len);
            if (r == 0) return 0;  // TCP ended without a close frame: EOF all the same
            if (r < 0) return r;
            n = (size_t)r;
        }
        parser_.feed(buf, n);
        ws::event ev;
        int r = 0;
        bool closing = false;
        while (!closing && (r = parser_.next(&ev)) > 0) {
            switch (ev.kind) {
            case ws::event::DATA:
                bounds_.feed(ev.data, ev.len);
                msg_bytes_ += ev.len;
                if (ev.last) {
                    if (msg_bytes_ == 0)
                        return fail_ws(ws::CLOSE_PROTOCOL, "empty message", TRUFLUX_EPROTO);
                    if (!bounds_.at_boundary())
                        return fail_ws(ws::CLOSE_PROTOCOL, "truflux frame split across messages",
                                       TRUFLUX_EPROTO);
                    msg_bytes_ = 0;
                }
                break;
            case ws::event::PING:
                if (close_sent_ || !room()) break;
                memcpy(ctl_->pong, ev.data, ev.len);
                pong_len_ = ev.len;
                pong_pending_ = true;
                break;
            case ws::event::PONG:
                break;
            case ws::event::CLOSE:
                // Answer with the same code (RFC 6455 5.5.1), then report the end.
                close_recv_ = true;
                closing = true;
                if (!close_sent_) {
                    close_pending_ = true;
                    pong_pending_ = false;
                    close_code_ = ev.code;
                    close_reason_.clear();
                }
                break;
            }
        }
        if (!closing && r < 0) {
            uint16_t st = parser_.status();
            return fail_ws(st, parser_.why(),
                           st == ws::CLOSE_TOO_BIG ? TRUFLUX_EMSGSIZE : TRUFLUX_EWEBSOCKET);
        }
        size_t got = parser_.compacted();
        flush_control();  // a pong goes out at once when the socket takes it
        if (got) return (ssize_t)got;
        if (close_recv_) return 0;
    }
    return IO_WANT_READ;
}

// ---- writing --------------------------------------------------------------------------------

ssize_t ws_stream::write(evbuffer *out) {
    if (mode_ == RAW) {
        if (inner_) return inner_->write(out);
        if (segments_) {
            // File segments (sendfile(2)) have no memory to peek at: libevent sends them.
            int n = evbuffer_write(out, fd_);
            return n >= 0 ? n : errno_result(true);
        }
        // Not evbuffer_write() otherwise: its writev(2) raises SIGPIPE when the peer is gone.
        iovec v[MAX_IOV];
        int k = evbuffer_peek(out, -1, nullptr, v, MAX_IOV);
        if (k <= 0) return 0;
        ssize_t w = low_sendv(v, std::min(k, MAX_IOV));
        if (w > 0) evbuffer_drain(out, (size_t)w);
        return w;
    }
    if (inner_ && low_flush() < 0) return low_failed_;
    if (mode_ != OPEN) return 0;
    if (close_sent_ && !frame_active()) {
        // Nothing may follow our close frame: what is queued will never be sent.
        if (stage_off_ < stage_len_) {
            flush_control();
            if (stage_off_ < stage_len_) return IO_WANT_WRITE;
        }
        size_t n = evbuffer_get_length(out);
        evbuffer_drain(out, n);
        return (ssize_t)n;
    }
    stage_control();
    if (!frame_active() && !close_sent_ && evbuffer_get_length(out) > 0) {
        if (server_) {
            frame_left_ = batch_len(out);
            hdr_len_ = ws::header_write(hdr_, ws::OP_BINARY, true, frame_left_, nullptr);
        } else {
            if (!scratch_) {
                scratch_.reset(new (std::nothrow) uint8_t[CLIENT_FRAG]);
                if (!scratch_) return TRUFLUX_ENOMEM;
            }
            if (msg_left_ == 0) {
                msg_left_ = batch_len(out);
                msg_first_ = true;
            }
            size_t flen = (size_t)std::min<uint64_t>(msg_left_, frag_max());
            evbuffer_copyout(out, scratch_.get(), flen);
            uint8_t key[4];
            next_mask(key);
            ws::mask_copy(scratch_.get(), scratch_.get(), flen, key, 0);
            hdr_len_ = ws::header_write(hdr_, msg_first_ ? ws::OP_BINARY : ws::OP_CONT,
                                        flen == msg_left_, flen, key);
            msg_first_ = false;
            msg_left_ -= flen;
            frame_left_ = flen;
            scratch_off_ = 0;
        }
        hdr_off_ = 0;
    }
    iovec iov[MAX_IOV];
    int n = 0;
    if (stage_off_ < stage_len_) iov[n++] = {ctl_->stage + stage_off_, stage_len_ - stage_off_};
    if (hdr_off_ < hdr_len_) iov[n++] = {hdr_ + hdr_off_, hdr_len_ - hdr_off_};
    if (frame_left_) {
        if (server_) {
            int k = evbuffer_peek(out, (ev_ssize_t)frame_left_, nullptr, iov + n, MAX_IOV - n);
            if (k > MAX_IOV - n) k = MAX_IOV - n;
            // Chains may run past the frame: cut the last vector at its end.
            uint64_t sum = 0;
            for (int i = 0; i < k; i++) {
                if (sum + iov[n + i].iov_len >= frame_left_) {
                    iov[n + i].iov_len = (size_t)(frame_left_ - sum);
                    k = i + 1;
                    break;
                }
                sum += iov[n + i].iov_len;
            }
            n += k;
        } else {
            iov[n++] = {scratch_.get() + scratch_off_, (size_t)frame_left_};
        }
    }
    if (n == 0) return 0;
    ssize_t w = low_sendv(iov, n);
    if (w < 0) return w;
    size_t left = sent_control_and_header((size_t)w);
    if (left) {
        evbuffer_drain(out, left);
        frame_left_ -= left;
        scratch_off_ += left;
    }
    return (ssize_t)left;
}

// wss: a small message as one piece (a TLS record needs its plaintext contiguous), only
// between frames with nothing of ours waiting. The TLS stream takes it whole or not at all;
// not at all leaves no trace here (the caller queues the frame).
ssize_t ws_stream::write_direct_inner(const uint8_t *hdr, size_t hlen, const void *data,
                                      size_t len) {
    size_t total = hlen + len;
    if (mode_ == RAW) return inner_->write_direct(hdr, hlen, data, len);
    if (mode_ != OPEN || total > DIRECT_SMALL || frame_active() || close_sent_ ||
        close_pending_ || pong_pending_ || stage_off_ < stage_len_ || low_has_output() ||
        low_failed_)
        return IO_NO_DIRECT;
    uint8_t buf[ws::MAX_HEADER + DIRECT_SMALL];
    uint8_t key[4];
    if (!server_) next_mask(key);
    size_t h = ws::header_write(buf, ws::OP_BINARY, true, total, server_ ? nullptr : key);
    memcpy(buf + h, hdr, hlen);
    if (len) memcpy(buf + h + hlen, data, len);
    if (!server_) ws::mask_copy(buf + h, buf + h, total, key, 0);
    ssize_t w = inner_->write_direct(buf, h + total, nullptr, 0);
    if (w <= 0) return w == 0 || w == IO_WANT_WRITE || w == IO_NO_DIRECT ? IO_NO_DIRECT : w;
    // A stream that took part of it: the rest is ours to send first.
    if ((size_t)w < h + total &&
        (!low_buf() || evbuffer_add(low_out_, buf + w, h + total - (size_t)w) != 0))
        return TRUFLUX_ENOMEM;
    return (ssize_t)total;
}

// Counts w octets sent from the stage, then the data frame's header: the payload octets
// among them.
size_t ws_stream::sent_control_and_header(size_t w) {
    size_t k = std::min(w, stage_len_ - stage_off_);
    stage_off_ += k;
    w -= k;
    if (stage_off_ == stage_len_) {
        stage_off_ = stage_len_ = 0;
        drop_room();
    }
    k = std::min(w, hdr_len_ - hdr_off_);
    hdr_off_ += k;
    return w - k;
}

ssize_t ws_stream::write_direct(const uint8_t *hdr, size_t hlen, const void *data, size_t len) {
    size_t total = hlen + len;
    if (inner_ && (mode_ == RAW || total <= DIRECT_SMALL || !gather_))
        return write_direct_inner(hdr, hlen, data, len);
    iovec iov[4];
    int n = 0;
    if (mode_ == RAW) {
        iov[n++] = {const_cast<uint8_t *>(hdr), hlen};
        if (len) iov[n++] = {const_cast<void *>(data), len};
        return low_sendv(iov, n);
    }
    // Between frames only, and never after our close; then the queue's path decides. A
    // client masks a message larger than its scratch fragment by fragment, only where the
    // inner stream can take several fragments at once (TLS sealing them as they come).
    if (mode_ != OPEN || frame_active() || close_sent_ || msg_left_ > 0 ||
        (!server_ && total > CLIENT_FRAG && !inner_))
        return IO_NO_DIRECT;
    stage_control();
    if (close_sent_ && stage_off_ < stage_len_) return IO_NO_DIRECT;
    if (!server_) return write_direct_masked(hdr, hlen, data, len);
    hdr_len_ = ws::header_write(hdr_, ws::OP_BINARY, true, total, nullptr);
    hdr_off_ = 0;
    frame_left_ = total;
    if (stage_off_ < stage_len_) iov[n++] = {ctl_->stage + stage_off_, stage_len_ - stage_off_};
    iov[n++] = {hdr_, hdr_len_};
    iov[n++] = {const_cast<uint8_t *>(hdr), hlen};
    if (len) iov[n++] = {const_cast<void *>(data), len};
    ssize_t w = low_sendv(iov, n);
    // Whatever is not taken stays a frame in progress: its header here, the payload's rest
    // in the queue the caller puts it in, which write() goes on with.
    size_t left = sent_control_and_header(w > 0 ? (size_t)w : 0);
    frame_left_ -= left;
    if (w < 0 && w != IO_WANT_WRITE) return w;
    return (ssize_t)left;
}

// A client's message, masked into the scratch one fragment at a time, each sent before the
// next is masked. Where the inner stream stops taking, the fragment in the scratch stays a
// frame in progress and msg_left_ counts the message's rest: the caller queues everything
// not taken, and write() goes on from there as with any queued message.
ssize_t ws_stream::write_direct_masked(const uint8_t *hdr, size_t hlen, const void *data,
                                       size_t len) {
    if (!scratch_) {
        scratch_.reset(new (std::nothrow) uint8_t[CLIENT_FRAG]);
        if (!scratch_) return IO_NO_DIRECT;
    }
    const uint8_t *body = static_cast<const uint8_t *>(data);
    size_t pos = 0, done = 0;
    msg_left_ = hlen + len;
    msg_first_ = true;
    for (;;) {
        size_t flen = (size_t)std::min<uint64_t>(msg_left_, frag_max());
        uint8_t key[4];
        next_mask(key);
        uint8_t *dst = scratch_.get();
        size_t k = pos < hlen ? std::min(hlen - pos, flen) : 0;
        if (k) ws::mask_copy(dst, hdr + pos, k, key, 0);
        if (flen > k) ws::mask_copy(dst + k, body + (pos + k - hlen), flen - k, key, k);
        hdr_len_ = ws::header_write(hdr_, msg_first_ ? ws::OP_BINARY : ws::OP_CONT,
                                    flen == msg_left_, flen, key);
        hdr_off_ = 0;
        msg_first_ = false;
        msg_left_ -= flen;
        frame_left_ = flen;
        scratch_off_ = 0;
        pos += flen;
        iovec iov[3];
        int n = 0;
        if (stage_off_ < stage_len_) iov[n++] = {ctl_->stage + stage_off_, stage_len_ - stage_off_};
        iov[n++] = {hdr_, hdr_len_};
        iov[n++] = {dst, flen};
        ssize_t w = low_sendv(iov, n);
        size_t left = sent_control_and_header(w > 0 ? (size_t)w : 0);
        frame_left_ -= left;
        scratch_off_ += left;
        done += left;
        if (w < 0 && w != IO_WANT_WRITE) return done ? (ssize_t)done : w;
        if (frame_active() || msg_left_ == 0) return (ssize_t)done;
    }
}

void ws_stream::shutdown_write() {
    if (mode_ == OPEN && !close_sent_) {
        close_pending_ = true;
        close_code_ = ws::CLOSE_NORMAL;
        close_reason_.clear();
        // The close frame must not be cut off by the FIN; if it cannot go now, the linger
        // timer ends the connection instead.
        if (!flush_control()) return;
    }
    if (inner_) {
        // Our close frame goes through TLS before its close_notify.
        if (low_flush() == 0 && !low_has_output()) inner_->shutdown_write();
        return;
    }
    shutdown(fd_, SHUT_WR);
}

// ---- the layer below: the socket, or an inner stream ---------------------------------------

ssize_t ws_stream::low_recv(uint8_t *p, size_t n) {
    if (inner_) return inner_->read(p, n);
    ssize_t r = recv(fd_, p, n, 0);
    return r >= 0 ? r : errno_result(false);
}

// Octets taken from iov (>= 0; > 0 when iov holds any and there is room), IO_WANT_WRITE, or
// an error. Over an inner stream they go to its gather write, or else are copied into
// low_out_, bounded by LOW_CAP.
ssize_t ws_stream::low_sendv(const iovec *iov, int n) {
    if (!inner_) {
        msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = const_cast<iovec *>(iov);
        mh.msg_iovlen = (size_t)n;
        ssize_t w = sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        return w >= 0 ? w : errno_result(true);
    }
    if (low_flush() < 0) return low_failed_;
    if (inner_->can_writev()) {
        // What we copied before the inner stream could gather (the upgrade) goes first.
        if (low_len() > 0) return IO_WANT_WRITE;
        ssize_t w = inner_->writev(iov, n);
        if (w != IO_NO_DIRECT) return w;
    }
    size_t have = low_len();
    if (have >= LOW_CAP) return IO_WANT_WRITE;
    if (!low_buf()) return TRUFLUX_ENOMEM;
    size_t room = LOW_CAP - have, took = 0;
    for (int i = 0; i < n && took < room; i++) {
        size_t k = std::min(iov[i].iov_len, room - took);
        if (evbuffer_add(low_out_, iov[i].iov_base, k) != 0) {
            if (took) break;
            return TRUFLUX_ENOMEM;
        }
        took += k;
    }
    // A failure here is reported by the next call: these octets are ours to account for.
    low_flush();
    return (ssize_t)took;
}

// Hands low_out_ to the inner stream as far as it takes it: 0, or its error.
int ws_stream::low_flush() {
    if (!inner_) return 0;
    if (low_failed_) return low_failed_;
    while (low_len() > 0 || inner_->has_output()) {
        if (low_len() == 0 && inner_->can_writev()) {
            // Only the inner stream's own records wait: it sends them without a buffer of ours.
            ssize_t w = inner_->writev(nullptr, 0);
            if (w == 0 && !inner_->has_output()) break;
            if (w == 0 || w == IO_WANT_WRITE || w == IO_WANT_READ) return 0;
            low_failed_ = (int)w;
            return low_failed_;
        }
        if (!low_buf()) {
            low_failed_ = TRUFLUX_ENOMEM;
            return low_failed_;
        }
        ssize_t w = inner_->write(low_out_);
        if (w > 0) continue;
        if (w == 0 || w == IO_WANT_WRITE || w == IO_WANT_READ) return 0;
        low_failed_ = (int)w;
        return low_failed_;
    }
    // Drained: an idle connection keeps no buffer.
    if (low_out_) {
        evbuffer_free(low_out_);
        low_out_ = nullptr;
    }
    return 0;
}

// ---- transports -----------------------------------------------------------------------------

void *ctx_new_at(const tfcore::config &, bool server, const tfcore::url &u, bool sniff,
                 int *err, std::string *detail) {
    if (sniff && !server) {
        *err = TRUFLUX_EBADURL;
        *detail = "tcp+ws:// is for listening; clients connect with tcp:// or ws://";
        return nullptr;
    }
    ws_ctx *c = new (std::nothrow) ws_ctx();
    if (!c) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    c->sniff = sniff;
    c->path = u.path;
    if (!server) {
        if (c->path.empty()) c->path = "/";
        bool v6 = u.host.find(':') != std::string::npos;
        c->authority = (v6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
    }
    return c;
}

void *ws_ctx_new_at(const tfcore::config &cfg, bool server, const tfcore::url &u, int *err,
                    std::string *detail) {
    return ctx_new_at(cfg, server, u, false, err, detail);
}

void *sniff_ctx_new_at(const tfcore::config &cfg, bool server, const tfcore::url &u, int *err,
                       std::string *detail) {
    return ctx_new_at(cfg, server, u, true, err, detail);
}

void ws_ctx_free(void *ctx) { delete static_cast<ws_ctx *>(ctx); }

stream *wrap(void *ctx, int fd, bool server, const std::string &, int *err) {
    return ws_wrap(static_cast<const ws_ctx *>(ctx), fd, server, err);
}

}  // namespace

stream *ws_wrap(const ws_ctx *ctx, int fd, bool server, int *err) {
    ws_stream::mode_t m = !server ? ws_stream::CLIENT_HTTP
                          : ctx && ctx->sniff ? ws_stream::SNIFF
                                              : ws_stream::SERVER_HTTP;
    ws_stream *s = new (std::nothrow) ws_stream(fd, server, m);
    if (!s) {
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    if (ctx) {
        s->path_ = ctx->path;
        s->authority_ = ctx->authority;
    }
    return s;
}

stream *ws_adopt(int fd, std::string answer, void (*release)(void *), void *arg, int *err) {
    ws_stream *s = new (std::nothrow) ws_stream(fd, true, ws_stream::ANSWER);
    if (!s) {
        *err = TRUFLUX_ENOMEM;
        if (release) release(arg);
        return nullptr;
    }
    s->answer_ = std::move(answer);
    s->release_ = release;
    s->release_arg_ = arg;
    return s;
}

stream *ws_wrap_over(const ws_ctx *ctx, stream *inner, bool server, int *err) {
    stream *s = ws_wrap(ctx, inner->fd(), server, err);
    if (!s) {
        delete inner;
        return nullptr;
    }
    if (!static_cast<ws_stream *>(s)->set_inner(inner)) {
        delete s;
        *err = TRUFLUX_ENOMEM;
        return nullptr;
    }
    return s;
}

extern const transport ws_transport = {"ws", nullptr, ws_ctx_free, wrap, ws_ctx_new_at};
extern const transport tcp_ws_transport = {"tcp+ws", nullptr, ws_ctx_free, wrap,
                                           sniff_ctx_new_at};

}  // namespace tfx
