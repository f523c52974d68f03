// lib/secure: the secure layer on one connection. One object is three hooks of the core
// (lib/core/conn.h): a conn_ext (the hello extension, the Noise handshake, the open held
// until it finishes), the tx_filter (outgoing frames become records while our direction is
// encrypted) and the rx_filter (records are checked and decrypted; plaintext is refused
// where encryption is due). docs/PROTOCOL.md §24 is the wire format it implements.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <truflux/security.h>

#include "core/conn.h"
#include "crypto/noise.h"
#include "secure/nego.h"
#include "secure/record.h"
#include "secure/settings.h"

namespace tfsec {

class secure_conn final : public tfcore::conn_ext,
                          public tfcore::tx_filter,
                          public tfcore::rx_filter {
public:
    secure_conn(std::shared_ptr<settings> s, tf_conn *c);
    ~secure_conn() override;

    // conn_ext and rx_filter (one signature serves both: every frame after the hello).
    bool on_frame(tf_conn *c, const tfw::frame &f) override;
    int on_hello(tf_conn *c) override;
    void on_open(tf_conn *c) override;
    void on_end(tf_conn *c, int reason) override;
    void on_attach(tf_conn *c) override;
    void on_tick(tf_conn *c) override;
    // tx_filter
    void emit(tf_conn *c, evbuffer *out, uint8_t kind, uint32_t id, const void *data,
              size_t len) override;
    void flush(tf_conn *c, evbuffer *out) override;
    // rx_filter
    int on_eof(tf_conn *c, int code) override;

    // tf_conn_set_secure, on the loop thread.
    int set_secure(tf_conn *c, int dirs, bool on);
    // tf_conn_secure: any thread.
    bool sending_encrypted() const { return tx_on_.load(std::memory_order_relaxed); }
    bool receiving_encrypted() const { return rx_on_.load(std::memory_order_relaxed); }
    // tf_conn_secure_info, on the loop thread.
    void info(tf_secure_info_t *out) const;

private:
    enum state_t : uint8_t {
        ST_OFF,        // no secure layer on this socket (yet, or the peer has none)
        ST_HANDSHAKE,  // Noise messages in flight
        ST_CONFIRM,    // XX initiator: keys ready, waiting for the server's first record
        ST_ON,         // established
        ST_FAILED      // refused or failed: never encrypted on this socket
    };

    void reset(tf_conn *c);
    int refuse(tf_conn *c, int code, const std::string &detail);
    void die(tf_conn *c, int code, const std::string &detail);
    void report_fail(tf_conn *c, int code, const std::string &detail);
    bool alive(tf_conn *c) const;
    void write_next(tf_conn *c);
    bool on_noise(tf_conn *c, const tfw::frame &f);
    bool on_record(tf_conn *c, const tfw::frame &f);
    bool check_remote_static(tf_conn *c);
    void split_done(tf_conn *c);
    void established(tf_conn *c);
    void handle_request(tf_conn *c, bool on, bool authenticated);
    void put_plain(evbuffer *out, uint8_t kind, uint32_t id, const void *data, size_t len);
    void maybe_rekey(tf_conn *c, evbuffer *out);
    int emit_direct(tf_conn *c, evbuffer *out, uint8_t kind, uint32_t id, const uint8_t *data,
                    size_t len);
    void cipher_failed(tf_conn *c);

    std::shared_ptr<settings> s_;
    state_t st_ = ST_OFF;
    offer peer_;
    tfc::pattern pat_ = tfc::pattern::NN;
    tfc::cipher cph_ = tfc::cipher::chachapoly;
    bool locked_ = false;          // either side requires encryption: never plaintext
    bool fail_reported_ = false;   // on_secure_fail delivered
    bool authorized_ = false;      // the client's static key passed
    bool ended_ = false;           // on_end ran: nothing more is encrypted
    bool want_tx_ = true;          // our direction should be encrypted
    bool want_rx_ = true;          // the peer's direction should be
    uint8_t next_msg_ = 0;         // index of the next handshake message, either side
    std::unique_ptr<tfc::handshake_state> hs_;
    record_writer writer_;
    record_reader reader_;
    std::atomic<bool> tx_on_{false}, rx_on_{false};
    uint64_t tx_frames_ = 0, tx_bytes_ = 0, last_rekey_ms_ = 0;
    uint64_t rekeys_sent_ = 0, rekeys_received_ = 0;
    bool has_peer_key_ = false;
    uint8_t peer_key_[tfc::DH_LEN] = {};
    uint8_t hash_[tfc::HASH_LEN] = {};
};

}  // namespace tfsec
