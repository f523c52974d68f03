// lib/secure: the secure layer on one connection (see session.h).
#include "secure/session.h"

#include <event2/buffer.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include <truflux/error.h>

#include "core/scratch.h"
#include "crypto/names.h"
#include "transport/stream.h"

namespace tfsec {

// Messages this large are sealed a record at a time and written straight to the socket
// while it takes them (emit_direct), so the peer decrypts one record while the next is
// sealed. From about a record and a half: measured with truflux bench --alt-exe against
// 1 MiB, the 128 kB row went from 1.04x to 0.81x the mbedTLS AES-GCM floor and from 0.84x
// to 0.72x the OpenSSL one; 1 MB 0.50x / 0.60x either way.
static constexpr size_t DIRECT_MIN = 100u << 10;

namespace {

constexpr char PROLOGUE_LABEL[] = "truflux secure 1";
constexpr size_t MAX_HANDSHAKE = 512;  // our messages carry empty payloads: at most 96

bool is_security_code(int code) { return code <= TRUFLUX_EDECRYPT && code >= TRUFLUX_ECERT; }

std::string key_text(const uint8_t *key) {
    char b64[45];
    tfc::key_encode(key, b64);
    return b64;
}

std::string kind_text(const char *what, uint8_t kind) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s 0x%02x", what, kind);
    return buf;
}

void put_u16(std::vector<uint8_t> *v, size_t n) {
    v->push_back((uint8_t)(n >> 8));
    v->push_back((uint8_t)n);
}

}  // namespace

secure_conn::secure_conn(std::shared_ptr<settings> s, tf_conn *c) : s_(std::move(s)) {
    kind_lo = 0x20;
    kind_hi = 0x2F;
    c->txf = this;
    c->rxf = this;
}

secure_conn::~secure_conn() {
    writer_.reset();
    reader_.reset();
    tfc::wipe(hash_, sizeof hash_);
}

void secure_conn::reset(tf_conn *c) {
    c->txf = this;
    c->rxf = this;
    st_ = ST_OFF;
    peer_ = offer();
    // want_tx_ / want_rx_ are the application's wishes: they survive a reconnect.
    locked_ = fail_reported_ = authorized_ = ended_ = false;
    next_msg_ = 0;
    hs_.reset();
    writer_.reset();
    reader_.reset();
    tx_on_ = false;
    rx_on_ = false;
    tx_frames_ = tx_bytes_ = last_rekey_ms_ = 0;
    rekeys_sent_ = rekeys_received_ = 0;
    has_peer_key_ = false;
    memset(peer_key_, 0, sizeof peer_key_);
    tfc::wipe(hash_, sizeof hash_);
}

void secure_conn::on_attach(tf_conn *c) { reset(c); }

void secure_conn::on_tick(tf_conn *) {
    writer_.trim();
    reader_.trim();
}

bool secure_conn::alive(tf_conn *c) const {
    return c->fd >= 0 && c->phase.load(std::memory_order_relaxed) <= tfcore::PH_CLOSING;
}

void secure_conn::report_fail(tf_conn *c, int code, const std::string &detail) {
    if (fail_reported_) return;
    fail_reported_ = true;
    tfcore::endpoint *ep = c->owner;
    if (ep && !ep->silent && ep->cbs.on_secure_fail)
        ep->cbs.on_secure_fail(ep->cbs.user, c, code, detail.c_str());
}

int secure_conn::refuse(tf_conn *c, int code, const std::string &detail) {
    report_fail(c, code, detail);
    st_ = ST_FAILED;
    hs_.reset();
    tfcore::conn_fail(c, code, detail.c_str());
    return code;
}

// A failure that ends the connection: during the handshake it is also a failSecure.
void secure_conn::die(tf_conn *c, int code, const std::string &detail) {
    if (st_ == ST_HANDSHAKE || st_ == ST_CONFIRM) {
        report_fail(c, code, detail);
        st_ = ST_FAILED;
        hs_.reset();
    }
    if (alive(c)) tfcore::conn_fail(c, code, detail.c_str());
}

