// tests/test_secure_unit.cpp: the secure layer's pure parts without sockets: the hello
// extension codec and the choice (lib/secure/nego), the text forms of keys and lists
// (lib/crypto/names), and the record codec (lib/secure/record): batching, splitting at
// 65519 bytes, sequence numbers, tampering.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <event2/buffer.h>

#include <cstring>
#include <string>
#include <vector>

#include <truflux/error.h>

#include "crypto/names.h"
#include "secure/nego.h"
#include "secure/record.h"

using tfc::cipher;
using tfc::pattern;

namespace {

std::vector<uint8_t> encode(const tfsec::offer &o) {
    std::vector<uint8_t> v;
    tfsec::offer_encode(o, &v);
    return v;
}

int decode(const std::vector<uint8_t> &v, tfsec::offer *o) {
    return tfsec::offer_decode(v.data(), v.size(), o);
}

}  // namespace

static void test_offer_roundtrip(void **) {
    tfsec::offer o;
    o.policy = tfsec::POLICY_REQUIRED;
    o.patterns = {pattern::IK, pattern::XX};
    o.ciphers = {cipher::aesgcm, cipher::chachapoly};
    o.has_key = true;
    for (int i = 0; i < 32; i++) o.key[i] = (uint8_t)i;
    std::vector<uint8_t> v = encode(o);
    // version, policy, 2 patterns, 2 ciphers, key length and key (docs/PROTOCOL.md §24.2)
    const uint8_t head[] = {1, 2, 2, 3, 2, 2, 1, 0, 32, 0, 1};
    assert_int_equal(v.size(), 9 + 32);
    assert_memory_equal(v.data(), head, sizeof head);
    tfsec::offer back;
    assert_int_equal(decode(v, &back), 0);
    assert_int_equal(back.policy, 2);
    assert_true(back.patterns == o.patterns);
    assert_true(back.ciphers == o.ciphers);
    assert_true(back.has_key);
    assert_memory_equal(back.key, o.key, 32);
}

static void test_offer_refusals(void **) {
    tfsec::offer o;
    const std::vector<std::vector<uint8_t>> bad = {
        {},                          // empty
        {1},                         // no policy
        {1, 3, 1, 0, 1, 0, 0},       // policy 3
        {1, 0, 1, 0, 1, 0, 0},       // policy 0
        {0, 1, 1, 0, 1, 0, 0},       // version 0
        {1, 1, 0, 1, 0, 0},          // no pattern
        {1, 1, 1, 0, 0, 0},          // no cipher
        {1, 1, 2, 0, 0, 1, 0, 0},    // a pattern twice
        {1, 1, 1, 9, 1, 0, 0},       // only an unknown pattern
        {1, 1, 1, 0, 1, 0, 5, 1, 2, 3, 4, 5},  // a key of 5 bytes
        {1, 1, 1, 0, 1, 0, 32, 1},   // a key cut short
        {1, 1, 1, 0, 1, 0},          // no key length
        {1, 1, 1, 0, 1, 0, 0, 7},    // trailing byte in version 1
        {1, 1, 17, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 0, 0},
    };
    for (const auto &v : bad) assert_int_equal(decode(v, &o), TRUFLUX_EPROTO);
    // Unknown numbers are skipped, and a later version may append fields.
    assert_int_equal(decode({1, 1, 2, 7, 2, 2, 5, 1, 0}, &o), 0);
    assert_int_equal(o.patterns.size(), 1);
    assert_true(o.patterns[0] == pattern::XX);
    assert_true(o.ciphers.size() == 1 && o.ciphers[0] == cipher::aesgcm);
    assert_int_equal(decode({2, 1, 1, 0, 1, 0, 0, 0xAA, 0xBB}, &o), 0);
}

