// tools/bench/profile.cpp: where a roundtrip's cost goes (64 B unless --rows names another
// size), in counts that a noisy,
// shared machine does not blur: instructions (valgrind's callgrind), heap allocations (an
// LD_PRELOAD counter, malloc_count.c) and system calls (strace -c).
//
// Every count is taken by difference: the same system runs N1 and N2 roundtrips, and
// (count(N2) - count(N1)) / (N2 - N1) is the cost of one roundtrip, with the start-up, the
// handshakes and the teardown cancelled out.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bench.hpp"

namespace tfbench {
namespace {

// The roundtrip measured: its size and the two counts (64 B: 1000 and 3000 roundtrips;
// with --rows SIZExCOUNT: COUNT and 3 x COUNT).
struct Plan {
    std::size_t size = 64;
    long n1 = 1000, n2 = 3000;
};

using Counts = std::map<std::string, double>;  // item (function, syscall) -> count

std::string find_program(const std::string &prog) {
    const char *path = getenv("PATH");
    std::istringstream in(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(in, dir, ':')) {
        std::string p = dir + "/" + prog;
        if (access(p.c_str(), X_OK) == 0) return p;
    }
    return "";
}

double parse_number(std::string s) {
    s.erase(std::remove(s.begin(), s.end(), ','), s.end());
    return std::atof(s.c_str());
}

// Self cost per function from callgrind_annotate; "TOTAL" holds the program's total.
Counts callgrind_counts(const std::string &annotate, const std::string &file, std::string &err) {
    Counts c;
    Child a;
    std::string e = a.start({annotate, "--inclusive=no", "--auto=no", "--threshold=100", file}, {}, -1);
    if (!e.empty()) {
        err = e;
        return c;
    }
    std::string line;
    while (a.read_line(line, 120)) {
        std::istringstream in(line);
        std::string num, rest;
        if (!(in >> num) || num.empty() || !std::isdigit((unsigned char)num[0])) continue;
        std::getline(in, rest);
        std::size_t p = rest.find_first_not_of(' ');
        if (p == std::string::npos) continue;
        rest = rest.substr(p);
        if (rest[0] == '(') {  // "(12.34%)"
            std::size_t close = rest.find(')');
            rest = close == std::string::npos ? "" : rest.substr(close + 1);
            p = rest.find_first_not_of(' ');
            rest = p == std::string::npos ? "" : rest.substr(p);
        }
        if (rest.empty()) continue;
        if (rest == "PROGRAM TOTALS") {
            c["TOTAL"] = parse_number(num);
            continue;
        }
        // "file:function [object]": costs of one function can come in pieces (inlined
        // headers), named by the function alone. The file never holds a ':', a C++ name may.
        std::size_t colon = rest.find(':'), br = rest.rfind(" [");
        std::string object;
        if (br != std::string::npos && br > colon) {
            object = rest.substr(br + 2);
            if (!object.empty() && object.back() == ']') object.pop_back();
            object = object.substr(object.rfind('/') + 1);
            rest.erase(br);
        }
        if (colon != std::string::npos) rest.erase(0, colon + 1);
        // A function without symbols (a stripped library) is known by its address alone.
        if (rest.compare(0, 2, "0x") == 0 && !object.empty()) rest += " in " + object;
        c[rest] += parse_number(num);
    }
    if (a.wait(30) != 0 || !c.count("TOTAL")) err = "callgrind_annotate failed: " + a.stderr_tail();
    return c;
}

// "allocs N frees N bytes N" from malloc_count.c.
Counts alloc_counts(const std::string &file, std::string &err) {
    Counts c;
    std::ifstream f(file);
    std::string k;
    double v;
    while (f >> k >> v) c[k] = v;
    if (!c.count("allocs")) err = "no counts in " + file + " (was the counter preloaded?)";
    return c;
}

// Calls per system call from `strace -c`'s summary.
Counts syscall_counts(const std::string &file, std::string &err) {
    Counts c;
    std::ifstream f(file);
    std::string line;
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::vector<std::string> tok;
        std::string t;
        while (in >> t) tok.push_back(t);
        if (tok.size() < 5 || !std::isdigit((unsigned char)tok[0][0]) ||
            tok.back() == "total")
            continue;
        c[tok.back()] += parse_number(tok[3]);
        c["TOTAL"] += parse_number(tok[3]);
    }
    if (c.empty()) err = "no strace summary in " + file;
    return c;
}

Counts per_roundtrip(const Plan &p, const Counts &a, const Counts &b) {
    Counts d;
    for (const auto &kv : b) {
        auto it = a.find(kv.first);
        double v = (kv.second - (it == a.end() ? 0 : it->second)) / (double)(p.n2 - p.n1);
        d[kv.first] = v;
    }
    for (const auto &kv : a)
        if (!b.count(kv.first)) d[kv.first] = -kv.second / (double)(p.n2 - p.n1);
    return d;
}

struct Measure {
    std::string system, error;
    Counts client, server;
    bool ok = false;
};

enum class Tool { callgrind, allocs, syscalls };

const char *tool_name(Tool t) {
    return t == Tool::callgrind ? "callgrind" : t == Tool::allocs ? "allocs" : "syscalls";
}

Measure measure(const Env &env0, const Plan &plan, const System &sys, Tool tool) {
    Measure m;
    m.system = sys.name;
    Launch l;
    std::string why = sys.prepare(env0, l);
    if (!why.empty()) {
        m.error = why;
        return m;
    }
    Env env = env0;
    env.timeout = std::max(env.timeout, 900.0);
    std::string valgrind = find_program("valgrind"), annotate = find_program("callgrind_annotate");
    std::string strace = find_program("strace");
    std::string preload = env.bin_dir + "/libtfbench_malloc_count.so";
    if (tool == Tool::callgrind && (valgrind.empty() || annotate.empty())) {
        m.error = "valgrind is not installed (scripts/bench-deps)";
        return m;
    }
    if (tool == Tool::syscalls && strace.empty()) {
        m.error = "strace is not installed (scripts/bench-deps)";
        return m;
    }
    if (tool == Tool::allocs && access(preload.c_str(), R_OK) != 0) {
        m.error = preload + " was not built";
        return m;
    }
    Counts c[2][2];  // [run][0 client, 1 server]
    for (int run = 0; run < 2; run++) {
        Row row{"profile", plan.size, run == 0 ? plan.n1 : plan.n2};
        std::string base = env.tmpdir + "/" + sys.name + "." + tool_name(tool) + "." +
                           std::to_string(row.count);
        std::string out[2] = {base + ".client", base + ".server"};
        std::vector<std::string> wrap[2];
        for (int side = 0; side < 2; side++) {
            if (tool == Tool::callgrind)
                wrap[side] = {valgrind, "--tool=callgrind", "--callgrind-out-file=" + out[side]};
            else if (tool == Tool::allocs)
                wrap[side] = {"env", "LD_PRELOAD=" + preload, "TFBENCH_MALLOC_OUT=" + out[side]};
            else
                wrap[side] = {strace, "-f", "-c", "-o", out[side]};
        }
        Sample s = run_sample(l, env, row, wrap[1], wrap[0]);
        if (!s.ok) {
            m.error = s.error;
            return m;
        }
        for (int side = 0; side < 2; side++) {
            std::string err;
            if (tool == Tool::callgrind)
                c[run][side] = callgrind_counts(annotate, out[side], err);
            else if (tool == Tool::allocs)
                c[run][side] = alloc_counts(out[side], err);
            else
                c[run][side] = syscall_counts(out[side], err);
            if (!err.empty()) {
                m.error = err;
                return m;
            }
        }
    }
    m.client = per_roundtrip(plan, c[0][0], c[1][0]);
    m.server = per_roundtrip(plan, c[0][1], c[1][1]);
    m.ok = true;
    return m;
}

double get(const Counts &c, const std::string &k) {
    auto it = c.find(k);
    return it == c.end() ? 0 : it->second;
}

// The items that cost most per roundtrip, largest first.
std::vector<std::pair<std::string, double>> top(const Counts &c, std::size_t n, double min) {
    std::vector<std::pair<std::string, double>> v;
    for (const auto &kv : c)
        if (kv.first != "TOTAL" && kv.second >= min) v.push_back(kv);
    std::sort(v.begin(), v.end(), [](const auto &a, const auto &b) { return a.second > b.second; });
    if (v.size() > n) v.resize(n);
    return v;
}

std::string shorten(std::string s) {
    if (s.size() > 70) s = s.substr(0, 67) + "...";
    return s;
}

void print_text(const Plan &p, Tool tool, const std::vector<Measure> &ms) {
    const char *what = tool == Tool::callgrind ? "instructions (callgrind, user space)"
                       : tool == Tool::allocs  ? "heap allocations (malloc_count.c)"
                                               : "system calls (strace -c)";
    std::printf("\n%s per %zu B roundtrip, = (count(%ld) - count(%ld)) / %ld\n", what, p.size,
                p.n2, p.n1, p.n2 - p.n1);
    const char *key = tool == Tool::allocs ? "allocs" : "TOTAL";
    std::printf("  %-22s %12s %12s %12s\n", "system", "client", "server", "total");
    for (const Measure &m : ms) {
        if (!m.ok) {
            std::printf("  %-22s not measured: %s\n", m.system.c_str(), m.error.c_str());
            continue;
        }
        double cl = get(m.client, key), sv = get(m.server, key);
        std::printf("  %-22s %12.1f %12.1f %12.1f\n", m.system.c_str(), cl, sv, cl + sv);
    }
    for (const Measure &m : ms) {
        if (!m.ok || tool == Tool::allocs) continue;
        for (int side = 0; side < 2; side++) {
            const Counts &c = side ? m.server : m.client;
            std::printf("  %s %s, largest per roundtrip:\n", m.system.c_str(),
                        side ? "server" : "client");
            for (const auto &kv : top(c, tool == Tool::callgrind ? 15 : 12, 0.5))
                std::printf("    %10.1f  %s\n", kv.second, shorten(kv.first).c_str());
        }
    }
}

void print_json(Tool tool, const std::vector<Measure> &ms, bool last) {
    std::printf("    \"%s\": [", tool_name(tool));
    for (std::size_t i = 0; i < ms.size(); i++) {
        const Measure &m = ms[i];
        std::printf("%s\n      {\"system\": \"%s\", \"ok\": %s", i ? "," : "", m.system.c_str(),
                    m.ok ? "true" : "false");
        if (!m.ok) {
            std::printf(", \"error\": \"%s\"}", json_escape(m.error).c_str());
            continue;
        }
        for (int side = 0; side < 2; side++) {
            const Counts &c = side ? m.server : m.client;
            std::printf(", \"%s\": {", side ? "server" : "client");
            bool first = true;
            for (const auto &kv : top(c, 40, tool == Tool::allocs ? -1e18 : 0.5)) {
                std::printf("%s\"%s\": %.2f", first ? "" : ", ", json_escape(kv.first).c_str(),
                            kv.second);
                first = false;
            }
            if (c.count("TOTAL"))
                std::printf("%s\"TOTAL\": %.2f", first ? "" : ", ", get(c, "TOTAL"));
            std::printf("}");
        }
        std::printf("}");
    }
    std::printf("\n    ]%s\n", last ? "" : ",");
}

}  // namespace