// ---- opening ---------------------------------------------------------------------------

int secure_conn::on_hello(tf_conn *c) {
    const settings &s = *s_;
    const tfw::hello_ext *ext = nullptr;
    for (const tfw::hello_ext &e : c->peer_exts) {
        if (e.type == HELLO_EXT_SECURE) {
            ext = &e;  // §6.4: the first one counts
            break;
        }
    }
    if (!(c->peer_caps & CAP_SECURE) || !ext) {
        const char *who = s.is_client ? "the server" : "the client";
        if (s.policy == TRUFLUX_SECURE_REQUIRED)
            return refuse(c, TRUFLUX_ENOTSECURE,
                          std::string(who) + " has no secure layer and encryption is required");
        report_fail(c, TRUFLUX_ENOTSECURE,
                    std::string(who) + " has no secure layer: the connection stays in plaintext");
        return 0;
    }
    if (offer_decode(ext->value.data(), ext->value.size(), &peer_) != 0)
        return refuse(c, TRUFLUX_EPROTO, "malformed secure offer in the peer's hello");
    locked_ = s.policy == TRUFLUX_SECURE_REQUIRED || peer_.policy == POLICY_REQUIRED;
    const offer &srv = s.is_client ? peer_ : s.mine;
    const offer &cli = s.is_client ? s.mine : peer_;
    if (!choose(srv, cli, &pat_, &cph_)) {
        if (locked_)
            return refuse(c, TRUFLUX_ENOCIPHER,
                          "no common cipher or handshake pattern, and encryption is required");
        report_fail(c, TRUFLUX_ENOCIPHER,
                    "no common cipher or handshake pattern: the connection stays in plaintext");
        return 0;
    }
    // The server names its key in its hello: a pin that differs fails here, before any
    // handshake message (the handshake would fail anyway, with a less helpful code).
    if (s.is_client && s.has_pin && peer_.has_key && memcmp(peer_.key, s.pin, tfc::DH_LEN) != 0)
        return refuse(c, TRUFLUX_EPIN,
                      "the server's key " + key_text(peer_.key) + " is not the pinned key " +
                          key_text(s.pin));

    // Both announcements go into the prologue: a change to either in transit (a removed
    // cipher, a lowered policy) makes the handshake fail.
    const std::vector<uint8_t> &mine = s.offer_bytes;
    const std::vector<uint8_t> &theirs = ext->value;
    const std::vector<uint8_t> &cb = s.is_client ? mine : theirs;
    const std::vector<uint8_t> &sb = s.is_client ? theirs : mine;
    std::vector<uint8_t> prologue(PROLOGUE_LABEL, PROLOGUE_LABEL + sizeof PROLOGUE_LABEL - 1);
    put_u16(&prologue, cb.size());
    prologue.insert(prologue.end(), cb.begin(), cb.end());
    put_u16(&prologue, sb.size());
    prologue.insert(prologue.end(), sb.begin(), sb.end());

    tfc::handshake_params p;
    p.pat = pat_;
    p.cph = cph_;
    p.initiator = s.is_client;
    p.prologue = prologue.data();
    p.prologue_len = prologue.size();
    bool uses_s = pat_ == tfc::pattern::XX || pat_ == tfc::pattern::IK ||
                  (pat_ == tfc::pattern::NK && !s.is_client);
    if (uses_s) p.s = s.s_priv;
    bool uses_rs = s.is_client && (pat_ == tfc::pattern::NK || pat_ == tfc::pattern::IK);
    if (uses_rs) p.rs = s.pin;
    hs_.reset(new tfc::handshake_state());
    int rc = hs_->initialize(p);
    if (rc != 0) return refuse(c, TRUFLUX_EINTERNAL, "cannot start the secure handshake");
    st_ = ST_HANDSHAKE;
    return locked_ ? HOLD_OPEN : 0;
}

