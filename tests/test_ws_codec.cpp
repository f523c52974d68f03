// tests/test_ws_codec.cpp: the pure WebSocket layers alone: frame parser (every receiver
// rule of RFC 6455 section 5, fed whole and octet by octet), masking, incremental UTF-8,
// SHA-1/base64 against published vectors, the HTTP head parser's limits, and the opening
// handshake checks of both sides.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>
#include <vector>

#include "transport/http_head.h"
#include "transport/ws_codec.h"
#include "transport/ws_handshake.h"
#include "transport/ws_sha1.h"

using namespace tfx;
using bytes = std::vector<uint8_t>;

// A frame as a peer would send it; mask NULL for unmasked.
static bytes frame(uint8_t op, bool fin, const bytes &payload, const uint8_t *mask,
                   uint8_t rsv = 0) {
    uint8_t h[ws::MAX_HEADER];
    size_t n = ws::header_write(h, op, fin, payload.size(), mask);
    h[0] |= rsv;
    bytes out(h, h + n);
    for (size_t i = 0; i < payload.size(); i++)
        out.push_back(mask ? (uint8_t)(payload[i] ^ mask[i & 3]) : payload[i]);
    return out;
}

static bytes str(const char *s) { return bytes(s, s + strlen(s)); }

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

struct outcome {
    std::vector<ws::event> events;
    bytes data;        // every DATA event's octets, in order
    int status = 0;    // error close status, 0 if none
    bytes ctl_last;    // the last control payload
};

// Feeds `in` in chunks of `step` octets (0: all at once) and collects what comes out.
static outcome run(bytes in, size_t step, bool server = true, bool text_ok = true,
                   uint64_t max_msg = 0) {
    ws::parser_limits l;
    l.expect_masked = server;
    l.text_ok = text_ok;
    l.max_message = max_msg;
    ws::parser p(l);
    outcome o;
    size_t at = 0;
    if (!step) step = in.size() ? in.size() : 1;
    while (at < in.size() || (in.empty() && at == 0)) {
        size_t n = std::min(step, in.size() - at);
        p.feed(in.data() + at, n);
        ws::event ev;
        int r;
        while ((r = p.next(&ev)) > 0) {
            o.events.push_back(ev);
            if (ev.kind == ws::event::DATA) {
                o.data.insert(o.data.end(), ev.data, ev.data + ev.len);
            } else {
                o.ctl_last.assign(ev.data, ev.data + ev.len);
            }
        }
        if (r < 0) {
            o.status = p.status();
            return o;
        }
        // Compacted data sits at the front of each feed: check it is what the events said.
        at += n;
        if (in.empty()) break;
    }
    return o;
}

static void test_header_encoding(void **) {
    uint8_t h[ws::MAX_HEADER];
    assert_int_equal(ws::header_write(h, ws::OP_BINARY, true, 125, nullptr), 2);
    assert_int_equal(h[0], 0x82);
    assert_int_equal(h[1], 125);
    assert_int_equal(ws::header_write(h, ws::OP_TEXT, false, 126, nullptr), 4);
    assert_int_equal(h[0], 0x01);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2], 0);
    assert_int_equal(h[3], 126);
    assert_int_equal(ws::header_write(h, ws::OP_BINARY, true, 65536, KEY), 14);
    assert_int_equal(h[1], 0x80 | 127);
    assert_int_equal(h[7], 1);  // 0x10000 big-endian in octets 2..9
    assert_memory_equal(h + 10, KEY, 4);
}

static void test_mask_copy_in_place_and_forward(void **) {
    bytes src(1000);
    for (size_t i = 0; i < src.size(); i++) src[i] = (uint8_t)(i * 7 + 3);
    for (size_t phase = 0; phase < 4; phase++) {
        for (size_t shift : {0u, 1u, 5u, 14u}) {
            bytes buf(shift, 0xEE);
            buf.insert(buf.end(), src.begin(), src.end());
            ws::mask_copy(buf.data(), buf.data() + shift, src.size(), KEY, phase);
            for (size_t i = 0; i < src.size(); i++)
                assert_int_equal(buf[i], (uint8_t)(src[i] ^ KEY[(phase + i) & 3]));
        }
    }
}

