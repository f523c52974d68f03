// lib/secure: a server's or client's secure-layer settings, read once from its options:
// policy, patterns, ciphers, keys (loaded from files or bytes, wiped when freed), rekey
// limits, authorisation. Shared (read-only after setup) by the endpoint's connections.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <truflux/security.h>

#include "core/conn.h"
#include "crypto/noise.h"
#include "secure/nego.h"

namespace tfsec {

using key32 = std::array<uint8_t, tfc::DH_LEN>;

struct settings {
    bool is_client = false;
    int policy = TRUFLUX_SECURE_OPTIONAL;  // never OFF here: no settings then
    bool patterns_given = false;           // TRUFLUX_OPT_SECURE_PATTERNS was set
    std::vector<tfc::pattern> patterns;
    std::vector<tfc::cipher> ciphers;
    bool has_static = false;
    uint8_t s_priv[tfc::DH_LEN] = {};
    uint8_t s_pub[tfc::DH_LEN] = {};
    bool has_pin = false;                  // client: the server's key, pinned
    uint8_t pin[tfc::DH_LEN] = {};
    bool has_authorized = false;           // server: TRUFLUX_OPT_AUTHORIZED_KEYS_FILE
    std::vector<key32> authorized;
    tf_authorize_cb auth_cb = nullptr;     // server: tf_server_set_authorizer
    void *auth_user = nullptr;
    uint64_t rekey_messages = 0, rekey_bytes = 0;
    uint32_t rekey_ms = 0;
    uint32_t max_message = 0;
    std::vector<uint8_t> offer_bytes;      // our hello extension's value
    offer mine;                            // the same, decoded

    ~settings();
    bool needs_auth() const { return has_authorized || auth_cb != nullptr; }
    // Whether the client key passes the authorised-keys file and the callback.
    bool authorize(tf_conn *c, const uint8_t key[tfc::DH_LEN]) const;
};

// Reads the endpoint's options. With the secure layer on (a policy other than OFF, or a
// key option), registers the per-connection extension, sets capability bit 0 and the hello
// extension, and rebuilds the hello. Returns 0, or TRUFLUX_EINVAL with *detail (a key or
// file that does not parse, a pattern the keys cannot do), TRUFLUX_ENOMEM.
int setup_endpoint(tfcore::endpoint *ep, std::string *detail);

// The settings of an endpoint, NULL when its secure layer is off.
settings *endpoint_settings(tfcore::endpoint *ep);

// Sets the authorisation callback; with no explicit pattern list, the server's patterns
// become the authenticating ones (IK, XX) and its hello is rebuilt. 0 or TRUFLUX_ENOTSUP.
int set_authorizer(tfcore::endpoint *ep, tf_authorize_cb cb, void *user);

// Reads a key file: its text (base64, white space around it allowed) or 32 raw bytes.
// 0, or TRUFLUX_EINVAL with *detail.
int load_key_file(const std::string &path, uint8_t key[tfc::DH_LEN], std::string *detail);

}  // namespace tfsec
