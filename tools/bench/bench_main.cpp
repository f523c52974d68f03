// tools/bench/bench_main.cpp: `truflux bench`: options, the systems and rows a run selects,
// and the interleaved repetitions of the roundtrip table.
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <sstream>

#include "../args.hpp"
#include "../commands.hpp"
#include "bench.hpp"

#ifndef TFBENCH_PEERS_DIR
#define TFBENCH_PEERS_DIR ""
#endif

namespace tfbench {
namespace {

const char bench_usage[] =
    "usage: truflux bench [--systems LIST] [--rows LIST] [--reps N] [--json] [options]\n"
    "       truflux bench --list\n"
    "       truflux bench --connections N [--systems LIST] [--json]\n"
    "       truflux bench --fanout N [--messages M] [--loops 1,2] [--json]\n"
    "       truflux bench --files SIZE [--systems LIST] [--reps N] [--json]\n"
    "       truflux bench --callgrind | --allocs | --syscalls [--systems LIST] [--json]\n"
    "\n"
    "Measures roundtrips of binary messages, one in flight, between a client and a server in\n"
    "two processes over loopback, for truflux and for its peers, and prints a table: median\n"
    "seconds of each row over the repetitions (which are interleaved: one of each system, then\n"
    "the next), MB/s one way, the ratio to the loopback floor measured in the same run, and\n"
    "CPU seconds (client + server). Each sample is a new connection; the timer starts once it\n"
    "is open and stops at the last echo. Systems whose programs or packages are missing are\n"
    "skipped with a note (scripts/bench-deps installs them).\n"
    "\n"
    "options:\n"
    "  --systems LIST     comma-separated systems (see --list); default: every available one.\n"
    "                     The floors the chosen systems are compared with are added.\n"
    "  --rows LIST        rows by name (64B,16kB,128kB,1MB,10MB: the default) or SIZExCOUNT,\n"
    "                     with k/M suffixes (kB = 1024 B), e.g. 64x100,1Mx5\n"
    "  --reps N           repetitions per row and system (default 3)\n"
    "  --json             print a JSON document instead of the table\n"
    "  --pin CPU          run every process on this one CPU (as taskset -c CPU): the 64 B\n"
    "                     row then shows per-message cost without cross-core wake-ups\n"
    "  --timeout SECONDS  longest one sample may take (default 300)\n"
    "  --alt-exe PATH     also run every chosen truflux system from another build's truflux\n"
    "                     binary, as NAME@alt, interleaved with this one (A/B of a change)\n"
    "  --files SIZE       move one file of SIZE bytes (k, M, G suffixes) from client to\n"
    "                     server per sample, for each truflux system and the file floors\n"
    "                     (sendfile into a file; AES-256-GCM records), while the client keeps\n"
    "                     one 64 B message in flight: throughput and those roundtrips\n"
    "  --list             the systems, one a line: NAME, KIND (truflux, floor, peer), STATUS\n"
    "                     (ok; absent: this build of the library lacks it; missing: a\n"
    "                     package is not installed), DESCRIPTION, REF (its floor), by tabs\n"
    "  --connections N    hold N idle truflux connections; report the server's memory per\n"
    "                     connection (from /proc of the server process; of several server\n"
    "                     processes, each with its share, when one process may not open N\n"
    "                     files)\n"
    "  --fanout N         broadcast 64 B messages to N clients; report deliveries per second\n"
    "  --messages M       broadcasts per --fanout run (default 2000)\n"
    "  --loops LIST       server loops for --connections/--fanout (default 1)\n"
    "  --callgrind        instructions per 64 B roundtrip, client and server (valgrind)\n"
    "  --allocs           heap allocations per 64 B roundtrip (an LD_PRELOAD counter)\n"
    "  --syscalls         system calls per 64 B roundtrip (strace -c)\n"
    "                     (these three count by difference, over 1000 and 3000 roundtrips;\n"
    "                     --rows SIZExCOUNT profiles that size over COUNT and 3 x COUNT)\n"
    "  --help             this text\n";

int usage_error(const std::string &msg) {
    std::fprintf(stderr, "truflux bench: %s\n\n%s", msg.c_str(), bench_usage);
    return tfcli::exit_usage;
}

std::vector<std::string> split(const std::string &s, char sep) {
    std::vector<std::string> v;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep))
        if (!cur.empty()) v.push_back(cur);
    return v;
}

std::string lower(std::string s) {
    for (char &c : s) c = (char)std::tolower((unsigned char)c);
    return s;
}

