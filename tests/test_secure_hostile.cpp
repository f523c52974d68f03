// tests/test_secure_hostile.cpp: hostile peers against the secure layer of a real server.
// The raw client speaks docs/PROTOCOL.md §24 by hand: it builds its hello with the secure
// extension, runs the Noise handshake with lib/crypto's HandshakeState and builds records
// itself, so it can then send what a correct peer never would: plaintext where encryption
// is due, replayed, reordered, tampered and truncated records, malformed handshakes. Each
// case must end the connection with its own error code, seen both by the server's
// application and in the CLOSE the raw client decrypts.
// cmocka.h (included by the support header) has no C++ guards of its own.
extern "C" {
#include "support/tfsupport.h"
}

#include <string>
#include <vector>

#include <truflux/security.h>

#include "crypto/noise.h"

namespace {

constexpr uint8_t K_NOISE = 0x20, K_RECORD = 0x21, K_SWITCH = 0x22, K_REQUEST = 0x23;

struct server_side {
    tf_loop_t *loop = nullptr;
    tf_protocol_t *proto = nullptr;
    tf_server_t *server = nullptr;
    tfs_rec_t rec;
    int port = 0;
    uint8_t spriv[32], spub[32];
};

void start_server(server_side *s, int policy, const char *patterns) {
    s->loop = truflux_loop_new();
    assert_non_null(s->loop);
    s->proto = truflux_protocol_new();
    assert_true(tf_protocol_add(s->proto, "echo", 0, 0) >= 0);
    assert_true(tf_protocol_add(s->proto, "chat", 0, 0) >= 0);
    assert_int_equal(tf_keypair_generate(s->spriv, s->spub), 0);
    tf_options_t *o = truflux_options_new();
    assert_int_equal(tf_options_set_int(o, TRUFLUX_OPT_SECURE, policy), 0);
    assert_int_equal(tf_options_set_bytes(o, TRUFLUX_OPT_STATIC_KEY, s->spriv, 32), 0);
    assert_int_equal(tf_options_set_str(o, TRUFLUX_OPT_SECURE_PATTERNS, patterns), 0);
    s->server = truflux_server_new(s->loop, s->proto, o);
    truflux_options_free(o);
    assert_non_null(s->server);
    tfs_rec_init(&s->rec, "server");
    tf_callbacks_t cbs = tfs_rec_callbacks(&s->rec);
    assert_int_equal(tf_server_set_callbacks(s->server, &cbs), 0);
    assert_int_equal(tf_server_listen(s->server, "tcp://127.0.0.1:0"), 0);
    s->port = tf_server_port(s->server);
}

void stop_server(server_side *s) {
    truflux_server_free(s->server);
    tfs_rec_free(&s->rec);
    truflux_protocol_free(s->proto);
    assert_int_equal(truflux_loop_free(s->loop), 0);
}

void put_u16(std::vector<uint8_t> *v, size_t n) {
    v->push_back((uint8_t)(n >> 8));
    v->push_back((uint8_t)n);
}

std::vector<uint8_t> frame(uint8_t kind, uint32_t id, const std::vector<uint8_t> &payload) {
    tfs_buf_t b = {nullptr, 0, 0};
    tfs_frame_put(&b, kind, id, payload.data(), payload.size());
    std::vector<uint8_t> out(b.p, b.p + b.len);
    tfs_buf_free(&b);
    return out;
}

// The hostile client: a raw socket and its own Noise state.
struct raw_client {
    server_side *s = nullptr;
    tfs_raw_t raw;
    std::vector<uint8_t> my_offer, server_offer;
    tfc::cipher_state tx, rx;
    bool ended = false;

    ~raw_client() { tfs_raw_close(&raw); }

    void send(const std::vector<uint8_t> &bytes) {
        assert_int_equal(tfs_raw_send(s->loop, &raw, bytes.data(), bytes.size(), TFS_WAIT_MS), 0);
    }