void secure_conn::on_open(tf_conn *c) {
    if (st_ == ST_HANDSHAKE && s_->is_client) write_next(c);
}

void secure_conn::write_next(tf_conn *c) {
    uint8_t msg[MAX_HANDSHAKE];
    size_t n = 0;
    int rc = hs_->write_message(nullptr, 0, msg, sizeof msg, &n);
    if (rc != 0) {
        die(c, TRUFLUX_EHANDSHAKE, "cannot write a secure handshake message");
        return;
    }
    tfcore::conn_emit_raw(c, KIND_NOISE, next_msg_++, msg, n);
    if (hs_->is_complete()) split_done(c);
}

// The peer's static key as soon as the handshake reveals it: a pin to check (XX client),
// a key to authorise (XX, IK server). false when the connection was failed.
bool secure_conn::check_remote_static(tf_conn *c) {
    const uint8_t *rs = hs_->remote_static();
    if (!rs) return true;
    const settings &s = *s_;
    if (s.is_client) {
        if (pat_ == tfc::pattern::XX && s.has_pin && memcmp(rs, s.pin, tfc::DH_LEN) != 0) {
            die(c, TRUFLUX_EPIN,
                "the server proved the key " + key_text(rs) + ", not the pinned key " +
                    key_text(s.pin));
            return false;
        }
        return true;
    }
    if (authorized_) return true;
    uint8_t key[tfc::DH_LEN];
    memcpy(key, rs, sizeof key);
    bool ok = s.authorize(c, key);
    // The callback may have closed the connection or freed the server.
    if (!alive(c) || st_ != ST_HANDSHAKE) return false;
    if (!ok) {
        die(c, TRUFLUX_EAUTH, "the client key " + key_text(key) + " is not authorised");
        return false;
    }
    authorized_ = true;
    return true;
}

bool secure_conn::on_noise(tf_conn *c, const tfw::frame &f) {
    if (st_ != ST_HANDSHAKE || !hs_) {
        die(c, TRUFLUX_EPROTO, "unexpected secure handshake message");
        return false;
    }
    if (f.id != next_msg_ || hs_->is_write_turn()) {
        die(c, TRUFLUX_EPROTO, "secure handshake message out of turn");
        return false;
    }
    uint8_t payload[MAX_HANDSHAKE];
    size_t n = 0;
    int rc = hs_->read_message(f.payload, f.len, payload, sizeof payload, &n);
    tfc::wipe(payload, sizeof payload);
    if (rc != 0) {
        std::string why;
        if (rc == tfc::ERR_DECRYPT && s_->is_client &&
            (pat_ == tfc::pattern::NK || pat_ == tfc::pattern::IK))
            why = "the server could not prove it holds the pinned key (or the message was "
                  "tampered with)";
        else if (rc == tfc::ERR_DECRYPT)
            why = "a handshake message did not authenticate (a wrong key, or tampering)";
        else
            why = "malformed secure handshake message";
        die(c, TRUFLUX_EHANDSHAKE, why);
        return false;
    }
    next_msg_++;
    if (!check_remote_static(c)) return false;
    if (hs_->is_complete()) {
        split_done(c);
    } else if (hs_->is_write_turn()) {
        write_next(c);
    }
    return alive(c);
}