int run_profile(const Env &env, const std::vector<std::string> &names, const Row *row,
                const std::map<std::string, std::string> &o, bool json) {
    Plan plan;
    if (row) {
        plan.size = row->size;
        plan.n1 = row->count;
        plan.n2 = 3 * row->count;
    }
    std::vector<const System *> systems;
    for (const std::string &n : names) systems.push_back(find_system(n));
    if (systems.empty())
        for (const System &s : all_systems())
            if (s.in_profile && (s.kind == "truflux" || s.name == "floor")) systems.push_back(&s);
    std::vector<Tool> tools;
    if (o.count("callgrind")) tools.push_back(Tool::callgrind);
    if (o.count("allocs")) tools.push_back(Tool::allocs);
    if (o.count("syscalls")) tools.push_back(Tool::syscalls);
    std::string load_start = load_average();
    bool failed = false;
    std::vector<std::vector<Measure>> all;
    for (Tool t : tools) {
        std::vector<Measure> ms;
        for (const System *s : systems) {
            if (!s->in_profile) {
                Measure m;
                m.system = s->name;
                m.error = "not a native program (valgrind and an LD_PRELOAD counter would "
                          "measure the runtime, not the library)";
                ms.push_back(m);
                continue;
            }
            std::fprintf(stderr, "bench: %s %s ...\n", tool_name(t), s->name.c_str());
            ms.push_back(measure(env, plan, *s, t));
            failed = failed || !ms.back().ok;
        }
        all.push_back(ms);
    }
    if (json) {
        std::printf("{\n  \"date\": \"%s\",\n  \"load_start\": \"%s\",\n  \"load_end\": \"%s\",\n"
                    "  \"row\": {\"size\": %zu, \"counts\": [%ld, %ld]},\n  \"per_roundtrip\": {\n",
                    utc_now().c_str(), load_start.c_str(), load_average().c_str(), plan.size,
                    plan.n1, plan.n2);
        for (std::size_t i = 0; i < tools.size(); i++)
            print_json(tools[i], all[i], i + 1 == tools.size());
        std::printf("  }\n}\n");
    } else {
        std::printf("truflux bench, %s, %s; load average %s at start, %s at end\n",
                    utc_now().c_str(), cpu_model().c_str(), load_start.c_str(),
                    load_average().c_str());
        for (std::size_t i = 0; i < tools.size(); i++) print_text(plan, tools[i], all[i]);
    }
    return failed ? 1 : 0;
}

}  // namespace tfbench