    // HELLO with the secure extension offering one pattern and ChaChaPoly.
    void hello(uint8_t policy, uint8_t pattern) {
        assert_int_equal(tfs_raw_connect(&raw, s->port), 0);
        my_offer = {1, policy, 1, pattern, 1, 0, 0};
        tfs_hello_t h;
        const char *names[] = {"echo", "chat"};
        tfs_hello_init(&h, nullptr, names, 2);
        h.caps = 1;
        tfs_buf_t p = {nullptr, 0, 0};
        tfs_hello_payload(&p, &h);
        tfs_buf_u16(&p, 0x0001);
        tfs_buf_u16(&p, (uint16_t)my_offer.size());
        tfs_buf_put(&p, my_offer.data(), my_offer.size());
        tfs_buf_t f = {nullptr, 0, 0};
        tfs_frame_put(&f, TFS_KIND_HELLO, 0, p.p, p.len);
        assert_int_equal(tfs_raw_send(s->loop, &raw, f.p, f.len, TFS_WAIT_MS), 0);
        tfs_buf_free(&p);
        tfs_buf_free(&f);
        tfs_frame_t w;
        assert_int_equal(tfs_raw_next_frame(s->loop, &raw, &w, TFS_WAIT_MS), 1);
        assert_int_equal(w.kind, TFS_KIND_WELCOME);
        tfs_hello_t wh;
        assert_int_equal(tfs_hello_parse(w.payload, w.len, &wh), 0);
        assert_true(wh.caps & 1);
        size_t off = 54 + 4 * wh.nids;
        while (off + 4 <= w.len) {
            uint16_t type = tfs_get_u16(w.payload + off), len = tfs_get_u16(w.payload + off + 2);
            if (type == 0x0001)
                server_offer.assign(w.payload + off + 4, w.payload + off + 4 + len);
            off += 4 + len;
        }
        tfs_frame_free(&w);
        assert_false(server_offer.empty());
    }

    std::vector<uint8_t> prologue() const {
        std::string label = "truflux secure 1";
        std::vector<uint8_t> p(label.begin(), label.end());
        put_u16(&p, my_offer.size());
        p.insert(p.end(), my_offer.begin(), my_offer.end());
        put_u16(&p, server_offer.size());
        p.insert(p.end(), server_offer.begin(), server_offer.end());
        return p;
    }

    // The NN handshake, then the server's first record (its switch-on marker).
    void handshake_nn() {
        tfc::handshake_state hs;
        std::vector<uint8_t> pro = prologue();
        tfc::handshake_params p;
        p.pat = tfc::pattern::NN;
        p.cph = tfc::cipher::chachapoly;
        p.initiator = true;
        p.prologue = pro.data();
        p.prologue_len = pro.size();
        assert_int_equal(hs.initialize(p), 0);
        uint8_t msg[256];
        size_t n = 0;
        assert_int_equal(hs.write_message(nullptr, 0, msg, sizeof msg, &n), 0);
        send(frame(K_NOISE, 0, std::vector<uint8_t>(msg, msg + n)));
        tfs_frame_t f;
        assert_int_equal(tfs_raw_next_frame(s->loop, &raw, &f, TFS_WAIT_MS), 1);
        assert_int_equal(f.kind, K_NOISE);
        assert_int_equal(f.id, 1);
        uint8_t pl[64];
        assert_int_equal(hs.read_message(f.payload, f.len, pl, sizeof pl, &n), 0);
        tfs_frame_free(&f);
        assert_true(hs.is_complete());
        assert_int_equal(hs.split(&tx, &rx), 0);
        std::vector<std::pair<uint8_t, std::vector<uint8_t>>> inner;
        assert_int_equal(read_record(&inner), 1);
        assert_int_equal(inner.size(), 1);
        assert_int_equal(inner[0].first, K_SWITCH);
    }

    // A record holding `plain` (inner frames), sealed with our sending key.
    std::vector<uint8_t> record(const std::vector<uint8_t> &plain) {
        std::vector<uint8_t> out(9 + plain.size() + 16);
        uint32_t seq = (uint32_t)(tx.nonce() & 0x7FFFFFFF);
        uint32_t len = (uint32_t)(plain.size() + 16);
        out[0] = K_RECORD;
        for (int i = 0; i < 4; i++) out[1 + i] = (uint8_t)(seq >> (24 - 8 * i));
        for (int i = 0; i < 4; i++) out[5 + i] = (uint8_t)(len >> (24 - 8 * i));
        size_t got = 0;
        assert_int_equal(tx.encrypt_with_ad(out.data(), 9, plain.data(), plain.size(),
                                            out.data() + 9, out.size() - 9, &got), 0);
        return out;
    }

    static std::vector<uint8_t> text_msg(const char *name, const char *text) {
        std::vector<uint8_t> payload(text, text + strlen(text));
        return frame(0x12, tf_protocol_name_id(name), payload);
    }

