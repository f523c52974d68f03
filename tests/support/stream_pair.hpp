// tests/support/stream_pair.hpp: a server and a client tfx::stream (lib/transport) of one
// transport on a socket pair whose buffers are kept small, so that partial writes and EAGAIN
// happen at every size; for the tests that drive streams the way a connection does
// (test_ws_direct.cpp, test_wss_gather.cpp). Include after <cmocka.h>.
#pragma once
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/config.h"
#include "transport/stream.h"

namespace tfpair {

struct pair_t {
    int fd[2] = {-1, -1};
    void *sctx = nullptr, *cctx = nullptr;
    tfx::stream *server = nullptr, *client = nullptr;
    const tfx::transport *t = nullptr;
};

// Makes both ends of `scheme` at `url` with each side's options, over socket buffers of
// `buf` bytes (the transport wraps: TLS, the HTTP upgrade).
inline void open_streams(pair_t *p, const char *scheme, const char *url, int buf,
                         const tfcore::config &scfg, const tfcore::config &ccfg) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd), 0);
    for (int i = 0; i < 2; i++) {
        setsockopt(p->fd[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        setsockopt(p->fd[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    }
    p->t = tfx::find_transport(scheme);
    assert_non_null(p->t);
    tfcore::url u;
    assert_int_equal(tfcore::url_parse(url, &u), 0);
    int err = 0;
    std::string detail;
    p->sctx = p->t->ctx_new_at(scfg, true, u, &err, &detail);
    if (!p->sctx) fail_msg("server ctx: %d %s", err, detail.c_str());
    p->cctx = p->t->ctx_new_at(ccfg, false, u, &err, &detail);
    if (!p->cctx) fail_msg("client ctx: %d %s", err, detail.c_str());
    p->server = p->t->wrap(p->sctx, p->fd[0], true, "", &err);
    p->client = p->t->wrap(p->cctx, p->fd[1], false, "127.0.0.1", &err);
    assert_non_null(p->server);
    assert_non_null(p->client);
}

// Steps both sides' handshakes in turn until both are done (at most `rounds` turns).
inline void handshake(pair_t *p, int rounds) {
    bool sdone = false, cdone = false;
    for (int i = 0; i < rounds && !(sdone && cdone); i++) {
        if (!cdone) {
            ssize_t r = p->client->handshake();
            if (!(r == 0 || r == tfx::IO_WANT_READ || r == tfx::IO_WANT_WRITE))
                fail_msg("client handshake: %zd %s", r, p->client->error_detail());
            cdone = r == 0;
        }
        if (!sdone) {
            ssize_t r = p->server->handshake();
            if (!(r == 0 || r == tfx::IO_WANT_READ || r == tfx::IO_WANT_WRITE))
                fail_msg("server handshake: %zd %s", r, p->server->error_detail());
            sdone = r == 0;
        }
    }
    assert_true(sdone && cdone);
}

inline void close_streams(pair_t *p) {
    delete p->server;
    delete p->client;
    p->t->ctx_free(p->sctx);
    p->t->ctx_free(p->cctx);
    close(p->fd[0]);
    close(p->fd[1]);
}

// Reads what `s` decodes now into `got` (until it wants more input).
inline void drain(tfx::stream *s, std::vector<uint8_t> *got) {
    static uint8_t buf[65536];
    for (int i = 0; i < 10000; i++) {
        ssize_t r = s->read(buf, sizeof buf);
        if (r == tfx::IO_WANT_READ) return;
        if (r <= 0) fail_msg("read: %zd (%s)", r, s->error_detail() ? s->error_detail() : "");
        got->insert(got->end(), buf, buf + r);
    }
}

}  // namespace tfpair
