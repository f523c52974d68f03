// lib/files: where a transfer's content comes from (sources) and goes to (sinks): regular
// files, pipes and sockets, the application's callbacks, and the receiver's directory with
// its temporary name. All run on the loop thread; none blocks except on disk I/O.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <truflux/file.h>

namespace tff {

class source {
public:
    virtual ~source() = default;
    // Reads at most len bytes of content at position pos into buf (stream sources ignore
    // pos: they only move forward). Returns > 0, 0 at the end, TRUFLUX_EAGAIN (nothing now:
    // wait for poll_fd or tf_file_wake), or another negative code.
    virtual long read(tf_file_t *f, uint64_t pos, uint8_t *buf, size_t len) = 0;
    // A regular file's descriptor (pread, sendfile, the hash of a resumed prefix), else -1.
    virtual int file_fd() const { return -1; }
    // A non-blocking descriptor to wait readable on after TRUFLUX_EAGAIN, else -1.
    virtual int poll_fd() const { return -1; }
    // The transfer ended (its status).
    virtual void close(tf_file_t *, int) {}
    // Stop owning the descriptor (the call that was to hand it over failed).
    virtual void disown() {}
};

class sink {
public:
    virtual ~sink() = default;
    // Where the content resumes (bytes the sink already holds), 0 for a fresh transfer.
    virtual uint64_t start() const { return 0; }
    // Takes at most len bytes: returns how many (0..len) or a negative code.
    virtual long write(tf_file_t *f, const uint8_t *p, size_t len) = 0;
    // A descriptor from which the content written so far can be read back (the hash of a
    // resumed prefix), else -1.
    virtual int readback_fd() const { return -1; }
    // A non-blocking descriptor to wait writable on after a short write, else -1.
    virtual int poll_fd() const { return -1; }
    // The checksum held: make the content final (rename). 0 or a negative code, with a
    // detail in *why.
    virtual int commit(std::string *) { return 0; }
    // The transfer failed: drop what was written, unless `keep` (a dropped connection whose
    // transfer can resume).
    virtual void discard(bool) {}
    // The transfer ended (its status).
    virtual void close(tf_file_t *, int) {}
    // Stop owning the descriptor (the call that was to hand it over failed).
    virtual void disown() {}
};

// A regular file open for reading; `owned`: closed by the source.
std::unique_ptr<source> file_source(int fd, bool owned);
// A pipe, socket or FIFO read until its end (owned; made non-blocking at the first read).
std::unique_ptr<source> stream_source(int fd);
// The application's tf_file_io_t.
std::unique_ptr<source> callback_source(const tf_file_io_t &io);

// dir/final through dir/temp. `resume`: reuse a temp file of that name left by an earlier
// transfer (at most `limit` bytes of it). Returns 0 with *out set, or a negative code with a
// detail in *why.
int path_sink(const std::string &dir, const std::string &final_name, const std::string &temp,
              bool resume, uint64_t limit, bool sync, std::unique_ptr<sink> *out,
              std::string *why);
// A descriptor written as it is (owned); pipes and sockets are made non-blocking at the
// first write.
std::unique_ptr<sink> fd_sink(int fd);
// The application's tf_file_io_t.
std::unique_ptr<sink> callback_sink(const tf_file_io_t &io);

// A resume key for a regular file: it changes when the file does (device, inode, size,
// modification time) and with the offered name. Returns false (no key) if fstat fails.
bool file_key(int fd, const std::string &name, uint8_t key[16]);

}  // namespace tff