    // Next frame from the server: a record is decrypted into its inner frames (1), a plain
    // frame is returned as the only inner frame (2); 0 the socket ended, -1 timeout.
    int read_record(std::vector<std::pair<uint8_t, std::vector<uint8_t>>> *inner,
                    uint32_t *plain_id = nullptr) {
        inner->clear();
        tfs_frame_t f;
        int rc = tfs_raw_next_frame(s->loop, &raw, &f, TFS_WAIT_MS);
        if (rc != 1) return rc;
        if (f.kind != K_RECORD) {
            inner->push_back({f.kind, std::vector<uint8_t>(f.payload, f.payload + f.len)});
            if (plain_id) *plain_id = f.id;
            tfs_frame_free(&f);
            return 2;
        }
        uint8_t ad[9];
        ad[0] = K_RECORD;
        for (int i = 0; i < 4; i++) ad[1 + i] = (uint8_t)(f.id >> (24 - 8 * i));
        for (int i = 0; i < 4; i++) ad[5 + i] = (uint8_t)(f.len >> (24 - 8 * i));
        std::vector<uint8_t> pt(f.len);
        size_t n = 0;
        assert_int_equal((uint32_t)(rx.nonce() & 0x7FFFFFFF), f.id);
        assert_int_equal(rx.decrypt_with_ad(ad, 9, f.payload, f.len, pt.data(), pt.size(), &n), 0);
        tfs_frame_free(&f);
        size_t off = 0;
        while (off + 9 <= n) {
            uint32_t len = tfs_get_u32(pt.data() + off + 5);
            uint32_t id = tfs_get_u32(pt.data() + off + 1);
            std::vector<uint8_t> body(pt.begin() + (long)off + 9, pt.begin() + (long)(off + 9 + len));
            // The close code travels in the id field: keep it as the first 4 payload bytes.
            if (pt[off] == TFS_KIND_CLOSE) {
                std::vector<uint8_t> code = {(uint8_t)(id >> 24), (uint8_t)(id >> 16),
                                             (uint8_t)(id >> 8), (uint8_t)id};
                body.insert(body.begin(), code.begin(), code.end());
            }
            inner->push_back({pt[off], body});
            off += 9 + len;
        }
        return 1;
    }