void secure_conn::split_done(tf_conn *c) {
    tfc::cipher_state tx, rx;
    if (hs_->split(&tx, &rx) != 0 || writer_.start(std::move(tx)) != 0) {
        die(c, TRUFLUX_EINTERNAL, "cannot set up the transport keys");
        return;
    }
    reader_.start(std::move(rx), c->cfg.max_message);
    const uint8_t *rs = hs_->remote_static();
    has_peer_key_ = rs != nullptr;
    if (rs) memcpy(peer_key_, rs, sizeof peer_key_);
    memcpy(hash_, hs_->handshake_hash(), sizeof hash_);
    hs_.reset();
    peer_ = offer();  // the negotiation is over: its lists would only take room
    last_rekey_ms_ = tfcore::now_ms(c->loop);
    // The XX initiator has sent its key last: it waits for the server's first record,
    // which says the key was authorised, before it calls the connection secure.
    st_ = s_->is_client && pat_ == tfc::pattern::XX ? ST_CONFIRM : ST_ON;
    // A required policy on either side overrides the application's wish for plaintext.
    if (want_tx_ || locked_) tfcore::conn_emit(c, KIND_SWITCH, 1, nullptr, 0);
    if (!want_rx_ && !locked_) tfcore::conn_emit(c, KIND_REQUEST, 0, nullptr, 0);
    if (st_ == ST_ON) established(c);
}

void secure_conn::established(tf_conn *c) {
    st_ = ST_ON;
    tfcore::endpoint *ep = c->owner;
    if (ep && !ep->silent && ep->cbs.on_secure) ep->cbs.on_secure(ep->cbs.user, c);
    if (alive(c)) tfcore::conn_finish_open(c);
}

void secure_conn::on_end(tf_conn *c, int reason) {
    // The peer refused us (its CLOSE carried the reason), possibly before its hello.
    if (st_ != ST_ON && is_security_code(reason))
        report_fail(c, reason, std::string("the peer refused the secure handshake: ") +
                                   tf_strerror(reason));
    else if (st_ == ST_HANDSHAKE || st_ == ST_CONFIRM)
        report_fail(c, reason, std::string("the connection ended during the secure handshake: ") +
                                   tf_strerror(reason));
    ended_ = true;
    hs_.reset();
    writer_.reset();
    reader_.reset();
}

// ---- sending ---------------------------------------------------------------------------

void secure_conn::put_plain(evbuffer *out, uint8_t kind, uint32_t id, const void *data,
                            size_t len) {
    uint8_t hdr[tfw::HEADER_SIZE];
    tfw::header_write(hdr, kind, id, (uint32_t)len);
    evbuffer_add(out, hdr, sizeof hdr);
    if (len) evbuffer_add(out, data, len);
}

void secure_conn::cipher_failed(tf_conn *c) {
    // Never fall back to plaintext: every later frame is dropped (tx_on_ stays set) and the
    // connection is dropped once the caller, which may be queueing a frame, has returned.
    if (ended_) return;
    ended_ = true;
    writer_.reset();
    tfcore::endpoint *ep = c->owner;
    if (ep && !ep->silent && ep->cbs.on_error)
        ep->cbs.on_error(ep->cbs.user, c, TRUFLUX_EINTERNAL, "encryption failed");
    tfcore::conn_retain(c);
    tfcore::defer(c->loop, [](void *arg) {
        tf_conn *conn = static_cast<tf_conn *>(arg);
        tfcore::conn_close(conn, TRUFLUX_CLOSE_FORCE, TRUFLUX_EINTERNAL);
        tfcore::conn_release(conn);
    }, c);
}

void secure_conn::emit(tf_conn *c, evbuffer *out, uint8_t kind, uint32_t id, const void *data,
                       size_t len) {
    if (ended_) {
        if (!tx_on_.load(std::memory_order_relaxed)) put_plain(out, kind, id, data, len);
        return;
    }
    if (!tx_on_.load(std::memory_order_relaxed)) {
        if (kind != KIND_SWITCH) {
            put_plain(out, kind, id, data, len);
            return;
        }
        if (id != 1 || !writer_.active()) return;
        tx_on_ = true;
    } else if (kind == KIND_SWITCH && id == 1) {
        return;  // already on
    }
    int rc;
    if (len >= DIRECT_MIN && tfw::is_msg_kind(kind) && writer_.empty() &&
        evbuffer_get_length(out) == 0 && c->io &&
        c->phase.load(std::memory_order_relaxed) == tfcore::PH_OPEN) {
        rc = emit_direct(c, out, kind, id, static_cast<const uint8_t *>(data), len);
    } else {
        rc = writer_.add(out, kind, id, data, len);
    }
    if (rc != 0) {
        cipher_failed(c);
        return;
    }
    tx_frames_++;
    tx_bytes_ += len;
    if (kind == tfw::KIND_CLOSE || (kind == KIND_SWITCH && id == 0)) {
        // A CLOSE may be the last thing the socket carries; after a switch-off marker the
        // next frame is plaintext. Either ends its record now.
        if (writer_.seal(out) != 0) {
            cipher_failed(c);
            return;
        }
        if (kind == KIND_SWITCH) tx_on_ = false;
        return;
    }
    maybe_rekey(c, out);
}