static void test_utf8_stream(void **) {
    struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"plain ascii, longer than a word", true},
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},  // "κόσμε"
        {"\xf4\x8f\xbf\xbf", true},                              // U+10FFFF
        {"\xef\xbb\xbf", true},                                  // U+FEFF
        {"\xc0\xaf", false},                                     // overlong '/'
        {"\xe0\x80\xaf", false},                                 // overlong
        {"\xed\xa0\x80", false},                                 // surrogate
        {"\xf4\x90\x80\x80", false},                             // above U+10FFFF
        {"\xf8\x88\x80\x80\x80", false},
        {"\x80", false},
        {"\xce", false},  // truncated: invalid only at the end
    };
    for (auto &c : cases) {
        size_t n = strlen(c.s);
        // Whole, and split at every point.
        for (size_t cut = 0; cut <= n; cut++) {
            ws::utf8_stream u;
            bool ok = u.feed((const uint8_t *)c.s, cut) && u.feed((const uint8_t *)c.s + cut, n - cut) &&
                      u.complete();
            if (ok != c.ok) fprintf(stderr, "  utf8 case %zu bytes cut %zu\n", n, cut);
            assert_true(ok == c.ok);
        }
    }
    // Fail fast: the first impossible octet fails the feed even with more to come.
    ws::utf8_stream u;
    assert_false(u.feed((const uint8_t *)"ok\xed\xa0", 4));
}

static void test_parser_messages_whole_and_bytewise(void **) {
    bytes in;
    auto add = [&](const bytes &b) { in.insert(in.end(), b.begin(), b.end()); };
    add(frame(ws::OP_BINARY, true, str("hello"), KEY));
    add(frame(ws::OP_TEXT, false, str("fra"), KEY));
    add(frame(ws::OP_PING, true, str("p1"), KEY));  // control inside a fragmented message
    add(frame(ws::OP_CONT, false, bytes(), KEY));     // empty middle fragment
    add(frame(ws::OP_CONT, true, str("g"), KEY));
    add(frame(ws::OP_BINARY, true, bytes(), KEY));    // empty message
    add(frame(ws::OP_BINARY, true, bytes(70000, 0x5a), KEY));  // 64-bit length
    add(frame(ws::OP_CLOSE, true, bytes{0x03, 0xe8, 'b', 'y', 'e'}, KEY));
    for (size_t step : {0u, 1u, 3u, 7u, 4096u}) {
        outcome o = run(in, step);
        assert_int_equal(o.status, 0);
        bytes want = str("hellofrag");
        want.insert(want.end(), 70000, 0x5a);
        assert_true(o.data == want);
        // Message boundaries: first/last flags.
        int firsts = 0, lasts = 0, pings = 0, closes = 0;
        for (auto &e : o.events) {
            if (e.kind == ws::event::DATA) {
                firsts += e.first;
                lasts += e.last;
            }
            pings += e.kind == ws::event::PING;
            if (e.kind == ws::event::CLOSE) {
                closes++;
                assert_int_equal(e.code, 1000);
            }
        }
        assert_int_equal(firsts, 4);
        assert_int_equal(lasts, 4);
        assert_int_equal(pings, 1);
        assert_int_equal(closes, 1);
        assert_true(o.ctl_last == str("bye"));
    }
}

static void test_parser_compacts_to_front(void **) {
    bytes in = frame(ws::OP_BINARY, false, str("abc"), KEY);
    bytes b = frame(ws::OP_PING, true, str("x"), KEY);
    in.insert(in.end(), b.begin(), b.end());
    b = frame(ws::OP_CONT, true, str("defg"), KEY);
    in.insert(in.end(), b.begin(), b.end());
    ws::parser_limits l;
    ws::parser p(l);
    p.feed(in.data(), in.size());
    ws::event ev;
    while (p.next(&ev) > 0) {
    }
    assert_false(p.failed());
    assert_int_equal(p.compacted(), 7);
    assert_memory_equal(in.data(), "abcdefg", 7);
}

