// lib/files: the file sub-protocol of a connection (see session.h, docs/PROTOCOL.md §23):
// the session's life, the application's calls, and the ends of transfers. Incoming frames
// are in frames.cpp, moving content and credit in flow.cpp.
//
// Flow of content. The sender's pump queues one chunk per running transfer in turn while the
// connection's send queue holds less than TRUFLUX_OPT_FILE_QUEUE bytes and the transfer has
// credit; it starts again when the queue empties (on_flushed), when credit or a resume
// arrives, or when a source wakes. So messages never wait behind more than that bound of file
// data, and the sender holds no more than it in memory. The receiver hands each chunk to its
// sink at once; what a slow sink does not take waits in the transfer's buffer, which the
// credit keeps within TRUFLUX_OPT_FILE_WINDOW, and credit is granted back as the sink takes
// bytes. Work that must not run inside a caller's stack (the pump, draining a sink, hashing a
// resumed prefix, on_end after a local cancel) runs from a deferred "kick".
#include "files/session.h"

#include <event2/buffer.h>
#include <event2/event.h>

#include <algorithm>
#include <cstring>
#include <new>

#include <truflux/error.h>

#include "crypto/backend.h"
#include "files/name.h"

tf_file::tf_file(tf_conn *c) : conn(c) { tfcore::conn_retain(c); }

tf_file::~tf_file() { tfcore::conn_release(conn); }

