// libFuzzer target: the secure layer's decoding (lib/secure): the hello extension and
// the records, fed attacker-controlled bytes.
//
// Input: one mode byte, then the data.
//   mode % 4 == 0: the data is the "secure" hello extension's value: offer_decode, and
//     when it decodes, the choice against a fixed server offer; a decoded offer must
//     encode back to a value that decodes to the same offer.
//   mode % 4 == 1: the data is a stream of frames (as on the wire). RECORD frames go to a
//     reader whose CipherState has no key (Noise then passes bytes unchanged), so the
//     fuzzer writes the plaintext itself and reaches the inner-frame walk and its
//     reassembly across records; sequence numbers must still be right.
//   mode % 4 == 2: the same stream to a keyed reader: no record the fuzzer made up may
//     open (it cannot compute tags).
//   mode % 4 == 3: a differential test: the data describes frames (kind, size) and seal
//     points; a writer seals them and a keyed reader must give back exactly those frames,
//     in order, however they were split and batched.
// Invariants: only the documented error codes; no crash, leak or overread.
//
// Seeds: fuzz/corpus/fuzz_secure_frame/ (written by fuzz/make_corpus.py).
#include <event2/buffer.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <truflux/error.h>

#include "secure/nego.h"
#include "secure/record.h"

namespace {

void require(bool ok) {
    if (!ok) abort();
}

bool documented(int rc) {
    return rc == 0 || rc == TRUFLUX_EREPLAY || rc == TRUFLUX_EREORDER || rc == TRUFLUX_EDECRYPT ||
           rc == TRUFLUX_ETRUNCATED || rc == TRUFLUX_EPROTO || rc == TRUFLUX_EMSGSIZE ||
           rc == TRUFLUX_ENOMEM;
}

void fuzz_offer(const uint8_t *p, size_t n) {
    tfsec::offer o;
    int rc = tfsec::offer_decode(p, n, &o);
    require(rc == 0 || rc == TRUFLUX_EPROTO);
    if (rc != 0) return;
    std::vector<uint8_t> again;
    tfsec::offer_encode(o, &again);
    tfsec::offer back;
    require(tfsec::offer_decode(again.data(), again.size(), &back) == 0);
    require(back.policy == o.policy && back.patterns == o.patterns && back.ciphers == o.ciphers &&
            back.has_key == o.has_key);
    tfsec::offer server;
    server.patterns = {tfc::pattern::IK, tfc::pattern::XX, tfc::pattern::NK, tfc::pattern::NN};
    server.ciphers = {tfc::cipher::aesgcm, tfc::cipher::chachapoly};
    tfc::pattern pat;
    tfc::cipher cph;
    tfsec::choose(server, o, &pat, &cph);
}

void fuzz_stream(const uint8_t *p, size_t n, bool keyed) {
    tfsec::record_reader r;
    tfc::cipher_state cs;
    uint8_t key[32] = {7};
    require(cs.initialize_key(tfc::cipher::chachapoly, keyed ? key : nullptr) == 0);
    r.start(std::move(cs), 1u << 20);
    std::vector<uint8_t> buf(p, p + n);
    size_t off = 0;
    while (off < buf.size()) {
        tfw::frame f;
        long used = tfw::parse(buf.data() + off, buf.size() - off, 1u << 20, &f);
        if (used <= 0) return;
        off += (size_t)used;
        if (f.kind != tfsec::KIND_RECORD) continue;
        uint8_t *pt = nullptr;
        size_t len = 0;
        int rc = r.open(f.id, const_cast<uint8_t *>(f.payload), f.len, &pt, &len);
        require(documented(rc));
        if (keyed) require(rc != 0);
        if (rc != 0) return;
        size_t frames = 0;
        rc = r.walk(pt, len, [&](const tfw::frame &in) {
            frames++;
            require(in.len == 0 || in.payload != nullptr);
            return 0;
        });
        require(documented(rc));
        if (rc != 0) return;
    }
}

// Frames described by the input, through a writer and back through a reader.
void fuzz_roundtrip(const uint8_t *p, size_t n) {
    uint8_t key[32];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
    tfc::cipher_state a, b;
    require(a.initialize_key(tfc::cipher::aesgcm, key) == 0);
    require(b.initialize_key(tfc::cipher::aesgcm, key) == 0);
    tfsec::record_writer w;
    tfsec::record_reader r;
    require(w.start(std::move(a)) == 0);
    r.start(std::move(b), 1u << 20);
    evbuffer *out = evbuffer_new();
    require(out != nullptr);
    struct sent {
        uint32_t id;
        size_t len;
    };
    std::vector<sent> frames;
    static const std::vector<uint8_t> payload = [] {
        std::vector<uint8_t> v(140000);
        for (size_t i = 0; i < v.size(); i++) v[i] = (uint8_t)(i * 31 + 7);
        return v;
    }();
    // Each 3-byte step: a size class and a size, and whether to seal after.
    for (size_t i = 0; i + 3 <= n && frames.size() < 16; i += 3) {
        size_t len = ((size_t)p[i + 1] << 8 | p[i + 2]);
        if (p[i] & 1) len *= 2;  // up to 131070: three records
        uint32_t id = (uint32_t)frames.size();
        require(w.add(out, 0x11, id, payload.data(), len) == 0);
        frames.push_back({id, len});
        if (p[i] & 2) require(w.seal(out) == 0);
    }
    require(w.seal(out) == 0);
    size_t total = evbuffer_get_length(out);
    std::vector<uint8_t> wire(total);
    evbuffer_remove(out, wire.data(), total);
    evbuffer_free(out);
    size_t off = 0, got = 0;
    while (off < wire.size()) {
        tfw::frame f;
        long used = tfw::parse(wire.data() + off, wire.size() - off, 1u << 20, &f);
        require(used > 0 && f.kind == tfsec::KIND_RECORD && f.len <= 65535);
        off += (size_t)used;
        uint8_t *pt = nullptr;
        size_t len = 0;
        require(r.open(f.id, const_cast<uint8_t *>(f.payload), f.len, &pt, &len) == 0);
        require(r.walk(pt, len, [&](const tfw::frame &in) {
            require(got < frames.size() && in.kind == 0x11 && in.id == frames[got].id &&
                    in.len == frames[got].len);
            require(in.len == 0 || memcmp(in.payload, payload.data(), in.len) == 0);
            got++;
            return 0;
        }) == 0);
    }
    require(got == frames.size() && !r.mid_frame());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: fuzz_offer(p, n); break;
    case 1: fuzz_stream(p, n, false); break;
    case 2: fuzz_stream(p, n, true); break;
    default: fuzz_roundtrip(p, n); break;
    }
    return 0;
}
