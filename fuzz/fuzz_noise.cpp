// libFuzzer target: the Noise layer (lib/crypto/noise.h) fed attacker-controlled bytes.
//
// Input: one mode byte, then records of a 2-byte big-endian length and that many bytes
// (a short last record takes what is left).
//   mode bit 2 clear: a responder HandshakeState (bit 0: 0 = XX, 1 = NK; bit 1: 0 =
//     ChaChaPoly, 1 = AESGCM) reads the records as the initiator's messages, writing its
//     own messages when its turn comes; once complete, further records go to its
//     receiving CipherState as transport messages.
//   mode bit 2 set: a CipherState keyed with the first 32 input bytes after the mode byte
//     decrypts each record (bit 3: in place).
// Invariants checked: only the documented errors come back; a failed handshake refuses
// to continue; decryption of data the fuzzer made up always fails, with the output zeroed
// (the fuzzer cannot compute tags, DH results or keys); an XX responder never completes,
// since its third message needs keys only a real initiator has.
//
// Seeds: compile this file with -DFUZZ_NOISE_MAKE_SEEDS (same sources and libraries as the
// fuzzer, without -fsanitize=fuzzer) and run it with the corpus folder as argument: it
// writes valid first messages for each mode, made with the library itself.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <truflux/error.h>

#include "crypto/noise.h"

namespace {

// The responder's keys are fixed: a deterministic target, and a known static public key
// for the NK seeds. Any 32 bytes are an X25519 private key.
const uint8_t RESP_STATIC[32] = {0x5a, 0x5a, 0x5a, 0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
                                 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c};
const uint8_t RESP_EPHEMERAL[32] = {0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
                                    0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
                                    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                                    0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff};
const char PROLOGUE[] = "truflux fuzz";

struct reader {
    const uint8_t *p;
    size_t n;
    bool next(const uint8_t **rec, size_t *len) {
        if (n < 2) return false;
        size_t want = size_t(p[0]) << 8 | p[1];
        p += 2;
        n -= 2;
        *len = want < n ? want : n;
        *rec = p;
        p += *len;
        n -= *len;
        return true;
    }
};

bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

void check(bool ok) {
    if (!ok) std::abort();
}

// Made-up ciphertext must not authenticate, and nothing of it may be left decrypted.
void decrypt_must_fail(tfc::cipher_state *cs, const uint8_t *ad, size_t ad_len,
                       const uint8_t *rec, size_t len, bool in_place, uint8_t *out) {
    size_t got = 0;
    uint64_t before = cs->nonce();
    const uint8_t *ct = rec;
    if (in_place) {
        std::memcpy(out, rec, len);
        ct = out;
    }
    int rc = cs->decrypt_with_ad(ad, ad_len, ct, len, out, tfc::MAX_MESSAGE, &got);
    check(rc == tfc::ERR_DECRYPT || rc == TRUFLUX_EPROTO);
    check(rc == TRUFLUX_EPROTO || len < tfc::TAG_LEN || all_zero(out, len - tfc::TAG_LEN));
    check(cs->nonce() == before);
}

void fuzz_handshake(uint8_t mode, reader in) {
    static std::vector<uint8_t> msg(tfc::MAX_MESSAGE), out(tfc::MAX_MESSAGE);
    bool xx = (mode & 1) == 0;
    tfc::handshake_params hp;
    hp.pat = xx ? tfc::pattern::XX : tfc::pattern::NK;
    hp.cph = mode & 2 ? tfc::cipher::aesgcm : tfc::cipher::chachapoly;
    hp.initiator = false;
    hp.prologue = reinterpret_cast<const uint8_t *>(PROLOGUE);
    hp.prologue_len = sizeof PROLOGUE - 1;
    hp.s = RESP_STATIC;
    hp.e = RESP_EPHEMERAL;
    tfc::handshake_state hs;
    check(hs.initialize(hp) == 0);

    const uint8_t *rec;
    size_t len;
    while (!hs.is_complete() && in.next(&rec, &len)) {
        size_t got = 0;
        int rc = hs.read_message(rec, len, msg.data(), msg.size(), &got);
        if (rc != 0) {
            check(rc == TRUFLUX_EPROTO || rc == tfc::ERR_DECRYPT);
            check(hs.has_failed() && !hs.is_complete());
            check(hs.read_message(rec, len, msg.data(), msg.size(), &got) == TRUFLUX_EINVAL);
            check(hs.write_message(nullptr, 0, out.data(), out.size(), &got) == TRUFLUX_EINVAL);
            return;
        }
        check(got <= len);
        if (hs.is_complete()) break;
        // Our turn: answer with the record's first bytes as payload, like a real server.
        check(hs.is_write_turn());
        size_t plen = got < 64 ? got : 64;
        size_t n = 0, want = hs.write_size(plen);
        rc = hs.write_message(msg.data(), plen, out.data(), out.size(), &n);
        if (rc != 0) {
            // Our DH with the peer's e happens now: a low-order e fails here.
            check(rc == TRUFLUX_EPROTO && hs.has_failed());
            return;
        }
        check(n == want);
    }
    if (!hs.is_complete()) return;
    // An XX responder completes only on a message 3 made with its own ephemeral's DH.
    check(!xx);
    tfc::cipher_state send, recv;
    check(hs.split(&send, &recv) == 0);
    check(hs.remote_static() == nullptr);  // NK: the initiator stays anonymous
    while (in.next(&rec, &len)) decrypt_must_fail(&recv, nullptr, 0, rec, len, false, out.data());
}

void fuzz_cipher(uint8_t mode, reader in) {
    static std::vector<uint8_t> out(tfc::MAX_MESSAGE + 2);
    if (in.n < tfc::KEY_LEN) return;
    tfc::cipher_state cs;
    check(cs.initialize_key(mode & 2 ? tfc::cipher::aesgcm : tfc::cipher::chachapoly, in.p) ==
          0);
    in.p += tfc::KEY_LEN;
    in.n -= tfc::KEY_LEN;
    const uint8_t *rec;
    size_t len;
    uint64_t n = 0;
    while (in.next(&rec, &len)) {
        cs.set_nonce(n++);
        // The record's first bytes double as associated data, to vary it too.
        size_t ad_len = len < 8 ? len : 8;
        decrypt_must_fail(&cs, rec, ad_len, rec, len, mode & 8, out.data());
    }
    // The nonce limit holds for any input.
    cs.set_nonce(tfc::MAX_NONCE);
    size_t got;
    check(cs.decrypt_with_ad(nullptr, 0, out.data(), 16, out.data(), out.size(), &got) ==
          TRUFLUX_EINVAL);
}

}  // namespace