const std::vector<Row> &default_rows() {
    static const std::vector<Row> rows = {
        {"64B", 64, 10000},           {"16kB", 16384, 5000},         {"128kB", 131072, 1000},
        {"1MB", 1048576, 100},        {"10MB", 10485760, 10},
    };
    return rows;
}

// "64", "16k", "1M" -> bytes.
bool parse_size(std::string s, std::size_t &out) {
    std::size_t mult = 1;
    if (!s.empty() && (s.back() == 'k' || s.back() == 'K')) {
        mult = 1024;
        s.pop_back();
    } else if (!s.empty() && s.back() == 'M') {
        mult = 1048576;
        s.pop_back();
    }
    std::int64_t v;
    if (!tfcli::parse_int(s, 0, 1 << 28, v)) return false;
    out = (std::size_t)v * mult;
    return out <= (256u << 20);
}

bool parse_rows(const std::string &spec, std::vector<Row> &rows, std::string &err) {
    for (const std::string &item : split(spec, ',')) {
        bool named = false;
        for (const Row &r : default_rows())
            if (lower(r.name) == lower(item)) {
                rows.push_back(r);
                named = true;
            }
        if (named) continue;
        std::size_t x = item.find('x');
        Row r;
        std::int64_t count;
        if (x == std::string::npos || !parse_size(item.substr(0, x), r.size) ||
            !tfcli::parse_int(item.substr(x + 1), 1, 100000000, count)) {
            err = "bad row " + item + " (a name such as 64B, or SIZExCOUNT such as 16kx100)";
            return false;
        }
        r.count = (long)count;
        r.name = item;
        rows.push_back(r);
    }
    if (rows.empty()) err = "no rows";
    return !rows.empty();
}

std::string find_in_path(const std::string &prog) {
    const char *path = getenv("PATH");
    for (const std::string &dir : split(path ? path : "/usr/bin:/bin", ':')) {
        std::string p = dir + "/" + prog;
        if (access(p.c_str(), X_OK) == 0) return p;
    }
    return "";
}

// A self-signed certificate for 127.0.0.1 (the TLS systems' servers), made per run.
void make_certificate(Env &env) {
    std::string openssl = find_in_path("openssl");
    if (openssl.empty()) {
        env.cert_error = "the openssl command is not installed (scripts/bench-deps)";
        return;
    }
    std::string cert = env.tmpdir + "/cert.pem", key = env.tmpdir + "/key.pem";
    Child c;
    std::string err = c.start({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                               cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                               "subjectAltName=IP:127.0.0.1"},
                              {}, -1);
    int st = err.empty() ? c.wait(30) : -1;
    if (st != 0) {
        env.cert_error = "openssl req failed: " + (err.empty() ? c.stderr_tail() : err);
        return;
    }
    std::string both = env.tmpdir + "/certkey.pem";
    std::FILE *o = std::fopen(both.c_str(), "w");
    for (const std::string &part : {cert, key}) {
        std::FILE *i = std::fopen(part.c_str(), "r");
        char b[4096];
        std::size_t n;
        while (i && o && (n = std::fread(b, 1, sizeof b, i)) > 0) std::fwrite(b, 1, n, o);
        if (i) std::fclose(i);
    }
    if (!o) {
        env.cert_error = "cannot write " + both;
        return;
    }
    std::fclose(o);
    env.cert = cert;
    env.key = key;
    env.certkey = both;
}

Env make_env(int pin, double timeout) {
    Env env;
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    env.self_exe = n > 0 ? std::string(buf, (std::size_t)n) : "truflux";
    env.bin_dir = std::filesystem::path(env.self_exe).parent_path().string() + "/bench";
    const char *peers = getenv("TRUFLUX_BENCH_PEERS");
    env.js_dir = peers && *peers ? peers : TFBENCH_PEERS_DIR;
    env.node = find_in_path("node");
    const char *tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/tfbench.XXXXXX";
    std::vector<char> t(tmpl.begin(), tmpl.end());
    t.push_back('\0');
    env.tmpdir = mkdtemp(t.data()) ? t.data() : "/tmp";
    env.pin_cpu = pin;
    env.timeout = timeout;
    make_certificate(env);
    return env;
}

struct Selected {
    const System *sys;
    Launch launch;
};

