// tools/bench/files.cpp: `truflux bench --files SIZE`: one file of SIZE bytes moved from a
// client process to a server process over loopback, for each truflux system, against the
// file floors (tools/bench/floor/file_floor.c: sendfile(2) into read/write, or AES-256-GCM
// records, into a file, with no checksum). While the file moves, the truflux client keeps
// one 64 B message in flight to the server and back, and reports those roundtrips: files and
// messages share the connection, and messages must not wait behind the file.
//
// The timer starts once the connection is open (handshakes untimed) and stops when the
// sender's transfer ends with success, which is after the receiver verified the SHA-256 of
// the content and renamed its file into place. Each sample is a fresh pair of processes.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <truflux/truflux.h>

#include "bench.hpp"
#include "tf_side.hpp"

namespace tfbench {
namespace {

struct FileSystem {
    std::string name, kind, ref, description;
    const TfSystem *tf = nullptr;  // NULL for a floor
    std::string program;           // a floor's program
    bool sendfile = true;
};

// A truflux system's floor for files: the file floor of the same cipher.
std::string file_ref(const std::string &ref) { return "file-" + ref; }

std::vector<FileSystem> file_systems() {
    std::vector<FileSystem> v = {
        {"file-floor", "floor", "file-floor", "sendfile(2) to read(2)/write(2) into a file", nullptr,
         "tfbench_file_floor"},
        {"file-floor-aesgcm-mbedtls", "floor", "file-floor-aesgcm-mbedtls",
         "64 KiB AES-256-GCM records (mbedTLS) into a file", nullptr, "tfbench_file_floor_mbedtls"},
        {"file-floor-aesgcm-ni", "floor", "file-floor-aesgcm-ni",
         "64 KiB AES-256-GCM records (the library's AES-NI code) into a file", nullptr,
         "tfbench_file_floor_ni"},
        {"file-floor-aesgcm-openssl", "floor", "file-floor-aesgcm-openssl",
         "64 KiB AES-256-GCM records (OpenSSL) into a file", nullptr, "tfbench_file_floor_openssl"},
    };
    for (const TfSystem &t : tf_systems()) {
        v.push_back({t.name, "truflux", file_ref(t.ref), t.description, &t, "", true});
        if (t.name == "truflux-tcp")
            v.push_back({"truflux-tcp-nosendfile", "truflux", file_ref(t.ref),
                         "truflux over plain TCP, TRUFLUX_OPT_FILE_SENDFILE=0", &t, "", false});
    }
    return v;
}

std::string prepare(const FileSystem &f, const Env &env, const std::string &dir,
                    const std::string &src, Launch &l) {
    if (!f.tf) {
        std::string exe = env.bin_dir + "/" + f.program;
        if (access(exe.c_str(), X_OK) != 0) return exe + " was not built";
        l.server = {exe, "server", "--dir", dir};
        l.client = {exe, "client", "--file", src};
        return "";
    }
    std::string why = tf_probe(*f.tf, env);
    if (!why.empty()) return why;
    l.server = {env.self_exe, "bench", "--role", "file-server", "--system", f.tf->name, "--dir", dir};
    l.client = {env.self_exe, "bench", "--role", "file-client", "--system", f.tf->name, "--file", src,
                "--sendfile", f.sendfile ? "1" : "0"};
    if (!env.cert.empty())
        for (auto *argv : {&l.server, &l.client}) argv->insert(argv->end(), {"--cert", env.cert, "--key", env.key});
    return "";
}

bool parse_size(const std::string &s, std::uint64_t &out) {
    char *end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(s.c_str(), &end, 10);
    if (errno || end == s.c_str()) return false;
    std::string suffix(end);
    int shift = suffix.empty() ? 0 : suffix == "k" || suffix == "K" ? 10
                                 : suffix == "M"                     ? 20
                                 : suffix == "G"                     ? 30
                                                                     : -1;
    if (shift < 0 || n == 0 || n > (1ull << (40 - shift))) return false;
    out = n << shift;
    return true;
}

// Content that no layer can compress or deduplicate.
std::string make_source(const std::string &path, std::uint64_t size) {
    std::ofstream f(path, std::ios::binary);
    std::vector<std::uint64_t> block(1 << 17);
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (std::uint64_t done = 0; done < size && f;) {
        for (auto &w : block) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w = x;
        }
        std::uint64_t n = std::min<std::uint64_t>(size - done, block.size() * 8);
        f.write(reinterpret_cast<const char *>(block.data()), (std::streamsize)n);
        done += n;
    }
    f.close();
    return f ? "" : "cannot write " + path;
}

// The file the receiver wrote must be the source, byte for byte (sizes above 256 MiB: its
// size only, to keep a run's time for the measurement; the protocol's SHA-256 covers those).
std::string check_received(const std::string &dir, const std::string &src, std::uint64_t size) {
    std::string got;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
        if (!got.empty()) return "more than one file in the receiving directory";
        got = e.path().string();
    }
    if (got.empty()) return "no file was received";
    struct stat st;
    if (stat(got.c_str(), &st) != 0 || (std::uint64_t)st.st_size != size)
        return "the received file has the wrong size";
    if (size <= (256u << 20)) {
        std::ifstream a(src, std::ios::binary), b(got, std::ios::binary);
        std::vector<char> x(1 << 20), y(1 << 20);
        while (a && b) {
            a.read(x.data(), (std::streamsize)x.size());
            b.read(y.data(), (std::streamsize)y.size());
            if (a.gcount() != b.gcount() || std::memcmp(x.data(), y.data(), (size_t)a.gcount()) != 0)
                return "the received file differs from the one sent";
        }
    }
    return "";
}

