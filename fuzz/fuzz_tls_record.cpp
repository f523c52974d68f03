// libFuzzer target: the TLS 1.2 record reader of lib/crypto/tls_record, keyed with fixed
// keys (no handshake), fed attacker-controlled bytes.
//
// Input: one mode byte, then the data.
//   bit 0: the cipher (AES-256-GCM or ChaCha20-Poly1305).
//   bits 1-2: the read buffer's size (1, 100, 16384 or 65536 bytes).
//   bits 3-5: how many bytes the bio hands over per call (1, 2, 5, 13, 100, 4096, all).
//   bits 6-7: 0 or 1: the data is the byte stream itself: no record the fuzzer made up can
//     open (it cannot compute tags), so no plaintext may come out, only errors or the end.
//     2 or 3: a differential test: the data describes records (type, length, bytes) that a
//     writer keyed the other way seals; the reader must give back exactly the application
//     data, in order, end at a close_notify, fail at any other alert, and refuse handshake
//     records without failing up to tfc::TLS_MAX_REFUSALS of them (one more fails).
// Invariants: only the documented results (bytes, 0, TLS_WANT_READ, TRUFLUX_EIO); no
// crash, leak or overread.
// Seeds: fuzz/corpus/fuzz_tls_record/ (written by fuzz/make_corpus.py).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <truflux/error.h>

#include "crypto/tls_record.h"

namespace {

void require(bool ok) {
    if (!ok) abort();
}

class stream_bio final : public tfc::tls_bio {
public:
    std::vector<uint8_t> in, out;
    size_t at = 0, chunk = 0;
    ssize_t send(const uint8_t *p, size_t n) override {
        out.insert(out.end(), p, p + n);
        return (ssize_t)n;
    }
    ssize_t recv(uint8_t *p, size_t n) override {
        if (at == in.size()) return 0;
        if (chunk && n > chunk) n = chunk;
        if (n > in.size() - at) n = in.size() - at;
        memcpy(p, in.data() + at, n);
        at += n;
        return (ssize_t)n;
    }
};

struct endpoint {
    stream_bio bio;
    tfc::tls_record rec;
};

void keys(tfc::cipher c, bool flip, tfc::tls_keys *k) {
    k->c = c;
    for (size_t i = 0; i < tfc::KEY_LEN; i++) {
        k->write_key[i] = (uint8_t)(flip ? 0xA0 + i : 0x10 + i);
        k->read_key[i] = (uint8_t)(flip ? 0x10 + i : 0xA0 + i);
    }
    size_t iv = c == tfc::cipher::aesgcm ? 4 : tfc::IV_LEN;
    for (size_t i = 0; i < iv; i++) {
        k->write_iv[i] = (uint8_t)(flip ? 0x70 + i : 0x30 + i);
        k->read_iv[i] = (uint8_t)(flip ? 0x30 + i : 0x70 + i);
    }
    k->write_seq = k->read_seq = 1;  // as after the Finished messages
}

// Reads everything the stream holds: the plaintext, and how it ended.
ssize_t drain(endpoint &e, size_t rbuf, std::vector<uint8_t> *plain) {
    std::vector<uint8_t> buf(rbuf);
    for (size_t guard = 0; guard < 4 * (e.bio.in.size() + 2); guard++) {
        ssize_t r = e.rec.read(buf.data(), buf.size());
        require(r == TRUFLUX_EIO || r >= 0);
        require(r <= (ssize_t)rbuf);
        if (r <= 0) return r;
        plain->insert(plain->end(), buf.data(), buf.data() + r);
    }
    abort();  // no progress
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    tfc::cipher c = mode & 1 ? tfc::cipher::chachapoly : tfc::cipher::aesgcm;
    static const size_t RBUF[] = {1, 100, 16384, 65536};
    static const size_t CHUNK[] = {1, 2, 5, 13, 100, 4096, 0, 0};
    size_t rbuf = RBUF[(mode >> 1) & 3];

    endpoint reader;
    tfc::tls_keys rk;
    keys(c, false, &rk);
    require(reader.rec.init(rk, &reader.bio) == 0);
    reader.bio.chunk = CHUNK[(mode >> 3) & 7];

    if ((mode >> 6) < 2) {
        reader.bio.in.assign(data, data + size);
        std::vector<uint8_t> plain;
        drain(reader, rbuf, &plain);
        require(plain.empty());
        return 0;
    }

    endpoint writer;
    tfc::tls_keys wk;
    keys(c, true, &wk);
    require(writer.rec.init(wk, &writer.bio) == 0);
    // Records: type selector, 2-byte length, bytes (as many as remain).
    std::vector<uint8_t> expect;
    bool ended = false, failed = false;
    unsigned handshakes = 0;
    size_t i = 0;
    while (i + 3 <= size && !ended && !failed) {
        uint8_t sel = data[i];
        size_t n = ((size_t)data[i + 1] << 8 | data[i + 2]) % (tfc::TLS_MAX_PLAIN + 1);
        i += 3;
        n = n < size - i ? n : size - i;
        const uint8_t *p = data + i;
        i += n;
        uint8_t type = sel % 8 == 0 ? tfc::TLS_ALERT
                       : sel % 8 == 1 ? tfc::TLS_HANDSHAKE
                                      : tfc::TLS_APPLICATION_DATA;
        if (type == tfc::TLS_ALERT) {
            uint8_t alert[2] = {(uint8_t)(sel >> 7 ? 2 : 1), (uint8_t)(sel >> 3)};
            if (n >= 1) alert[1] = p[0] % 2 ? 0 : alert[1];
            require(writer.rec.send_record(type, alert, 2) == 2);
            if (alert[1] == 0) ended = true;
            else failed = true;
            continue;
        }
        require(writer.rec.send_record(type, p, n) == (ssize_t)n);
        if (type == tfc::TLS_HANDSHAKE && ++handshakes > tfc::TLS_MAX_REFUSALS) failed = true;
        if (type == tfc::TLS_APPLICATION_DATA) expect.insert(expect.end(), p, p + n);
    }
    reader.bio.in = writer.bio.out;
    std::vector<uint8_t> plain;
    ssize_t end = drain(reader, rbuf, &plain);
    require(plain == expect);
    require(end == (failed ? TRUFLUX_EIO : 0));
    return 0;
}
