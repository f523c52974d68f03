// lib/files: the session's incoming file frames (docs/PROTOCOL.md §23.2-§23.4, §23.9): each
// checked against the transfer's state, then acted on; violations end the connection.
#include <cstring>
#include <new>

#include <truflux/error.h>

#include "files/name.h"
#include "files/session.h"

namespace tff {

using tfcore::PH_OPEN;

// ---- frames -----------------------------------------------------------------------------

bool session::on_frame(tf_conn *, const tfw::frame &fr) {
    if (!usable_)
        return fail_conn(TRUFLUX_EPROTO, "file frame without the files capability on both sides");
    // After our CLOSE nothing new starts; the transfers end with the connection.
    if (c_->phase.load(std::memory_order_relaxed) != PH_OPEN) return true;
    switch (fr.kind) {
    case tfw::KIND_FILE_OFFER: return on_offer(fr);
    case tfw::KIND_FILE_ACCEPT: return on_accept(fr);
    case tfw::KIND_FILE_DECLINE: return on_decline(fr);
    case tfw::KIND_FILE_PAUSE: return on_pause_resume(fr, true);
    case tfw::KIND_FILE_RESUME: return on_pause_resume(fr, false);
    case tfw::KIND_FILE_CANCEL: return on_cancel(fr);
    case tfw::KIND_FILE_CHUNK: return on_chunk(fr);
    case tfw::KIND_FILE_END: return on_end_frame(fr);
    case tfw::KIND_FILE_CREDIT: return on_credit(fr);
    case tfw::KIND_FILE_DONE: return on_done(fr);
    default: return fail_conn(TRUFLUX_EPROTO, "undefined file frame kind");
    }
}

bool session::on_offer(const tfw::frame &fr) {
    if (fr.id == 0 || ours(fr.id))
        return fail_conn(TRUFLUX_EPROTO, "OFFER with an id of the receiver's parity");
    if (fr.id <= peer_max_) return fail_conn(TRUFLUX_EPROTO, "OFFER id not above the previous");
    tff::offer o;
    if (offer_decode(fr.payload, fr.len, &o) != 0)
        return fail_conn(TRUFLUX_EPROTO, "malformed OFFER");
    peer_max_ = fr.id;
    tf_file *f = new (std::nothrow) tf_file(c_);
    if (!f) return fail_conn(TRUFLUX_ENOMEM, "no memory for a file offer");
    f->id = fr.id;
    f->incoming = true;
    f->sess = this;
    bool huge = o.size != SIZE_UNKNOWN && o.size > (uint64_t)INT64_MAX;
    f->size = o.size == SIZE_UNKNOWN || huge ? TRUFLUX_FILE_SIZE_UNKNOWN : (int64_t)o.size;
    memcpy(f->key, o.key, KEY_LEN);
    f->resumable = !key_is_zero(o.key) && f->size_known();
    bool name_ok = check_name(o.name) == 0;
    f->name = name_ok ? o.name : printable_name(o.name);

    size_t incoming = 0;
    for (auto &kv : files_)
        if (kv.second->incoming) incoming++;
    uint64_t max = c_->cfg.file_max_size;
    if (!name_ok) {
        std::string why = "unsafe file name \"" + f->name + "\"";
        refuse_offer(f, TRUFLUX_EFILENAME, why.c_str());
    } else if (huge || (max && f->size_known() && (uint64_t)f->size > max)) {
        refuse_offer(f, TRUFLUX_EFILESIZE, "file larger than the receiver accepts");
    } else if (incoming >= c_->cfg.file_max_transfers) {
        refuse_offer(f, TRUFLUX_EFILELIMIT, "too many incoming file transfers");
    } else {
        const tf_file_callbacks_t *cb = cbs();
        if (!cb || !cb->on_offer) {
            emit_reason(tfw::KIND_FILE_DECLINE, f->id, 0, nullptr);
            finish(f, TRUFLUX_EDECLINED, false, true);
        } else {
            f->st = state::offered;
            files_[f->id] = f;
            cb->on_offer(cb->user, c_, f);
        }
    }
    return true;
}

void session::refuse_offer(tf_file *f, int code, const char *detail) {
    emit_reason(tfw::KIND_FILE_DECLINE, f->id, code, detail);
    ev_error(f, code, detail);
    finish(f, code, false, true);
}

bool session::on_chunk(const tfw::frame &fr) {
    bool fatal;
    tf_file *f = lookup(fr.id, 0, &fatal);
    if (!f) return !fatal;
    if (f->st == state::offered)
        return fail_conn(TRUFLUX_EFLOWCONTROL, "file CHUNK before the transfer was accepted");
    if (f->st != state::active) return fail_conn(TRUFLUX_EPROTO, "file CHUNK after its END");
    if (fr.len == 0) return fail_conn(TRUFLUX_EPROTO, "empty file CHUNK");
    if (fr.len > f->credit)
        return fail_conn(TRUFLUX_EFLOWCONTROL, "file CHUNK beyond the credit granted");
    f->credit -= fr.len;
    uint64_t end = f->pos + fr.len;
    uint64_t max = c_->cfg.file_max_size;
    if (f->size_known() && end > (uint64_t)f->size) {
        fail(f, TRUFLUX_EFILESIZE, "more content than offered", true);
        return still_reading();
    }
    if (max && end > max) {
        fail(f, TRUFLUX_EFILESIZE, "content larger than the receiver accepts", true);
        return still_reading();
    }
    if (f->hashed == f->pos) {
        f->hash.update(fr.payload, fr.len);
        f->hashed = end;
    }
    f->pos = end;
    deliver(f, fr.payload, fr.len);
    return still_reading();
}

bool session::on_end_frame(const tfw::frame &fr) {
    bool fatal;
    tf_file *f = lookup(fr.id, 0, &fatal);
    if (!f) return !fatal;
    if (f->st == state::offered) return fail_conn(TRUFLUX_EPROTO, "file END before ACCEPT");
    if (f->st != state::active) return fail_conn(TRUFLUX_EPROTO, "second file END");
    tff::end e;
    if (end_decode(fr.payload, fr.len, &e) != 0) return fail_conn(TRUFLUX_EPROTO, "malformed END");
    if (e.total != f->pos || (f->size_known() && e.total != (uint64_t)f->size)) {
        fail(f, TRUFLUX_EFILESIZE,
             f->size_known() && f->pos < (uint64_t)f->size ? "fewer bytes than offered"
                                                           : "END total differs from the content",
             true);
        return still_reading();
    }
    f->end_received = true;
    memcpy(f->expect, e.digest, DIGEST_LEN);
    f->st = state::ending;
    try_finish(f);
    return still_reading();
}

bool session::on_accept(const tfw::frame &fr) {
    bool fatal;
    tf_file *f = lookup(fr.id, 1, &fatal);
    if (!f) return !fatal;
    if (f->st != state::offered) return fail_conn(TRUFLUX_EPROTO, "second file ACCEPT");
    tff::accept a;
    if (accept_decode(fr.payload, fr.len, &a) != 0)
        return fail_conn(TRUFLUX_EPROTO, "malformed ACCEPT");
    if (a.offset > 0 && (!f->resumable || a.offset > (uint64_t)f->size))
        return fail_conn(TRUFLUX_EPROTO, "ACCEPT offset the offer cannot resume from");
    f->offset = f->pos = a.offset;
    f->credit = a.credit;
    f->st = state::active;
    const tf_file_callbacks_t *cb = cbs();
    if (cb && cb->on_accept) cb->on_accept(cb->user, f);
    schedule();
    return still_reading();
}

bool session::on_decline(const tfw::frame &fr) {
    bool fatal;
    tf_file *f = lookup(fr.id, 1, &fatal);
    if (!f) return !fatal;
    if (f->st != state::offered) return fail_conn(TRUFLUX_EPROTO, "file DECLINE after ACCEPT");
    reason r;
    if (reason_decode(fr.payload, fr.len, &r) != 0)
        return fail_conn(TRUFLUX_EPROTO, "malformed DECLINE");
    if (r.code == 0 || r.code == magnitude(TRUFLUX_EDECLINED)) {
        const tf_file_callbacks_t *cb = cbs();
        if (cb && cb->on_decline) cb->on_decline(cb->user, f);
        finish(f, TRUFLUX_EDECLINED, false, true);
    } else {
        int code = -(int)r.code;
        ev_error(f, code, r.text.empty() ? nullptr : r.text.c_str());
        finish(f, code, false, true);
    }
    return still_reading();
}

bool session::on_credit(const tfw::frame &fr) {
    bool fatal;
    tf_file *f = lookup(fr.id, 1, &fatal);
    if (!f) return !fatal;
    if (f->st == state::offered) return fail_conn(TRUFLUX_EPROTO, "file CREDIT before ACCEPT");
    uint32_t inc;
    if (credit_decode(fr.payload, fr.len, &inc) != 0)
        return fail_conn(TRUFLUX_EPROTO, "malformed CREDIT");
    f->credit = std::min(f->credit + inc, CREDIT_CAP);
    schedule();
    return true;
}

bool session::on_done(const tfw::frame &fr) {
    bool fatal;
    tf_file *f = lookup(fr.id, 1, &fatal);
    if (!f) return !fatal;
    if (f->st != state::ending) return fail_conn(TRUFLUX_EPROTO, "file DONE before END");
    finish(f, 0, false, true);
    return still_reading();
}

bool session::on_pause_resume(const tfw::frame &fr, bool pause) {
    bool fatal;
    tf_file *f = lookup(fr.id, -1, &fatal);
    if (!f) return !fatal;
    if (f->paused_remote == pause) return true;
    f->paused_remote = pause;
    const tf_file_callbacks_t *cb = cbs();
    if (pause && cb && cb->on_pause) cb->on_pause(cb->user, f);
    if (!pause && cb && cb->on_resume) cb->on_resume(cb->user, f);
    if (!pause) schedule();
    return still_reading();
}

bool session::on_cancel(const tfw::frame &fr) {
    bool fatal;
    tf_file *f = lookup(fr.id, -1, &fatal);
    if (!f) return !fatal;
    reason r;
    if (reason_decode(fr.payload, fr.len, &r) != 0)
        return fail_conn(TRUFLUX_EPROTO, "malformed CANCEL");
    if (r.code == 0 || r.code == WIRE_ECANCELED) {
        const tf_file_callbacks_t *cb = cbs();
        if (cb && cb->on_cancel) cb->on_cancel(cb->user, f);
        finish(f, TRUFLUX_ECANCELED, false, true);
    } else {
        int code = -(int)r.code;
        ev_error(f, code, r.text.empty() ? nullptr : r.text.c_str());
        finish(f, code, false, true);
    }
    return still_reading();
}

}  // namespace tff