Sample failed_sample(const std::string &why) {
    Sample s;
    s.error = why;
    return s;
}

void clear_dir(const std::string &dir) {
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(dir, ec)) std::filesystem::remove_all(e.path(), ec);
}

struct Rtt {
    long n = 0;
    double p50 = 0, p99 = 0, max = 0;  // milliseconds
};

bool parse_rtt(const std::vector<std::string> &lines, Rtt &r) {
    for (const std::string &l : lines)
        if (l.compare(0, 4, "RTT ") == 0 &&
            std::sscanf(l.c_str() + 4, "%ld %lf %lf %lf", &r.n, &r.p50, &r.p99, &r.max) == 4)
            return true;
    return false;
}

}  // namespace

int run_files(const Env &env, const std::vector<std::string> &names, int reps, RunInfo &info,
              const std::map<std::string, std::string> &opts, bool json) {
    std::uint64_t size = 0;
    if (!parse_size(opts.at("files"), size)) {
        std::fprintf(stderr, "truflux bench: --files needs a size such as 64M or 1G\n");
        return 2;
    }
    std::vector<FileSystem> all = file_systems();
    std::vector<std::string> want = names;
    for (const std::string &n : want)
        if (std::none_of(all.begin(), all.end(), [&](const FileSystem &f) { return f.name == n; })) {
            std::fprintf(stderr, "truflux bench: no file system %s (file-floor*, truflux-*)\n", n.c_str());
            return 2;
        }
    bool explicit_list = !want.empty();
    if (!explicit_list)
        for (const FileSystem &f : all) want.push_back(f.name);
    for (std::size_t i = 0; i < want.size(); i++)
        for (const FileSystem &f : all)
            if (f.name == want[i] && std::find(want.begin(), want.end(), f.ref) == want.end())
                want.push_back(f.ref);

    std::string src = env.tmpdir + "/source.bin", dir = env.tmpdir + "/received";
    std::filesystem::create_directories(dir);
    std::string err = make_source(src, size);
    if (!err.empty()) return std::fprintf(stderr, "truflux bench: %s\n", err.c_str()), 1;

    struct Sel {
        FileSystem f;
        Launch launch;
        std::vector<Sample> samples;
        std::vector<Rtt> rtts;
    };
    std::vector<Sel> sel;
    for (const FileSystem &f : all) {
        if (std::find(want.begin(), want.end(), f.name) == want.end()) continue;
        Sel s{f, {}, {}, {}};
        std::string why = prepare(f, env, dir, src, s.launch);
        if (why.empty()) {
            sel.push_back(std::move(s));
        } else if (explicit_list && f.kind != "floor") {
            std::fprintf(stderr, "truflux bench: %s cannot run: %s\n", f.name.c_str(), why.c_str());
            return 1;
        } else {
            info.notes.push_back("skipped " + f.name + ": " + why);
            std::fprintf(stderr, "bench: skipped %s: %s\n", f.name.c_str(), why.c_str());
        }
    }
    Row row{"file", (std::size_t)size, 1};
    bool failed = false;
    for (int rep = 0; rep < reps; rep++) {
        for (Sel &s : sel) {
            clear_dir(dir);
            Sample smp = run_sample(s.launch, env, row);
            if (smp.ok) {
                std::string bad = check_received(dir, src, size);
                if (!bad.empty()) smp = failed_sample(bad);
            }
            Rtt rtt;
            if (smp.ok && s.f.tf && !parse_rtt(smp.client_lines, rtt))
                smp = failed_sample("the client reported no roundtrips");
            failed = failed || !smp.ok;
            if (smp.ok)
                std::fprintf(stderr, "bench: rep %d/%d file %-26s %8.3f s  cpu %.2f s  rtt p99 %.2f ms\n",
                             rep + 1, reps, s.f.name.c_str(), smp.seconds,
                             smp.cpu_client + smp.cpu_server, rtt.p99);
            else
                std::fprintf(stderr, "bench: rep %d/%d file %-26s FAILED: %s\n", rep + 1, reps,
                             s.f.name.c_str(), smp.error.c_str());
            s.samples.push_back(smp);
            s.rtts.push_back(rtt);
        }
    }
    clear_dir(dir);
    info.load_end = load_average();

    // Medians over the samples that succeeded.
    struct Line {
        std::string name, ref;
        bool ok = false;
        double secs = 0, mbs = 0, cpu = 0, ratio = 0;
        Rtt rtt;
        std::string error;
    };
    std::vector<Line> out;
    std::map<std::string, double> secs_of;
    for (Sel &s : sel) {
        Line l;
        l.name = s.f.name;
        l.ref = s.f.ref;
        std::vector<double> t, c, p50, p99, mx, n;
        for (std::size_t i = 0; i < s.samples.size(); i++) {
            const Sample &x = s.samples[i];
            if (!x.ok) {
                l.error = x.error;
                continue;
            }
            t.push_back(x.seconds);
            c.push_back(x.cpu_client + x.cpu_server);
            p50.push_back(s.rtts[i].p50);
            p99.push_back(s.rtts[i].p99);
            mx.push_back(s.rtts[i].max);
            n.push_back((double)s.rtts[i].n);
        }
        l.ok = (int)t.size() == reps;
        if (!t.empty()) {
            l.secs = median(t);
            l.mbs = (double)size / 1048576.0 / l.secs;
            l.cpu = median(c);
            l.rtt = {(long)median(n), median(p50), median(p99), median(mx)};
            secs_of[l.name] = l.secs;
        }
        out.push_back(l);
    }
    for (Line &l : out) {
        auto r = secs_of.find(l.ref);
        if (r != secs_of.end() && l.secs > 0) l.ratio = l.secs / r->second;
    }

    if (json) {
        std::printf("{\"date\":\"%s\",\"machine\":\"%s\",\"cpus\":%d,\"command\":\"%s\",\"reps\":%d,"
                    "\"file_size\":%llu,\"load\":[\"%s\",\"%s\"],\"systems\":[",
                    info.date.c_str(), json_escape(info.machine).c_str(), info.cpus,
                    json_escape(info.command).c_str(), reps, (unsigned long long)size,
                    info.load_start.c_str(), info.load_end.c_str());
        for (std::size_t i = 0; i < out.size(); i++) {
            const Line &l = out[i];
            std::printf("%s{\"system\":\"%s\",\"ref\":\"%s\",\"ok\":%s,\"seconds\":%.6f,\"mb_per_s\":%.3f,"
                        "\"x_floor\":%.4f,\"cpu_seconds\":%.4f,\"rtt_count\":%ld,\"rtt_p50_ms\":%.4f,"
                        "\"rtt_p99_ms\":%.4f,\"rtt_max_ms\":%.4f,\"error\":\"%s\"}",
                        i ? "," : "", l.name.c_str(), l.ref.c_str(), l.ok ? "true" : "false", l.secs,
                        l.mbs, l.ratio, l.cpu, l.rtt.n, l.rtt.p50, l.rtt.p99, l.rtt.max,
                        json_escape(l.error).c_str());
        }
        std::printf("],\"notes\":[");
        for (std::size_t i = 0; i < info.notes.size(); i++)
            std::printf("%s\"%s\"", i ? "," : "", json_escape(info.notes[i]).c_str());
        std::printf("]}\n");
    } else {
        std::printf("truflux bench --files: %s, %.1f MiB, median of %d, %s, %d CPUs, load %s -> %s\n",
                    info.date.c_str(), (double)size / 1048576.0, reps, info.machine.c_str(), info.cpus,
                    info.load_start.c_str(), info.load_end.c_str());
        std::printf("%-26s %9s %9s %7s %8s   %s\n", "system", "seconds", "MB/s", "x ref", "cpu s",
                    "64 B roundtrips meanwhile: count, p50 / p99 / max ms");
        for (const Line &l : out) {
            if (l.secs <= 0) {
                std::printf("%-26s FAILED: %s\n", l.name.c_str(), l.error.c_str());
                continue;
            }
            std::printf("%-26s %9.3f %9.1f %6.2fx %8.2f", l.name.c_str(), l.secs, l.mbs, l.ratio, l.cpu);
            if (l.rtt.n) std::printf("   %ld, %.2f / %.2f / %.2f", l.rtt.n, l.rtt.p50, l.rtt.p99, l.rtt.max);
            std::printf("%s\n", l.ok ? "" : "  (some samples failed)");
        }
        std::printf("x ref: against %s of the same cipher (no checksum); truflux checks a SHA-256 of "
                    "the content on both sides.\n", "the file floor");
        for (const std::string &n : info.notes) std::printf("note: %s\n", n.c_str());
    }
    return failed ? 1 : 0;
}