#ifndef FUZZ_NOISE_MAKE_SEEDS

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    reader in{data + 1, size - 1};
    if (data[0] & 4)
        fuzz_cipher(data[0], in);
    else
        fuzz_handshake(data[0], in);
    return 0;
}

#else  // the seed maker

namespace {

void put_record(std::vector<uint8_t> *f, const uint8_t *p, size_t n) {
    f->push_back(uint8_t(n >> 8));
    f->push_back(uint8_t(n));
    f->insert(f->end(), p, p + n);
}

bool save(const std::string &dir, const char *name, const std::vector<uint8_t> &f) {
    std::string path = dir + "/" + name;
    FILE *fp = std::fopen(path.c_str(), "wb");
    if (!fp) return false;
    bool ok = std::fwrite(f.data(), 1, f.size(), fp) == f.size();
    return std::fclose(fp) == 0 && ok;
}

// A first message from a real initiator, then a tail of records the target treats as the
// next messages (they are not valid, by construction).
std::vector<uint8_t> first_message(uint8_t mode, const char *payload, bool with_tail) {
    uint8_t resp_pub[32];
    check(tfc::x25519_public(RESP_STATIC, resp_pub) == 0);
    uint8_t init_static[32], init_e[32];
    std::memset(init_static, 0x33, sizeof init_static);
    std::memset(init_e, 0x44, sizeof init_e);  // fixed: the same seeds on every run
    tfc::handshake_params hp;
    hp.pat = mode & 1 ? tfc::pattern::NK : tfc::pattern::XX;
    hp.cph = mode & 2 ? tfc::cipher::aesgcm : tfc::cipher::chachapoly;
    hp.initiator = true;
    hp.prologue = reinterpret_cast<const uint8_t *>(PROLOGUE);
    hp.prologue_len = sizeof PROLOGUE - 1;
    hp.s = mode & 1 ? nullptr : init_static;
    hp.rs = mode & 1 ? resp_pub : nullptr;
    hp.e = init_e;
    tfc::handshake_state hs;
    check(hs.initialize(hp) == 0);
    uint8_t msg[256];
    size_t n = 0;
    check(hs.write_message(reinterpret_cast<const uint8_t *>(payload), std::strlen(payload), msg,
                           sizeof msg, &n) == 0);
    // The target's responder must accept it, or the seed would not reach past message 1.
    tfc::handshake_params rp = hp;
    rp.initiator = false;
    rp.s = RESP_STATIC;
    rp.rs = nullptr;
    rp.e = RESP_EPHEMERAL;
    tfc::handshake_state resp;
    uint8_t pl[256];
    size_t got = 0;
    check(resp.initialize(rp) == 0);
    check(resp.read_message(msg, n, pl, sizeof pl, &got) == 0);
    std::vector<uint8_t> f{mode};
    put_record(&f, msg, n);
    if (with_tail) {
        uint8_t junk[80];
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = uint8_t(i * 7 + 1);
        put_record(&f, junk, mode & 1 ? 40 : 80);
    }
    return f;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    bool ok = save(dir, "xx_chachapoly_msg1", first_message(0, "hello", true)) &&
              save(dir, "xx_aesgcm_msg1", first_message(2, "", false)) &&
              save(dir, "nk_chachapoly_msg1", first_message(1, "client hello", true)) &&
              save(dir, "nk_aesgcm_msg1", first_message(3, "x", true));
    std::vector<uint8_t> c{0x04};
    for (int i = 0; i < 32; i++) c.push_back(uint8_t(i));
    uint8_t rec[48];
    for (size_t i = 0; i < sizeof rec; i++) rec[i] = uint8_t(0xA0 + i);
    put_record(&c, rec, 48);
    put_record(&c, rec, 16);
    put_record(&c, rec, 3);
    ok = ok && save(dir, "cipher_chachapoly", c);
    c[0] = 0x0e;  // AESGCM, in place
    ok = ok && save(dir, "cipher_aesgcm_inplace", c);
    if (!ok) std::perror(dir.c_str());
    return ok ? 0 : 1;
}

#endif
