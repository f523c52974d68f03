// Noise handshakes and cipher states (lib/crypto/noise.h) against the cacophony test
// vectors, plus the failure paths the vectors do not cover: tampering, rekey, nonce
// exhaustion, size limits and misuse.
//
// The vectors are read at run time from $TRUFLUX_NOISE_VECTORS, by default from
// <this file's dir>/../../shared/vectors/noise/cacophony-25519-sha256.json (the shared/
// folder beside the repository). Their format is described in that folder's README.md.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka 1.1.5 (Debian 12) declares its functions without extern "C".
extern "C" {
#include <cmocka.h>
}

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <truflux/error.h>

#include "crypto/noise.h"

using bytes = std::vector<uint8_t>;
using tfc::cipher;
using tfc::pattern;

namespace {

// ---- A small JSON reader -----------------------------------------------------------------
// The vector file is plain JSON (objects, arrays, strings); this reader accepts all of
// JSON's grammar so that a reformatted file still parses, and reports where it stops.

struct jv {
    enum kind_t { NUL, BOOL, NUM, STR, ARR, OBJ } kind = NUL;
    std::string str;  // a string's value, or a number's text
    bool b = false;
    std::vector<jv> arr;
    std::vector<std::pair<std::string, jv>> obj;

    const jv *get(const char *key) const {
        for (const auto &kv : obj)
            if (kv.first == key) return &kv.second;
        return nullptr;
    }
};

class json_reader {
public:
    json_reader(const char *p, size_t n) : p_(p), end_(p + n) {}

    bool parse(jv *out) {
        if (!value(out, 0)) return false;
        ws();
        return p_ == end_ || bad("trailing data");
    }
    const std::string &error() const { return err_; }
    size_t offset(const char *base) const { return size_t(p_ - base); }

private:
    const char *p_, *end_;
    std::string err_;

