// lib/transport: plain TCP, the fast path: recv(2) into the decoder, sendmsg(2) of the
// queue's chains.
#include <event2/buffer.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include <truflux/error.h>

#include "transport/stream.h"

namespace tfx {
namespace {

constexpr int MAX_IOV = 64;  // chains of the queue per sendmsg(2)

class tcp_stream final : public stream {
public:
    explicit tcp_stream(int fd) : fd_(fd) {}
    ssize_t read(uint8_t *buf, size_t len) override {
        ssize_t n = recv(fd_, buf, len, 0);
        if (n >= 0) return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return IO_WANT_READ;
        return errno == ECONNRESET ? TRUFLUX_ECONNRESET : TRUFLUX_EIO;
    }
    ssize_t write(evbuffer *out) override {
        if (segments_) return write_with_segments(out);
        // sendmsg(2) with MSG_NOSIGNAL, not evbuffer_write's writev(2): a peer that is gone
        // must be an error code here, not a SIGPIPE that ends the application.
        iovec iov[MAX_IOV];
        int k = evbuffer_peek(out, -1, nullptr, iov, MAX_IOV);
        if (k <= 0) return 0;
        msghdr mh{};
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)std::min(k, MAX_IOV);
        ssize_t n = sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            evbuffer_drain(out, (size_t)n);
            return n;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return IO_WANT_WRITE;
        return errno == ECONNRESET || errno == EPIPE ? TRUFLUX_ECONNRESET : TRUFLUX_EIO;
    }
    void expect_file_segments() override { segments_ = true; }
    bool can_write_direct() const override { return true; }
    ssize_t write_direct(const uint8_t *hdr, size_t hlen, const void *data, size_t len) override {
        iovec iov[2] = {{const_cast<uint8_t *>(hdr), hlen}, {const_cast<void *>(data), len}};
        msghdr mh{};
        mh.msg_iov = iov;
        mh.msg_iovlen = len ? 2 : 1;
        ssize_t n = sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return IO_WANT_WRITE;
        return errno == ECONNRESET || errno == EPIPE ? TRUFLUX_ECONNRESET : TRUFLUX_EIO;
    }
    void shutdown_write() override { shutdown(fd_, SHUT_WR); }
    const char *name() const override { return "tcp"; }
    int fd() const override { return fd_; }

private:
    // libevent's evbuffer_write sends the queue's memory with writev(2) and its file segments
    // with sendfile(2); neither takes MSG_NOSIGNAL, so SIGPIPE is blocked on this thread for
    // the call and a SIGPIPE the call raised is taken back before unblocking. A few system
    // calls more, on a connection that is sending files in 64 KiB chunks.
    ssize_t write_with_segments(evbuffer *out) {
        sigset_t pipe_set, old, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        sigpending(&pending);
        bool was_pending = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        int n = evbuffer_write(out, fd_);
        int e = errno;
        if (n < 0 && e == EPIPE && !was_pending) {
            const timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (n >= 0) return n;
        if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return IO_WANT_WRITE;
        return e == ECONNRESET || e == EPIPE ? TRUFLUX_ECONNRESET : TRUFLUX_EIO;
    }

    int fd_;
    bool segments_ = false;
};

stream *tcp_wrap(void *, int fd, bool, const std::string &, int *err) {
    stream *s = new (std::nothrow) tcp_stream(fd);
    if (!s) *err = TRUFLUX_ENOMEM;
    return s;
}

}  // namespace

extern const transport tcp_transport = {"tcp", nullptr, nullptr, tcp_wrap};

}  // namespace tfx
