// tools/main.cpp: the `truflux` command: dispatches to one subcommand per file.
#include <cstdio>
#include <cstring>

#include <truflux.hpp>

#include "commands.hpp"

namespace {

const tfcli::Command commands[] = {
    {"serve", "run a server answering `echo` and relaying `chat`", tfcli::serve_main},
    {"connect", "connect to a server, send standard input line by line, print what arrives",
     tfcli::connect_main},
    {"send-file", "send files to a server (`serve --accept-files`), with a progress bar",
     tfcli::send_file_main},
    {"bench", "measure roundtrips against the loopback floor, ZeroMQ, NNG and ws",
     tfcli::bench_main},
    {"keygen", "make a key pair for the secure layer: NAME.key and NAME.pub",
     tfcli::keygen_main},
};

void usage(std::FILE *out) {
    std::fprintf(out,
                 "usage: truflux [--help | --version] COMMAND [ARGS...]\n"
                 "\n"
                 "commands:\n");
    for (const tfcli::Command &c : commands)
        std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
    std::fprintf(out, "\nRun `truflux COMMAND --help` for a command's options.\n");
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return tfcli::exit_usage;
    }
    const char *first = argv[1];
    if (std::strcmp(first, "--help") == 0 || std::strcmp(first, "-h") == 0) {
        usage(stdout);
        return tfcli::exit_ok;
    }
    if (std::strcmp(first, "--version") == 0) {
        std::printf("truflux %s (library %s, wire protocol %d.%d)\n", TRUFLUX_VERSION_STRING,
                    tf_version(), TRUFLUX_WIRE_VERSION_MAJOR, TRUFLUX_WIRE_VERSION_MINOR);
        return tfcli::exit_ok;
    }
    for (const tfcli::Command &c : commands)
        if (std::strcmp(first, c.name) == 0)
            return c.run(argc - 1, argv + 1);
    if (first[0] == '-')
        std::fprintf(stderr, "truflux: unknown option %s\n\n", first);
    else
        std::fprintf(stderr, "truflux: unknown command %s\n\n", first);
    usage(stderr);
    return tfcli::exit_usage;
}
