// tools/bench/systems.cpp: the systems `truflux bench` measures, and how each one starts.
//
// truflux's own systems come from one table (tf_systems): a name, a URL scheme, the floor
// it is held to, and the options each side needs. The secure layer, TLS and WebSocket each
// add one entry there; the roles in tf_roles.cpp and everything else follow.
#include <unistd.h>

#include <cstdlib>

#include <truflux/truflux.h>
#if __has_include(<truflux/security.h>)
#include <truflux/security.h>
#define TFBENCH_HAS_SECURITY 1
#else
#define TFBENCH_HAS_SECURITY 0
#endif

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include "bench.hpp"

namespace tfbench {
namespace {

bool executable(const std::string &path) { return access(path.c_str(), X_OK) == 0; }
bool readable(const std::string &path) { return access(path.c_str(), R_OK) == 0; }

// A program of the build (the floor, a C peer) next to this binary.
std::string c_program(const Env &env, const std::string &name, Launch &l,
                      const std::vector<std::string> &extra) {
    std::string exe = env.bin_dir + "/" + name;
    if (!executable(exe))
        return exe + " was not built (its library was missing when CMake ran: scripts/bench-deps)";
    l.server = {exe, "server"};
    l.client = {exe, "client"};
    for (const std::string &a : extra) {
        l.server.push_back(a);
        l.client.push_back(a);
    }
    return "";
}

std::string needs_cert(const Env &env) {
    if (env.cert.empty()) return "no certificate: " + env.cert_error;
    return "";
}

// The Node peer; `tls` and `bufferutil` select the variant.
std::string node_peer(const Env &env, Launch &l, bool tls, bool bufferutil) {
    if (env.node.empty()) return "node is not installed (scripts/bench-deps)";
    std::string js = env.js_dir + "/ws_peer.js";
    if (!readable(js)) return js + " is missing";
    if (!readable(env.js_dir + "/node_modules/ws/package.json"))
        return "npm package ws is not installed in " + env.js_dir + " (scripts/bench-deps)";
    if (bufferutil && !readable(env.js_dir + "/node_modules/bufferutil/package.json"))
        return "npm package bufferutil is not installed in " + env.js_dir + " (scripts/bench-deps)";
    if (tls) {
        std::string why = needs_cert(env);
        if (!why.empty()) return why;
    }
    std::vector<std::string> common = {"--bufferutil", bufferutil ? "1" : "0"};
    if (tls) common.insert(common.end(), {"--tls", "1"});
    l.server = {env.node, js, "server"};
    l.client = {env.node, js, "client"};
    l.client.insert(l.client.end(), common.begin(), common.end());
    l.server.insert(l.server.end(), common.begin(), common.end());
    if (tls) l.server.insert(l.server.end(), {"--cert", env.cert, "--key", env.key});
    return "";
}

// A truflux system: this binary, started again in a role, if this build has it.
std::string truflux_side(const Env &env, const TfSystem &t, Launch &l) {
    std::string why = tf_probe(t, env);
    if (!why.empty()) return why;
    for (const char *role : {"server", "client"}) {
        std::vector<std::string> &argv = std::string(role) == "server" ? l.server : l.client;
        argv = {env.self_exe, "bench", "--role", role, "--system", t.name};
        if (!env.cert.empty()) argv.insert(argv.end(), {"--cert", env.cert, "--key", env.key});
    }
    return "";
}

std::vector<System> build_systems() {
    std::vector<System> v;
    // The floors first: every ratio is taken against one of them.
    v.push_back({"floor", "floor", "floor",
                 "C ping-pong over TCP: 4-octet length, blocking I/O, TCP_NODELAY, page-aligned "
                 "buffers",
                 true, [](const Env &e, Launch &l) { return c_program(e, "tfbench_floor", l, {}); }});
    v.push_back({"floor-aesgcm-mbedtls", "floor", "floor-aesgcm-mbedtls",
                 "the floor with AES-256-GCM on each message, mbedTLS", true,
                 [](const Env &e, Launch &l) {
                     return c_program(e, "tfbench_floor_mbedtls", l, {});
                 }});
    v.push_back({"floor-aesgcm-ni", "floor", "floor-aesgcm-ni",
                 "the floor with AES-256-GCM on each message, the library's own AES-NI and "
                 "PCLMULQDQ code (what the mbedTLS build runs for AES-GCM on such CPUs)",
                 true, [](const Env &e, Launch &l) {
                     return c_program(e, "tfbench_floor_ni", l, {});
                 }});
    v.push_back({"floor-aesgcm-openssl", "floor", "floor-aesgcm-openssl",
                 "the floor with AES-256-GCM on each message, OpenSSL libcrypto", true,
                 [](const Env &e, Launch &l) {
                     return c_program(e, "tfbench_floor_openssl", l, {});
                 }});
    for (const TfSystem &t : tf_systems()) {
        v.push_back({t.name, "truflux", t.ref, t.description, true,
                     [&t](const Env &e, Launch &l) { return truflux_side(e, t, l); }});
    }
    v.push_back({"zmq", "peer", "floor", "ZeroMQ REQ/REP over tcp (libzmq, Debian)", true,
                 [](const Env &e, Launch &l) { return c_program(e, "tfbench_zmq", l, {}); }});
    v.push_back({"zmq-curve", "peer", "floor", "ZeroMQ REQ/REP over tcp with CURVE", true,
                 [](const Env &e, Launch &l) {
                     return c_program(e, "tfbench_zmq", l, {"--curve", "1"});
                 }});
    v.push_back({"nng-tcp", "peer", "floor", "NNG req0/rep0 over tcp (libnng, Debian)", true,
                 [](const Env &e, Launch &l) {
                     return c_program(e, "tfbench_nng", l, {"--transport", "tcp"});
                 }});
    v.push_back({"nng-ws", "peer", "floor", "NNG req0/rep0 over ws", true,
                 [](const Env &e, Launch &l) {
                     return c_program(e, "tfbench_nng", l, {"--transport", "ws"});
                 }});
    v.push_back({"nng-tls", "peer", "floor-aesgcm-mbedtls",
                 "NNG req0/rep0 over tls+tcp (NNG's mbedTLS engine)", true,
                 [](const Env &e, Launch &l) {
                     std::string why = needs_cert(e);
                     if (!why.empty()) return why;
                     why = c_program(e, "tfbench_nng", l, {"--transport", "tls"});
                     if (why.empty()) l.server.insert(l.server.end(), {"--certkey", e.certkey});
                     return why;
                 }});
    v.push_back({"node-ws", "peer", "floor", "Node ws over ws://, without bufferutil", false,
                 [](const Env &e, Launch &l) { return node_peer(e, l, false, false); }});
    v.push_back({"node-ws-bufferutil", "peer", "floor", "Node ws over ws://, with bufferutil",
                 false, [](const Env &e, Launch &l) { return node_peer(e, l, false, true); }});
    v.push_back({"node-wss", "peer", "floor-aesgcm-openssl",
                 "Node ws over wss:// (Node's OpenSSL), without bufferutil", false,
                 [](const Env &e, Launch &l) { return node_peer(e, l, true, false); }});
    v.push_back({"node-wss-bufferutil", "peer", "floor-aesgcm-openssl",
                 "Node ws over wss://, with bufferutil", false,
                 [](const Env &e, Launch &l) { return node_peer(e, l, true, true); }});
    return v;
}

}  // namespace

namespace {

#if TFBENCH_HAS_SECURITY
// The secure layer on both sides: required, anonymous (NN: no keys to distribute; the
// handshake is untimed anyway), with one cipher.
std::function<std::string(void *, bool, const Env &)> secure_with(const char *cipher) {
    return [cipher](void *o, bool, const Env &) -> std::string {
        tf_options_t *opts = static_cast<tf_options_t *>(o);
        if (tf_options_set_int(opts, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED) != 0 ||
            tf_options_set_str(opts, TRUFLUX_OPT_SECURE_PATTERNS, "NN") != 0 ||
            tf_options_set_str(opts, TRUFLUX_OPT_SECURE_CIPHERS, cipher) != 0)
            return std::string(NOT_IN_BUILD) + ": no secure layer options";
        return "";
    };
}

std::string aesgcm_floor() { return std::string("floor-aesgcm-") + tf_crypto_backend(); }

// The floor of the library's AES-GCM: with mbedTLS on a CPU with AES-NI, PCLMULQDQ, SSSE3 and
// SSE4.1 the library seals with its own code (lib/crypto/aesgcm_ni.cpp, the same test). Both
// ciphers of the secure layer are held to it (as to the OpenSSL floor in that build).
std::string aesgcm_own_floor() {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    bool ni = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 1)) && (c & (1u << 9)) &&
              (c & (1u << 19)) && (c & (1u << 25));
    if (ni && std::string(tf_crypto_backend()) == "mbedtls") return "floor-aesgcm-ni";
#endif
    return aesgcm_floor();
}
#endif