    bool bad(const char *why) {
        if (err_.empty()) err_ = why;
        return false;
    }
    void ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) p_++;
    }
    bool lit(const char *word) {
        size_t n = std::strlen(word);
        if (size_t(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return bad("bad literal");
        p_ += n;
        return true;
    }
    static void utf8(std::string *s, uint32_t cp) {
        if (cp < 0x80) {
            s->push_back(char(cp));
        } else if (cp < 0x800) {
            s->push_back(char(0xC0 | cp >> 6));
            s->push_back(char(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            s->push_back(char(0xE0 | cp >> 12));
            s->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
            s->push_back(char(0x80 | (cp & 0x3F)));
        } else {
            s->push_back(char(0xF0 | cp >> 18));
            s->push_back(char(0x80 | ((cp >> 12) & 0x3F)));
            s->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
            s->push_back(char(0x80 | (cp & 0x3F)));
        }
    }
    bool hex4(uint32_t *v) {
        if (end_ - p_ < 4) return bad("short \\u escape");
        *v = 0;
        for (int i = 0; i < 4; i++, p_++) {
            char c = *p_;
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0) return bad("bad \\u escape");
            *v = *v << 4 | uint32_t(d);
        }
        return true;
    }
    bool string(std::string *s) {
        p_++;  // the opening quote
        while (p_ < end_ && *p_ != '"') {
            char c = *p_++;
            if (uint8_t(c) < 0x20) return bad("control character in string");
            if (c != '\\') {
                s->push_back(c);
                continue;
            }
            if (p_ == end_) break;
            char e = *p_++;
            switch (e) {
            case '"': case '\\': case '/': s->push_back(e); break;
            case 'b': s->push_back('\b'); break;
            case 'f': s->push_back('\f'); break;
            case 'n': s->push_back('\n'); break;
            case 'r': s->push_back('\r'); break;
            case 't': s->push_back('\t'); break;
            case 'u': {
                uint32_t cp;
                if (!hex4(&cp)) return false;
                if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
                    uint32_t lo;
                    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
                        return bad("lone surrogate");
                    p_ += 2;
                    if (!hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return bad("bad surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                utf8(s, cp);
                break;
            }
            default: return bad("bad escape");
            }
        }
        if (p_ == end_) return bad("unterminated string");
        p_++;
        return true;
    }
    bool number(jv *out) {
        const char *start = p_;
        if (p_ < end_ && *p_ == '-') p_++;
        while (p_ < end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '.' || *p_ == 'e' ||
                             *p_ == 'E' || *p_ == '+' || *p_ == '-'))
            p_++;
        if (p_ == start) return bad("unexpected character");
        out->kind = jv::NUM;
        out->str.assign(start, p_);
        return true;
    }
    bool value(jv *out, int depth) {
        if (depth > 32) return bad("nested too deeply");
        ws();
        if (p_ == end_) return bad("unexpected end");
        switch (*p_) {
        case '{': {
            out->kind = jv::OBJ;
            p_++;
            ws();
            if (p_ < end_ && *p_ == '}') return p_++, true;
            for (;;) {
                ws();
                if (p_ == end_ || *p_ != '"') return bad("expected a key");
                std::pair<std::string, jv> kv;
                if (!string(&kv.first)) return false;
                ws();
                if (p_ == end_ || *p_++ != ':') return bad("expected ':'");
                if (!value(&kv.second, depth + 1)) return false;
                out->obj.push_back(std::move(kv));
                ws();
                if (p_ == end_) return bad("unterminated object");
                if (*p_ == '}') return p_++, true;
                if (*p_++ != ',') return bad("expected ',' or '}'");
            }
        }
        case '[': {
            out->kind = jv::ARR;
            p_++;
            ws();
            if (p_ < end_ && *p_ == ']') return p_++, true;
            for (;;) {
                jv item;
                if (!value(&item, depth + 1)) return false;
                out->arr.push_back(std::move(item));
                ws();
                if (p_ == end_) return bad("unterminated array");
                if (*p_ == ']') return p_++, true;
                if (*p_++ != ',') return bad("expected ',' or ']'");
            }
        }
        case '"': out->kind = jv::STR; return string(&out->str);
        case 't': out->kind = jv::BOOL; out->b = true; return lit("true");
        case 'f': out->kind = jv::BOOL; return lit("false");
        case 'n': return lit("null");
        default: return number(out);
        }
    }
};

void test_json_reader(void **) {
    const char *doc = " {\"a\": [1, -2.5e3, true, false, null, \"x\\\"y\\u00e9\\ud83d\\ude00\"],"
                      " \"b\": {}, \"c\": []} ";
    jv v;
    json_reader r(doc, std::strlen(doc));
    assert_true(r.parse(&v));
    assert_int_equal(v.kind, jv::OBJ);
    const jv *a = v.get("a");
    assert_non_null(a);
    assert_int_equal(a->arr.size(), 6);
    assert_string_equal(a->arr[1].str.c_str(), "-2.5e3");
    assert_true(a->arr[2].b);
    assert_string_equal(a->arr[5].str.c_str(), "x\"y\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(v.get("b")->kind, jv::OBJ);
    assert_null(v.get("missing"));
    for (const char *broken :
         {"{\"a\": 1", "[1 2]", "{\"a\" 1}", "\"abc", "[1],", "{\"a\":\"\\q\"}", ""}) {
        jv w;
        json_reader rb(broken, std::strlen(broken));
        assert_false(rb.parse(&w));
        assert_false(rb.error().empty());
    }
}

// ---- Helpers -----------------------------------------------------------------------------

bool unhex(const std::string &s, bytes *out) {
    if (s.size() % 2) return false;
    out->clear();
    for (size_t i = 0; i < s.size(); i += 2) {
        auto nib = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        int hi = nib(s[i]), lo = nib(s[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out->push_back(uint8_t(hi << 4 | lo));
    }
    return true;
}

bytes hex(const char *s) {
    bytes b;
    assert_true(unhex(s, &b));
    return b;
}

std::string vectors_path() {
    const char *env = std::getenv("TRUFLUX_NOISE_VECTORS");
    if (env && *env) return env;
    std::string dir = __FILE__;
    size_t slash = dir.find_last_of('/');
    dir = slash == std::string::npos ? std::string(".") : dir.substr(0, slash);
    return dir + "/../../shared/vectors/noise/cacophony-25519-sha256.json";
}

bool read_file(const std::string &path, std::string *out) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
    bool ok = !std::ferror(f);
    std::fclose(f);
    return ok;
}

// One side of a connection: its handshake, then its transport ciphers.
struct side {
    tfc::handshake_state hs;
    tfc::cipher_state send, recv;
};

// Sends one handshake message from a to b and checks that b gets the payload.
bytes hs_send(side *a, side *b, const bytes &payload) {
    assert_true(a->hs.is_write_turn());
    assert_false(b->hs.is_write_turn());
    bytes msg(tfc::MAX_MESSAGE);
    size_t n = 0, promised = a->hs.write_size(payload.size());
    assert_int_equal(a->hs.write_message(payload.data(), payload.size(), msg.data(), msg.size(),
                                         &n),
                     0);
    assert_int_equal(n, promised);
    msg.resize(n);
    bytes got(tfc::MAX_MESSAGE);
    size_t m = 0;
    assert_int_equal(b->hs.read_message(msg.data(), msg.size(), got.data(), got.size(), &m), 0);
    assert_int_equal(m, payload.size());
    assert_memory_equal(got.data(), payload.data(), m);
    return msg;
}

bytes transport_send(tfc::cipher_state *tx, tfc::cipher_state *rx, const bytes &payload) {
    bytes ct(payload.size() + tfc::TAG_LEN);
    size_t n = 0;
    assert_int_equal(tx->encrypt_with_ad(nullptr, 0, payload.data(), payload.size(), ct.data(),
                                         ct.size(), &n),
                     0);
    assert_int_equal(n, ct.size());
    bytes pt(payload.size());
    size_t m = 0;
    assert_int_equal(rx->decrypt_with_ad(nullptr, 0, ct.data(), ct.size(), pt.data(), pt.size(),
                                         &m),
                     0);
    assert_int_equal(m, payload.size());
    assert_memory_equal(pt.data(), payload.data(), m);
    return ct;
}

void finish(side *s) {
    assert_true(s->hs.is_complete());
    assert_int_equal(s->hs.split(&s->send, &s->recv), 0);
    assert_true(s->send.has_key());
    assert_true(s->recv.has_key());
    // The ciphers are moved out once.
    tfc::cipher_state x, y;
    assert_int_equal(s->hs.split(&x, &y), TRUFLUX_EINVAL);
}

const pattern ALL_PATTERNS[] = {pattern::NN, pattern::NK, pattern::XX, pattern::IK};
const cipher ALL_CIPHERS[] = {cipher::chachapoly, cipher::aesgcm};
const char *pattern_name(pattern p) {
    switch (p) {
    case pattern::NN: return "NN";
    case pattern::NK: return "NK";
    case pattern::XX: return "XX";
    default: return "IK";
    }
}
bool pattern_from(const std::string &s, pattern *p) {
    for (pattern q : ALL_PATTERNS)
        if (s == pattern_name(q)) return *p = q, true;
    return false;
}
bool needs_initiator_static(pattern p) { return p == pattern::XX || p == pattern::IK; }
bool needs_pinned_responder(pattern p) { return p == pattern::NK || p == pattern::IK; }

// ---- The vectors -------------------------------------------------------------------------

struct keyset {
    bytes prologue, e, s, rs;
};

bool key_field(const jv &v, const char *name, bytes *out) {
    const jv *f = v.get(name);
    if (!f) return true;  // absent: the pattern does not use it
    return f->kind == jv::STR && unhex(f->str, out) && out->size() == tfc::DH_LEN;
}

tfc::handshake_params params_of(pattern p, cipher c, bool initiator, const keyset &k) {
    tfc::handshake_params hp;
    hp.pat = p;
    hp.cph = c;
    hp.initiator = initiator;
    hp.prologue = k.prologue.data();
    hp.prologue_len = k.prologue.size();
    hp.e = k.e.empty() ? nullptr : k.e.data();
    hp.s = k.s.empty() ? nullptr : k.s.data();
    hp.rs = k.rs.empty() ? nullptr : k.rs.data();
    return hp;
}

// Runs one vector: every message is checked byte for byte on the sender's side and for its
// payload on the receiver's; the handshake hash on both sides; the static keys learnt.
void run_vector(const jv &v, pattern p, cipher c) {
    const std::string &name = v.get("protocol_name")->str;
    std::printf("# %s\n", name.c_str());
    keyset ik, rk;
    const jv *f;
    assert_non_null(f = v.get("init_prologue"));
    assert_true(unhex(f->str, &ik.prologue));
    assert_non_null(f = v.get("resp_prologue"));
    assert_true(unhex(f->str, &rk.prologue));
    assert_true(key_field(v, "init_ephemeral", &ik.e) && !ik.e.empty());
    assert_true(key_field(v, "resp_ephemeral", &rk.e) && !rk.e.empty());
    assert_true(key_field(v, "init_static", &ik.s));
    assert_true(key_field(v, "resp_static", &rk.s));
    assert_true(key_field(v, "init_remote_static", &ik.rs));
    assert_true(key_field(v, "resp_remote_static", &rk.rs));
    assert_null(v.get("init_psks"));
    bytes hash;
    assert_non_null(f = v.get("handshake_hash"));
    assert_true(unhex(f->str, &hash) && hash.size() == tfc::HASH_LEN);
    const jv *msgs = v.get("messages");
    assert_non_null(msgs);
    assert_int_equal(msgs->kind, jv::ARR);

    side init, resp;
    assert_int_equal(init.hs.initialize(params_of(p, c, true, ik)), 0);
    assert_int_equal(resp.hs.initialize(params_of(p, c, false, rk)), 0);
    assert_string_equal(init.hs.protocol_name(), name.c_str());
    assert_string_equal(resp.hs.protocol_name(), name.c_str());

    size_t transport = 0;
    for (size_t i = 0; i < msgs->arr.size(); i++) {
        bytes payload, ct;
        assert_true(unhex(msgs->arr[i].get("payload")->str, &payload));
        assert_true(unhex(msgs->arr[i].get("ciphertext")->str, &ct));
        // The vectors alternate senders throughout, across the end of the handshake.
        bool from_init = i % 2 == 0;
        side *tx = from_init ? &init : &resp;
        side *rx = from_init ? &resp : &init;
        bytes got;
        if (!init.hs.is_complete()) {
            assert_int_equal(tx->hs.write_size(payload.size()), ct.size());
            got = hs_send(tx, rx, payload);
            if (init.hs.is_complete()) {
                assert_true(resp.hs.is_complete());
                finish(&init);
                finish(&resp);
            }
        } else {
            got = transport_send(&tx->send, &rx->recv, payload);
            transport++;
        }
        assert_int_equal(got.size(), ct.size());
        assert_memory_equal(got.data(), ct.data(), ct.size());
    }
    assert_true(init.hs.is_complete() && resp.hs.is_complete());
    assert_true(transport >= 2);  // both directions' transport ciphers were checked
    assert_memory_equal(init.hs.handshake_hash(), hash.data(), hash.size());
    assert_memory_equal(resp.hs.handshake_hash(), hash.data(), hash.size());

    // What each side learnt of the other's static key is the key the other holds.
    if (!rk.s.empty()) {
        uint8_t pub[32];
        assert_int_equal(tfc::x25519_public(rk.s.data(), pub), 0);
        assert_memory_equal(resp.hs.local_static(), pub, 32);
        assert_non_null(init.hs.remote_static());
        assert_memory_equal(init.hs.remote_static(), pub, 32);
    } else {
        assert_null(init.hs.remote_static());
    }
    if (!ik.s.empty()) {
        uint8_t pub[32];
        assert_int_equal(tfc::x25519_public(ik.s.data(), pub), 0);
        assert_non_null(resp.hs.remote_static());
        assert_memory_equal(resp.hs.remote_static(), pub, 32);
    } else {
        assert_null(resp.hs.remote_static());
    }
}

void test_cacophony_vectors(void **) {
    std::string path = vectors_path(), text;
    if (!read_file(path, &text)) fail_msg("cannot read the Noise vectors at %s", path.c_str());
    jv doc;
    json_reader r(text.data(), text.size());
    if (!r.parse(&doc))
        fail_msg("%s: %s at offset %zu", path.c_str(), r.error().c_str(),
                 r.offset(text.data()));
    const jv *vectors = doc.get("vectors");
    assert_non_null(vectors);
    assert_int_equal(vectors->kind, jv::ARR);

    size_t checked = 0;
    for (const jv &v : vectors->arr) {
        const jv *pn = v.get("protocol_name");
        assert_non_null(pn);
        // Noise_<pattern>_25519_<cipher>_SHA256
        const std::string &n = pn->str;
        size_t a = n.find('_'), b = n.find('_', a + 1);
        assert_true(a != std::string::npos && b != std::string::npos);
        pattern p;
        if (!pattern_from(n.substr(a + 1, b - a - 1), &p)) continue;
        cipher c;
        if (n.compare(b, std::string::npos, "_25519_ChaChaPoly_SHA256") == 0)
            c = cipher::chachapoly;
        else if (n.compare(b, std::string::npos, "_25519_AESGCM_SHA256") == 0)
            c = cipher::aesgcm;
        else
            continue;
        run_vector(v, p, c);
        checked++;
    }
    std::printf("# %zu vectors checked (backend %s)\n", checked, tfc::backend_name());
    assert_int_equal(checked, 8);
}

// ---- Handshakes with random keys ---------------------------------------------------------

struct statics {
    uint8_t i_priv[32], i_pub[32], r_priv[32], r_pub[32];
    statics() {
        assert_int_equal(tfc::x25519_keypair(i_priv, i_pub), 0);
        assert_int_equal(tfc::x25519_keypair(r_priv, r_pub), 0);
    }
};

void init_pair(side *i, side *r, pattern p, cipher c, const statics &k,
               const char *prologue = "truflux") {
    tfc::handshake_params hp;
    hp.pat = p;
    hp.cph = c;
    hp.prologue = reinterpret_cast<const uint8_t *>(prologue);
    hp.prologue_len = std::strlen(prologue);
    hp.initiator = true;
    hp.s = needs_initiator_static(p) ? k.i_priv : nullptr;
    hp.rs = needs_pinned_responder(p) ? k.r_pub : nullptr;
    assert_int_equal(i->hs.initialize(hp), 0);
    hp.initiator = false;
    hp.s = p == pattern::NN ? nullptr : k.r_priv;
    hp.rs = nullptr;
    assert_int_equal(r->hs.initialize(hp), 0);
}

void test_random_handshakes(void **) {
    for (pattern p : ALL_PATTERNS) {
        for (cipher c : ALL_CIPHERS) {
            statics k;
            side i, r;
            init_pair(&i, &r, p, c, k);
            bytes hello = {'h', 'i'};
            for (int guard = 0; !i.hs.is_complete() && guard < 4; guard++) {
                side *tx = i.hs.is_write_turn() ? &i : &r;
                hs_send(tx, tx == &i ? &r : &i, hello);
            }
            assert_true(i.hs.is_complete() && r.hs.is_complete());
            assert_memory_equal(i.hs.handshake_hash(), r.hs.handshake_hash(), 32);
            finish(&i);
            finish(&r);
            for (int n = 0; n < 3; n++) {
                transport_send(&i.send, &r.recv, bytes(100 + n, uint8_t(n)));
                transport_send(&r.send, &i.recv, bytes(1000 + n, uint8_t(n)));
            }
            // The responder learnt the initiator's key where the pattern sends it.
            if (needs_initiator_static(p)) {
                assert_non_null(r.hs.remote_static());
                assert_memory_equal(r.hs.remote_static(), k.i_pub, 32);
            }
            if (p != pattern::NN) assert_memory_equal(i.hs.remote_static(), k.r_pub, 32);
        }
    }
    // Random ephemerals: two handshakes with the same statics differ.
    statics k;
    side a1, b1, a2, b2;
    init_pair(&a1, &b1, pattern::NN, cipher::chachapoly, k);
    init_pair(&a2, &b2, pattern::NN, cipher::chachapoly, k);
    bytes m1 = hs_send(&a1, &b1, {}), m2 = hs_send(&a2, &b2, {});
    assert_memory_not_equal(m1.data(), m2.data(), 32);
}

// Different prologues, or a pinned key that is not the responder's, make the handshake
// fail at the first encrypted field.
void test_mismatch_fails(void **) {
    statics k;
    side i, r;
    init_pair(&i, &r, pattern::XX, cipher::chachapoly, k, "one");
    side i2, r2;
    init_pair(&i2, &r2, pattern::XX, cipher::chachapoly, k, "two");
    uint8_t msg[200], pl[200];
    size_t n, m;
    assert_int_equal(i.hs.write_message(nullptr, 0, msg, sizeof msg, &n), 0);
    assert_int_equal(r2.hs.read_message(msg, n, pl, sizeof pl, &m), 0);  // plaintext e
    assert_int_equal(r2.hs.write_message(nullptr, 0, msg, sizeof msg, &n), 0);
    assert_int_equal(i.hs.read_message(msg, n, pl, sizeof pl, &m), tfc::ERR_DECRYPT);
    assert_true(i.hs.has_failed());

    statics other;
    side pi, pr;
    init_pair(&pi, &pr, pattern::NK, cipher::aesgcm, k);
    tfc::handshake_params hp;
    hp.pat = pattern::NK;
    hp.cph = cipher::aesgcm;
    hp.prologue = reinterpret_cast<const uint8_t *>("truflux");
    hp.prologue_len = 7;
    hp.rs = other.r_pub;  // pins the wrong server
    assert_int_equal(pi.hs.initialize(hp), 0);
    assert_int_equal(pi.hs.write_message(nullptr, 0, msg, sizeof msg, &n), 0);
    assert_int_equal(pr.hs.read_message(msg, n, pl, sizeof pl, &m), tfc::ERR_DECRYPT);
    assert_int_equal(tfc::public_error(tfc::ERR_DECRYPT), TRUFLUX_EPROTO);
    assert_int_equal(tfc::public_error(TRUFLUX_EINVAL), TRUFLUX_EINVAL);
}

// A flipped bit anywhere in the last handshake message (or an ephemeral key) fails, and
// the failed handshake refuses to go on.
void test_tampered_handshake(void **) {
    for (pattern p : ALL_PATTERNS) {
        for (cipher c : ALL_CIPHERS) {
            int count = p == pattern::XX ? 3 : 2;
            for (int target = 1; target < count; target++) {
                for (int where = 0; where < 3; where++) {
                    statics k;
                    side i, r;
                    init_pair(&i, &r, p, c, k);
                    bytes payload = {'p', 'a', 'y'};
                    for (int m = 0; m < target; m++) {
                        side *tx = i.hs.is_write_turn() ? &i : &r;
                        hs_send(tx, tx == &i ? &r : &i, payload);
                    }
                    side *tx = i.hs.is_write_turn() ? &i : &r;
                    side *rx = tx == &i ? &r : &i;
                    uint8_t msg[300], pl[300];
                    size_t n, m;
                    assert_int_equal(tx->hs.write_message(payload.data(), payload.size(), msg,
                                                          sizeof msg, &n),
                                     0);
                    size_t at = where == 0 ? 0 : where == 1 ? n / 2 : n - 1;
                    msg[at] ^= 0x04;
                    int rc = rx->hs.read_message(msg, n, pl, sizeof pl, &m);
                    // A changed ephemeral key changes the DH, so the tag fails too.
                    assert_int_equal(rc, tfc::ERR_DECRYPT);
                    assert_true(rx->hs.has_failed());
                    assert_false(rx->hs.is_complete());
                    assert_int_equal(rx->hs.read_message(msg, n, pl, sizeof pl, &m),
                                     TRUFLUX_EINVAL);
                    assert_int_equal(rx->hs.write_message(nullptr, 0, msg, sizeof msg, &n),
                                     TRUFLUX_EINVAL);
                    tfc::cipher_state a, b;
                    assert_int_equal(rx->hs.split(&a, &b), TRUFLUX_EINVAL);
                }
            }
        }
    }
}

// A forged transport message fails without moving the nonce: the genuine one still
// decrypts after it.
void test_tampered_transport(void **) {
    for (cipher c : ALL_CIPHERS) {
        statics k;
        side i, r;
        init_pair(&i, &r, pattern::XX, c, k);
        for (int guard = 0; !i.hs.is_complete() && guard < 4; guard++) {
            side *tx = i.hs.is_write_turn() ? &i : &r;
            hs_send(tx, tx == &i ? &r : &i, {});
        }
        finish(&i);
        finish(&r);
        bytes pt(64, 0x33), ct(64 + 16), out(64);
        size_t n, m;
        assert_int_equal(i.send.encrypt_with_ad(nullptr, 0, pt.data(), pt.size(), ct.data(),
                                                ct.size(), &n),
                         0);
        for (size_t at : {size_t(0), size_t(63), size_t(64), size_t(79)}) {
            bytes bad = ct;
            bad[at] ^= 0x80;
            assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, bad.data(), bad.size(),
                                                    out.data(), out.size(), &m),
                             tfc::ERR_DECRYPT);
            assert_int_equal(r.recv.nonce(), 0);
        }
        // Truncated: shorter than a tag is malformed; a cut tag fails authentication.
        assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, ct.data(), 15, out.data(),
                                                out.size(), &m),
                         TRUFLUX_EPROTO);
        assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, ct.data(), ct.size() - 1,
                                                out.data(), out.size(), &m),
                         tfc::ERR_DECRYPT);
        // Wrong associated data.
        const uint8_t ad[] = {1};
        assert_int_equal(r.recv.decrypt_with_ad(ad, 1, ct.data(), ct.size(), out.data(),
                                                out.size(), &m),
                         tfc::ERR_DECRYPT);
        assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, ct.data(), ct.size(), out.data(),
                                                out.size(), &m),
                         0);
        assert_memory_equal(out.data(), pt.data(), pt.size());
        assert_int_equal(r.recv.nonce(), 1);
        // Replaying it now fails: the nonce moved on.
        assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, ct.data(), ct.size(), out.data(),
                                                out.size(), &m),
                         tfc::ERR_DECRYPT);
    }
}