int list_systems(const Env &env) {
    for (const System &s : all_systems()) {
        Launch l;
        std::string why = s.prepare(env, l);
        // "absent": this build of the library lacks it; "missing": a package or program is.
        std::string status = why.empty() ? "ok"
                             : why.compare(0, std::strlen(NOT_IN_BUILD), NOT_IN_BUILD) == 0
                                 ? "absent: " + why
                                 : "missing: " + why;
        std::printf("%s\t%s\t%s\t%s\t%s\n", s.name.c_str(), s.kind.c_str(), status.c_str(),
                    s.description.c_str(), s.ref.c_str());
    }
    return tfcli::exit_ok;
}

RunInfo run_info(int argc, char **argv, int reps, int pin) {
    RunInfo info;
    info.date = utc_now();
    info.machine = cpu_model();
    info.cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    if (uname(&u) == 0) info.kernel = u.release;
    info.command = "truflux";
    for (int i = 0; i < argc; i++) info.command += std::string(" ") + argv[i];
    info.load_start = load_average();
    info.reps = reps;
    info.pin_cpu = pin;
    return info;
}

int run_table(const Env &env, std::vector<Selected> &sel, const std::vector<Row> &rows, int reps,
              RunInfo &info, bool json) {
    std::vector<std::vector<Cell>> cells(rows.size());
    for (std::size_t r = 0; r < rows.size(); r++)
        for (const Selected &s : sel) cells[r].push_back({s.sys->name, s.sys->ref, {}});
    bool failed = false;
    for (int rep = 0; rep < reps; rep++) {
        for (std::size_t r = 0; r < rows.size(); r++) {
            for (std::size_t i = 0; i < sel.size(); i++) {
                Sample s = run_sample(sel[i].launch, env, rows[r]);
                cells[r][i].samples.push_back(s);
                if (s.ok)
                    std::fprintf(stderr, "bench: rep %d/%d %-6s %-22s %9.4f s  cpu %.3f s  load %.2f\n",
                                 rep + 1, reps, rows[r].name.c_str(), sel[i].sys->name.c_str(),
                                 s.seconds, s.cpu_client + s.cpu_server, s.load1);
                else
                    std::fprintf(stderr, "bench: rep %d/%d %-6s %-22s FAILED: %s\n", rep + 1, reps,
                                 rows[r].name.c_str(), sel[i].sys->name.c_str(), s.error.c_str());
                failed = failed || !s.ok;
            }
        }
    }
    info.load_end = load_average();
    if (json)
        print_json(stdout, info, rows, cells);
    else
        print_table(stdout, info, rows, cells);
    return failed ? tfcli::exit_failure : tfcli::exit_ok;
}

}  // namespace

