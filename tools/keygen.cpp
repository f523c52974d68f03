// tools/keygen.cpp: `truflux keygen NAME`: a static key pair for the secure layer.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <truflux.hpp>

#include "args.hpp"
#include "commands.hpp"

namespace tfcli {
namespace {

const char keygen_usage[] =
    "usage: truflux keygen NAME [--force]\n"
    "\n"
    "Makes an X25519 key pair for the secure layer: NAME.key holds the private key (mode\n"
    "0600: give it to `truflux serve --key` or `truflux connect --key`, and to nobody else),\n"
    "NAME.pub the public key, one line of base64 (give it to peers: `connect --pin`, or a\n"
    "server's --authorized-keys file). Prints the public key.\n"
    "\n"
    "options:\n"
    "  --force   replace existing files\n"
    "  --help    this text\n";

// Writes text to path with the mode, refusing to replace a file unless force.
bool write_file(const std::string &path, const char *text, mode_t mode, bool force) {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
    int fd = open(path.c_str(), flags, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            std::fprintf(stderr, "truflux keygen: %s exists (--force replaces it)\n", path.c_str());
        else
            std::fprintf(stderr, "truflux keygen: %s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    // A replaced file keeps its old mode through O_TRUNC: set ours.
    bool ok = fchmod(fd, mode) == 0;
    size_t len = std::strlen(text), off = 0;
    while (ok && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ok = false;
        else off += (size_t)n;
    }
    if (close(fd) != 0) ok = false;
    if (!ok) std::fprintf(stderr, "truflux keygen: %s: %s\n", path.c_str(), std::strerror(errno));
    return ok;
}

}  // namespace

int keygen_main(int argc, char **argv) {
    Args args;
    std::string err;
    if (!args.parse(argc, argv, {{"force", false}, {"help", false}}, err)) {
        std::fprintf(stderr, "truflux keygen: %s\n\n%s", err.c_str(), keygen_usage);
        return exit_usage;
    }
    if (args.has("help")) {
        std::fputs(keygen_usage, stdout);
        return exit_ok;
    }
    if (args.positionals().size() != 1 || args.positionals()[0].empty()) {
        std::fprintf(stderr, "truflux keygen: NAME is required\n\n%s", keygen_usage);
        return exit_usage;
    }
    const std::string name = args.positionals()[0];
    bool force = args.has("force");
    std::uint8_t secret[TRUFLUX_KEY_SIZE], pub[TRUFLUX_KEY_SIZE];
    char secret_line[TRUFLUX_KEY_TEXT_SIZE + 1], pub_line[TRUFLUX_KEY_TEXT_SIZE + 1];
    int rc = tf_keypair_generate(secret, pub);
    if (rc != 0) {
        std::fprintf(stderr, "truflux keygen: %s\n", tf_strerror(rc));
        return exit_failure;
    }
    tf_key_encode(secret, secret_line);
    tf_key_encode(pub, pub_line);
    tf_key_wipe(secret, sizeof secret);
    std::strcat(secret_line, "\n");
    std::strcat(pub_line, "\n");
    bool wrote_key = write_file(name + ".key", secret_line, 0600, force);
    tf_key_wipe(secret_line, sizeof secret_line);
    if (!wrote_key) return exit_failure;
    if (!write_file(name + ".pub", pub_line, 0644, force)) {
        // Half a pair is worse than none: the private key goes too.
        unlink((name + ".key").c_str());
        return exit_failure;
    }
    std::fputs(pub_line, stdout);
    return exit_ok;
}

}  // namespace tfcli