// ---- CipherState: rekey, nonce exhaustion, limits ----------------------------------------

// Rekey's result, checked against values computed with Python's `cryptography`: with
// k = 32 bytes of 0x01 and n = 5, REKEY gives k' = ENCRYPT(k, 2^64-1, "", zeros)[0:32] and
// the nonce stays 5; the expected output is ENCRYPT(k', 5, "ad", "hello").
void test_rekey_known_answer(void **) {
    struct {
        cipher c;
        const char *want;
    } v[] = {
        {cipher::chachapoly, "d8a58aafbc213cf095ac0386f2f72538f67c678f80"},
        {cipher::aesgcm, "ba8722e0f15420e4300dd8a9c6618e59f4914f9898"},
    };
    for (auto &t : v) {
        tfc::cipher_state cs;
        bytes key(32, 0x01);
        assert_int_equal(cs.rekey(), TRUFLUX_EINVAL);  // no key yet
        assert_int_equal(cs.initialize_key(t.c, key.data()), 0);
        cs.set_nonce(5);
        assert_int_equal(cs.rekey(), 0);
        assert_int_equal(cs.nonce(), 5);
        uint8_t out[21];
        size_t n;
        assert_int_equal(cs.encrypt_with_ad(reinterpret_cast<const uint8_t *>("ad"), 2,
                                            reinterpret_cast<const uint8_t *>("hello"), 5, out,
                                            sizeof out, &n),
                         0);
        assert_int_equal(n, 21);
        bytes want = hex(t.want);
        assert_memory_equal(out, want.data(), want.size());
    }
}