// ---- the truflux sides ----------------------------------------------------------------

namespace {

int die(const std::string &what) {
    std::fprintf(stderr, "truflux bench: %s\n", what.c_str());
    return 1;
}

struct FileRole {
    TfSide side;
    std::string dir, path;
    // server
    double cpu0 = -1;
    // client
    tf_conn_t *conn = nullptr;
    unsigned char ping[64] = {0};
    bool sending = false, ended = false;
    double t0 = 0, t1 = 0, c0 = 0, c1 = 0, sent_at = 0;
    std::vector<double> rtts;
    int error = 0;
    std::string detail;
};

void fail(FileRole *r, int code, const std::string &detail) {
    if (!r->error) {
        r->error = code;
        r->detail = detail;
    }
}

void server_echo(void *user, tf_conn_t *conn, const tf_message_t *msg) {
    FileRole *r = static_cast<FileRole *>(user);
    int rc = tf_send(conn, msg->id, msg->type, msg->data, msg->len);
    if (rc != 0) fail(r, rc, "echo");
}

void server_offer(void *user, tf_conn_t *, tf_file_t *file) {
    FileRole *r = static_cast<FileRole *>(user);
    if (r->cpu0 < 0) r->cpu0 = tf_cpu();
    int rc = tf_file_accept_dir(file, r->dir.c_str());
    if (rc != 0) fail(r, rc, "accept");
}

void server_file_end(void *user, tf_file_t *, int status) {
    if (status != 0) fail(static_cast<FileRole *>(user), status, "incoming transfer");
}

void server_closed(void *user, tf_conn_t *conn, int reason, int) {
    FileRole *r = static_cast<FileRole *>(user);
    if (!conn) return;
    if (reason != 0) fail(r, reason, "connection");
    tf_loop_stop(r->side.loop);
}

void send_ping(FileRole *r) {
    r->sent_at = tf_now();
    int rc = tf_send(r->conn, r->side.echo_id, TRUFLUX_TYPE_BINARY, r->ping, sizeof r->ping);
    if (rc != 0) fail(r, rc, "ping");
}

void client_open(void *user, tf_conn_t *conn) {
    FileRole *r = static_cast<FileRole *>(user);
    r->conn = conn;
    r->c0 = tf_cpu();
    r->t0 = tf_now();
    std::string name = "bench-" + std::to_string(getpid()) + ".bin";
    int rc = tf_file_send_path(conn, r->path.c_str(), name.c_str(), nullptr);
    if (rc != 0) {
        fail(r, rc, "tf_file_send_path");
        tf_client_close(r->side.client, TRUFLUX_CLOSE_FORCE);
        return;
    }
    r->sending = true;
    send_ping(r);
}

void client_echo(void *user, tf_conn_t *, const tf_message_t *) {
    FileRole *r = static_cast<FileRole *>(user);
    r->rtts.push_back((tf_now() - r->sent_at) * 1000.0);
    if (r->sending) send_ping(r);
}

void client_file_end(void *user, tf_file_t *, int status) {
    FileRole *r = static_cast<FileRole *>(user);
    r->t1 = tf_now();
    r->c1 = tf_cpu();
    r->sending = false;
    r->ended = true;
    if (status != 0) fail(r, status, "transfer");
    tf_client_close(r->side.client, TRUFLUX_CLOSE_GRACEFUL);
}

void client_error(void *user, tf_conn_t *, int code, const char *detail) {
    fail(static_cast<FileRole *>(user), code, detail ? detail : "");
}

void client_closed(void *user, tf_conn_t *, int reason, int) {
    FileRole *r = static_cast<FileRole *>(user);
    if (reason != 0 && !r->ended) fail(r, reason, "connection");
    tf_loop_stop(r->side.loop);
}

std::string opt(const std::map<std::string, std::string> &o, const char *k) {
    auto it = o.find(k);
    return it == o.end() ? std::string() : it->second;
}

}  // namespace

