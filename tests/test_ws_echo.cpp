// tests/test_ws_echo.cpp: a plain RFC 6455 echo server built on the library's pure WebSocket
// layers (the HTTP head parser, the opening handshake checks, the frame parser), so that the
// conformance suite (tests/ws/conformance.py) can exercise what truflux itself never sees
// over WebSocket: text messages and their UTF-8 rules. The truflux server is checked by the
// same suite's "truflux" profile.
//   test_ws_echo            runs its own smoke test (a ctest entry)
//   test_ws_echo --serve    listens on 127.0.0.1:0, prints "port N", serves until killed
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "transport/http_head.h"
#include "transport/ws_codec.h"
#include "transport/ws_handshake.h"

using namespace tfx;

namespace {

constexpr uint64_t MAX_MESSAGE = 64u << 20;

bool send_all(int fd, const void *p, size_t n) {
    const uint8_t *b = static_cast<const uint8_t *>(p);
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

bool send_frame(int fd, uint8_t op, const void *p, size_t n) {
    uint8_t h[ws::MAX_HEADER];
    size_t hl = ws::header_write(h, op, true, n, nullptr);
    return send_all(fd, h, hl) && send_all(fd, p, n);
}

void send_close(int fd, uint16_t code, const char *why) {
    std::string p;
    if (code != ws::CLOSE_NO_STATUS) {
        p.push_back((char)(code >> 8));
        p.push_back((char)code);
        p += std::string(why).substr(0, 123);
    }
    send_frame(fd, ws::OP_CLOSE, p.data(), p.size());
}

// One client: the upgrade, then echo until a close or an error.
void serve_one(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    http::head_parser head(http::head_parser::REQUEST);
    std::vector<uint8_t> buf(1 << 16);
    std::vector<uint8_t> rest;
    for (;;) {
        ssize_t n = recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
            close(fd);
            return;
        }
        long used = head.feed(buf.data(), (size_t)n);
        if (used < 0) {
            std::string t = ws::refusal_text(head.error_status(), head.why(), false);
            send_all(fd, t.data(), t.size());
            close(fd);
            return;
        }
        if (head.done()) {
            rest.assign(buf.begin() + used, buf.begin() + n);
            break;
        }
    }
    ws::upgrade_answer a;
    int st = ws::check_request(ws::request_of(head), "", &a);
    send_all(fd, a.text.data(), a.text.size());
    if (st != 101) {
        close(fd);
        return;
    }
    ws::parser_limits lim;
    lim.max_message = MAX_MESSAGE;
    ws::parser p(lim);
    std::string msg;
    uint8_t msg_op = 0;
    bool first = true;
    for (;;) {
        size_t n;
        if (first && !rest.empty()) {
            memcpy(buf.data(), rest.data(), rest.size());
            n = rest.size();
        } else {
            ssize_t r = recv(fd, buf.data(), buf.size(), 0);
            if (r <= 0) break;
            n = (size_t)r;
        }
        first = false;
        p.feed(buf.data(), n);
        ws::event ev;
        int r;
        while ((r = p.next(&ev)) > 0) {
            switch (ev.kind) {
            case ws::event::DATA:
                if (ev.first) msg_op = ev.op;
                msg.append(reinterpret_cast<const char *>(ev.data), ev.len);
                if (ev.last) {
                    send_frame(fd, msg_op, msg.data(), msg.size());
                    msg.clear();
                }
                break;
            case ws::event::PING:
                send_frame(fd, ws::OP_PONG, ev.data, ev.len);
                break;
            case ws::event::PONG:
                break;
            case ws::event::CLOSE:
                send_close(fd, ev.code, "");
                shutdown(fd, SHUT_WR);
                goto done;
            }
        }
        if (r < 0) {
            send_close(fd, p.status(), p.why());
            shutdown(fd, SHUT_WR);
            goto done;
        }
    }
done:
    // Drain until the client closes (bounded), so our close frame is not cut by a reset.
    for (int i = 0; i < 50; i++) {
        pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0) break;
        if (recv(fd, buf.data(), buf.size(), 0) <= 0) break;
    }
    close(fd);
}

int listen_any(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(fd, 64) != 0) return -1;
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    *port = ntohs(a.sin_port);
    return fd;
}

void serve_forever(int lfd) {
    for (;;) {
        int fd = accept(lfd, nullptr, nullptr);
        if (fd < 0) continue;
        std::thread(serve_one, fd).detach();
    }
}

// Smoke test: the upgrade and a masked text message echoed, over loopback.
int smoke() {
    int port = 0;
    int lfd = listen_any(&port);
    if (lfd < 0) return 1;
    std::thread(serve_forever, lfd).detach();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) return 1;
    timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = ws::build_request("127.0.0.1", "/", "dGhlIHNhbXBsZSBub25jZQ==");
    send_all(fd, req.data(), req.size());
    uint8_t key[4] = {1, 2, 3, 4};
    uint8_t f[64];
    size_t hl = ws::header_write(f, ws::OP_TEXT, true, 6, key);
    ws::mask_copy(f + hl, reinterpret_cast<const uint8_t *>("h\xc3\xa9llo"), 6, key, 0);
    send_all(fd, f, hl + 6);
    std::string got;
    char b[512];
    while (got.find("\r\n\r\n") == std::string::npos || got.size() < got.find("\r\n\r\n") + 4 + 8) {
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0) break;
        got.append(b, (size_t)n);
    }
    size_t at = got.find("\r\n\r\n");
    bool ok = got.rfind("HTTP/1.1 101 ", 0) == 0 && at != std::string::npos &&
              got.size() >= at + 4 + 8 && (uint8_t)got[at + 4] == 0x81 && got[at + 5] == 6 &&
              got.compare(at + 6, 6, "h\xc3\xa9llo") == 0;
    close(fd);
    std::printf("%s: echo server smoke test\n", ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--serve") == 0) {
        int port = 0;
        int lfd = listen_any(&port);
        if (lfd < 0) return 1;
        std::printf("port %d\n", port);
        std::fflush(stdout);
        serve_forever(lfd);
    }
    return smoke();
}
