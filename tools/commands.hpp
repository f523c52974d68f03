// tools/commands.hpp: the CLI's subcommands. Each lives in its own file and gets its argv
// with argv[0] set to the subcommand's name. Exit codes: 0 success, 1 failure, 2 usage.
#pragma once

namespace tfcli {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

struct Command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int serve_main(int argc, char **argv);
int connect_main(int argc, char **argv);
int send_file_main(int argc, char **argv);  // tools/send_file.cpp
int bench_main(int argc, char **argv);  // tools/bench/
int keygen_main(int argc, char **argv);  // tools/keygen.cpp

}  // namespace tfcli
