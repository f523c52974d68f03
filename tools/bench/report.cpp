// tools/bench/report.cpp: what a run prints. Each cell is the median of its repetitions;
// ratios are taken against a floor measured in the same run, so that the machine's load,
// which changes from minute to minute on a shared machine, weighs on both sides alike.
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "bench.hpp"

namespace tfbench {

double median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

std::string utc_now() {
    char buf[64];
    time_t t = time(nullptr);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.compare(0, 10, "model name") == 0) {
            std::size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(colon + 2);
        }
    }
    return "unknown CPU";
}

std::string json_escape(const std::string &s) {
    std::string o;
    for (char ch : s) {
        unsigned char c = (unsigned char)ch;
        if (c == '"' || c == '\\') {
            o += '\\';
            o += ch;
        } else if (c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else {
            o += ch;
        }
    }
    return o;
}

namespace {

struct Stats {
    bool ok = false;
    std::string error;
    double seconds = NAN, cpu = NAN, spread = NAN;
    std::size_t n = 0;
};

Stats stats_of(const Cell &c) {
    Stats st;
    std::vector<double> secs, cpus;
    for (const Sample &s : c.samples) {
        if (!s.ok) {
            st.error = s.error;
            continue;
        }
        secs.push_back(s.seconds);
        cpus.push_back(s.cpu_client + s.cpu_server);
    }
    st.n = secs.size();
    // A system that failed once is not reported as if it had run: one failure voids the
    // cell, since its median would be taken over fewer repetitions than the others'.
    if (secs.empty() || secs.size() != c.samples.size()) return st;
    st.ok = true;
    st.seconds = median(secs);
    st.cpu = median(cpus);
    auto mm = std::minmax_element(secs.begin(), secs.end());
    st.spread = (*mm.second - *mm.first) / st.seconds;
    return st;
}

const Stats *find_stats(const std::vector<Cell> &cells, const std::vector<Stats> &stats,
                        const std::string &name) {
    for (std::size_t i = 0; i < cells.size(); i++)
        if (cells[i].system == name && stats[i].ok) return &stats[i];
    return nullptr;
}

std::string human_size(std::size_t n) {
    char b[32];
    if (n >= 1048576 && n % 1048576 == 0)
        std::snprintf(b, sizeof b, "%zu MB", n / 1048576);
    else if (n >= 1024 && n % 1024 == 0)
        std::snprintf(b, sizeof b, "%zu kB", n / 1024);
    else
        std::snprintf(b, sizeof b, "%zu B", n);
    return b;
}

double mbps(const Row &r, double seconds) {
    return (double)r.size * (double)r.count / seconds / 1048576.0;
}

std::string num(double v, const char *fmt) {
    if (std::isnan(v)) return "-";
    char b[32];
    std::snprintf(b, sizeof b, fmt, v);
    return b;
}

}  // namespace

void print_table(std::FILE *out, const RunInfo &info, const std::vector<Row> &rows,
                 const std::vector<std::vector<Cell>> &cells) {
    std::fprintf(out, "truflux bench, %s, %s (%d CPUs), Linux %s\n", info.date.c_str(),
                 info.machine.c_str(), info.cpus, info.kernel.c_str());
    std::fprintf(out, "command: %s\n", info.command.c_str());
    std::fprintf(out, "load average: %s at start, %s at end%s\n", info.load_start.c_str(),
                 info.load_end.c_str(),
                 info.pin_cpu >= 0
                     ? (", every process pinned to CPU " + std::to_string(info.pin_cpu)).c_str()
                     : "");
    std::fprintf(out,
                 "median of %d interleaved repetition%s; one message in flight; MB/s one way, "
                 "MB = 1048576 B;\nx floor = seconds / the plain floor's seconds in this run; "
                 "x ref = against the system's own floor; CPU = client + server seconds\n",
                 info.reps, info.reps == 1 ? "" : "s");
    for (const std::string &n : info.notes) std::fprintf(out, "note: %s\n", n.c_str());
    for (std::size_t r = 0; r < rows.size(); r++) {
        const Row &row = rows[r];
        std::vector<Stats> st;
        for (const Cell &c : cells[r]) st.push_back(stats_of(c));
        std::fprintf(out, "\n%s x %ld roundtrips (%s)\n", human_size(row.size).c_str(),
                     row.count, row.name.c_str());
        std::fprintf(out, "  %-22s %10s %10s %8s %8s  %-22s %8s %7s\n", "system", "seconds",
                     "MB/s", "x floor", "x ref", "ref", "CPU s", "spread");
        const Stats *floor = find_stats(cells[r], st, "floor");
        for (std::size_t i = 0; i < cells[r].size(); i++) {
            const Cell &c = cells[r][i];
            const Stats &s = st[i];
            if (!s.ok) {
                std::fprintf(out, "  %-22s FAILED (%zu of %zu ran): %s\n", c.system.c_str(), s.n,
                             c.samples.size(), s.error.c_str());
                continue;
            }
            const std::string &ref = c.ref;
            const Stats *rs = find_stats(cells[r], st, ref);
            double xf = floor ? s.seconds / floor->seconds : NAN;
            double xr = (ref != "floor" && rs) ? s.seconds / rs->seconds : NAN;
            std::fprintf(out, "  %-22s %10s %10s %8s %8s  %-22s %8s %6s%%\n", c.system.c_str(),
                         num(s.seconds, "%.4f").c_str(), num(mbps(row, s.seconds), "%.2f").c_str(),
                         num(xf, "%.2f").c_str(), num(xr, "%.2f").c_str(),
                         ref == "floor" ? "" : ref.c_str(), num(s.cpu, "%.3f").c_str(),
                         num(s.spread * 100, "%.0f").c_str());
        }
    }
}

void print_json(std::FILE *out, const RunInfo &info, const std::vector<Row> &rows,
                const std::vector<std::vector<Cell>> &cells) {
    auto jnum = [](double v) { return std::isnan(v) ? std::string("null") : num(v, "%.9g"); };
    std::fprintf(out, "{\n  \"date\": \"%s\",\n  \"machine\": {\"cpu\": \"%s\", \"cpus\": %d, "
                      "\"kernel\": \"%s\"},\n  \"command\": \"%s\",\n  \"load_start\": \"%s\",\n"
                      "  \"load_end\": \"%s\",\n  \"reps\": %d,\n  \"pin_cpu\": %d,\n  \"notes\": [",
                 json_escape(info.date).c_str(), json_escape(info.machine).c_str(), info.cpus,
                 json_escape(info.kernel).c_str(), json_escape(info.command).c_str(),
                 info.load_start.c_str(), info.load_end.c_str(), info.reps, info.pin_cpu);
    for (std::size_t i = 0; i < info.notes.size(); i++)
        std::fprintf(out, "%s\"%s\"", i ? ", " : "", json_escape(info.notes[i]).c_str());
    std::fprintf(out, "],\n  \"rows\": [");
    for (std::size_t r = 0; r < rows.size(); r++) {
        const Row &row = rows[r];
        std::vector<Stats> st;
        for (const Cell &c : cells[r]) st.push_back(stats_of(c));
        const Stats *floor = find_stats(cells[r], st, "floor");
        std::fprintf(out, "%s\n    {\"row\": \"%s\", \"size\": %zu, \"count\": %ld, \"systems\": [",
                     r ? "," : "", json_escape(row.name).c_str(), row.size, row.count);
        for (std::size_t i = 0; i < cells[r].size(); i++) {
            const Cell &c = cells[r][i];
            const Stats &s = st[i];
            const std::string &ref = c.ref;
            const Stats *rs = find_stats(cells[r], st, ref);
            std::fprintf(out, "%s\n      {\"system\": \"%s\", \"ok\": %s, ", i ? "," : "",
                         json_escape(c.system).c_str(), s.ok ? "true" : "false");
            if (s.ok) {
                std::fprintf(out,
                             "\"seconds\": %s, \"mb_per_s\": %s, \"x_floor\": %s, \"ref\": \"%s\", "
                             "\"x_ref\": %s, \"cpu_seconds\": %s, \"spread\": %s, ",
                             jnum(s.seconds).c_str(), jnum(mbps(row, s.seconds)).c_str(),
                             jnum(floor ? s.seconds / floor->seconds : NAN).c_str(),
                             json_escape(ref).c_str(), jnum(rs ? s.seconds / rs->seconds : NAN).c_str(),
                             jnum(s.cpu).c_str(), jnum(s.spread).c_str());
            } else {
                std::fprintf(out, "\"error\": \"%s\", ", json_escape(s.error).c_str());
            }
            std::fprintf(out, "\"samples\": [");
            for (std::size_t k = 0; k < c.samples.size(); k++) {
                const Sample &m = c.samples[k];
                if (m.ok)
                    std::fprintf(out, "%s{\"seconds\": %s, \"cpu_client\": %s, \"cpu_server\": %s, "
                                      "\"load1\": %s}",
                                 k ? ", " : "", jnum(m.seconds).c_str(), jnum(m.cpu_client).c_str(),
                                 jnum(m.cpu_server).c_str(), jnum(m.load1).c_str());
                else
                    std::fprintf(out, "%s{\"error\": \"%s\"}", k ? ", " : "",
                                 json_escape(m.error).c_str());
            }
            std::fprintf(out, "]}");
        }
        std::fprintf(out, "\n    ]}");
    }
    std::fprintf(out, "\n  ]\n}\n");
}

}  // namespace tfbench