// TLS's AES-256-GCM records are sealed by the library's AEAD code once the handshake is done
// (lib/crypto/tls_record.cpp): the same floor as the secure layer's.
std::string tls_floor() {
#if TFBENCH_HAS_SECURITY
    return aesgcm_own_floor();
#else
    return "floor-aesgcm-mbedtls";
#endif
}

// TLS with the run's self-signed certificate; the client does not verify it.
std::string tls_options(void *o, bool server, const Env &env) {
    tf_options_t *opts = static_cast<tf_options_t *>(o);
    if (env.cert.empty()) return "no certificate: " + env.cert_error;
    int rc = server ? (tf_options_set_str(opts, TRUFLUX_OPT_TLS_CERT_FILE, env.cert.c_str()) |
                       tf_options_set_str(opts, TRUFLUX_OPT_TLS_KEY_FILE, env.key.c_str()))
                    : tf_options_set_int(opts, TRUFLUX_OPT_TLS_INSECURE, 1);
    return rc == 0 ? "" : std::string(NOT_IN_BUILD) + ": no TLS options";
}

}  // namespace

const std::vector<TfSystem> &tf_systems() {
    // One entry per truflux transport and cipher. Whether this build of the library has it
    // is found by trying (tf_probe): an entry for a transport that has not landed yet is
    // listed as missing, not an error. The encrypted ones are held to the AES-GCM floor of
    // the library's crypto backend (tf_crypto_backend()).
    static const std::vector<TfSystem> v = {
        {"truflux-tcp", "tcp", "floor", "truflux over plain TCP", nullptr},
#if TFBENCH_HAS_SECURITY
        {"truflux-tcp-aesgcm", "tcp", aesgcm_own_floor(),
         std::string("truflux over TCP, secure layer (Noise NN) with AES-256-GCM on ") +
             tf_crypto_backend(),
         secure_with("AESGCM")},
        {"truflux-tcp-chachapoly", "tcp", aesgcm_own_floor(),
         std::string("truflux over TCP, secure layer (Noise NN) with ChaCha20-Poly1305 on ") +
             tf_crypto_backend(),
         secure_with("ChaChaPoly")},
#endif
        {"truflux-tls", "tls", tls_floor(),
         "truflux over TLS 1.2 (mbedTLS's handshake, the library's AES-256-GCM records)",
         tls_options},
        {"truflux-ws", "ws", "floor", "truflux over WebSocket (ws://)", nullptr},
        {"truflux-wss", "wss", tls_floor(), "truflux over WebSocket over TLS (wss://)",
         tls_options},
    };
    return v;
}

const TfSystem *find_tf_system(const std::string &name) {
    for (const TfSystem &t : tf_systems())
        if (t.name == name) return &t;
    return nullptr;
}

const std::vector<System> &all_systems() {
    static const std::vector<System> v = build_systems();
    return v;
}

const System *find_system(const std::string &name) {
    for (const System &s : all_systems())
        if (s.name == name) return &s;
    return nullptr;
}

}  // namespace tfbench