static void test_choose(void **) {
    tfsec::offer s, c;
    s.patterns = {pattern::IK, pattern::NK, pattern::NN};
    s.ciphers = {cipher::aesgcm, cipher::chachapoly};
    c.patterns = {pattern::NN, pattern::NK};
    c.ciphers = {cipher::chachapoly, cipher::aesgcm};
    pattern p;
    cipher k;
    assert_true(tfsec::choose(s, c, &p, &k));
    assert_true(p == pattern::NK);      // the server's priority decides
    assert_true(k == cipher::aesgcm);
    c.ciphers = {cipher::chachapoly};
    assert_true(tfsec::choose(s, c, &p, &k));
    assert_true(k == cipher::chachapoly);
    c.patterns = {pattern::XX};
    assert_false(tfsec::choose(s, c, &p, &k));
    c.patterns = {pattern::NN};
    s.ciphers = {cipher::aesgcm};
    assert_false(tfsec::choose(s, c, &p, &k));
}

static void test_names(void **) {
    std::vector<pattern> ps;
    assert_int_equal(tfc::parse_patterns(" xx , NK,nn", &ps), 0);
    assert_true(ps == (std::vector<pattern>{pattern::XX, pattern::NK, pattern::NN}));
    for (const char *bad : {"", "NN,", ",NN", "NN,,NK", "NX", "NN,nn"})
        assert_int_equal(tfc::parse_patterns(bad, nullptr), TRUFLUX_EINVAL);
    std::vector<cipher> cs;
    assert_int_equal(tfc::parse_ciphers("aes-256-gcm,ChaChaPoly", &cs), 0);
    assert_true(cs == (std::vector<cipher>{cipher::aesgcm, cipher::chachapoly}));
    assert_int_equal(tfc::parse_ciphers("AESGCM,aes-256-gcm", nullptr), TRUFLUX_EINVAL);

    uint8_t key[32] = {0}, back[32];
    char text[45];
    tfc::key_encode(key, text);
    assert_string_equal(text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(0xF0 + i * 7);
    tfc::key_encode(key, text);
    assert_int_equal(tfc::key_decode(text, 44, back), 0);
    assert_memory_equal(back, key, 32);
    std::string s = std::string("\t ") + text + "\r\n";
    assert_int_equal(tfc::key_decode(s.data(), s.size(), back), 0);
    // Not canonical (unused low bits set), short, or with a bad character.
    std::string odd = text;
    const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    odd[42] = alphabet[alphabet.find(odd[42]) | 1];
    assert_int_equal(tfc::key_decode(odd.data(), 44, back), TRUFLUX_EINVAL);
    assert_int_equal(tfc::key_decode(text, 43, back), TRUFLUX_EINVAL);
    std::string star = text;
    star[3] = '*';
    assert_int_equal(tfc::key_decode(star.data(), 44, back), TRUFLUX_EINVAL);
    assert_int_equal(tfc::key_from_value(std::string(32, '\x01'), back), 0);
    assert_int_equal(back[31], 1);

    uint8_t d[32];
    std::string hex(64, 'a');
    assert_int_equal(tfc::parse_sha256_hex(hex, d), 0);
    assert_int_equal(d[0], 0xAA);
    std::string colons;
    for (int i = 0; i < 32; i++) colons += std::string(i ? ":" : "") + "0F";
    assert_int_equal(tfc::parse_sha256_hex(colons, d), 0);
    assert_int_equal(d[31], 0x0F);
    for (const std::string &bad : {std::string(62, 'a'), std::string(66, 'a'), std::string(64, 'g'),
                                   colons + ":", std::string("0") + std::string(63, 'a') + ":"})
        assert_int_equal(tfc::parse_sha256_hex(bad, nullptr), TRUFLUX_EINVAL);
}

namespace {

// A writer and a reader keyed alike, as after a handshake.
struct pipe_pair {
    tfsec::record_writer w;
    tfsec::record_reader r;
    evbuffer *out = evbuffer_new();

    explicit pipe_pair(cipher c = cipher::chachapoly, uint32_t max = 16u << 20) {
        uint8_t k[32];
        for (int i = 0; i < 32; i++) k[i] = (uint8_t)(i * 3 + 1);
        tfc::cipher_state a, b;
        assert_int_equal(a.initialize_key(c, k), 0);
        assert_int_equal(b.initialize_key(c, k), 0);
        assert_int_equal(w.start(std::move(a)), 0);
        r.start(std::move(b), max);
    }
    ~pipe_pair() { evbuffer_free(out); }

    // The records in `out`, as (id, payload) pairs; checks their headers.
    std::vector<std::pair<uint32_t, std::vector<uint8_t>>> records() {
        std::vector<std::pair<uint32_t, std::vector<uint8_t>>> v;
        size_t n = evbuffer_get_length(out);
        std::vector<uint8_t> all(n);
        evbuffer_remove(out, all.data(), n);
        size_t off = 0;
        while (off < n) {
            tfw::frame f;
            long used = tfw::parse(all.data() + off, n - off, 16u << 20, &f);
            assert_true(used > 0);
            assert_int_equal(f.kind, tfsec::KIND_RECORD);
            assert_true(f.len >= tfc::TAG_LEN && f.len <= 65535);
            v.push_back({f.id, std::vector<uint8_t>(f.payload, f.payload + f.len)});
            off += (size_t)used;
        }
        return v;
    }

    // Puts records taken by records() back into `out`, as they were, for read_all().
    void put_back(const std::vector<std::pair<uint32_t, std::vector<uint8_t>>> &recs) {
        for (auto &rec : recs) {
            uint8_t hdr[9];
            tfw::header_write(hdr, tfsec::KIND_RECORD, rec.first, (uint32_t)rec.second.size());
            evbuffer_add(out, hdr, 9);
            evbuffer_add(out, rec.second.data(), rec.second.size());
        }
    }

    // Opens every record and walks it; returns the inner frames as (kind, payload).
    std::vector<std::pair<uint8_t, std::vector<uint8_t>>> read_all() {
        std::vector<std::pair<uint8_t, std::vector<uint8_t>>> got;
        for (auto &rec : records()) {
            uint8_t *pt;
            size_t n;
            assert_int_equal(r.open(rec.first, rec.second.data(), (uint32_t)rec.second.size(), &pt, &n), 0);
            int rc = r.walk(pt, n, [&](const tfw::frame &f) {
                got.push_back({f.kind, std::vector<uint8_t>(f.payload, f.payload + f.len)});
                return 0;
            });
            assert_int_equal(rc, 0);
        }
        return got;
    }
};

}  // namespace

static void test_record_batches_small_frames(void **) {
    pipe_pair p;
    for (int i = 0; i < 100; i++) {
        std::string s = "m" + std::to_string(i);
        assert_int_equal(p.w.add(p.out, 0x12, 7, s.data(), s.size()), 0);
    }
    assert_int_equal(evbuffer_get_length(p.out), 0);  // gathered, not yet sealed
    assert_int_equal(p.w.seal(p.out), 0);
    auto recs = p.records();
    assert_int_equal(recs.size(), 1);  // one AEAD operation for the batch
    assert_int_equal(recs[0].first, 0);
    // Put them back for reading.
    p.put_back(recs);
    auto got = p.read_all();
    assert_int_equal(got.size(), 100);
    assert_int_equal(got[42].first, 0x12);
    assert_memory_equal(got[42].second.data(), "m42", 3);
    assert_false(p.r.mid_frame());
}

static void test_record_splits_large_frames(void **) {
    // Around the limit of one record's plaintext (65519 = 9-byte header + 65510), and far
    // above it; each message must come back whole.
    const size_t sizes[] = {65510, 65511, 65519, 200000, 1u << 20};
    for (size_t size : sizes) {
        pipe_pair p(cipher::aesgcm);
        std::vector<uint8_t> big(size);
        for (size_t i = 0; i < size; i++) big[i] = (uint8_t)(i * 7 + (i >> 8));
        assert_int_equal(p.w.add(p.out, 0x11, 99, big.data(), big.size()), 0);
        assert_int_equal(p.w.add(p.out, 0x12, 5, "tail", 4), 0);
        assert_int_equal(p.w.seal(p.out), 0);
        // A frame larger than the gather buffer becomes records of its own, sealed where it
        // lies; the small frame after it starts a new record.
        size_t expect_records = (size + 9 + tfsec::MAX_RECORD_PLAIN - 1) / tfsec::MAX_RECORD_PLAIN + 1;
        std::vector<std::pair<uint32_t, std::vector<uint8_t>>> recs = p.records();
        assert_int_equal(recs.size(), expect_records);
        for (size_t i = 0; i < recs.size(); i++) assert_int_equal(recs[i].first, i);
        p.put_back(recs);
        auto got = p.read_all();
        assert_int_equal(got.size(), 2);
        assert_int_equal(got[0].second.size(), size);
        assert_memory_equal(got[0].second.data(), big.data(), size);
        assert_memory_equal(got[1].second.data(), "tail", 4);
        // Nothing of the large frame stays in the writer once sealed.
        assert_true(p.w.held() <= tfsec::GATHER_KEEP);
    }
}

static void test_record_writer_keeps_little(void **) {
    // Frames that fit the gather buffer share a record; a connection between bursts keeps
    // at most GATHER_KEEP bytes of buffer, whatever the burst was.
    pipe_pair p(cipher::aesgcm);
    assert_int_equal(p.w.held(), 0);
    std::vector<uint8_t> mid(6000, 0x5A);
    assert_int_equal(p.w.add(p.out, 0x11, 1, mid.data(), mid.size()), 0);
    assert_int_equal(p.w.add(p.out, 0x11, 2, mid.data(), mid.size()), 0);
    assert_true(p.w.held() >= 2 * (mid.size() + 9));
    assert_int_equal(p.w.seal(p.out), 0);
    assert_true(p.w.held() <= tfsec::GATHER_KEEP);
    // 64-byte messages keep a small buffer for the next ones (no allocation per message).
    uint8_t small[64] = {1};
    assert_int_equal(p.w.add(p.out, 0x11, 3, small, sizeof small), 0);
    assert_int_equal(p.w.seal(p.out), 0);
    assert_true(p.w.held() > 0 && p.w.held() <= tfsec::GATHER_KEEP);
    auto recs = p.records();
    assert_int_equal(recs.size(), 2);  // the two 6000-byte frames shared one record
    p.put_back(recs);
    auto got = p.read_all();
    assert_int_equal(got.size(), 3);
    assert_int_equal(got[1].first, 0x11);
    assert_memory_equal(got[1].second.data(), mid.data(), mid.size());
    assert_memory_equal(got[2].second.data(), small, sizeof small);
}

static void test_record_sequence_and_tampering(void **) {
    pipe_pair p;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p.w.add(p.out, 0x10, (uint32_t)i, nullptr, 0), 0);
        assert_int_equal(p.w.seal(p.out), 0);
    }
    auto recs = p.records();
    assert_int_equal(recs.size(), 3);
    uint8_t *pt;
    size_t n;
    // Record 1 before record 0: a gap.
    assert_int_equal(p.r.open(recs[1].first, recs[1].second.data(), (uint32_t)recs[1].second.size(), &pt, &n),
                     TRUFLUX_EREORDER);
    std::vector<uint8_t> r0 = recs[0].second;
    assert_int_equal(p.r.open(recs[0].first, recs[0].second.data(), (uint32_t)recs[0].second.size(), &pt, &n), 0);
    // Record 0 again: a replay.
    assert_int_equal(p.r.open(0, r0.data(), (uint32_t)r0.size(), &pt, &n), TRUFLUX_EREPLAY);
    // A flipped bit, then the right record still opens (a failure changes no state).
    std::vector<uint8_t> flipped = recs[1].second;
    flipped[3] ^= 1;
    assert_int_equal(p.r.open(1, flipped.data(), (uint32_t)flipped.size(), &pt, &n), TRUFLUX_EDECRYPT);
    // The sequence number is authenticated too: record 2's bytes under number 1 fail.
    std::vector<uint8_t> moved = recs[2].second;
    assert_int_equal(p.r.open(1, moved.data(), (uint32_t)moved.size(), &pt, &n), TRUFLUX_EDECRYPT);
    std::vector<uint8_t> r1 = recs[1].second;
    assert_int_equal(p.r.open(1, r1.data(), (uint32_t)r1.size(), &pt, &n), 0);
    uint8_t shortrec[10] = {0};
    assert_int_equal(p.r.open(2, shortrec, sizeof shortrec, &pt, &n), TRUFLUX_ETRUNCATED);
    assert_int_equal(p.r.records(), 2);
}

