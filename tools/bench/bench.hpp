// tools/bench/bench.hpp: `truflux bench`, shared between its files.
//
//   bench_main.cpp   options, and which mode runs (table, scale, profile, internal role)
//   systems.cpp      the systems measured, one entry each, and how to start them
//   runner.cpp       child processes: start, read their lines, bound them in time
//   report.cpp       medians, the text table and the JSON document
//   tf_roles.cpp     the truflux sides of every measurement (run as `truflux bench --role`)
//   scale.cpp        --connections and --fanout
//   profile.cpp      --callgrind, --allocs, --syscalls
//
// Every measurement runs its client and its server as two processes. The C peers and the
// floor speak one small command-line contract (peer_common.h); the truflux sides are this
// very binary started again with `--role`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tfbench {

// One row of the table: `count` roundtrips of `size` bytes.
struct Row {
    std::string name;
    std::size_t size = 0;
    long count = 0;
};

// What the driver prepared once for every system: where programs are, key material.
struct Env {
    std::string self_exe;    // this truflux binary
    std::string bin_dir;     // the C peers and the floor (next to this binary, in bench/)
    std::string js_dir;      // tools/bench/peers in the source tree (the Node peer)
    std::string node;        // the node executable, or empty
    std::string tmpdir;      // scratch for this run (certificates, profiles)
    std::string cert, key;   // a self-signed certificate for 127.0.0.1 and its key (PEM)
    std::string certkey;     // both in one file (NNG wants that)
    std::string cert_error;  // why there is no certificate, if there is none
    int pin_cpu = -1;        // >= 0: every process of a measurement runs on this CPU only
    double timeout = 0;      // seconds allowed for one sample
};

// How to start one measurement's two processes. The runner appends the per-run arguments
// (client: --port, --size, --count and, when the server printed one, --extra).
struct Launch {
    std::vector<std::string> server, client;
    std::vector<std::string> env;  // NAME=VALUE for both processes
};

// One system of the table. Adding a transport or a cipher to truflux is one more entry in
// systems.cpp (see tf_system below), nothing else.
struct System {
    std::string name;
    std::string kind;         // "truflux", "floor" or "peer"
    std::string ref;          // the floor this system's ratio is taken against
    std::string description;
    bool in_profile = false;  // C code worth running under valgrind (--callgrind, --allocs)
    // Fills the launch; returns "" when the system can run here, else why not.
    std::function<std::string(const Env &, Launch &)> prepare;
};

const std::vector<System> &all_systems();
const System *find_system(const std::string &name);

// The truflux sides of a system: the URL scheme and the options each side needs. These
// entries are the whole of what a new truflux transport or cipher adds to the benchmark.
struct TfSystem {
    std::string name;         // as in --systems, e.g. "truflux-tcp"
    std::string scheme;       // the URL scheme: "tcp", "tls", "ws", "wss"
    std::string ref;          // its floor
    std::string description;
    // Sets options on a side (server when `server`); "" or an error. May be NULL.
    std::function<std::string(void *options, bool server, const Env &)> configure;
};
const std::vector<TfSystem> &tf_systems();
// "" when this build of the library can run the system (a server listens with its
// options), else why not (tf_roles.cpp).
std::string tf_probe(const TfSystem &sys, const Env &env);
// How tf_probe's reasons start: the library of this build lacks the feature (a transport
// or layer not landed or not compiled in), as opposed to a missing package.
constexpr const char *NOT_IN_BUILD = "not in this build of the library";
const TfSystem *find_tf_system(const std::string &name);

// ---- child processes (runner.cpp) ----------------------------------------------------

class Child {
public:
    Child() = default;
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;
    ~Child();

    // Starts argv with stdout on a pipe, stdin on a pipe when `with_stdin`, and stderr kept
    // in a file (for error reports). Returns "" or an error.
    std::string start(const std::vector<std::string> &argv, const std::vector<std::string> &env,
                      int pin_cpu, bool with_stdin = false);
    // Reads one line of its stdout within `timeout` seconds. false on EOF or timeout.
    bool read_line(std::string &line, double timeout);
    // Closes its stdin (a role that waits for it then ends).
    void close_stdin();
    // Waits for it to exit within `timeout` seconds (then kills it). Returns the exit status
    // as from waitpid, or -1 when it had to be killed.
    int wait(double timeout);
    void kill_now();
    pid_t pid() const { return pid_; }
    // The last lines it wrote to stderr.
    std::string stderr_tail() const;

private:
    pid_t pid_ = -1;
    int out_ = -1, in_ = -1;
    std::string buf_, err_path_;
};

struct Sample {
    bool ok = false;
    std::string error;
    double seconds = 0, cpu_client = 0, cpu_server = 0;
    double load1 = 0;  // the 1-minute load average when the sample ended
    std::vector<std::string> client_lines;  // what the client printed before RESULT
};

// One roundtrip measurement: a fresh server, a fresh client, one connection. `wrap_server`
// and `wrap_client` go in front of each argv (valgrind, strace, env).
Sample run_sample(const Launch &launch, const Env &env, const Row &row,
                  const std::vector<std::string> &wrap_server = {},
                  const std::vector<std::string> &wrap_client = {});

// ---- reporting (report.cpp) -------------------------------------------------------------

struct Cell {
    std::string system;
    std::string ref;  // the floor its `x ref` is taken against
    std::vector<Sample> samples;
};

struct RunInfo {
    std::string date, machine, kernel, command, load_start, load_end;
    int cpus = 0, reps = 0, pin_cpu = -1;
    std::vector<std::string> notes;
};

double median(std::vector<double> v);
std::string load_average();
std::string utc_now();
std::string cpu_model();
std::string json_escape(const std::string &s);

// rows[i] holds the cells of row i, one per system, in the order of `systems`.
void print_table(std::FILE *out, const RunInfo &info, const std::vector<Row> &rows,
                 const std::vector<std::vector<Cell>> &cells);
void print_json(std::FILE *out, const RunInfo &info, const std::vector<Row> &rows,
                const std::vector<std::vector<Cell>> &cells);

// ---- modes ---------------------------------------------------------------------------

int run_role(const std::map<std::string, std::string> &opts);
int run_scale(const Env &env, const std::map<std::string, std::string> &opts, bool json);
// --files SIZE: file throughput against the file floors, and message roundtrips meanwhile.
int run_files(const Env &env, const std::vector<std::string> &systems, int reps, RunInfo &info,
              const std::map<std::string, std::string> &opts, bool json);
// The truflux sides of --files (`--role file-server|file-client`).
int run_file_role(const TfSystem &sys, const Env &env, bool server,
                  const std::map<std::string, std::string> &opts);
// `row`: the size to profile and the smaller of two counts (NULL: 64 B, 1000 and 3000).
int run_profile(const Env &env, const std::vector<std::string> &systems, const Row *row,
                const std::map<std::string, std::string> &opts, bool json);

// Raises the open-file limit to at least n (as far as the hard limit, or past it as root).
long raise_nofile(long n);

}  // namespace tfbench