namespace tff {

using tfcore::PH_OPEN;

void file_retain(tf_file *f) { f->refs.fetch_add(1, std::memory_order_relaxed); }

void file_release(tf_file *f) {
    if (f->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete f;
}

// ---- endpoint hooks ---------------------------------------------------------------------

void enable(tfcore::endpoint *ep, const tf_file_callbacks_t *cbs) {
    if (!ep->files) {
        ep->files = std::make_shared<settings>();
        ep->caps |= CAP_FILES;
        tfcore::build_hello(ep);
        ep->ext_hooks.push_back([](tf_conn *c, tfcore::endpoint *e) { attach(c, e->files); });
    }
    tf_file_callbacks_t c{};
    if (cbs) memcpy(&c, cbs, std::min(cbs->size, sizeof c));
    c.size = sizeof c;
    ep->files->cbs = c;
}

void attach(tf_conn *c, const std::shared_ptr<settings> &s) {
    // Without memory for it the connection still works, without files (ENOTSUP).
    session *x = new (std::nothrow) session(c, s);
    if (x) tfcore::conn_add_ext(c, x);
}

// ---- the session ------------------------------------------------------------------------

session::session(tf_conn *c, std::shared_ptr<settings> s)
    : c_(c), set_(std::move(s)), client_(c->owner && c->owner->is_client),
      scratch_(tfw::MAX_FILE_CHUNK) {
    kind_lo = tfw::KIND_FILE_OFFER;
    kind_hi = tfw::KIND_FILE_DONE;
}

session::~session() {
    // Every running transfer holds a reference on the connection, so none is left when the
    // connection is destroyed; this only guards against a path that skipped on_end.
    std::vector<tf_file *> all;
    for (auto &kv : files_) all.push_back(kv.second);
    files_.clear();
    for (tf_file *f : ended_) all.push_back(f);
    ended_.clear();
    for (tf_file *f : all) {
        f->st = state::ended;
        if (f->snk) f->snk->discard(f->incoming && f->resumable);
        f->sess = nullptr;
        file_release(f);
    }
}

session *session::of(tf_conn *c) {
    for (tfcore::conn_ext *e : c->exts)
        if (session *s = dynamic_cast<session *>(e)) return s;
    return nullptr;
}

const tf_file_callbacks_t *session::cbs() const {
    tfcore::endpoint *ep = c_->owner;
    if (!ep || ep->silent) return nullptr;
    return &set_->cbs;
}

void session::ev_progress(tf_file *f, uint64_t done) {
    const tf_file_callbacks_t *cb = cbs();
    if (cb && cb->on_progress) cb->on_progress(cb->user, f, done, f->size);
}

void session::ev_error(tf_file *f, int code, const char *detail) {
    const tf_file_callbacks_t *cb = cbs();
    if (cb && cb->on_error) cb->on_error(cb->user, f, code, detail ? detail : tf_strerror(code));
}

void session::on_open(tf_conn *c) {
    usable_ = (c->peer_caps & CAP_FILES) != 0;
    // Ids are per connection: the client's odd, the server's even.
    next_id_ = client_ ? 1 : 2;
    our_max_ = peer_max_ = 0;
    rr_ = 0;
}

void session::on_flushed(tf_conn *) {
    for (auto &kv : files_) {
        if (!kv.second->incoming && kv.second->st == state::active) {
            schedule();
            return;
        }
    }
}

void session::on_end(tf_conn *, int reason) {
    usable_ = false;
    int status = reason ? reason : TRUFLUX_ECLOSED;
    deliver_ended();
    std::vector<tf_file *> all;
    for (auto &kv : files_) all.push_back(kv.second);
    // A receiver keeps what a resumable transfer wrote: offering it again continues it.
    for (tf_file *f : all) finish(f, status, f->incoming && f->resumable, true);
}

bool session::ours(uint32_t id) const { return (id & 1u) == (client_ ? 1u : 0u); }

bool session::fail_conn(int code, const char *detail) {
    tfcore::conn_fail(c_, code, detail);
    return false;
}

bool session::still_reading() const {
    return c_->phase.load(std::memory_order_relaxed) <= tfcore::PH_CLOSING;
}

tf_file *session::lookup(uint32_t id, int want_ours, bool *fatal) {
    *fatal = false;
    bool mine = ours(id);
    if (id == 0 || (want_ours >= 0 && mine != (want_ours != 0)) ||
        id > (mine ? our_max_ : peer_max_)) {
        *fatal = true;
        fail_conn(TRUFLUX_EFILEUNKNOWN, "file frame for a transfer that was never offered");
        return nullptr;
    }
    auto it = files_.find(id);
    // An id offered earlier whose transfer has ended: frames in flight when it ended are
    // dropped.
    return it == files_.end() ? nullptr : it->second;
}

void session::emit_reason(uint8_t kind, uint32_t id, int code, const char *text) {
    if (c_->phase.load(std::memory_order_relaxed) != PH_OPEN) return;
    std::vector<uint8_t> p;
    reason_encode(magnitude(code), text, &p);
    tfcore::conn_emit(c_, kind, id, p.data(), p.size());
}

// ---- the application's calls ------------------------------------------------------------

int session::offer(tf_file *f) {
    if (c_->phase.load(std::memory_order_relaxed) != PH_OPEN) return TRUFLUX_ECLOSED;
    if (!usable_) return TRUFLUX_ENOTSUP;
    if (next_id_ == 0 || next_id_ > 0x7FFFFFFFu) return TRUFLUX_EFILELIMIT;
    tff::offer o;
    o.size = f->size_known() ? (uint64_t)f->size : SIZE_UNKNOWN;
    memcpy(o.key, f->key, KEY_LEN);
    o.name = f->name;
    std::vector<uint8_t> p;
    offer_encode(o, &p);
    f->id = next_id_;
    next_id_ += 2;
    our_max_ = f->id;
    f->incoming = false;
    f->sess = this;
    f->st = state::offered;
    file_retain(f);
    files_[f->id] = f;
    tfcore::conn_emit(c_, tfw::KIND_FILE_OFFER, f->id, p.data(), p.size());
    return 0;
}

int session::make_path_sink(tf_file *f, const std::string &dir, const std::string &final_name,
                            std::unique_ptr<sink> *out, std::string *why) {
    bool sync = c_->cfg.file_sync;
    if (f->resumable)
        return path_sink(dir, final_name, temp_name(final_name, f->key), true, (uint64_t)f->size,
                         sync, out, why);
    int rc = TRUFLUX_EEXIST;
    for (int i = 0; i < 8 && rc == TRUFLUX_EEXIST; i++) {
        uint8_t k[KEY_LEN];
        if (tfc::random_bytes(k, sizeof k) != 0) return TRUFLUX_EINTERNAL;
        rc = path_sink(dir, final_name, temp_name(final_name, k), false, 0, sync, out, why);
    }
    return rc;
}

int session::accept(tf_file *f, std::unique_ptr<sink> &snk) {
    if (f->sess != this || !f->incoming || f->st != state::offered) return TRUFLUX_EINVAL;
    if (c_->phase.load(std::memory_order_relaxed) != PH_OPEN) return TRUFLUX_ECLOSED;
    f->snk = std::move(snk);
    uint64_t start = f->snk->start();
    f->offset = f->pos = f->written = start;
    f->hashed = 0;
    f->hash.reset();
    f->credit = 0;
    f->st = state::active;
    tff::accept a;
    a.offset = start;
    a.credit = (uint32_t)share_left(f);
    f->credit = a.credit;
    std::vector<uint8_t> p;
    accept_encode(a, &p);
    tfcore::conn_emit(c_, tfw::KIND_FILE_ACCEPT, f->id, p.data(), p.size());
    if (start > 0) schedule();  // the prefix already written is hashed from disk
    return 0;
}

int session::decline(tf_file *f) {
    if (f->sess != this || f->st == state::ended) return TRUFLUX_ECLOSED;
    if (!f->incoming || f->st != state::offered) return TRUFLUX_EINVAL;
    emit_reason(tfw::KIND_FILE_DECLINE, f->id, 0, nullptr);
    finish(f, TRUFLUX_EDECLINED, false, false);
    return 0;
}

int session::cancel(tf_file *f) {
    if (f->sess != this || f->st == state::ended) return TRUFLUX_ECLOSED;
    emit_reason(tfw::KIND_FILE_CANCEL, f->id, TRUFLUX_ECANCELED, nullptr);
    finish(f, TRUFLUX_ECANCELED, false, false);
    return 0;
}

int session::pause(tf_file *f) {
    if (f->sess != this || f->st == state::ended) return TRUFLUX_ECLOSED;
    if (f->paused_local) return 0;
    f->paused_local = true;
    if (c_->phase.load(std::memory_order_relaxed) == PH_OPEN)
        tfcore::conn_emit(c_, tfw::KIND_FILE_PAUSE, f->id, nullptr, 0);
    return 0;
}

int session::resume(tf_file *f) {
    if (f->sess != this || f->st == state::ended) return TRUFLUX_ECLOSED;
    if (!f->paused_local) return 0;
    f->paused_local = false;
    if (c_->phase.load(std::memory_order_relaxed) == PH_OPEN)
        tfcore::conn_emit(c_, tfw::KIND_FILE_RESUME, f->id, nullptr, 0);
    schedule();
    return 0;
}

int session::wake(tf_file *f) {
    if (f->sess != this || f->st == state::ended) return TRUFLUX_ECLOSED;
    f->waiting_wake = false;
    schedule();
    return 0;
}

// ---- endings ----------------------------------------------------------------------------

void session::fail(tf_file *f, int code, const char *detail, bool tell_peer) {
    if (f->st == state::ended) return;
    if (tell_peer) emit_reason(tfw::KIND_FILE_CANCEL, f->id, code, detail);
    ev_error(f, code, detail);
    finish(f, code, false, true);
}

void session::finish(tf_file *f, int status, bool keep_partial, bool now) {
    if (f->st == state::ended) return;
    f->st = state::ended;
    f->status = status;
    auto it = files_.find(f->id);
    if (it != files_.end() && it->second == f) files_.erase(it);
    if (f->io_ev) {
        event_free(f->io_ev);
        f->io_ev = nullptr;
        f->waiting_io = false;
    }
    // Chunks still queued hold their own references on the segment.
    if (f->seg) {
        evbuffer_file_segment_free(f->seg);
        f->seg = nullptr;
    }
    if (f->snk && status != 0) f->snk->discard(keep_partial);
    std::vector<uint8_t>().swap(f->pending);
    f->pending_off = 0;
    f->credit = 0;
    if (f->incoming) rebalance();
    if (now) {
        deliver_end(f);
    } else {
        ended_.push_back(f);
        schedule();
    }
}

void session::deliver_end(tf_file *f) {
    const tf_file_callbacks_t *cb = cbs();
    if (cb && cb->on_end) cb->on_end(cb->user, f, f->status);
    if (f->src) {
        f->src->close(f, f->status);
        f->src.reset();
    }
    if (f->snk) {
        f->snk->close(f, f->status);
        f->snk.reset();
    }
    f->sess = nullptr;
    file_release(f);
}

void session::deliver_ended() {
    while (!ended_.empty()) {
        std::vector<tf_file *> batch;
        batch.swap(ended_);
        for (tf_file *f : batch) deliver_end(f);
    }
}

}  // namespace tff