int secure_conn::emit_direct(tf_conn *c, evbuffer *out, uint8_t kind, uint32_t id,
                             const uint8_t *data, size_t len) {
    // One record's room per loop thread, reused by every connection of the loop (a record
    // is written or queued before the next is sealed).
    uint8_t *scratch = tfcore::thread_scratch(tfcore::SCRATCH_RECORD, RECORD_MAX);
    if (!scratch) return writer_.add(out, kind, id, data, len);
    bool direct = true;
    size_t written = 0;
    int rc = writer_.add_direct(out, kind, id, data, len, scratch,
                                [&](const uint8_t *p, size_t n) -> long {
                                    if (!direct) return 0;
                                    ssize_t w = c->io->write_direct(p, tfw::HEADER_SIZE,
                                                                    p + tfw::HEADER_SIZE,
                                                                    n - tfw::HEADER_SIZE);
                                    if (w < 0) direct = false;
                                    return (long)w;
                                },
                                &written);
    c->bytes_out.fetch_add(written, std::memory_order_relaxed);
    return rc;
}

void secure_conn::maybe_rekey(tf_conn *c, evbuffer *out) {
    const settings &s = *s_;
    bool due = (s.rekey_messages && tx_frames_ >= s.rekey_messages) ||
               (s.rekey_bytes && tx_bytes_ >= s.rekey_bytes);
    if (!due && s.rekey_ms) due = tfcore::now_ms(c->loop) - last_rekey_ms_ >= s.rekey_ms;
    if (!due) return;
    // The REKEY frame ends its record: the receiver rekeys after that record, as we do.
    if (writer_.add(out, KIND_REKEY, 0, nullptr, 0) != 0 || writer_.seal(out) != 0 ||
        writer_.rekey() != 0) {
        cipher_failed(c);
        return;
    }
    rekeys_sent_++;
    tx_frames_ = tx_bytes_ = 0;
    last_rekey_ms_ = tfcore::now_ms(c->loop);
}

void secure_conn::flush(tf_conn *c, evbuffer *out) {
    if (!tx_on_.load(std::memory_order_relaxed) || !writer_.active() || writer_.empty()) return;
    if (evbuffer_get_length(out) != 0 || !c->io || !c->io->can_write_direct()) {
        if (writer_.seal(out) != 0) cipher_failed(c);
        return;
    }
    // Nothing queued: the record is sealed where it was gathered and written from there, so
    // a message costs the queue no memory; only what the socket does not take is copied.
    uint8_t *rec = nullptr;
    size_t n = 0;
    if (writer_.seal_here(&rec, &n) != 0) {
        cipher_failed(c);
        return;
    }
    ssize_t w = c->io->write_direct(rec, tfw::HEADER_SIZE, rec + tfw::HEADER_SIZE,
                                    n - tfw::HEADER_SIZE);
    size_t done = w > 0 ? (size_t)w : 0;
    c->bytes_out.fetch_add(done, std::memory_order_relaxed);
    int rc = done < n ? evbuffer_add(out, rec + done, n - done) : 0;
    writer_.sealed();
    if (rc != 0) cipher_failed(c);
}

// ---- receiving -------------------------------------------------------------------------