static void test_record_rekey_in_step(void **) {
    pipe_pair p;
    for (int round = 0; round < 5; round++) {
        assert_int_equal(p.w.add(p.out, 0x12, 1, "x", 1), 0);
        assert_int_equal(p.w.add(p.out, tfsec::KIND_REKEY, 0, nullptr, 0), 0);
        assert_int_equal(p.w.seal(p.out), 0);
        assert_int_equal(p.w.rekey(), 0);
    }
    assert_int_equal(p.w.add(p.out, 0x12, 1, "y", 1), 0);
    assert_int_equal(p.w.seal(p.out), 0);
    auto recs = p.records();
    assert_int_equal(recs.size(), 6);
    int messages = 0;
    for (auto &rec : recs) {
        uint8_t *pt;
        size_t n;
        assert_int_equal(p.r.open(rec.first, rec.second.data(), (uint32_t)rec.second.size(), &pt, &n), 0);
        bool rekey = false;
        assert_int_equal(p.r.walk(pt, n, [&](const tfw::frame &f) {
            if (f.kind == tfsec::KIND_REKEY) rekey = true;
            else messages++;
            return 0;
        }), 0);
        if (rekey) assert_int_equal(p.r.rekey(), 0);
    }
    assert_int_equal(messages, 6);
    // A reader that skips one rekey falls out of step: the next record fails.
    pipe_pair q;
    assert_int_equal(q.w.add(q.out, tfsec::KIND_REKEY, 0, nullptr, 0), 0);
    assert_int_equal(q.w.seal(q.out), 0);
    assert_int_equal(q.w.rekey(), 0);
    assert_int_equal(q.w.add(q.out, 0x12, 1, "z", 1), 0);
    assert_int_equal(q.w.seal(q.out), 0);
    auto qr = q.records();
    uint8_t *pt;
    size_t n;
    assert_int_equal(q.r.open(0, qr[0].second.data(), (uint32_t)qr[0].second.size(), &pt, &n), 0);
    assert_int_equal(q.r.open(1, qr[1].second.data(), (uint32_t)qr[1].second.size(), &pt, &n), TRUFLUX_EDECRYPT);
}

