// lib/crypto: Noise CipherState, SymmetricState and HandshakeState (noise.h), over the
// primitives of backend.h. Section numbers refer to the specification, revision 34.
#include "crypto/noise.h"

#include <cstdio>
#include <cstring>
#include <utility>

namespace tfc {

// ---- CipherState (section 5.1) -----------------------------------------------------------

cipher_state::cipher_state(cipher_state &&o) noexcept
    : aead_(std::move(o.aead_)), c_(o.c_), state_(o.state_), n_(o.n_) {
    o.state_ = dead;
    o.n_ = 0;
}

cipher_state &cipher_state::operator=(cipher_state &&o) noexcept {
    if (this != &o) {
        aead_ = std::move(o.aead_);
        c_ = o.c_;
        state_ = o.state_;
        n_ = o.n_;
        o.state_ = dead;
        o.n_ = 0;
    }
    return *this;
}

int cipher_state::initialize_key(cipher c, const uint8_t *key) {
    aead_.clear();
    c_ = c;
    n_ = 0;
    if (!key) {
        state_ = empty;
        return 0;
    }
    int rc = aead_.set_key(c, key);
    state_ = rc == 0 ? keyed : dead;
    return rc;
}

int cipher_state::encrypt_with_ad(const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                                  size_t len, uint8_t *out, size_t out_cap, size_t *out_len) {
    if (state_ == dead || !out_len || (len && (!pt || !out))) return TRUFLUX_EINVAL;
    if (state_ == empty) {
        if (len > MAX_MESSAGE) return TRUFLUX_EMSGSIZE;
        if (len > out_cap) return TRUFLUX_EINVAL;
        if (len) std::memmove(out, pt, len);
        *out_len = len;
        return 0;
    }
    if (n_ == MAX_NONCE) return TRUFLUX_EINVAL;
    if (len > MAX_MESSAGE - TAG_LEN) return TRUFLUX_EMSGSIZE;
    if (len + TAG_LEN > out_cap || !out) return TRUFLUX_EINVAL;
    int rc = aead_.encrypt(n_, ad, ad_len, pt, len, out);
    if (rc != 0) return rc;
    n_++;
    *out_len = len + TAG_LEN;
    return 0;
}

int cipher_state::decrypt_with_ad(const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                                  size_t len, uint8_t *out, size_t out_cap, size_t *out_len) {
    if (state_ == dead || !out_len || (len && !ct)) return TRUFLUX_EINVAL;
    if (len > MAX_MESSAGE) return TRUFLUX_EPROTO;
    if (state_ == empty) {
        if (len > out_cap || (len && !out)) return TRUFLUX_EINVAL;
        if (len) std::memmove(out, ct, len);
        *out_len = len;
        return 0;
    }
    if (n_ == MAX_NONCE) return TRUFLUX_EINVAL;
    if (len < TAG_LEN) return TRUFLUX_EPROTO;
    if (len - TAG_LEN > out_cap || (len > TAG_LEN && !out)) return TRUFLUX_EINVAL;
    int rc = aead_.decrypt(n_, ad, ad_len, ct, len, out);
    if (rc != 0) return rc;
    n_++;
    *out_len = len - TAG_LEN;
    return 0;
}

int cipher_state::rekey() {
    if (state_ != keyed) return TRUFLUX_EINVAL;
    // Section 4.2's default REKEY: encrypting zeros under the reserved nonce, which no
    // message ever uses, so the new key is never a keystream an attacker has seen.
    static const uint8_t zeros[KEY_LEN] = {};
    uint8_t buf[KEY_LEN + TAG_LEN];
    int rc = aead_.encrypt(MAX_NONCE, nullptr, 0, zeros, KEY_LEN, buf);
    if (rc == 0) rc = aead_.set_key(c_, buf);
    wipe(buf, sizeof buf);
    if (rc != 0) {
        aead_.clear();
        state_ = dead;
    }
    return rc;
}

// ---- SymmetricState (section 5.2) --------------------------------------------------------

symmetric_state::~symmetric_state() {
    wipe(ck_, sizeof ck_);
    wipe(h_, sizeof h_);
}

void symmetric_state::clear() {
    wipe(ck_, sizeof ck_);
    wipe(h_, sizeof h_);
    cs_.initialize_key(c_, nullptr);
}

int symmetric_state::initialize(const char *protocol_name, cipher c) {
    c_ = c;
    size_t len = std::strlen(protocol_name);
    if (len <= HASH_LEN) {
        std::memset(h_, 0, sizeof h_);
        std::memcpy(h_, protocol_name, len);
    } else {
        span p{reinterpret_cast<const uint8_t *>(protocol_name), len};
        int rc = hash_sha256(&p, 1, h_);
        if (rc != 0) return rc;
    }
    std::memcpy(ck_, h_, HASH_LEN);
    return cs_.initialize_key(c, nullptr);
}

int symmetric_state::mix_key(const uint8_t *ikm, size_t len) {
    uint8_t k[HASH_LEN];
    int rc = hkdf(ck_, ikm, len, ck_, k, nullptr);
    if (rc == 0) rc = cs_.initialize_key(c_, k);  // HASHLEN 32: no truncation needed
    wipe(k, sizeof k);
    return rc;
}

int symmetric_state::mix_hash(const uint8_t *data, size_t len) {
    span p[2] = {{h_, HASH_LEN}, {data, len}};
    return hash_sha256(p, 2, h_);
}

int symmetric_state::mix_key_and_hash(const uint8_t *ikm, size_t len) {
    uint8_t th[HASH_LEN], k[HASH_LEN];
    int rc = hkdf(ck_, ikm, len, ck_, th, k);
    if (rc == 0) rc = mix_hash(th, HASH_LEN);
    if (rc == 0) rc = cs_.initialize_key(c_, k);
    wipe(th, sizeof th);
    wipe(k, sizeof k);
    return rc;
}

int symmetric_state::encrypt_and_hash(const uint8_t *pt, size_t len, uint8_t *out,
                                      size_t out_cap, size_t *out_len) {
    int rc = cs_.encrypt_with_ad(h_, HASH_LEN, pt, len, out, out_cap, out_len);
    if (rc == 0) rc = mix_hash(out, *out_len);
    return rc;
}

int symmetric_state::decrypt_and_hash(const uint8_t *ct, size_t len, uint8_t *out,
                                      size_t out_cap, size_t *out_len) {
    // The next h covers the ciphertext, which in-place decryption overwrites: compute it
    // first, commit it only once the old h has served as associated data.
    uint8_t next[HASH_LEN];
    span p[2] = {{h_, HASH_LEN}, {ct, len}};
    int rc = hash_sha256(p, 2, next);
    if (rc == 0) rc = cs_.decrypt_with_ad(h_, HASH_LEN, ct, len, out, out_cap, out_len);
    if (rc == 0) std::memcpy(h_, next, HASH_LEN);
    return rc;
}

int symmetric_state::split(cipher_state *c1, cipher_state *c2) {
    uint8_t k1[HASH_LEN], k2[HASH_LEN];
    int rc = hkdf(ck_, nullptr, 0, k1, k2, nullptr);
    if (rc == 0) rc = c1->initialize_key(c_, k1);
    if (rc == 0) rc = c2->initialize_key(c_, k2);
    wipe(k1, sizeof k1);
    wipe(k2, sizeof k2);
    wipe(ck_, sizeof ck_);
    cs_.initialize_key(c_, nullptr);
    return rc;
}

// ---- HandshakeState (sections 5.3, 7) ----------------------------------------------------

namespace {

enum token : uint8_t { T_END, T_E, T_S, T_EE, T_ES, T_SE, T_SS };

struct pattern_def {
    const char *name;
    bool resp_s_known;  // pre-message "<- s": the initiator knows the responder's key
    uint8_t count;
    token msgs[3][5];  // T_END-terminated; even indexes from the initiator
};

// Section 7.4/7.5. Pre-messages are only ever "<- s" for these four patterns.
const pattern_def PATTERNS[] = {
    {"NN", false, 2, {{T_E}, {T_E, T_EE}}},
    {"NK", true, 2, {{T_E, T_ES}, {T_E, T_EE}}},
    {"XX", false, 3, {{T_E}, {T_E, T_EE, T_S, T_ES}, {T_S, T_SE}}},
    {"IK", true, 2, {{T_E, T_ES, T_S, T_SS}, {T_E, T_EE, T_SE}}},
};

const pattern_def &def_of(pattern p) { return PATTERNS[size_t(p)]; }

bool is_dh(token t) { return t == T_EE || t == T_ES || t == T_SE || t == T_SS; }

// The bytes a message carries before its payload, and whether its payload is encrypted,
// given whether the handshake cipher has a key when the message starts.
size_t fixed_part(const token *toks, bool key, bool *key_at_payload) {
    size_t n = 0;
    for (const token *t = toks; *t != T_END; t++) {
        if (*t == T_E) n += DH_LEN;
        if (*t == T_S) n += DH_LEN + (key ? TAG_LEN : 0);
        if (is_dh(*t)) key = true;
    }
    *key_at_payload = key;
    return n;
}

// Whether a side sends "s" in one of its messages.
bool sends_s(const pattern_def &d, bool initiator) {
    for (uint8_t m = initiator ? 0 : 1; m < d.count; m += 2)
        for (const token *t = d.msgs[m]; *t != T_END; t++)
            if (*t == T_S) return true;
    return false;
}

}  // namespace

handshake_state::~handshake_state() { wipe_secrets(); }

void handshake_state::wipe_secrets() {
    wipe(s_priv_, sizeof s_priv_);
    wipe(e_priv_, sizeof e_priv_);
}

int handshake_state::set_failed(int rc) {
    wipe_secrets();
    has_e_ = false;
    ss_.clear();
    send_ = cipher_state();
    recv_ = cipher_state();
    step_ = failed;
    return rc;
}

bool handshake_state::is_write_turn() const {
    return step_ == running && ((msg_ % 2 == 0) == initiator_);
}

int handshake_state::initialize(const handshake_params &p) {
    wipe_secrets();
    ss_.clear();
    has_s_ = has_e_ = has_rs_ = split_taken_ = false;
    send_ = cipher_state();
    recv_ = cipher_state();
    step_ = idle;
    msg_ = 0;
    if (size_t(p.pat) >= sizeof PATTERNS / sizeof PATTERNS[0]) return TRUFLUX_EINVAL;
    if (p.cph != cipher::chachapoly && p.cph != cipher::aesgcm) return TRUFLUX_EINVAL;
    if (p.prologue_len && !p.prologue) return TRUFLUX_EINVAL;
    const pattern_def &d = def_of(p.pat);
    bool need_s = sends_s(d, p.initiator) || (!p.initiator && d.resp_s_known);
    bool need_rs = p.initiator && d.resp_s_known;
    if (need_s != (p.s != nullptr) || need_rs != (p.rs != nullptr)) return TRUFLUX_EINVAL;

    pat_ = p.pat;
    c_ = p.cph;
    initiator_ = p.initiator;
    std::snprintf(name_, sizeof name_, "Noise_%s_25519_%s_SHA256", d.name,
                  c_ == cipher::chachapoly ? "ChaChaPoly" : "AESGCM");
    step_ = running;

    int rc = ss_.initialize(name_, c_);
    if (rc == 0) rc = ss_.mix_hash(p.prologue, p.prologue_len);
    if (rc == 0 && p.s) {
        std::memcpy(s_priv_, p.s, DH_LEN);
        has_s_ = true;
        rc = x25519_public(s_priv_, s_pub_);
    }
    if (rc == 0 && p.e) {
        std::memcpy(e_priv_, p.e, DH_LEN);
        has_e_ = true;
        rc = x25519_public(e_priv_, e_pub_);
    }
    if (rc == 0 && p.rs) {
        std::memcpy(rs_, p.rs, DH_LEN);
        has_rs_ = true;
    }
    // Pre-messages are hashed initiator's first; here only the responder's "s" exists.
    if (rc == 0 && d.resp_s_known) rc = ss_.mix_hash(initiator_ ? rs_ : s_pub_, DH_LEN);
    return rc == 0 ? 0 : set_failed(rc);
}

size_t handshake_state::write_size(size_t payload_len) const {
    if (step_ != running) return 0;
    bool key;
    size_t n = fixed_part(def_of(pat_).msgs[msg_], ss_.has_key(), &key);
    return n + payload_len + (key ? TAG_LEN : 0);
}

int handshake_state::dh_mix(const uint8_t *priv, const uint8_t *pub) {
    uint8_t d[DH_LEN];
    int rc = x25519(priv, pub, d);
    if (rc == 0) rc = ss_.mix_key(d, DH_LEN);
    wipe(d, sizeof d);
    return rc;
}

namespace {

// The keys a DH token combines, from this side's point of view (section 5.3).
struct dh_pair {
    bool local_e, remote_e;
};

dh_pair dh_keys(token t, bool initiator) {
    switch (t) {
    case T_EE: return {true, true};
    case T_ES: return initiator ? dh_pair{true, false} : dh_pair{false, true};
    case T_SE: return initiator ? dh_pair{false, true} : dh_pair{true, false};
    default: return {false, false};  // T_SS
    }
}

}  // namespace

int handshake_state::write_message(const uint8_t *payload, size_t len, uint8_t *out,
                                   size_t out_cap, size_t *out_len) {
    if (!is_write_turn() || !out_len || (len && !payload) || !out) return TRUFLUX_EINVAL;
    size_t total = write_size(len);
    if (total > MAX_MESSAGE) return TRUFLUX_EMSGSIZE;
    if (total > out_cap) return TRUFLUX_EINVAL;

    size_t pos = 0, n = 0;
    int rc = 0;
    for (const token *t = def_of(pat_).msgs[msg_]; rc == 0 && *t != T_END; t++) {
        if (*t == T_E) {
            if (!has_e_) rc = x25519_keypair(e_priv_, e_pub_);
            has_e_ = rc == 0;
            if (rc == 0) {
                std::memcpy(out + pos, e_pub_, DH_LEN);
                pos += DH_LEN;
                rc = ss_.mix_hash(e_pub_, DH_LEN);
            }
        } else if (*t == T_S) {
            rc = ss_.encrypt_and_hash(s_pub_, DH_LEN, out + pos, out_cap - pos, &n);
            pos += n;
        } else {
            dh_pair k = dh_keys(*t, initiator_);
            rc = dh_mix(k.local_e ? e_priv_ : s_priv_, k.remote_e ? re_ : rs_);
        }
    }
    if (rc == 0) rc = ss_.encrypt_and_hash(payload, len, out + pos, out_cap - pos, &n);
    if (rc != 0) {
        wipe(out, out_cap < total ? out_cap : total);
        return set_failed(rc);
    }
    *out_len = pos + n;
    return advance();
}

int handshake_state::read_message(const uint8_t *msg, size_t len, uint8_t *payload,
                                  size_t payload_cap, size_t *payload_len) {
    if (step_ != running || is_write_turn() || !payload_len || (len && !msg))
        return TRUFLUX_EINVAL;
    if (len > MAX_MESSAGE) return set_failed(TRUFLUX_EPROTO);
    const token *toks = def_of(pat_).msgs[msg_];
    bool key;
    size_t fixed = fixed_part(toks, ss_.has_key(), &key);
    size_t tag = key ? TAG_LEN : 0;
    if (len < fixed + tag) return set_failed(TRUFLUX_EPROTO);
    size_t plen = len - fixed - tag;
    if (plen > payload_cap || (plen && !payload)) return TRUFLUX_EINVAL;

    size_t pos = 0, n = 0;
    int rc = 0;
    for (const token *t = toks; rc == 0 && *t != T_END; t++) {
        if (*t == T_E) {
            std::memcpy(re_, msg + pos, DH_LEN);
            pos += DH_LEN;
            rc = ss_.mix_hash(re_, DH_LEN);
        } else if (*t == T_S) {
            size_t slen = DH_LEN + (ss_.has_key() ? TAG_LEN : 0);
            rc = ss_.decrypt_and_hash(msg + pos, slen, rs_, DH_LEN, &n);
            has_rs_ = rc == 0 && n == DH_LEN;
            pos += slen;
        } else {
            dh_pair k = dh_keys(*t, initiator_);
            rc = dh_mix(k.local_e ? e_priv_ : s_priv_, k.remote_e ? re_ : rs_);
        }
    }
    if (rc == 0) rc = ss_.decrypt_and_hash(msg + pos, len - pos, payload, payload_cap, &n);
    if (rc != 0) return set_failed(rc);
    *payload_len = n;
    return advance();
}

int handshake_state::advance() {
    if (++msg_ < def_of(pat_).count) return 0;
    cipher_state c1, c2;
    int rc = ss_.split(&c1, &c2);
    if (rc != 0) return set_failed(rc);
    send_ = std::move(initiator_ ? c1 : c2);
    recv_ = std::move(initiator_ ? c2 : c1);
    wipe_secrets();
    has_e_ = false;
    step_ = done;
    return 0;
}

int handshake_state::split(cipher_state *send, cipher_state *recv) {
    if (step_ != done || split_taken_ || !send || !recv) return TRUFLUX_EINVAL;
    *send = std::move(send_);
    *recv = std::move(recv_);
    split_taken_ = true;
    return 0;
}

}  // namespace tfc