static void expect_status(const bytes &in, int status, bool server = true, bool text_ok = true,
                          uint64_t max_msg = 0) {
    for (size_t step : {0u, 1u}) {
        outcome o = run(in, step, server, text_ok, max_msg);
        if (o.status != status) fprintf(stderr, "  step %zu: status %d, want %d\n", step, o.status, status);
        assert_int_equal(o.status, status);
    }
}

static void test_parser_violations(void **) {
    expect_status(frame(ws::OP_BINARY, true, str("x"), KEY, 0x40), 1002);     // RSV1
    expect_status(frame(0x3, true, str("x"), KEY), 1002);                      // reserved op
    expect_status(frame(0xB, true, str("x"), KEY), 1002);                      // reserved control
    expect_status(frame(ws::OP_BINARY, true, str("x"), nullptr), 1002);       // unmasked to server
    expect_status(frame(ws::OP_BINARY, true, str("x"), KEY), 1002, false);    // masked to client
    expect_status(frame(ws::OP_PING, false, str("x"), KEY), 1002);            // fragmented ping
    expect_status(frame(ws::OP_PING, true, bytes(126, 1), KEY), 1002);        // long control
    expect_status(frame(ws::OP_CONT, true, str("x"), KEY), 1002);             // stray continuation
    bytes two = frame(ws::OP_TEXT, false, str("a"), KEY);
    bytes b = frame(ws::OP_TEXT, true, str("b"), KEY);
    two.insert(two.end(), b.begin(), b.end());
    expect_status(two, 1002);                                                  // nested message
    expect_status(frame(ws::OP_TEXT, true, str("hi"), KEY), 1003, true, false);  // text refused
    expect_status(frame(ws::OP_TEXT, true, str("\xce\xba\xed\xa0\x80"), KEY), 1007);
    expect_status(frame(ws::OP_TEXT, true, str("\xce"), KEY), 1007);            // truncated
    expect_status(frame(ws::OP_CLOSE, true, bytes{0x03}, KEY), 1002);           // 1-octet close
    expect_status(frame(ws::OP_CLOSE, true, bytes{0x03, 0xed}, KEY), 1002);     // 1005 on wire
    expect_status(frame(ws::OP_CLOSE, true, bytes{0x03, 0xe8, 0xc0, 0xaf}, KEY), 1007);
    expect_status(frame(ws::OP_BINARY, true, bytes(100, 0), KEY), 1009, true, true, 99);
    // Top bit of a 64-bit length.
    bytes big = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, KEY[0], KEY[1], KEY[2], KEY[3]};
    expect_status(big, 1002);
    // Errors are sticky.
    ws::parser_limits l;
    ws::parser p(l);
    bytes bad = frame(0x3, true, bytes(), KEY);
    p.feed(bad.data(), bad.size());
    ws::event ev;
    assert_int_equal(p.next(&ev), -1);
    bytes good = frame(ws::OP_BINARY, true, str("x"), KEY);
    p.feed(good.data(), good.size());
    assert_int_equal(p.next(&ev), -1);
}

static void test_close_codes(void **) {
    for (unsigned c : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 3000u, 4999u})
        assert_true(ws::close_code_sendable(c));
    for (unsigned c : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 2999u, 5000u, 65535u})
        assert_false(ws::close_code_sendable(c));
}