// After a handshake: rekeying one side only breaks the stream; rekeying both in step keeps
// it going, and the new key really differs from the old one.
void test_rekey_in_step(void **) {
    for (cipher c : ALL_CIPHERS) {
        statics k;
        side i, r;
        init_pair(&i, &r, pattern::NN, c, k);
        hs_send(&i, &r, {});
        hs_send(&r, &i, {});
        finish(&i);
        finish(&r);
        bytes pt(50, 0x5A);
        transport_send(&i.send, &r.recv, pt);
        transport_send(&r.send, &i.recv, pt);

        // The same plaintext at the same nonce, before and after rekey, differs.
        bytes before(66), after(66), out(50);
        size_t n, m;
        uint64_t at = i.send.nonce();
        assert_int_equal(i.send.encrypt_with_ad(nullptr, 0, pt.data(), 50, before.data(), 66, &n),
                         0);
        assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, before.data(), 66, out.data(), 50, &m),
                         0);
        assert_int_equal(i.send.rekey(), 0);
        i.send.set_nonce(at);  // only to compare ciphertexts at one nonce
        assert_int_equal(i.send.encrypt_with_ad(nullptr, 0, pt.data(), 50, after.data(), 66, &n),
                         0);
        assert_memory_not_equal(before.data(), after.data(), 66);

        // The receiver, not yet rekeyed, cannot read the next message...
        bytes next(66);
        assert_int_equal(i.send.encrypt_with_ad(nullptr, 0, pt.data(), 50, next.data(), 66, &n),
                         0);
        assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, next.data(), 66, out.data(), 50, &m),
                         tfc::ERR_DECRYPT);
        // ...and can once it rekeys at the same point.
        assert_int_equal(r.recv.rekey(), 0);
        assert_int_equal(r.recv.decrypt_with_ad(nullptr, 0, next.data(), 66, out.data(), 50, &m),
                         0);
        assert_memory_equal(out.data(), pt.data(), 50);
        for (int j = 0; j < 3; j++) {
            transport_send(&i.send, &r.recv, pt);
            assert_int_equal(i.send.rekey(), 0);
            assert_int_equal(r.recv.rekey(), 0);
        }
        transport_send(&i.send, &r.recv, pt);
        // The other direction is independent and still works unrekeyed.
        transport_send(&r.send, &i.recv, pt);
    }
}

