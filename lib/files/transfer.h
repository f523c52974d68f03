// lib/files: one transfer, in either direction (the public tf_file_t). Its mutable state is
// touched on the loop thread only; the C API reaches it through call_sync.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <truflux/file.h>

#include "crypto/sha256_stream.h"
#include "files/io.h"
#include "files/wire.h"

struct event;
struct evbuffer_file_segment;

namespace tff {

class session;

enum class state : uint8_t {
    offered,  // sender: OFFER sent; receiver: waiting for the application's answer
    active,   // accepted: content moving
    ending,   // sender: END sent, waiting for DONE; receiver: END received, verifying
    ended     // over; on_end delivered or due
};

}  // namespace tff

struct tf_file {
    std::atomic<int> refs{1};
    tf_conn *conn;                   // own reference
    tff::session *sess = nullptr;    // while the transfer runs
    uint32_t id = 0;
    bool incoming = false;
    tff::state st = tff::state::offered;

    // Immutable once created (read from any thread).
    std::string name;                // as offered (printable form for a refused name)
    int64_t size = TRUFLUX_FILE_SIZE_UNKNOWN;
    uint8_t key[tff::KEY_LEN] = {0};
    bool resumable = false;          // offered with a key and a known size

    // Content position: offset <= hashed, written <= pos.
    uint64_t offset = 0;             // where moving started (resume)
    uint64_t pos = 0;                // sender: sent; receiver: received
    uint64_t written = 0;            // receiver: taken by the sink
    uint64_t hashed = 0;             // covered by `hash`
    tfc::sha256_stream hash;

    uint64_t credit = 0;             // sender: may send; receiver: granted, not received
    bool paused_local = false, paused_remote = false;
    bool end_received = false;       // receiver
    uint8_t expect[tff::DIGEST_LEN] = {0};
    bool eof = false;                // sender: the source ended
    bool waiting_io = false;         // an io_ev is armed
    bool waiting_wake = false;       // the source said EAGAIN without a descriptor: read
                                     // again only after tf_file_wake

    std::unique_ptr<tff::source> src;
    std::unique_ptr<tff::sink> snk;
    std::vector<uint8_t> pending;    // receiver: received, not yet taken by the sink
    size_t pending_off = 0;
    uint64_t peak_buffered = 0;
    uint64_t zero_copy = 0;
    evbuffer_file_segment *seg = nullptr;  // sender: sendfile segment over src's file
    event *io_ev = nullptr;                // readiness of a pipe source or sink

    std::atomic<void *> user{nullptr};
    int status = 0;                  // on_end's, once ended

    explicit tf_file(tf_conn *c);
    ~tf_file();

    uint64_t buffered() const { return pending.size() - pending_off; }
    bool paused() const { return paused_local || paused_remote; }
    bool size_known() const { return size >= 0; }
};

namespace tff {

void file_retain(tf_file *f);
void file_release(tf_file *f);

}  // namespace tff