    // Reads until a CLOSE (encrypted or not); returns its code magnitude, or -1 if none.
    int expect_close(bool *encrypted) {
        std::vector<std::pair<uint8_t, std::vector<uint8_t>>> inner;
        for (;;) {
            uint32_t id = 0;
            int rc = read_record(&inner, &id);
            if (rc <= 0) return -1;
            for (auto &fr : inner) {
                if (fr.first != TFS_KIND_CLOSE) continue;
                *encrypted = rc == 1;
                if (rc == 2) return (int)id;
                return (int)tfs_get_u32(fr.second.data());
            }
        }
    }
};

// The server's verdict on a hostile client: its application heard `code`, the raw client
// got CLOSE(code) (encrypted when `encrypted`), and the socket ended.
void expect_refused(server_side *s, raw_client *c, int code, bool encrypted) {
    bool enc = false;
    int got = c->expect_close(&enc);
    fprintf(stderr, "  close code %d (%s), %s\n", got, got >= 0 ? tf_errname(-got) : "none",
            enc ? "encrypted" : "plaintext");
    assert_int_equal(got, -code);
    assert_int_equal(enc, encrypted);
    TFS_WAIT(s->loop, tfs_rec_has_error(&s->rec, code), TFS_WAIT_MS);
    assert_true(tfs_rec_has_error(&s->rec, code));
    assert_int_equal(tfs_raw_wait_end(s->loop, &c->raw, nullptr, TFS_WAIT_MS), 1);
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t> &b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<uint8_t> switch_on() { return frame(K_SWITCH, 1, {}); }

}  // namespace

// The server required encryption: plaintext from the client is an attack, before the
// handshake as after it.
static void test_hostile_plaintext_when_required(void **) {
    for (int after = 0; after < 2; after++) {
        server_side s;
        start_server(&s, TRUFLUX_SECURE_REQUIRED, "NN");
        raw_client c;
        c.s = &s;
        c.hello(1, 0);
        if (after) c.handshake_nn();
        c.send(raw_client::text_msg("chat", "sneaky"));
        expect_refused(&s, &c, TRUFLUX_ENOTSECURE, after != 0);
        assert_int_equal(s.rec.nmsgs, 0);
        // Held until the handshake finished; after it, the open had happened.
        assert_int_equal(s.rec.opens, after);
        stop_server(&s);
    }
}

// Optional policy: once the client's records have begun, a plaintext frame is injected.
static void test_hostile_plaintext_after_switch_on(void **) {
    server_side s;
    start_server(&s, TRUFLUX_SECURE_OPTIONAL, "NN");
    raw_client c;
    c.s = &s;
    c.hello(1, 0);
    c.handshake_nn();
    c.send(c.record(cat(switch_on(), raw_client::text_msg("chat", "one"))));
    TFS_WAIT(s.loop, s.rec.nmsgs >= 1, TFS_WAIT_MS);
    assert_int_equal(s.rec.nmsgs, 1);
    assert_int_equal(tf_conn_secure(s.rec.conns[0], TRUFLUX_DIR_RECV), 1);
    c.send(raw_client::text_msg("chat", "two"));
    expect_refused(&s, &c, TRUFLUX_ENOTSECURE, true);
    assert_int_equal(s.rec.nmsgs, 1);
    stop_server(&s);
}

static void test_hostile_replayed_record(void **) {
    server_side s;
    start_server(&s, TRUFLUX_SECURE_OPTIONAL, "NN");
    raw_client c;
    c.s = &s;
    c.hello(1, 0);
    c.handshake_nn();
    std::vector<uint8_t> r1 = c.record(cat(switch_on(), raw_client::text_msg("chat", "one")));
    c.send(r1);
    c.send(c.record(raw_client::text_msg("chat", "two")));
    c.send(r1);
    expect_refused(&s, &c, TRUFLUX_EREPLAY, true);
    assert_int_equal(s.rec.nmsgs, 2);
    stop_server(&s);
}

static void test_hostile_reordered_records(void **) {
    server_side s;
    start_server(&s, TRUFLUX_SECURE_OPTIONAL, "NN");
    raw_client c;
    c.s = &s;
    c.hello(1, 0);
    c.handshake_nn();
    std::vector<uint8_t> r1 = c.record(cat(switch_on(), raw_client::text_msg("chat", "one")));
    std::vector<uint8_t> r2 = c.record(raw_client::text_msg("chat", "two"));
    c.send(r2);
    c.send(r1);
    expect_refused(&s, &c, TRUFLUX_EREORDER, true);
    assert_int_equal(s.rec.nmsgs, 0);
    stop_server(&s);
}

// A flipped bit anywhere in the ciphertext or the tag, or in a header field that is not
// the framing itself, is found.
static void test_hostile_bit_flips(void **) {
    const int where[] = {9, 12, -1, -16};  // ciphertext, ciphertext, tag (last), tag (first)
    for (int w : where) {
        server_side s;
        start_server(&s, TRUFLUX_SECURE_OPTIONAL, "NN");
        raw_client c;
        c.s = &s;
        c.hello(1, 0);
        c.handshake_nn();
        std::vector<uint8_t> r = c.record(cat(switch_on(), raw_client::text_msg("chat", "flip me")));
        size_t at = w >= 0 ? (size_t)w : r.size() + (size_t)(long)w;
        r[at] ^= 0x04;
        c.send(r);
        // The record failed: the server's own direction is still fine, so its CLOSE is
        // encrypted.
        expect_refused(&s, &c, TRUFLUX_EDECRYPT, true);
        assert_int_equal(s.rec.nmsgs, 0);
        stop_server(&s);
    }
}

static void test_hostile_truncated(void **) {
    // 1: a record too short to hold its tag; 2: the socket ends inside a record; 3: the
    // socket ends after whole records but without an (authenticated) CLOSE.
    for (int kind = 1; kind <= 3; kind++) {
        server_side s;
        start_server(&s, TRUFLUX_SECURE_OPTIONAL, "NN");
        raw_client c;
        c.s = &s;
        c.hello(1, 0);
        c.handshake_nn();
        c.send(c.record(cat(switch_on(), raw_client::text_msg("chat", "whole"))));
        TFS_WAIT(s.loop, s.rec.nmsgs >= 1, TFS_WAIT_MS);
        assert_int_equal(s.rec.nmsgs, 1);
        if (kind == 1) {
            c.send(frame(K_RECORD, 1, std::vector<uint8_t>(10, 0xAB)));
            expect_refused(&s, &c, TRUFLUX_ETRUNCATED, true);
        } else {
            std::vector<uint8_t> r = c.record(raw_client::text_msg("chat", "cut short"));
            if (kind == 2) r.resize(r.size() / 2);
            else r.clear();
            if (!r.empty()) c.send(r);
            shutdown(c.raw.fd, SHUT_WR);
            // The peer has gone: no CLOSE is due, the server reports and lets go.
            TFS_WAIT(s.loop, s.rec.closes >= 1, TFS_WAIT_MS);
            assert_true(tfs_rec_has_error(&s.rec, TRUFLUX_ETRUNCATED));
            assert_int_equal(s.rec.last_close_remote, 1);
            assert_int_equal(tfs_raw_wait_end(s.loop, &c.raw, nullptr, TFS_WAIT_MS), 1);
        }
        assert_int_equal(s.rec.nmsgs, 1);
        assert_int_equal(s.rec.last_close_reason, TRUFLUX_ETRUNCATED);
        stop_server(&s);
    }
}

// Inside a record only application and control frames, SWITCH, REQUEST and REKEY belong.
static void test_hostile_bad_inner_frames(void **) {
    const uint8_t kinds[] = {TFS_KIND_HELLO, K_NOISE, K_RECORD, 0x2F, 0x7F};
    for (uint8_t k : kinds) {
        server_side s;
        start_server(&s, TRUFLUX_SECURE_OPTIONAL, "NN");
        raw_client c;
        c.s = &s;
        c.hello(1, 0);
        c.handshake_nn();
        c.send(c.record(cat(switch_on(), frame(k, 0, {}))));
        expect_refused(&s, &c, TRUFLUX_EPROTO, true);
        stop_server(&s);
    }
}

// Frames of the secure layer out of place: a record before the handshake, a switch marker
// outside a record, a handshake message out of turn, and one that does not authenticate.
static void test_hostile_out_of_place(void **) {
    for (int variant = 0; variant < 4; variant++) {
        server_side s;
        start_server(&s, TRUFLUX_SECURE_OPTIONAL, variant == 3 ? "NK" : "NN");
        raw_client c;
        c.s = &s;
        c.hello(1, variant == 3 ? 1 : 0);
        int code = TRUFLUX_EPROTO;
        if (variant == 0) {
            c.send(frame(K_RECORD, 0, std::vector<uint8_t>(40, 1)));
        } else if (variant == 1) {
            c.handshake_nn();
            c.send(switch_on());
            code = TRUFLUX_ENOTSECURE;
        } else if (variant == 2) {
            c.send(frame(K_NOISE, 1, std::vector<uint8_t>(32, 9)));
        } else {
            // NK message 1 is e and an encrypted empty payload: random bytes cannot pass.
            std::vector<uint8_t> junk(48);
            for (size_t i = 0; i < junk.size(); i++) junk[i] = (uint8_t)(i * 37 + 11);
            c.send(frame(K_NOISE, 0, junk));
            code = TRUFLUX_EHANDSHAKE;
        }
        expect_refused(&s, &c, code, variant == 1);
        assert_int_equal(s.rec.opens, 1);  // optional: open since the hello
        stop_server(&s);
    }
}

// A plaintext request to stop encrypting could come from anyone on the path: ignored.
static void test_hostile_unauthenticated_downgrade_ignored(void **) {
    server_side s;
    start_server(&s, TRUFLUX_SECURE_OPTIONAL, "NN");
    raw_client c;
    c.s = &s;
    c.hello(1, 0);
    c.handshake_nn();
    c.send(frame(K_REQUEST, 0, {}));
    c.send(frame(TFS_KIND_PING, 0, {'h', 'i'}));
    std::vector<std::pair<uint8_t, std::vector<uint8_t>>> inner;
    int rc = c.read_record(&inner);
    assert_int_equal(rc, 1);  // the PONG came encrypted
    assert_int_equal(inner.size(), 1);
    assert_int_equal(inner[0].first, TFS_KIND_PONG);
    assert_int_equal(tf_conn_secure(s.rec.conns[0], TRUFLUX_DIR_SEND), 1);
    // The same request inside a record is the peer's own: honoured, with a marker.
    c.send(c.record(cat(switch_on(), frame(K_REQUEST, 0, {}))));
    rc = c.read_record(&inner);
    assert_int_equal(rc, 1);
    assert_int_equal(inner.size(), 1);
    assert_int_equal(inner[0].first, K_SWITCH);
    TFS_WAIT(s.loop, tf_conn_secure(s.rec.conns[0], TRUFLUX_DIR_SEND) == 0, TFS_WAIT_MS);
    assert_int_equal(tf_conn_secure(s.rec.conns[0], TRUFLUX_DIR_SEND), 0);
    stop_server(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_plaintext_when_required),
        cmocka_unit_test(test_hostile_plaintext_after_switch_on),
        cmocka_unit_test(test_hostile_replayed_record),
        cmocka_unit_test(test_hostile_reordered_records),
        cmocka_unit_test(test_hostile_bit_flips),
        cmocka_unit_test(test_hostile_truncated),
        cmocka_unit_test(test_hostile_bad_inner_frames),
        cmocka_unit_test(test_hostile_out_of_place),
        cmocka_unit_test(test_hostile_unauthenticated_downgrade_ignored),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