void test_nonce_exhaustion(void **) {
    for (cipher c : ALL_CIPHERS) {
        bytes key(32, 0x77);
        tfc::cipher_state tx, rx;
        assert_int_equal(tx.initialize_key(c, key.data()), 0);
        assert_int_equal(rx.initialize_key(c, key.data()), 0);
        tx.set_nonce(tfc::MAX_NONCE - 1);
        rx.set_nonce(tfc::MAX_NONCE - 1);
        uint8_t pt[8] = {1, 2, 3}, ct[24], out[8];
        size_t n, m;
        assert_int_equal(tx.encrypt_with_ad(nullptr, 0, pt, 8, ct, sizeof ct, &n), 0);
        assert_int_equal(tx.nonce(), tfc::MAX_NONCE);
        assert_int_equal(rx.decrypt_with_ad(nullptr, 0, ct, n, out, sizeof out, &m), 0);
        assert_memory_equal(out, pt, 8);
        // 2^64-1 is reserved: no message may use it.
        assert_int_equal(tx.encrypt_with_ad(nullptr, 0, pt, 8, ct, sizeof ct, &n),
                         TRUFLUX_EINVAL);
        assert_int_equal(rx.decrypt_with_ad(nullptr, 0, ct, 24, out, sizeof out, &m),
                         TRUFLUX_EINVAL);
        assert_int_equal(tx.nonce(), tfc::MAX_NONCE);
        // Rekey does not reset the nonce: the key stays used up.
        assert_int_equal(tx.rekey(), 0);
        assert_int_equal(tx.encrypt_with_ad(nullptr, 0, pt, 8, ct, sizeof ct, &n),
                         TRUFLUX_EINVAL);
    }
}