static void test_sha1_base64_vectors(void **) {
    uint8_t d[20];
    ws::sha1("abc", 3, d);
    assert_string_equal(ws::base64_encode(d, 20).c_str(), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 56 octets
    ws::sha1(m, strlen(m), d);
    assert_string_equal(ws::base64_encode(d, 20).c_str(), "hJg+RBw70m66rkqh+VEp5eVGcPE=");
    ws::sha1("", 0, d);
    assert_string_equal(ws::base64_encode(d, 20).c_str(), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    // RFC 6455 section 1.3's example.
    assert_string_equal(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==").c_str(),
                        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    std::string out;
    assert_true(ws::base64_decode("dGhlIHNhbXBsZSBub25jZQ==", &out));
    assert_string_equal(out.c_str(), "the sample nonce");
    assert_false(ws::base64_decode("dGhl*HNh", &out));
    assert_false(ws::base64_decode("abc", &out));
    assert_false(ws::base64_decode("ab=c", &out));
}

static void test_http_head_request(void **) {
    const char *req = "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade:  WebSocket \r\n"
                      "Connection: keep-alive, Upgrade\r\n\r\nTAIL";
    for (size_t step : {0u, 1u, 5u}) {
        http::head_parser h(http::head_parser::REQUEST);
        size_t n = strlen(req), at = 0;
        long used_total = 0;
        if (!step) step = n;
        while (at < n && !h.done()) {
            size_t k = std::min(step, n - at);
            long used = h.feed((const uint8_t *)req + at, k);
            assert_true(used >= 0);
            used_total += used;
            at += k;
        }
        assert_true(h.done());
        assert_int_equal(used_total, (long)(n - 4));  // "TAIL" is not the head's
        assert_true(h.method() == "GET");
        assert_true(h.target() == "/chat?x=1");
        assert_int_equal(h.version_minor(), 1);
        assert_true(h.find("host") && h.find("host")->value == "example.com");
        assert_true(h.find("Upgrade")->value == "WebSocket");
        assert_true(h.has_token("connection", "upgrade"));
        assert_false(h.has_token("connection", "close"));
    }
}

static int head_error(const std::string &text, http::head_limits lim = http::head_limits(),
                      http::head_parser::kind_t k = http::head_parser::REQUEST) {
    http::head_parser h(k, lim);
    long r = h.feed((const uint8_t *)text.data(), text.size());
    return r < 0 ? h.error_status() : 0;
}

static void test_http_head_limits_and_errors(void **) {
    http::head_limits lim;
    lim.max_head = 512;
    lim.max_line = 128;
    lim.max_fields = 4;
    assert_int_equal(head_error("GET / HTTP/1.1\r\nA: b\r\n\r\n", lim), 0);
    assert_int_equal(head_error("GET /" + std::string(200, 'a') + " HTTP/1.1\r\n", lim), 414);
    assert_int_equal(head_error("GET / HTTP/1.1\r\nX: " + std::string(200, 'a') + "\r\n", lim), 431);
    assert_int_equal(head_error("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n", lim), 431);
    std::string many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 10; i++) many += "X-Long-Name-" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
    assert_int_equal(head_error(many, lim), 431);  // the whole head is too large
    // A line without its LF is refused once it passes the limit.
    assert_int_equal(head_error("GET / HTTP/1.1\r\nX: " + std::string(300, 'a'), lim), 431);
    assert_int_equal(head_error("GET / HTTP/2.0\r\n\r\n"), 505);
    assert_int_equal(head_error("GET / HTTQ/1.1\r\n\r\n"), 400);
    assert_int_equal(head_error("GET  HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(head_error("G(T / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(head_error("GET / HTTP/1.1\r\n folded: no\r\n\r\n"), 400);
    assert_int_equal(head_error("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
    assert_int_equal(head_error("GET / HTTP/1.1\r\nBad\x01: x\r\n\r\n"), 400);
    assert_int_equal(head_error("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"), 400);
    assert_int_equal(head_error("\r\n"), 400);
    assert_int_equal(head_error("HTTP/1.1 101 Switching Protocols\r\n\r\n", lim,
                                http::head_parser::RESPONSE), 0);
    assert_int_equal(head_error("HTTP/1.1 1x1 Nope\r\n\r\n", lim, http::head_parser::RESPONSE), 400);
    // Sticky.
    http::head_parser h(http::head_parser::REQUEST);
    assert_true(h.feed((const uint8_t *)"\x01\r\n", 3) < 0);
    assert_true(h.feed((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18) < 0);
}

static ws::upgrade_request parse_req(http::head_parser &h, const std::string &text) {
    long r = h.feed((const uint8_t *)text.data(), text.size());
    assert_true(r >= 0 && h.done());
    return ws::request_of(h);
}

static int check(const std::string &text, const char *path = "", std::string *answer = nullptr) {
    http::head_parser h(http::head_parser::REQUEST);
    ws::upgrade_answer a;
    int st = ws::check_request(parse_req(h, text), path, &a);
    if (answer) *answer = a.text;
    return st;
}

static void test_upgrade_request_checks(void **) {
    const std::string base = "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    std::string answer;
    assert_int_equal(check("GET /chat HTTP/1.1\r\n" + base + "\r\n", "", &answer), 101);
    assert_true(answer.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
    assert_true(answer.find("Sec-WebSocket-Protocol") == std::string::npos);
    assert_int_equal(check("GET /chat HTTP/1.1\r\n" + base +
                           "Sec-WebSocket-Protocol: other, truflux.v1\r\n\r\n", "/chat", &answer), 101);
    assert_true(answer.find("Sec-WebSocket-Protocol: truflux.v1\r\n") != std::string::npos);
    assert_int_equal(check("GET /chat?q=1 HTTP/1.1\r\n" + base + "\r\n", "/chat"), 101);
    assert_int_equal(check("GET /chat HTTP/1.1\r\n" + base + "Sec-WebSocket-Protocol: mqtt\r\n\r\n"), 400);
    assert_int_equal(check("GET /other HTTP/1.1\r\n" + base + "\r\n", "/chat"), 404);
    assert_int_equal(check("POST / HTTP/1.1\r\n" + base + "\r\n"), 405);
    assert_int_equal(check("GET / HTTP/1.0\r\n" + base + "\r\n"), 400);
    assert_int_equal(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 426);
    assert_int_equal(check("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     400);  // no Host
    std::string v8 = base;
    v8.replace(v8.find("13"), 2, "8");
    assert_int_equal(check("GET / HTTP/1.1\r\n" + v8 + "\r\n", "", &answer), 426);
    assert_true(answer.find("Sec-WebSocket-Version: 13") != std::string::npos);
    std::string badkey = base;
    badkey.replace(badkey.find("dGhl"), 4, "AAAA=");
    assert_int_equal(check("GET / HTTP/1.1\r\n" + badkey + "\r\n"), 400);
}

static void test_upgrade_response_checks(void **) {
    std::string req = ws::build_request("h:1", "/p", "dGhlIHNhbXBsZSBub25jZQ==");
    assert_true(req.rfind("GET /p HTTP/1.1\r\nHost: h:1\r\n", 0) == 0);
    assert_true(req.find("Sec-WebSocket-Protocol: truflux.v1\r\n") != std::string::npos);
    auto resp_ok = [](const std::string &extra, const char *accept) {
        std::string t = std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\nSec-WebSocket-Accept: ") +
                        accept + "\r\n" + extra + "\r\n";
        http::head_parser h(http::head_parser::RESPONSE);
        assert_true(h.feed((const uint8_t *)t.data(), t.size()) >= 0 && h.done());
        std::string why;
        return ws::check_response(h, "dGhlIHNhbXBsZSBub25jZQ==", &why);
    };
    const char *good = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    assert_true(resp_ok("", good));
    assert_true(resp_ok("Sec-WebSocket-Protocol: truflux.v1\r\n", good));
    assert_false(resp_ok("Sec-WebSocket-Protocol: chat\r\n", good));
    assert_false(resp_ok("Sec-WebSocket-Extensions: permessage-deflate\r\n", good));
    assert_false(resp_ok("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    http::head_parser h(http::head_parser::RESPONSE);
    std::string t = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_true(h.feed((const uint8_t *)t.data(), t.size()) >= 0);
    std::string why;
    assert_false(ws::check_response(h, "x", &why));
    assert_true(why.find("404") != std::string::npos);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_encoding),
        cmocka_unit_test(test_mask_copy_in_place_and_forward),
        cmocka_unit_test(test_utf8_stream),
        cmocka_unit_test(test_parser_messages_whole_and_bytewise),
        cmocka_unit_test(test_parser_compacts_to_front),
        cmocka_unit_test(test_parser_violations),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_sha1_base64_vectors),
        cmocka_unit_test(test_http_head_request),
        cmocka_unit_test(test_http_head_limits_and_errors),
        cmocka_unit_test(test_upgrade_request_checks),
        cmocka_unit_test(test_upgrade_response_checks),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