bool secure_conn::on_frame(tf_conn *c, const tfw::frame &f) {
    switch (f.kind) {
    case KIND_RECORD:
        return on_record(c, f);
    case KIND_NOISE:
        return on_noise(c, f);
    case KIND_REQUEST:
        if (st_ != ST_OFF && st_ != ST_FAILED && !rx_on_.load(std::memory_order_relaxed)) {
            handle_request(c, f.id != 0, false);
            return alive(c);
        }
        break;
    default:
        break;
    }
    if (f.kind >= 0x20 && f.kind <= 0x2F) {
        die(c, st_ == ST_OFF || st_ == ST_FAILED ? TRUFLUX_EPROTO : TRUFLUX_ENOTSECURE,
            kind_text(st_ == ST_OFF || st_ == ST_FAILED
                          ? "secure-layer frame on a connection without it: kind"
                          : "secure-layer frame outside a record: kind",
                      f.kind));
        return false;
    }
    if (rx_on_.load(std::memory_order_relaxed)) {
        die(c, TRUFLUX_ENOTSECURE,
            kind_text("plaintext frame after the peer switched encryption on: kind", f.kind));
        return false;
    }
    if (locked_ && f.kind != tfw::KIND_CLOSE) {
        die(c, TRUFLUX_ENOTSECURE,
            kind_text("plaintext frame where encryption is required: kind", f.kind));
        return false;
    }
    if (reader_.active() && reader_.mid_frame()) {
        die(c, TRUFLUX_ETRUNCATED, "plaintext frame inside an unfinished encrypted frame");
        return false;
    }
    return tfcore::conn_dispatch(c, f);
}

bool secure_conn::on_record(tf_conn *c, const tfw::frame &f) {
    if (!reader_.active()) {
        die(c, TRUFLUX_EPROTO, "encrypted frame before the secure handshake finished");
        return false;
    }
    uint8_t *pt = nullptr;
    size_t n = 0;
    // The frame's bytes sit in the connection's own receive buffer, ours to overwrite.
    int rc = reader_.open(f.id, const_cast<uint8_t *>(f.payload), f.len, &pt, &n);
    if (rc != 0) {
        const char *why = rc == TRUFLUX_EREPLAY    ? "encrypted frame replayed"
                          : rc == TRUFLUX_EREORDER ? "encrypted frame out of order or missing"
                          : rc == TRUFLUX_EDECRYPT ? "encrypted frame failed authentication"
                          : rc == TRUFLUX_ETRUNCATED ? "encrypted frame shorter than its tag"
                                                     : "encrypted frame refused";
        char buf[160];
        snprintf(buf, sizeof buf, "%s (sequence %u, expected %u)", why, f.id,
                 (unsigned)(reader_.records() & 0x7FFFFFFFu));
        die(c, rc, buf);
        return false;
    }
    rx_on_ = true;
    if (st_ == ST_CONFIRM) {
        established(c);
        if (!alive(c)) return false;
    }
    bool rekey = false, switch_off = false;
    int r = reader_.walk(pt, n, [&](const tfw::frame &in) -> int {
        switch (in.kind) {
        case KIND_SWITCH:
            if (in.len != 0) return TRUFLUX_EPROTO;
            if (in.id == 0) switch_off = true;
            return 0;
        case KIND_REKEY:
            rekey = true;
            return 0;
        case KIND_REQUEST:
            handle_request(c, in.id != 0, true);
            return alive(c) ? 0 : 1;
        case tfw::KIND_HELLO:
        case tfw::KIND_WELCOME:
            return TRUFLUX_EPROTO;
        default:
            if (in.kind >= 0x20 && in.kind <= 0x2F) return TRUFLUX_EPROTO;
            return tfcore::conn_dispatch(c, in) ? 0 : 1;
        }
    });
    if (r == 1) return false;
    if (r < 0) {
        die(c, r, r == TRUFLUX_EMSGSIZE ? "encrypted frame holds a frame over the size limit"
                                        : "encrypted frame holds a malformed frame");
        return false;
    }
    if (!alive(c)) return false;
    if (rekey) {
        if (reader_.rekey() != 0) {
            die(c, TRUFLUX_EINTERNAL, "rekey failed");
            return false;
        }
        rekeys_received_++;
    }
    if (switch_off) {
        if (reader_.mid_frame()) {
            die(c, TRUFLUX_ETRUNCATED, "the peer switched encryption off inside a frame");
            return false;
        }
        if (locked_) {
            die(c, TRUFLUX_ENOTSECURE, "the peer switched encryption off, which is required");
            return false;
        }
        rx_on_ = false;
    }
    return true;
}

