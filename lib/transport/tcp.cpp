// lib/transport: plain TCP, the fast path: recv(2) into the decoder, writev(2) of the queue.
#include <event2/buffer.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <new>

#include <truflux/error.h>

#include "transport/stream.h"

namespace tfx {
namespace {

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
        int n = evbuffer_write(out, fd_);
        if (n >= 0) return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return IO_WANT_WRITE;
        return errno == ECONNRESET || errno == EPIPE ? TRUFLUX_ECONNRESET : TRUFLUX_EIO;
    }
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
    int fd_;
};

stream *tcp_wrap(void *, int fd, bool, const std::string &, int *err) {
    stream *s = new (std::nothrow) tcp_stream(fd);
    if (!s) *err = TRUFLUX_ENOMEM;
    return s;
}

}  // namespace

extern const transport tcp_transport = {"tcp", nullptr, nullptr, tcp_wrap};

}  // namespace tfx
