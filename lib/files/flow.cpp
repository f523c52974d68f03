// lib/files: moving content (see the overview in session.cpp): the deferred kick, the
// sender's pump (sendfile(2) on plain TCP, copies otherwise), the receiver's sinks, the
// receiver's window and credit, the checksum of a resumed prefix, and the end of a transfer.
#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <truflux/error.h>

#include "files/session.h"
#include "transport/stream.h"

namespace tff {

using tfcore::PH_OPEN;

// ---- moving content ---------------------------------------------------------------------

void session::schedule() {
    if (kick_scheduled_) return;
    kick_scheduled_ = true;
    // The connection (and so this session) lives until the kick has run.
    tfcore::conn_retain(c_);
    tfcore::defer(c_->loop, [](void *arg) {
        session *s = static_cast<session *>(arg);
        tf_conn *c = s->c_;
        {
            tfcore::scope sc(c->loop);
            s->kick();
        }
        tfcore::conn_release(c);
    }, this);
}

void session::on_io(int, short, void *arg) {
    tf_file *f = static_cast<tf_file *>(arg);
    f->waiting_io = false;
    if (f->sess) {
        tfcore::scope sc(f->conn->loop);
        f->sess->schedule();
    }
}

void session::wait_io(tf_file *f, int fd, short what) {
    if (!f->io_ev) f->io_ev = event_new(c_->loop->base, fd, what, on_io, f);
    if (!f->io_ev) {
        fail(f, TRUFLUX_ENOMEM, "no memory to wait for the descriptor", true);
        return;
    }
    event_add(f->io_ev, nullptr);
    f->waiting_io = true;
}

void session::kick() {
    kick_scheduled_ = false;
    deliver_ended();
    bool more = false;
    std::vector<uint32_t> ids;
    for (auto &kv : files_) ids.push_back(kv.first);
    for (uint32_t id : ids) {
        auto it = files_.find(id);
        if (it == files_.end()) continue;
        tf_file *f = it->second;
        if (f->incoming) {
            if (f->st != state::active && f->st != state::ending) continue;
            if (!f->waiting_io) drain(f);
            if (f->st == state::ended) continue;
            if (catch_up(f, HASH_SLICE)) more = true;
            try_finish(f);
        } else if (f->st == state::active) {
            if (catch_up(f, HASH_SLICE)) more = true;
        }
    }
    pump_all();
    deliver_ended();
    if (more) schedule();
}

bool session::can_sendfile(const tf_file *f) const {
    return c_->cfg.file_sendfile && !c_->txf && f->src && f->src->file_fd() >= 0 &&
           f->size_known() && c_->io && strcmp(c_->io->name(), "tcp") == 0;
}

void session::pump_all() {
    if (c_->phase.load(std::memory_order_relaxed) != PH_OPEN || c_->fd < 0) return;
    uint64_t limit = c_->cfg.file_queue;
    std::vector<uint32_t> ids;
    for (auto &kv : files_)
        if (!kv.second->incoming && kv.second->st == state::active) ids.push_back(kv.first);
    if (ids.empty()) return;
    // Round robin: start after the transfer that sent last.
    std::rotate(ids.begin(), std::upper_bound(ids.begin(), ids.end(), rr_), ids.end());
    // Counted here too: a batching tx filter (the secure layer) holds frames back from the
    // queue until it flushes, so `queued` alone would not stop this loop.
    uint64_t at_start = c_->queued.load(std::memory_order_relaxed);
    uint64_t budget = at_start < limit ? limit - at_start : 0, sent = 0;
    bool progress = true;
    while (progress) {
        progress = false;
        for (uint32_t id : ids) {
            if (sent >= budget || c_->queued.load(std::memory_order_relaxed) >= limit ||
                c_->phase.load(std::memory_order_relaxed) != PH_OPEN)
                return;
            auto it = files_.find(id);
            if (it == files_.end()) continue;
            size_t n = pump_one(it->second);
            if (n > 0) {
                progress = true;
                sent += n + tfw::HEADER_SIZE;
                rr_ = id;
            }
        }
    }
}

size_t session::pump_one(tf_file *f) {
    if (f->st != state::active || f->paused() || f->waiting_io || f->waiting_wake) return 0;
    if ((f->size_known() && f->pos >= (uint64_t)f->size) || f->eof) {
        maybe_send_end(f);
        return 0;
    }
    if (f->credit == 0) return 0;
    size_t n = std::min<uint64_t>(c_->cfg.file_chunk, f->credit);
    n = std::min<size_t>(n, scratch_.size());
    if (f->size_known()) n = std::min<uint64_t>(n, (uint64_t)f->size - f->pos);

    if (can_sendfile(f)) {
        if (!f->seg) {
            // The segment owns a duplicate, so the chunks still queued outlive the transfer.
            int d = dup(f->src->file_fd());
            if (d >= 0) f->seg = evbuffer_file_segment_new(d, 0, f->size, EVBUF_FS_CLOSE_ON_FREE);
            if (d >= 0 && !f->seg) close(d);
        }
        if (f->seg) {
            // The bytes are read once for the checksum, which also proves they are there: a
            // file that shrank would leave sendfile(2) nothing to send.
            if (f->hashed == f->pos) {
                long r = f->src->read(f, f->pos, scratch_.data(), n);
                if (r != (long)n) {
                    fail(f, r < 0 ? (int)r : TRUFLUX_EFILESIZE,
                         "the file is shorter than offered (it changed while being sent)", true);
                    return 0;
                }
                f->hash.update(scratch_.data(), n);
                f->hashed += n;
            } else {
                struct stat st;
                if (fstat(f->src->file_fd(), &st) != 0 || (uint64_t)st.st_size < f->pos + n) {
                    fail(f, TRUFLUX_EFILESIZE,
                         "the file is shorter than offered (it changed while being sent)", true);
                    return 0;
                }
            }
            if (tfcore::conn_emit_file(c_, tfw::KIND_FILE_CHUNK, f->id, f->seg, f->pos, n) != 0) {
                fail(f, TRUFLUX_ENOMEM, "no memory to queue a file chunk", true);
                return 0;
            }
            f->zero_copy += n;
            f->pos += n;
            f->credit -= n;
            ev_progress(f, f->pos);
            return n;
        }
    }

    long r = f->src->read(f, f->pos, scratch_.data(), n);
    if (f->st != state::active) return 0;  // the application's read ended it
    if (r == TRUFLUX_EAGAIN) {
        int fd = f->src->poll_fd();
        if (fd >= 0) {
            wait_io(f, fd, EV_READ);
        } else {
            // Nothing to watch: the application calls tf_file_wake when data is ready; until
            // then the queue emptying must not call read again.
            f->waiting_wake = true;
        }
        return 0;
    }
    if (r < 0) {
        fail(f, (int)r, "the source failed", true);
        return 0;
    }
    if (r == 0) {
        if (f->size_known()) {
            fail(f, TRUFLUX_EFILESIZE, "the source ended before the offered size", true);
            return 0;
        }
        f->eof = true;
        maybe_send_end(f);
        return 0;
    }
    if (f->hashed == f->pos) {
        f->hash.update(scratch_.data(), (size_t)r);
        f->hashed += (uint64_t)r;
    }
    tfcore::conn_emit(c_, tfw::KIND_FILE_CHUNK, f->id, scratch_.data(), (size_t)r);
    f->pos += (uint64_t)r;
    f->credit -= (uint64_t)r;
    ev_progress(f, f->pos);
    return (size_t)r;
}

void session::maybe_send_end(tf_file *f) {
    if (f->st != state::active) return;
    if (f->hashed < f->pos) {
        schedule();  // the resumed prefix is still being hashed
        return;
    }
    tff::end e;
    e.total = f->pos;
    f->hash.finish(e.digest);
    std::vector<uint8_t> p;
    end_encode(e, &p);
    tfcore::conn_emit(c_, tfw::KIND_FILE_END, f->id, p.data(), p.size());
    f->st = state::ending;
}

bool session::catch_up(tf_file *f, size_t budget) {
    int fd = f->incoming ? (f->snk ? f->snk->readback_fd() : -1)
                         : (f->src ? f->src->file_fd() : -1);
    uint64_t limit = f->incoming ? f->written : f->pos;
    if (fd < 0 || f->hashed >= limit) return false;
    while (budget > 0 && f->hashed < limit) {
        size_t n = (size_t)std::min<uint64_t>({scratch_.size(), limit - f->hashed, budget});
        ssize_t r;
        do {
            r = pread(fd, scratch_.data(), n, (off_t)f->hashed);
        } while (r < 0 && errno == EINTR);
        if (r <= 0) {
            fail(f, TRUFLUX_EIO, "cannot read the content back for its checksum", true);
            return false;
        }
        f->hash.update(scratch_.data(), (size_t)r);
        f->hashed += (uint64_t)r;
        budget -= std::min(budget, (size_t)r);
    }
    return f->hashed < limit;
}

void session::deliver(tf_file *f, const uint8_t *p, size_t len) {
    if (f->buffered() > 0) {
        // Drop what the sink took before growing, so the vector's size, not just the part
        // still waiting, stays within the window.
        if (f->pending_off > 0 && f->pending.size() + len > f->pending.capacity()) {
            f->pending.erase(f->pending.begin(), f->pending.begin() + (long)f->pending_off);
            f->pending_off = 0;
        }
        f->pending.insert(f->pending.end(), p, p + len);
        f->peak_buffered = std::max<uint64_t>(f->peak_buffered, f->buffered());
        return;
    }
    long k = f->snk->write(f, p, len);
    if (f->st == state::ended) return;  // the application's write ended it
    if (k < 0) {
        fail(f, (int)k, "the sink failed", true);
        return;
    }
    f->written += (uint64_t)k;
    if ((size_t)k < len) {
        f->pending.assign(p + k, p + len);
        f->pending_off = 0;
        f->peak_buffered = std::max<uint64_t>(f->peak_buffered, f->buffered());
        int fd = f->snk->poll_fd();
        if (fd >= 0) wait_io(f, fd, EV_WRITE);
    }
    consumed(f, (size_t)k);
}

void session::drain(tf_file *f) {
    while (f->buffered() > 0) {
        long k = f->snk->write(f, f->pending.data() + f->pending_off, f->buffered());
        if (f->st == state::ended) return;
        if (k < 0) {
            fail(f, (int)k, "the sink failed", true);
            return;
        }
        if (k == 0) {
            int fd = f->snk->poll_fd();
            if (fd >= 0) wait_io(f, fd, EV_WRITE);
            return;
        }
        f->pending_off += (size_t)k;
        f->written += (uint64_t)k;
        if (f->buffered() == 0) {
            f->pending.clear();
            f->pending_off = 0;
        }
        consumed(f, (size_t)k);
        if (f->st == state::ended) return;
    }
}

void session::consumed(tf_file *f, size_t n) {
    if (n == 0) return;
    rebalance();
    ev_progress(f, f->written);
}

// The receiver's window is per connection: what all incoming transfers hold (credit granted
// and not yet used, plus content received and not yet taken by a sink) stays within
// TRUFLUX_OPT_FILE_WINDOW, shared equally among the running ones. A transfer always gets a
// chunk's worth, so none starves behind another whose sink has stalled.
uint64_t session::share_target(uint64_t running) const {
    uint64_t w = c_->cfg.file_window;
    return std::max<uint64_t>(running ? w / running : w, tfw::MAX_FILE_CHUNK);
}

uint64_t session::held_total(uint64_t *running) const {
    uint64_t held = 0, n = 0;
    for (auto &kv : files_) {
        const tf_file *f = kv.second;
        if (!f->incoming || (f->st != state::active && f->st != state::ending)) continue;
        held += f->credit + f->buffered();
        if (f->st == state::active) n++;
    }
    if (running) *running = n;
    return held;
}

uint64_t session::share_left(const tf_file *f) const {
    uint64_t running = 0;
    uint64_t held = held_total(&running);
    uint64_t target = share_target(running);
    uint64_t mine = f->credit + f->buffered();
    if (mine >= target) return 0;
    uint64_t cap = std::max<uint64_t>(c_->cfg.file_window, running * tfw::MAX_FILE_CHUNK);
    uint64_t pool = cap > held ? cap - held : 0;
    uint64_t want = target - mine;
    // A transfer below its chunk's worth always gets it, pool or not.
    if (mine < tfw::MAX_FILE_CHUNK) pool = std::max<uint64_t>(pool, tfw::MAX_FILE_CHUNK - mine);
    return std::min(want, pool);
}

void session::rebalance() {
    if (c_->phase.load(std::memory_order_relaxed) != PH_OPEN) return;
    uint64_t running = 0;
    held_total(&running);
    if (running == 0) return;
    // Credit goes out in batches of a quarter share, not one frame per chunk.
    uint64_t batch = share_target(running) / 4;
    for (auto &kv : files_) {
        tf_file *f = kv.second;
        if (!f->incoming || f->st != state::active) continue;
        uint64_t g = share_left(f);
        if (g == 0 || g < batch) continue;
        std::vector<uint8_t> p;
        credit_encode((uint32_t)g, &p);
        tfcore::conn_emit(c_, tfw::KIND_FILE_CREDIT, f->id, p.data(), p.size());
        f->credit += g;
    }
}

void session::try_finish(tf_file *f) {
    if (f->st != state::ending || !f->end_received || f->buffered() > 0) return;
    if (f->hashed < f->pos) {
        schedule();
        return;
    }
    uint8_t got[DIGEST_LEN];
    f->hash.finish(got);
    if (memcmp(got, f->expect, DIGEST_LEN) != 0) {
        fail(f, TRUFLUX_ECHECKSUM, "the SHA-256 of the content differs from the sender's", true);
        return;
    }
    std::string why;
    int rc = f->snk->commit(&why);
    if (rc != 0) {
        fail(f, rc, why.c_str(), true);
        return;
    }
    if (c_->phase.load(std::memory_order_relaxed) == PH_OPEN)
        tfcore::conn_emit(c_, tfw::KIND_FILE_DONE, f->id, nullptr, 0);
    finish(f, 0, false, true);
}

}  // namespace tff