int run_file_role(const TfSystem &sys, const Env &env, bool server,
                  const std::map<std::string, std::string> &o) {
    FileRole r;
    std::string err = r.side.setup(sys, server, env);
    if (!err.empty()) return die(err);
    if (opt(o, "sendfile") == "0") tf_options_set_int(r.side.options, TRUFLUX_OPT_FILE_SENDFILE, 0);
    tf_protocol_on(r.side.proto, "echo", server ? server_echo : client_echo, &r);
    tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
    tf_file_callbacks_t fcbs = TRUFLUX_FILE_CALLBACKS_INIT;
    cbs.user = fcbs.user = &r;
    if (server) {
        r.dir = opt(o, "dir");
        if (r.dir.empty()) return die("file-server needs --dir");
        cbs.on_close = server_closed;
        fcbs.on_offer = server_offer;
        fcbs.on_end = server_file_end;
        err = r.side.make_server(cbs);
        if (!err.empty()) return die(err);
        if (tf_server_set_file_callbacks(r.side.server, &fcbs) != 0) return die("file callbacks");
        if (r.side.listen("127.0.0.1", 0) != 0) return 1;
        std::printf("READY %d\n", tf_server_port(r.side.server));
        std::fflush(stdout);
        tf_loop_run(r.side.loop);
        if (r.error) return die(std::string(tf_strerror(r.error)) + " (" + r.detail + ")");
        std::printf("CPU %.9f\n", r.cpu0 < 0 ? 0 : tf_cpu() - r.cpu0);
        std::fflush(stdout);
        return 0;
    }
    r.path = opt(o, "file");
    if (r.path.empty()) return die("file-client needs --file");
    for (std::size_t i = 0; i < sizeof r.ping; i++) r.ping[i] = (unsigned char)i;
    r.side.client = truflux_client_new(r.side.loop, r.side.proto, r.side.options);
    if (!r.side.client) return die(std::string("client: ") + tf_strerror(tf_last_error()));
    cbs.on_open = client_open;
    cbs.on_error = client_error;
    cbs.on_close = client_closed;
    fcbs.on_end = client_file_end;
    tf_client_set_callbacks(r.side.client, &cbs);
    tf_client_set_file_callbacks(r.side.client, &fcbs);
    std::string url = r.side.url("127.0.0.1", (int)std::atol(opt(o, "port").c_str()));
    int rc = tf_client_connect(r.side.client, url.c_str());
    if (rc != 0) return die("connect " + url + ": " + tf_strerror(rc));
    tf_loop_run(r.side.loop);
    if (r.error || !r.ended) return die(std::string("transfer failed: ") + tf_strerror(r.error) + " (" + r.detail + ")");
    std::vector<double> v = r.rtts;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) { return v.empty() ? 0.0 : v[std::min(v.size() - 1, (std::size_t)(p * (double)v.size()))]; };
    std::printf("RTT %zu %.4f %.4f %.4f\n", v.size(), pct(0.5), pct(0.99), v.empty() ? 0.0 : v.back());
    std::printf("RESULT %.9f %.9f\n", r.t1 - r.t0, r.c1 - r.c0);
    std::fflush(stdout);
    return 0;
}

}  // namespace tfbench
