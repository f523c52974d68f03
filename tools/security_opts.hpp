// tools/security_opts.hpp: the options `truflux serve` and `truflux connect` share for the
// secure layer (Noise: --secure, --key, --pin, --pattern, --ciphers, --authorized-keys,
// --rekey-*) and TLS (--tls, --tls-cert, --tls-key, --tls-ca, --tls-pin, ...).
#pragma once

#include <string>
#include <vector>

#include <truflux.hpp>

#include "args.hpp"

namespace tfcli {

// Adds the options of serve (server) or connect (client) to a command's list.
void add_security_specs(std::vector<OptSpec> &specs, bool server);
// Their lines for the command's --help.
const char *security_usage(bool server);
// Sets opts from the options given: "" or what is wrong, for a usage error. Key files are
// read by the library when the server or client is made (a bad one fails then).
std::string apply_security(const Args &args, bool server, truflux::Options &opts);
// serve: listens on each --tls and --wss HOST:PORT and prints "truflux listening on
// tls://HOST:PORT" (wss://...; the port the system chose when the first listener is one of
// them). false after printing
// why it failed.
bool listen_tls(truflux::Server &server, const Args &args, bool first_listener);
// Reports on stderr a failed securing that lets the connection go on in plaintext, and,
// unless quiet, each established one.
void report_security(truflux::Server &server, bool quiet);

}  // namespace tfcli