int secure_conn::on_eof(tf_conn *, int code) {
    // Records carry no end marker of their own: an encrypted stream that stops without an
    // authenticated CLOSE may have been cut by an attacker.
    if (code == TRUFLUX_EEOF &&
        (rx_on_.load(std::memory_order_relaxed) || (reader_.active() && reader_.mid_frame())))
        return TRUFLUX_ETRUNCATED;
    return code;
}

// ---- switching -------------------------------------------------------------------------

void secure_conn::handle_request(tf_conn *c, bool on, bool authenticated) {
    if (on) {
        if (writer_.active() && !tx_on_.load(std::memory_order_relaxed))
            tfcore::conn_emit(c, KIND_SWITCH, 1, nullptr, 0);
        return;
    }
    // Only the peer itself may lower our protection: an unauthenticated request could come
    // from anyone on the path.
    if (!authenticated || locked_) return;
    if (tx_on_.load(std::memory_order_relaxed)) tfcore::conn_emit(c, KIND_SWITCH, 0, nullptr, 0);
}

int secure_conn::set_secure(tf_conn *c, int dirs, bool on) {
    if (st_ == ST_OFF && !ended_ && c->phase.load(std::memory_order_relaxed) < tfcore::PH_SECURING) {
        // Before the hello: remembered for the handshake, if there is one.
        if (dirs & TRUFLUX_DIR_SEND) want_tx_ = on;
        if (dirs & TRUFLUX_DIR_RECV) want_rx_ = on;
        return 0;
    }
    if (st_ == ST_OFF || st_ == ST_FAILED || ended_) return TRUFLUX_ENOTSUP;
    if (!on && locked_) return TRUFLUX_ENOTSECURE;
    if (!alive(c)) return TRUFLUX_ECLOSED;
    bool ready = writer_.active();
    if (dirs & TRUFLUX_DIR_SEND) {
        want_tx_ = on;
        if (ready && on != tx_on_.load(std::memory_order_relaxed))
            tfcore::conn_emit(c, KIND_SWITCH, on ? 1 : 0, nullptr, 0);
    }
    if (dirs & TRUFLUX_DIR_RECV) {
        want_rx_ = on;
        if (ready) tfcore::conn_emit(c, KIND_REQUEST, on ? 1 : 0, nullptr, 0);
    }
    return 0;
}

void secure_conn::info(tf_secure_info_t *out) const {
    tf_secure_info_t i;
    memset(&i, 0, sizeof i);
    i.size = sizeof i;
    bool known = st_ == ST_HANDSHAKE || st_ == ST_CONFIRM || st_ == ST_ON;
    i.established = st_ == ST_ON ? 1 : 0;
    i.pattern = known ? pattern_code(pat_) : -1;
    i.cipher = known ? cipher_code(cph_) : -1;
    i.has_peer_key = has_peer_key_ ? 1 : 0;
    memcpy(i.peer_key, peer_key_, sizeof i.peer_key);
    memcpy(i.handshake_hash, hash_, sizeof i.handshake_hash);
    i.rekeys_sent = rekeys_sent_;
    i.rekeys_received = rekeys_received_;
    i.records_sent = writer_.records();
    i.records_received = reader_.records();
    size_t n = out->size < sizeof i ? out->size : sizeof i;
    memcpy(out, &i, n);
    out->size = n;
}

}  // namespace tfsec