static void test_record_inner_limits(void **) {
    // An inner frame over the reader's size limit, or with an undefined kind, is refused.
    pipe_pair p(cipher::chachapoly, 100);
    std::vector<uint8_t> big(101, 'a');
    assert_int_equal(p.w.add(p.out, 0x11, 1, big.data(), big.size()), 0);
    assert_int_equal(p.w.seal(p.out), 0);
    auto recs = p.records();
    uint8_t *pt;
    size_t n;
    assert_int_equal(p.r.open(0, recs[0].second.data(), (uint32_t)recs[0].second.size(), &pt, &n), 0);
    assert_int_equal(p.r.walk(pt, n, [](const tfw::frame &) { return 0; }), TRUFLUX_EMSGSIZE);
    pipe_pair q;
    assert_int_equal(q.w.add(q.out, 0x7F, 1, nullptr, 0), 0);
    assert_int_equal(q.w.seal(q.out), 0);
    recs = q.records();
    assert_int_equal(q.r.open(0, recs[0].second.data(), (uint32_t)recs[0].second.size(), &pt, &n), 0);
    assert_int_equal(q.r.walk(pt, n, [](const tfw::frame &) { return 0; }), TRUFLUX_EPROTO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_roundtrip),
        cmocka_unit_test(test_offer_refusals),
        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_record_batches_small_frames),
        cmocka_unit_test(test_record_splits_large_frames),
        cmocka_unit_test(test_record_writer_keeps_little),
        cmocka_unit_test(test_record_sequence_and_tampering),
        cmocka_unit_test(test_record_rekey_in_step),
        cmocka_unit_test(test_record_inner_limits),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
