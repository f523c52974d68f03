// lib/files: the file sub-protocol of one connection (docs/PROTOCOL.md §23), a conn_ext owning
// frame kinds 0x30-0x39: the table of transfers in both directions, the chunk pump with its
// credit and send-queue bounds, the receiver's sink and checksum, and the events. Loop
// thread only. Defined in session.cpp (life, calls, endings), frames.cpp (incoming frames)
// and flow.cpp (moving content, credit).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <truflux/file.h>

#include "core/conn.h"
#include "files/transfer.h"

struct event;

namespace tff {

constexpr size_t HASH_SLICE = 1u << 20;            // resumed prefix hashed per kick
constexpr uint32_t WIRE_ECANCELED = 5;             // -TRUFLUX_ECANCELED on the wire
constexpr uint64_t CREDIT_CAP = uint64_t(1) << 62;  // a sender's credit saturates here

// A code's magnitude, as DECLINE, CANCEL and CLOSE carry it.
inline uint32_t magnitude(int code) { return (uint32_t)(code < 0 ? -code : code); }

// Per endpoint (server or client), shared with its connections' sessions.
struct settings {
    tf_file_callbacks_t cbs{};  // loop thread
};

// Enables files on an endpoint: capability bit in its hello, callbacks (NULL: none). Loop
// thread (or before the loop runs).
void enable(tfcore::endpoint *ep, const tf_file_callbacks_t *cbs);

// Adds the session to a connection of an endpoint that has files enabled.
void attach(tf_conn *c, const std::shared_ptr<settings> &s);

class session final : public tfcore::conn_ext {
public:
    session(tf_conn *c, std::shared_ptr<settings> s);
    ~session() override;

    // The session of a connection, or NULL.
    static session *of(tf_conn *c);

    bool on_frame(tf_conn *c, const tfw::frame &f) override;
    void on_open(tf_conn *c) override;
    void on_flushed(tf_conn *c) override;
    void on_end(tf_conn *c, int reason) override;

    // The C API's operations. Each returns 0 or a TRUFLUX_E* code.
    int offer(tf_file *f);                                   // f: name, size, key, src set
    int accept(tf_file *f, std::unique_ptr<sink> &snk);  // takes snk on success only
    int decline(tf_file *f);
    int cancel(tf_file *f);
    int pause(tf_file *f);
    int resume(tf_file *f);
    int wake(tf_file *f);
    // A path sink for f into dir/final_name (temporary name, resume). 0 or a code + why.
    int make_path_sink(tf_file *f, const std::string &dir, const std::string &final_name,
                       std::unique_ptr<sink> *out, std::string *why);

private:
    // Frames.
    bool on_offer(const tfw::frame &fr);
    bool on_chunk(const tfw::frame &fr);
    bool on_end_frame(const tfw::frame &fr);
    bool on_accept(const tfw::frame &fr);
    bool on_decline(const tfw::frame &fr);
    bool on_credit(const tfw::frame &fr);
    bool on_done(const tfw::frame &fr);
    bool on_pause_resume(const tfw::frame &fr, bool pause);
    bool on_cancel(const tfw::frame &fr);
    // The transfer a frame names. *fatal: the connection failed (unknown transfer);
    // NULL without fatal: a transfer that has ended, whose frames are dropped.
    tf_file *lookup(uint32_t id, int want_ours, bool *fatal);
    bool ours(uint32_t id) const;
    bool fail_conn(int code, const char *detail);
    bool still_reading() const;

    // Moving content.
    void schedule();
    static void on_io(int, short, void *arg);
    void kick();
    void pump_all();
    size_t pump_one(tf_file *f);  // content bytes queued (0: none)
    void maybe_send_end(tf_file *f);
    bool catch_up(tf_file *f, size_t budget);
    void deliver(tf_file *f, const uint8_t *p, size_t len);
    void drain(tf_file *f);
    void consumed(tf_file *f, size_t n);
    uint64_t share_target(uint64_t running) const;
    uint64_t held_total(uint64_t *running) const;
    uint64_t share_left(const tf_file *f) const;
    void rebalance();
    void try_finish(tf_file *f);
    void wait_io(tf_file *f, int fd, short what);
    bool can_sendfile(const tf_file *f) const;

    // Endings.
    void emit_reason(uint8_t kind, uint32_t id, int code, const char *text);
    void fail(tf_file *f, int code, const char *detail, bool tell_peer);
    void refuse_offer(tf_file *f, int code, const char *detail);
    void finish(tf_file *f, int status, bool keep_partial, bool now);
    void deliver_end(tf_file *f);
    void deliver_ended();

    // Events (the application's callbacks, when the endpoint still listens).
    const tf_file_callbacks_t *cbs() const;
    void ev_progress(tf_file *f, uint64_t done);
    void ev_error(tf_file *f, int code, const char *detail);

    tf_conn *c_;
    std::shared_ptr<settings> set_;
    bool client_;
    bool usable_ = false;         // open, and both hellos announce files
    uint32_t next_id_ = 0;        // our next transfer id
    uint32_t our_max_ = 0;        // highest id we offered on this connection
    uint32_t peer_max_ = 0;       // highest id the peer offered
    uint32_t rr_ = 0;             // round-robin position of the pump
    std::map<uint32_t, tf_file *> files_;  // running transfers, both directions (own refs)
    std::vector<tf_file *> ended_;         // ended, on_end not yet delivered (own refs)
    std::vector<uint8_t> scratch_;         // one chunk, for reads and hashing
    bool kick_scheduled_ = false;
};

}  // namespace tff