void test_cipher_state_limits(void **) {
    bytes key(32, 0x10);
    tfc::cipher_state tx, rx;
    assert_int_equal(tx.initialize_key(cipher::chachapoly, key.data()), 0);
    assert_int_equal(rx.initialize_key(cipher::chachapoly, key.data()), 0);
    bytes big(tfc::MAX_MESSAGE + 1, 0x42), out(tfc::MAX_MESSAGE + 1);
    size_t n, m;
    // The largest payload that fits one Noise message, and one byte more.
    assert_int_equal(tx.encrypt_with_ad(nullptr, 0, big.data(), tfc::MAX_MESSAGE - 16,
                                        out.data(), out.size(), &n),
                     0);
    assert_int_equal(n, tfc::MAX_MESSAGE);
    assert_int_equal(tx.encrypt_with_ad(nullptr, 0, big.data(), tfc::MAX_MESSAGE - 15,
                                        out.data(), out.size(), &n),
                     TRUFLUX_EMSGSIZE);
    // A too-small output buffer is refused before anything is used up.
    assert_int_equal(tx.encrypt_with_ad(nullptr, 0, big.data(), 10, out.data(), 25, &n),
                     TRUFLUX_EINVAL);
    assert_int_equal(tx.nonce(), 1);
    bytes back(tfc::MAX_MESSAGE);
    assert_int_equal(rx.decrypt_with_ad(nullptr, 0, out.data(), tfc::MAX_MESSAGE + 1,
                                        back.data(), back.size(), &m),
                     TRUFLUX_EPROTO);
    assert_int_equal(rx.decrypt_with_ad(nullptr, 0, out.data(), tfc::MAX_MESSAGE, back.data(),
                                        10, &m),
                     TRUFLUX_EINVAL);
    assert_int_equal(rx.decrypt_with_ad(nullptr, 0, out.data(), tfc::MAX_MESSAGE, back.data(),
                                        back.size(), &m),
                     0);
    assert_int_equal(m, tfc::MAX_MESSAGE - 16);
    assert_memory_equal(back.data(), big.data(), m);

    // In place.
    bytes buf = {'i', 'n', 'p', 'l', 'a', 'c', 'e'};
    buf.resize(7 + 16);
    assert_int_equal(tx.encrypt_with_ad(nullptr, 0, buf.data(), 7, buf.data(), buf.size(), &n),
                     0);
    assert_int_equal(rx.decrypt_with_ad(nullptr, 0, buf.data(), n, buf.data(), buf.size(), &m),
                     0);
    assert_int_equal(m, 7);
    assert_memory_equal(buf.data(), "inplace", 7);

    // Without a key the state passes bytes through, and a moved-from state refuses to.
    tfc::cipher_state plain;
    assert_false(plain.has_key());
    uint8_t o[4];
    assert_int_equal(plain.encrypt_with_ad(nullptr, 0, (const uint8_t *)"abcd", 4, o, 4, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(o, "abcd", 4);
    tfc::cipher_state moved(std::move(tx));
    assert_false(tx.has_key());
    assert_int_equal(tx.encrypt_with_ad(nullptr, 0, (const uint8_t *)"abcd", 4, o, 4, &n),
                     TRUFLUX_EINVAL);
    assert_true(moved.has_key());
    assert_int_equal(moved.nonce(), 2);  // the two messages above
}

// ---- HandshakeState: limits and misuse ---------------------------------------------------

void test_handshake_limits(void **) {
    statics k;
    side i, r;
    init_pair(&i, &r, pattern::XX, cipher::chachapoly, k);
    bytes big(tfc::MAX_MESSAGE, 1), out(tfc::MAX_MESSAGE + 100), pl(tfc::MAX_MESSAGE);
    size_t n, m;
    // Message 1 carries e (32 bytes) and a plaintext payload.
    assert_int_equal(i.hs.write_size(tfc::MAX_MESSAGE - 32), tfc::MAX_MESSAGE);
    assert_int_equal(i.hs.write_message(big.data(), tfc::MAX_MESSAGE - 31, out.data(),
                                        out.size(), &n),
                     TRUFLUX_EMSGSIZE);
    assert_int_equal(i.hs.write_message(big.data(), 10, out.data(), 41, &n), TRUFLUX_EINVAL);
    assert_false(i.hs.has_failed());  // neither error used anything up
    // Out of turn: the initiator may not read before it has written, nor the responder
    // write before it has read.
    assert_int_equal(i.hs.read_message(out.data(), 32, pl.data(), pl.size(), &m),
                     TRUFLUX_EINVAL);
    assert_int_equal(r.hs.write_message(nullptr, 0, out.data(), out.size(), &n),
                     TRUFLUX_EINVAL);
    assert_int_equal(i.hs.write_message(big.data(), tfc::MAX_MESSAGE - 32, out.data(),
                                        out.size(), &n),
                     0);
    assert_int_equal(n, tfc::MAX_MESSAGE);
    // A too-small payload buffer is refused without failing the handshake.
    assert_int_equal(r.hs.read_message(out.data(), n, pl.data(), 100, &m), TRUFLUX_EINVAL);
    assert_false(r.hs.has_failed());
    assert_int_equal(r.hs.read_message(out.data(), n, pl.data(), pl.size(), &m), 0);
    assert_int_equal(m, tfc::MAX_MESSAGE - 32);

    // Oversized and short messages from a peer are malformed.
    side i2, r2;
    init_pair(&i2, &r2, pattern::XX, cipher::chachapoly, k);
    assert_int_equal(r2.hs.read_message(out.data(), tfc::MAX_MESSAGE + 1, pl.data(), pl.size(),
                                        &m),
                     TRUFLUX_EPROTO);
    assert_true(r2.hs.has_failed());
    side i3, r3;
    init_pair(&i3, &r3, pattern::XX, cipher::chachapoly, k);
    assert_int_equal(r3.hs.read_message(out.data(), 31, pl.data(), pl.size(), &m),
                     TRUFLUX_EPROTO);
    // Message 2 of XX needs e, an encrypted s and a tag: 32 + 48 + 16 bytes at least.
    side i4, r4;
    init_pair(&i4, &r4, pattern::XX, cipher::aesgcm, k);
    hs_send(&i4, &r4, {});
    assert_int_equal(r4.hs.write_message(nullptr, 0, out.data(), out.size(), &n), 0);
    assert_int_equal(n, 96);
    assert_int_equal(i4.hs.read_message(out.data(), 95, pl.data(), pl.size(), &m),
                     TRUFLUX_EPROTO);
    // A low-order ephemeral key from the peer is refused.
    side i5, r5;
    init_pair(&i5, &r5, pattern::NN, cipher::chachapoly, k);
    hs_send(&i5, &r5, {});
    bytes zero(48, 0);
    assert_int_equal(i5.hs.read_message(zero.data(), zero.size(), pl.data(), pl.size(), &m),
                     TRUFLUX_EPROTO);
    assert_true(i5.hs.has_failed());
}

void test_handshake_misuse(void **) {
    statics k;
    tfc::handshake_state hs;
    tfc::handshake_params hp;
    uint8_t out[200];
    size_t n;
    // Not initialised.
    assert_int_equal(hs.write_message(nullptr, 0, out, sizeof out, &n), TRUFLUX_EINVAL);
    assert_false(hs.is_write_turn());
    // Keys the pattern needs, and only those.
    struct {
        pattern p;
        bool initiator;
        bool s, rs;
        int want;
    } cases[] = {
        {pattern::NN, true, false, false, 0},   {pattern::NN, true, true, false, TRUFLUX_EINVAL},
        {pattern::NN, false, false, true, TRUFLUX_EINVAL},
        {pattern::NK, true, false, true, 0},    {pattern::NK, true, false, false, TRUFLUX_EINVAL},
        {pattern::NK, false, true, false, 0},   {pattern::NK, false, false, false, TRUFLUX_EINVAL},
        {pattern::XX, true, true, false, 0},    {pattern::XX, true, true, true, TRUFLUX_EINVAL},
        {pattern::XX, false, false, false, TRUFLUX_EINVAL},
        {pattern::IK, true, true, true, 0},     {pattern::IK, true, true, false, TRUFLUX_EINVAL},
        {pattern::IK, false, true, false, 0},   {pattern::IK, false, true, true, TRUFLUX_EINVAL},
    };
    for (auto &c : cases) {
        hp = tfc::handshake_params();
        hp.pat = c.p;
        hp.initiator = c.initiator;
        hp.s = c.s ? k.i_priv : nullptr;
        hp.rs = c.rs ? k.r_pub : nullptr;
        assert_int_equal(hs.initialize(hp), c.want);
        assert_int_equal(hs.is_write_turn(), c.want == 0 && c.initiator);
    }
    hp = tfc::handshake_params();
    hp.pat = pattern(9);
    assert_int_equal(hs.initialize(hp), TRUFLUX_EINVAL);
    hp.pat = pattern::NN;
    hp.prologue_len = 3;  // with no prologue bytes
    assert_int_equal(hs.initialize(hp), TRUFLUX_EINVAL);
    // Split before completion.
    hp.prologue_len = 0;
    assert_int_equal(hs.initialize(hp), 0);
    tfc::cipher_state a, b;
    assert_int_equal(hs.split(&a, &b), TRUFLUX_EINVAL);
    // Writing after completion.
    side i, r;
    init_pair(&i, &r, pattern::NN, cipher::chachapoly, k);
    hs_send(&i, &r, {});
    hs_send(&r, &i, {});
    assert_int_equal(i.hs.write_message(nullptr, 0, out, sizeof out, &n), TRUFLUX_EINVAL);
    assert_int_equal(r.hs.read_message(out, 16, out, sizeof out, &n), TRUFLUX_EINVAL);
}

// InitializeSymmetric: a name longer than HASHLEN is hashed; a shorter one is padded.
void test_symmetric_state_names(void **) {
    tfc::symmetric_state ss;
    const char *longname = "Noise_XXfallback+psk0_25519_ChaChaPoly_SHA256";
    assert_int_equal(ss.initialize(longname, cipher::chachapoly), 0);
    uint8_t want[32];
    tfc::span p{reinterpret_cast<const uint8_t *>(longname), std::strlen(longname)};
    assert_int_equal(tfc::hash_sha256(&p, 1, want), 0);
    assert_memory_equal(ss.handshake_hash(), want, 32);
    assert_int_equal(ss.initialize("Noise_NN_25519_AESGCM_SHA256", cipher::aesgcm), 0);
    uint8_t pad[32] = "Noise_NN_25519_AESGCM_SHA256";
    assert_memory_equal(ss.handshake_hash(), pad, 32);
    assert_false(ss.has_key());
    // MixKeyAndHash both keys the state and changes h.
    assert_int_equal(ss.mix_key_and_hash(pad, 32), 0);
    assert_true(ss.has_key());
    assert_memory_not_equal(ss.handshake_hash(), pad, 32);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_reader),
        cmocka_unit_test(test_cacophony_vectors),
        cmocka_unit_test(test_random_handshakes),
        cmocka_unit_test(test_mismatch_fails),
        cmocka_unit_test(test_tampered_handshake),
        cmocka_unit_test(test_tampered_transport),
        cmocka_unit_test(test_rekey_known_answer),
        cmocka_unit_test(test_rekey_in_step),
        cmocka_unit_test(test_nonce_exhaustion),
        cmocka_unit_test(test_cipher_state_limits),
        cmocka_unit_test(test_handshake_limits),
        cmocka_unit_test(test_handshake_misuse),
        cmocka_unit_test(test_symmetric_state_names),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
