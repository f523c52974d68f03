// tools/security_opts.cpp: secure-layer and TLS options of serve and connect (see
// security_opts.hpp).
#include "security_opts.hpp"

#include <cstdio>

namespace tfcli {

namespace {

const char server_usage[] =
    "\n"
    "security (docs/SECURITY.md):\n"
    "  --secure MODE             off, optional (encrypt clients that can) or required\n"
    "                            (refuse the others); default off, optional with --key\n"
    "  --key FILE                the server's static key (truflux keygen): NK, XX, IK\n"
    "  --pattern LIST            Noise patterns accepted, in priority order (NN,NK,XX,IK)\n"
    "  --ciphers LIST            ChaChaPoly,AESGCM in priority order (default: AESGCM\n"
    "                            first where the CPU has AES-NI, ChaChaPoly elsewhere)\n"
    "  --authorized-keys FILE    client public keys allowed in (one base64 key a line);\n"
    "                            clients must then authenticate (XX, IK)\n"
    "  --rekey-messages N        rekey each direction after N frames\n"
    "  --rekey-bytes N           ... after N bytes\n"
    "  --rekey-seconds S         ... after S seconds\n"
    "  --tls HOST:PORT           listen for TLS clients, tls://HOST:PORT (repeatable)\n"
    "  --wss HOST:PORT           listen for WebSocket clients over TLS, wss://HOST:PORT\n"
    "                            (repeatable)\n"
    "  --tls-cert FILE           the TLS certificate (PEM)\n"
    "  --tls-key FILE            its private key (PEM)\n"
    "  --tls-ca FILE             CAs for client certificates\n"
    "  --tls-client-cert MODE    none (default), optional or required\n";

const char client_usage[] =
    "\n"
    "security (docs/SECURITY.md):\n"
    "  --secure MODE             off, optional or required (default off; required with --pin)\n"
    "  --pin BASE64              the server's public key, pinned (NK, IK; XX checked); a\n"
    "                            server with another key is refused and nothing is sent\n"
    "  --pin-file FILE           the same from a .pub file\n"
    "  --key FILE                our static key (truflux keygen): XX, IK\n"
    "  --pattern LIST            Noise patterns offered (NN,NK,XX,IK)\n"
    "  --ciphers LIST            ChaChaPoly,AESGCM\n"
    "  --rekey-messages N, --rekey-bytes N, --rekey-seconds S\n"
    "                            rekey what we send after so many frames, bytes, seconds\n"
    "  --tls-ca FILE             verify a tls:// or wss:// server against these CAs\n"
    "                            (default: the system's)\n"
    "  --tls-pin SHA256          ... or against this certificate fingerprint (hex)\n"
    "  --tls-server-name NAME    the name to verify instead of the URL's host\n"
    "  --tls-cert FILE, --tls-key FILE\n"
    "                            a client certificate and its key (PEM)\n"
    "  --tls-insecure            do not verify the server (tests only)\n";

bool parse_policy(const std::string &s, truflux::Policy &p) {
    if (s == "off") p = truflux::Policy::Off;
    else if (s == "optional") p = truflux::Policy::Optional;
    else if (s == "required") p = truflux::Policy::Required;
    else return false;
    return true;
}

}  // namespace

void add_security_specs(std::vector<OptSpec> &specs, bool server) {
    for (const char *n : {"secure", "key", "pattern", "ciphers", "rekey-messages", "rekey-bytes",
                          "rekey-seconds", "tls-cert", "tls-key", "tls-ca"})
        specs.push_back({n, true});
    if (server) {
        for (const char *n : {"authorized-keys", "tls", "wss", "tls-client-cert"})
            specs.push_back({n, true});
    } else {
        for (const char *n : {"pin", "pin-file", "tls-pin", "tls-server-name"})
            specs.push_back({n, true});
        specs.push_back({"tls-insecure", false});
    }
}

const char *security_usage(bool server) { return server ? server_usage : client_usage; }

std::string apply_security(const Args &args, bool server, truflux::Options &opts) {
    if (args.has("secure")) {
        truflux::Policy p;
        if (!parse_policy(args.get("secure"), p))
            return "--secure must be off, optional or required";
        opts.secure(p);
    }
    if (args.has("key")) opts.static_key_file(args.get("key"));
    if (args.has("pattern")) {
        try {
            opts.secure_patterns(args.get("pattern"));
        } catch (const truflux::error &) {
            return "--pattern wants a list of NN, NK, XX, IK";
        }
    }
    if (args.has("ciphers")) {
        try {
            opts.secure_ciphers(args.get("ciphers"));
        } catch (const truflux::error &) {
            return "--ciphers wants a list of ChaChaPoly, AESGCM";
        }
    }
    std::int64_t n = 0;
    if (args.has("rekey-messages")) {
        if (!parse_int(args.get("rekey-messages"), 0, INT64_C(1) << 50, n))
            return "--rekey-messages wants a number";
        opts.set(truflux::Option::RekeyMessages, n);
    }
    if (args.has("rekey-bytes")) {
        if (!parse_int(args.get("rekey-bytes"), 0, INT64_C(1) << 50, n))
            return "--rekey-bytes wants a number";
        opts.set(truflux::Option::RekeyBytes, n);
    }
    if (args.has("rekey-seconds")) {
        double s = 0;
        if (!parse_seconds(args.get("rekey-seconds"), s) || s > 7 * 86400.0)
            return "--rekey-seconds wants a number of seconds (at most a week)";
        opts.set(truflux::Option::RekeyInterval, static_cast<std::int64_t>(s * 1000));
    }
    if (args.has("tls-cert") != args.has("tls-key"))
        return "--tls-cert and --tls-key go together";
    if (args.has("tls-cert")) opts.tls_cert(args.get("tls-cert"), args.get("tls-key"));
    if (args.has("tls-ca")) opts.tls_ca_file(args.get("tls-ca"));
    if (server) {
        if (args.has("authorized-keys")) opts.authorized_keys_file(args.get("authorized-keys"));
        if (args.has("tls-client-cert")) {
            std::string m = args.get("tls-client-cert");
            int mode = m == "none" ? 0 : m == "optional" ? 1 : m == "required" ? 2 : -1;
            if (mode < 0) return "--tls-client-cert must be none, optional or required";
            opts.tls_client_cert(mode);
        }
        if (args.has("tls") && !args.has("tls-cert"))
            return "--tls needs --tls-cert and --tls-key";
        if (args.has("wss") && !args.has("tls-cert"))
            return "--wss needs --tls-cert and --tls-key";
        return "";
    }
    if (args.has("pin") && args.has("pin-file")) return "--pin and --pin-file exclude each other";
    if (args.has("pin")) {
        try {
            opts.peer_key(truflux::key_from_base64(args.get("pin")));
        } catch (const truflux::error &) {
            return "--pin wants the server's public key: 44 characters of base64";
        }
    }
    if (args.has("pin-file")) opts.peer_key_file(args.get("pin-file"));
    if (args.has("tls-pin")) {
        try {
            opts.tls_pin_sha256(args.get("tls-pin"));
        } catch (const truflux::error &) {
            return "--tls-pin wants a SHA-256 fingerprint in hex (64 digits, colons allowed)";
        }
    }
    if (args.has("tls-server-name")) opts.tls_server_name(args.get("tls-server-name"));
    if (args.has("tls-insecure")) opts.tls_insecure(true);
    return "";
}

bool listen_tls(truflux::Server &server, const Args &args, bool first_listener) {
    bool first = first_listener;
    for (const char *scheme : {"tls", "wss"}) {
        for (const std::string &spec : args.all(scheme)) {
            std::size_t colon = spec.rfind(':');
            std::int64_t port = 0;
            if (colon == std::string::npos || colon == 0 ||
                !parse_int(spec.substr(colon + 1), 0, 65535, port)) {
                std::fprintf(stderr, "truflux serve: --%s wants HOST:PORT, got %s\n", scheme,
                             spec.c_str());
                return false;
            }
            std::string url = std::string(scheme) + "://" + spec;
            try {
                server.listen(url);
            } catch (const truflux::error &e) {
                std::fprintf(stderr, "truflux serve: cannot listen on %s: %s\n", url.c_str(),
                             e.what());
                return false;
            }
            // The C API knows the first listener's port only.
            std::string shown = spec;
            if (first) shown = spec.substr(0, colon + 1) + std::to_string(server.port());
            first = false;
            std::printf("truflux listening on %s://%s\n", scheme, shown.c_str());
        }
    }
    return true;
}

void report_security(truflux::Server &server, bool quiet) {
    server.on_secure_fail([](truflux::ConnectionRef, int code, std::string_view detail) {
        std::fprintf(stderr, "truflux serve: not secured: %s (%.*s)\n", tf_strerror(code),
                     static_cast<int>(detail.size()), detail.data());
    });
    if (quiet) return;
    server.on_secure([](truflux::ConnectionRef c) {
        try {
            truflux::SecureInfo i = c.secure_info();
            static const char *const pats[] = {"NN", "NK", "XX", "IK"};
            std::string who = i.has_peer_key ? " client key " + truflux::to_base64(i.peer_key) : "";
            std::fprintf(stderr, "truflux serve: secured with Noise %s, %s%s\n",
                         pats[static_cast<int>(i.pattern) & 3],
                         i.cipher == truflux::Cipher::AESGCM ? "AESGCM" : "ChaChaPoly",
                         who.c_str());
        } catch (const truflux::error &) {
        }
    });
}

}  // namespace tfcli