int bench_main(int argc, char **argv) {
    tfcli::Args args;
    std::string err;
    const std::vector<tfcli::OptSpec> specs = {
        {"systems", true},   {"rows", true},        {"reps", true},      {"json", false},
        {"pin", true},       {"timeout", true},     {"list", false},     {"connections", true},
        {"fanout", true},    {"messages", true},    {"loops", true},     {"callgrind", false},
        {"allocs", false},   {"syscalls", false},   {"help", false},     {"alt-exe", true},
        // Internal: the truflux sides of a measurement, started by the driver.
        {"role", true},      {"system", true},      {"port", true},      {"size", true},
        {"count", true},     {"extra", true},       {"cert", true},      {"key", true},
        {"clients", true},   {"files", true},       {"dir", true},       {"file", true},
        {"sendfile", true},  {"net", true},
    };
    if (!args.parse(argc, argv, specs, err)) return usage_error(err);
    if (args.has("help")) {
        std::fputs(bench_usage, stdout);
        return tfcli::exit_ok;
    }
    if (!args.positionals().empty()) return usage_error("unexpected " + args.positionals()[0]);
    std::map<std::string, std::string> opts;
    for (const tfcli::OptSpec &s : specs)
        if (args.has(s.name)) opts[s.name] = args.get(s.name);
    if (args.has("role")) return run_role(opts);

    std::int64_t reps = 3, pin = -1;
    double timeout = 300;
    if (args.has("reps") && !tfcli::parse_int(args.get("reps"), 1, 1000, reps))
        return usage_error("--reps needs a number from 1 to 1000");
    if (args.has("pin") && !tfcli::parse_int(args.get("pin"), 0, 4095, pin))
        return usage_error("--pin needs a CPU number");
    if (args.has("timeout") && !tfcli::parse_seconds(args.get("timeout"), timeout))
        return usage_error("--timeout needs a number of seconds");
    std::vector<Row> rows;
    if (!parse_rows(args.get("rows", "64B,16kB,128kB,1MB,10MB"), rows, err)) return usage_error(err);
    std::vector<std::string> names = split(args.get("systems"), ',');
    if (args.has("files")) {
        Env env = make_env((int)pin, timeout);
        std::error_code ec;
        RunInfo info = run_info(argc, argv, (int)reps, (int)pin);
        int rc = run_files(env, names, (int)reps, info, opts, args.has("json"));
        std::filesystem::remove_all(env.tmpdir, ec);
        return rc;
    }
    for (const std::string &n : names)
        if (!find_system(n)) return usage_error("unknown system " + n + " (see --list)");

    Env env = make_env((int)pin, timeout);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code ec;
            if (dir.size() > 5) std::filesystem::remove_all(dir, ec);
        }
    } cleanup{env.tmpdir};
    bool json = args.has("json");

    if (args.has("list")) return list_systems(env);
    if (args.has("connections") || args.has("fanout")) return run_scale(env, opts, json);
    if (args.has("callgrind") || args.has("allocs") || args.has("syscalls"))
        return run_profile(env, names, args.has("rows") ? &rows[0] : nullptr, opts, json);

    // The systems: those asked for (each must be able to run) plus the floors they are held
    // to; or, by default, every one that can run here.
    bool explicit_list = !names.empty();
    if (!explicit_list)
        for (const System &s : all_systems()) names.push_back(s.name);
    for (std::size_t i = 0; i < names.size(); i++) {
        const System *s = find_system(names[i]);
        for (const std::string &f : {std::string("floor"), s->ref})
            if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(f);
    }
    RunInfo info = run_info(argc, argv, (int)reps, (int)pin);
    std::vector<Selected> sel;
    for (const System &s : all_systems()) {
        if (std::find(names.begin(), names.end(), s.name) == names.end()) continue;
        Selected x{&s, {}};
        std::string why = s.prepare(env, x.launch);
        if (why.empty()) {
            sel.push_back(std::move(x));
            continue;
        }
        if (explicit_list && s.kind != "floor")
            return std::fprintf(stderr, "truflux bench: %s cannot run: %s\n", s.name.c_str(),
                                why.c_str()), tfcli::exit_failure;
        info.notes.push_back("skipped " + s.name + ": " + why);
        std::fprintf(stderr, "bench: skipped %s: %s\n", s.name.c_str(), why.c_str());
    }
    if (sel.empty()) return std::fprintf(stderr, "truflux bench: nothing can run\n"), 1;
    std::deque<System> alt;  // the NAME@alt systems, alive as long as `sel`
    if (args.has("alt-exe")) {
        std::string exe = args.get("alt-exe");
        if (access(exe.c_str(), X_OK) != 0) return usage_error("--alt-exe: cannot run " + exe);
        // The other build may use the other crypto backend: its systems keep their own floors.
        std::map<std::string, std::string> alt_refs;
        {
            Child c;
            std::string line;
            if (c.start({exe, "bench", "--list"}, {}, -1).empty())
                while (c.read_line(line, 60)) {
                    std::vector<std::string> f = split(line, '\t');
                    if (f.size() >= 5) alt_refs[f[0]] = f[4];
                }
            c.wait(10);
        }
        std::size_t n = sel.size();
        for (std::size_t i = 0; i < n; i++) {
            if (sel[i].sys->kind != "truflux") continue;
            alt.push_back(*sel[i].sys);
            alt.back().name += "@alt";
            auto r = alt_refs.find(sel[i].sys->name);
            if (r != alt_refs.end()) alt.back().ref = r->second;
            Selected x{&alt.back(), sel[i].launch};
            x.launch.server[0] = x.launch.client[0] = exe;
            sel.push_back(std::move(x));
        }
        for (std::size_t i = n; i < sel.size(); i++) {
            const std::string ref = sel[i].sys->ref;
            bool have = false;
            for (const Selected &x : sel) have = have || x.sys->name == ref;
            const System *f = find_system(ref);
            Selected x{f, {}};
            if (!have && f && f->prepare(env, x.launch).empty()) sel.push_back(std::move(x));
        }
        info.notes.push_back("NAME@alt: the same system run by " + exe);
    }
    return run_table(env, sel, rows, (int)reps, info, json);
}

}  // namespace tfbench

namespace tfcli {
int bench_main(int argc, char **argv) { return tfbench::bench_main(argc, argv); }
}  // namespace tfcli
