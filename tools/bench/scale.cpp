// tools/bench/scale.cpp: `truflux bench --connections N` and `--fanout N`.
//
// --connections: a server process and a client process holding N idle connections; the
// driver reads the server's memory from /proc/PID/status before the clients connect and
// once all N are open, and divides the growth by N. RssAnon is the heap and stacks actually
// touched; VmData also counts memory that was reserved but never touched; the server also
// reports the bytes its allocator has handed out and not taken back (glibc's mallinfo2, one
// arena for the whole process), which leaves out memory freed since (a TLS handshake's
// buffers) that RssAnon still counts until the allocator reuses it. The goal of 4 KiB per
// connection is about what a connection holds: the bytes in use. One process may not open
// more files than its open-file hard limit (20 000 on some machines, where root may not raise
// it either): N beyond it is shared among several server processes, each with its own
// client process and range of loopback addresses, and the figures are their sums.
//
// --fanout: N clients, and a server that broadcasts M messages of 64 B to all of them as
// fast as they are taken: it pauses while any connection has more than PACE_BYTES queued,
// so that no delivery is skipped at the high-water mark. Deliveries per second are N x M
// over the time from the first broadcast to the last delivery (one CLOCK_MONOTONIC for both
// processes).
#include <event2/event.h>
#include <malloc.h>
#include <unistd.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "tf_side.hpp"

namespace tfbench {
namespace {

constexpr long PER_ADDRESS = 20000;        // connections per listening address (ephemeral ports)
constexpr uint64_t PACE_BYTES = 64 << 10;  // fanout: a connection queued above this holds us
constexpr int BATCH = 16;                  // fanout: broadcasts per turn of the loop
constexpr long CONNECT_WINDOW = 256;       // clients connecting at once
// TLS handshakes take the server a few milliseconds of CPU each (certificate signature,
// ECDHE): fewer at once, so that none waits out its handshake timeout in the backlog.
constexpr long TLS_CONNECT_WINDOW = 32;
constexpr int SETUP_TIMEOUT_MS = 120000;   // handshake timeout of both sides here

bool is_tls(const TfSystem &sys) { return sys.scheme == "tls" || sys.scheme == "wss"; }

long opt_long(const std::map<std::string, std::string> &o, const char *k, long def) {
    auto it = o.find(k);
    return it == o.end() ? def : std::atol(it->second.c_str());
}

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stdout, fmt, ap);
    va_end(ap);
    std::fflush(stdout);
}

// Blocks until standard input ends: the driver's way of saying "stop".
void wait_for_stdin_eof() {
    char b[256];
    while (read(0, b, sizeof b) > 0) {
    }
}

// ---- the server ------------------------------------------------------------------------

struct ScaleServer {
    TfSide side;
    std::vector<tf_loop_t *> extra_loops;  // --loops L: the server's other L-1 loops
    long target = 0, messages = 0, sent = 0;
    bool fanout = false;
    // With several loops on_open runs on several threads; the pump reads these only once
    // every connection is open.
    std::mutex mu;
    long open = 0, open_here = 0;  // open_here: on the server's first loop (the pump's)
    std::vector<tf_conn_t *> conns;
    event *pace = nullptr;
    double t0 = 0, cpu0 = 0;
    unsigned char payload[64];

    ScaleServer() = default;
    ScaleServer(const ScaleServer &) = delete;
    ScaleServer &operator=(const ScaleServer &) = delete;
    // Before `side` frees the loop that the timer and the connections belong to.
    ~ScaleServer() {
        if (pace) event_free(pace);
        for (tf_conn_t *c : conns) tf_conn_release(c);
    }
};

void pump(evutil_socket_t, short, void *arg);

void schedule_pump(ScaleServer *s, bool congested) {
    struct timeval tv = {0, congested ? 200 : 0};
    event_add(s->pace, &tv);
}

bool congested(ScaleServer *s) {
    for (tf_conn_t *c : s->conns) {
        tf_conn_stats_t st;
        st.size = sizeof st;
        if (tf_conn_stats(c, &st) == 0 && st.queued > PACE_BYTES) return true;
    }
    return false;
}

void pump(evutil_socket_t, short, void *arg) {
    ScaleServer *s = static_cast<ScaleServer *>(arg);
    if (congested(s)) {
        schedule_pump(s, true);
        return;
    }
    // Called on the first loop, a broadcast counts that loop's connections; the other loops
    // queue it to theirs.
    for (int i = 0; i < BATCH && s->sent < s->messages; i++, s->sent++) {
        int n = tf_server_broadcast(s->side.server, s->side.echo_id, TRUFLUX_TYPE_BINARY,
                                    s->payload, sizeof s->payload, nullptr, 0);
        if (n != s->open_here) {
            std::fprintf(stderr, "truflux bench: broadcast reached %d of %ld\n", n, s->open_here);
            std::exit(1);
        }
    }
    if (s->sent < s->messages) {
        schedule_pump(s, false);
    } else {
        say("SENT %ld %.9f\n", s->sent, tf_cpu() - s->cpu0);
    }
}

void start_pump(void *arg) {
    ScaleServer *s = static_cast<ScaleServer *>(arg);
    s->t0 = tf_now();
    s->cpu0 = tf_cpu();
    say("START %.9f\n", s->t0);
    schedule_pump(s, false);
}

// Bytes malloc has handed out and not taken back (all threads: see run_scale_server).
unsigned long long heap_in_use() {
    struct mallinfo2 m = mallinfo2();
    return (unsigned long long)(m.uordblks + m.hblkhd);
}

void server_open(void *user, tf_conn_t *conn) {
    ScaleServer *s = static_cast<ScaleServer *>(user);
    bool here = tf_loop_in_thread(s->side.loop) != 0;
    {
        std::lock_guard<std::mutex> lk(s->mu);
        s->conns.push_back(tf_conn_retain(conn));
        if (here) s->open_here++;
        if (++s->open != s->target) return;
    }
    say("OPEN %ld %llu\n", s->target, heap_in_use());
    if (!s->fanout) return;
    // The pump's timer belongs to the first loop: started there.
    if (here) start_pump(s);
    else tf_loop_call(s->side.loop, start_pump, s);
}

void server_error(void *, tf_conn_t *, int code, const char *detail) {
    std::fprintf(stderr, "truflux bench: server: %s (%s)\n", tf_strerror(code), detail);
}

// ---- the clients -----------------------------------------------------------------------

struct ScaleClients {
    TfSide side;  // its client member stays NULL: clients are below
    std::vector<tf_client_t *> clients;
    std::vector<std::string> hosts;
    int port = 0;
    long target = 0, launched = 0, open = 0, failed = 0, messages = 0, complete = 0;
    long window = CONNECT_WINDOW;
    std::vector<long> got;
    double first = 0, cpu0 = 0;
    bool fanout = false;
};

void launch_more(ScaleClients *c);

void clients_open(void *user, tf_conn_t *) {
    ScaleClients *c = static_cast<ScaleClients *>(user);
    if (++c->open == c->target) {
        say("OPEN %ld\n", c->open);
        return;
    }
    launch_more(c);
}

void clients_closed(void *user, tf_conn_t *, int reason, int) {
    ScaleClients *c = static_cast<ScaleClients *>(user);
    if (c->failed++ == 0)
        say("FAIL connection ended: %s (after %ld open)\n", tf_strerror(reason), c->open);
}

void clients_tick(void *user, tf_conn_t *conn, const tf_message_t *) {
    ScaleClients *c = static_cast<ScaleClients *>(user);
    if (c->first == 0) {
        c->first = tf_now();
        c->cpu0 = tf_cpu();
    }
    long i = (long)(intptr_t)tf_conn_user(conn);
    if (++c->got[(size_t)i] == c->messages && ++c->complete == c->target)
        say("DONE %.9f %.9f\n", tf_now(), tf_cpu() - c->cpu0);
}

void launch_more(ScaleClients *c) {
    while (c->launched < c->target && c->launched - c->open < c->window) {
        long i = c->launched++;
        tf_client_t *cl = truflux_client_new(c->side.loop, c->side.proto, c->side.options);
        if (!cl) {
            say("FAIL client %ld: %s\n", i, tf_strerror(tf_last_error()));
            return;
        }
        tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
        cbs.user = c;
        cbs.on_open = clients_open;
        cbs.on_close = clients_closed;
        tf_client_set_callbacks(cl, &cbs);
        std::string url = c->side.url(c->hosts[(size_t)i % c->hosts.size()], c->port);
        int rc = tf_client_connect(cl, url.c_str());
        if (rc == 0) tf_conn_set_user(tf_client_conn(cl), (void *)(intptr_t)i);
        c->clients.push_back(cl);
        if (rc != 0) {
            say("FAIL connect %s: %s\n", url.c_str(), tf_strerror(rc));
            return;
        }
    }
}

}  // namespace

int run_scale_server(const TfSystem &sys, const Env &env, bool fanout,
                     const std::map<std::string, std::string> &o) {
    // One arena, so that mallinfo2 (which reads the main arena only) sees the loop threads'
    // allocations too.
    if (!fanout) mallopt(M_ARENA_MAX, 1);
    ScaleServer s;
    s.target = opt_long(o, "clients", 1);
    s.messages = opt_long(o, "count", 0);
    s.fanout = fanout;
    std::memset(s.payload, 0x5a, sizeof s.payload);
    long limit = raise_nofile(s.target + 256);
    if (limit < s.target + 64) {
        std::fprintf(stderr,
                     "truflux bench: the open-file limit (%ld, hard limit included) is too low "
                     "for %ld connections in one server process\n",
                     limit, s.target);
        return 1;
    }
    std::string err = s.side.setup(sys, true, env);
    if (err.empty()) {
        tf_options_set_int(s.side.options, TRUFLUX_OPT_MAX_CONNECTIONS, s.target + 16);
        tf_options_set_int(s.side.options, TRUFLUX_OPT_BACKLOG, 4096);
        tf_options_set_int(s.side.options, TRUFLUX_OPT_HANDSHAKE_TIMEOUT, SETUP_TIMEOUT_MS);
        tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
        cbs.user = &s;
        cbs.on_open = server_open;
        cbs.on_error = server_error;
        err = s.side.make_server(cbs);
    }
    if (!err.empty()) {
        std::fprintf(stderr, "truflux bench: %s\n", err.c_str());
        return 1;
    }
    s.pace = event_new(static_cast<event_base *>(tf_loop_event_base(s.side.loop)), -1, 0, pump, &s);
    for (long i = 1; i < opt_long(o, "loops", 1); i++) {
        tf_loop_t *l = truflux_loop_new();
        int rc = l ? tf_server_add_loop(s.side.server, l) : TRUFLUX_ENOMEM;
        if (rc != 0) {
            std::fprintf(stderr, "truflux bench: cannot add a loop: %s\n", tf_strerror(rc));
            return 1;
        }
        s.extra_loops.push_back(l);
    }
    // Each listening address gives the clients a fresh range of ephemeral source ports:
    // NET.1, NET.2, ... all on the port the kernel picked for the first. NET is 127.0.0
    // unless the driver runs several server processes (one range each).
    auto nit = o.find("net");
    std::string net = nit == o.end() ? "127.0.0" : nit->second;
    if (s.side.listen(net + ".1", 0) != 0) return 1;
    int port = tf_server_port(s.side.server);
    std::string hosts = net + ".1";
    for (long i = 1; i < (s.target + PER_ADDRESS - 1) / PER_ADDRESS; i++) {
        std::string h = net + "." + std::to_string(1 + i);
        if (s.side.listen(h, port) != 0) return 1;
        hosts += "," + h;
    }
    // Before READY: the driver's first memory reading then includes their threads.
    for (tf_loop_t *l : s.extra_loops) tf_loop_start(l);
    say("READY %d %s %llu\n", port, hosts.c_str(), heap_in_use());
    tf_loop_start(s.side.loop);
    wait_for_stdin_eof();
    tf_loop_stop(s.side.loop);
    for (tf_loop_t *l : s.extra_loops) tf_loop_stop(l);
    // The server goes before the loops it was added to, its connections before the server.
    for (tf_conn_t *c : s.conns) tf_conn_release(c);
    s.conns.clear();
    truflux_server_free(s.side.server);
    s.side.server = nullptr;
    for (tf_loop_t *l : s.extra_loops) truflux_loop_free(l);
    return 0;
}

int run_scale_clients(const TfSystem &sys, const Env &env, bool fanout,
                      const std::map<std::string, std::string> &o) {
    ScaleClients c;
    c.target = opt_long(o, "clients", 1);
    c.messages = opt_long(o, "count", 0);
    c.fanout = fanout;
    c.got.assign((size_t)c.target, 0);
    auto it = o.find("extra");
    std::istringstream hs(it == o.end() ? "" : it->second);
    std::string h;
    while (std::getline(hs, h, ',')) c.hosts.push_back(h);
    if (c.hosts.empty()) c.hosts.push_back("127.0.0.1");
    c.port = (int)opt_long(o, "port", 0);
    long limit = raise_nofile(c.target + 256);
    if (limit < c.target + 64) {
        std::fprintf(stderr, "truflux bench: open-file limit %ld is too low for %ld clients\n",
                     limit, c.target);
        return 1;
    }
    std::string err = c.side.setup(sys, false, env);
    if (!err.empty()) {
        std::fprintf(stderr, "truflux bench: %s\n", err.c_str());
        return 1;
    }
    if (is_tls(sys)) c.window = TLS_CONNECT_WINDOW;
    tf_options_set_int(c.side.options, TRUFLUX_OPT_HANDSHAKE_TIMEOUT, SETUP_TIMEOUT_MS);
    tf_protocol_on(c.side.proto, "echo", clients_tick, &c);
    launch_more(&c);
    tf_loop_start(c.side.loop);
    wait_for_stdin_eof();
    tf_loop_stop(c.side.loop);
    for (tf_client_t *cl : c.clients) truflux_client_free(cl);
    return 0;
}

// ---- the driver ----------------------------------------------------------------------

namespace {

// A field of /proc/PID/status in kB, or -1.
long proc_status_kb(pid_t pid, const std::string &field) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.compare(0, field.size() + 1, field + ":") == 0) {
            return std::atol(line.c_str() + field.size() + 1);
        }
    }
    return -1;
}

struct Mem {
    long rss_anon = -1, vm_data = -1, vm_rss = -1;
};

Mem read_mem(pid_t pid) {
    return {proc_status_kb(pid, "RssAnon"), proc_status_kb(pid, "VmData"),
            proc_status_kb(pid, "VmRSS")};
}

bool expect(Child &c, const char *word, std::string &line, double timeout) {
    std::size_t n = std::strlen(word);
    while (c.read_line(line, timeout)) {
        if (line.compare(0, n, word) == 0) return true;
        if (line.compare(0, 4, "FAIL") == 0) return false;
    }
    return false;
}

std::vector<std::string> role_argv(const Env &env, const std::string &role, const TfSystem &t,
                                   long clients, long count, long loops = 1) {
    std::vector<std::string> v = {env.self_exe, "bench",     "--role",  role,
                                  "--system",   t.name,      "--clients", std::to_string(clients),
                                  "--count",    std::to_string(count), "--loops",
                                  std::to_string(loops)};
    if (!env.cert.empty()) v.insert(v.end(), {"--cert", env.cert, "--key", env.key});
    return v;
}

// Connections one process may hold: its open-file limit (raised as far as it goes) less
// what the process needs besides.
long connections_per_process() {
    long limit = raise_nofile(1 << 20);
    return limit > 1024 ? limit - 256 : 768;
}

struct ScaleResult {
    std::string system, mode, error;
    long n = 0, loops = 1, messages = 0, processes = 1, per_process_limit = 0;
    bool ok = false, unsupported = false;
    double per_conn_anon = NAN, per_conn_data = NAN, per_conn_heap = NAN, seconds = NAN,
           rate = NAN;
    double cpu_server = NAN, cpu_clients = NAN, setup_seconds = NAN;
    Mem before, after;
    std::string load;
};

void add_mem(Mem &sum, const Mem &m) {
    auto add = [](long &a, long b) { a = (a < 0 || b < 0) ? -1 : a + b; };
    add(sum.rss_anon, m.rss_anon);
    add(sum.vm_data, m.vm_data);
    add(sum.vm_rss, m.vm_rss);
}

// One server process and its client process (--connections may need several pairs when one
// process cannot open N files; --fanout runs one pair).
struct Pair {
    Child server, clients;
    long n = 0;
    std::string port, hosts;
    unsigned long long heap_before = 0, heap_after = 0;
};

ScaleResult measure(const Env &env, const TfSystem &t, bool fanout, long n, long messages,
                    long loops) {
    ScaleResult r;
    r.system = t.name;
    r.mode = fanout ? "fanout" : "connections";
    r.n = n;
    r.loops = loops;
    r.messages = messages;
    r.per_process_limit = connections_per_process();
    long procs = fanout ? 1 : (n + r.per_process_limit - 1) / r.per_process_limit;
    if (procs > 200) {
        r.error = "too many connections for this machine's open-file limit";
        return r;
    }
    r.processes = procs;
    std::vector<std::unique_ptr<Pair>> pairs;
    for (long p = 0; p < procs; p++) {
        pairs.push_back(std::make_unique<Pair>());
        pairs.back()->n = n / procs + (p < n % procs ? 1 : 0);
    }
    std::string line;
    r.before = {0, 0, 0};
    for (long p = 0; p < procs; p++) {
        Pair &pr = *pairs[(size_t)p];
        std::vector<std::string> sargv = role_argv(env, fanout ? "fanout-server" : "conn-server",
                                                   t, pr.n, messages, loops);
        // Each server process its own range of loopback addresses: 127.0.P.1, 127.0.P.2, ...
        sargv.insert(sargv.end(), {"--net", "127.0." + std::to_string(p)});
        std::string err = pr.server.start(sargv, {}, env.pin_cpu, true);
        if (!err.empty() || !expect(pr.server, "READY ", line, 30)) {
            r.error = "server did not start: " + (err.empty() ? pr.server.stderr_tail() : err);
            return r;
        }
        std::istringstream ready(line.substr(6));
        ready >> pr.port >> pr.hosts >> pr.heap_before;
        add_mem(r.before, read_mem(pr.server.pid()));
    }
    double t0 = tf_now();
    for (long p = 0; p < procs; p++) {
        Pair &pr = *pairs[(size_t)p];
        std::vector<std::string> cargv =
            role_argv(env, fanout ? "fanout-clients" : "conn-clients", t, pr.n, messages);
        cargv.insert(cargv.end(), {"--port", pr.port, "--extra", pr.hosts});
        std::string err = pr.clients.start(cargv, {}, env.pin_cpu, true);
        if (!err.empty()) {
            r.error = "clients did not start: " + err;
            return r;
        }
    }
    // About 200 connections a second, TLS ones 25 (all sides share this machine's cores).
    double budget = 60 + (double)n / (is_tls(t) ? 25 : 200);
    bool have_heap = !fanout;
    r.after = {0, 0, 0};
    unsigned long long heap_before = 0, heap_after = 0;
    for (long p = 0; p < procs; p++) {
        Pair &pr = *pairs[(size_t)p];
        line.clear();
        if (!expect(pr.clients, "OPEN ", line, budget)) {
            r.error = "clients did not all connect: " + line + " " + pr.clients.stderr_tail();
            return r;
        }
        if (!expect(pr.server, "OPEN ", line, 30)) {
            r.error = "server did not see every connection: " + pr.server.stderr_tail();
            return r;
        }
        if (std::sscanf(line.c_str() + 5, "%*d %llu", &pr.heap_after) != 1 || !pr.heap_before)
            have_heap = false;
        heap_before += pr.heap_before;
        heap_after += pr.heap_after;
    }
    r.setup_seconds = tf_now() - t0;
    // Every process's share is open (and none closes while idle): read them all now.
    for (auto &pr : pairs) add_mem(r.after, read_mem(pr->server.pid()));
    if (have_heap) r.per_conn_heap = ((double)heap_after - (double)heap_before) / (double)n;
    r.per_conn_anon = (double)(r.after.rss_anon - r.before.rss_anon) * 1024.0 / (double)n;
    r.per_conn_data = (double)(r.after.vm_data - r.before.vm_data) * 1024.0 / (double)n;
    if (fanout) {
        Pair &pr = *pairs[0];
        double start = 0, end = 0;
        if (!expect(pr.server, "START ", line, 30) ||
            std::sscanf(line.c_str() + 6, "%lf", &start) != 1) {
            r.error = "server did not start broadcasting: " + pr.server.stderr_tail();
            return r;
        }
        if (!expect(pr.clients, "DONE ", line, env.timeout) ||
            std::sscanf(line.c_str() + 5, "%lf %lf", &end, &r.cpu_clients) != 2) {
            r.error = "clients did not receive every broadcast: " + line + " " +
                      pr.clients.stderr_tail();
            return r;
        }
        long sent = 0;
        if (!expect(pr.server, "SENT ", line, 30) ||
            std::sscanf(line.c_str() + 5, "%ld %lf", &sent, &r.cpu_server) != 2) {
            r.error = "server did not finish broadcasting: " + pr.server.stderr_tail();
            return r;
        }
        r.seconds = end - start;
        r.rate = (double)n * (double)messages / r.seconds;
    }
    r.load = load_average();
    for (auto &pr : pairs) {
        pr->clients.close_stdin();
        pr->server.close_stdin();
    }
    for (auto &pr : pairs) {
        int cst = pr->clients.wait(60), sst = pr->server.wait(60);
        if (cst != 0 || sst != 0) {
            r.error = "a process did not end cleanly: " + pr->clients.stderr_tail() + " " +
                      pr->server.stderr_tail();
            return r;
        }
    }
    r.ok = true;
    return r;
}

}  // namespace

int run_scale(const Env &env, const std::map<std::string, std::string> &o, bool json) {
    bool fanout = o.count("fanout") != 0;
    long n = opt_long(o, fanout ? "fanout" : "connections", 0);
    long messages = fanout ? opt_long(o, "messages", 2000) : 0;
    if (n < 1 || n > 1000000 || messages < 0) {
        std::fprintf(stderr, "truflux bench: --connections/--fanout need 1..1000000\n");
        return 2;
    }
    std::vector<long> loops;
    {
        std::istringstream ls(o.count("loops") ? o.at("loops") : "1");
        std::string x;
        while (std::getline(ls, x, ',')) loops.push_back(std::atol(x.c_str()));
    }
    for (long l : loops)
        if (l < 1 || l > 64) {
            std::fprintf(stderr, "truflux bench: --loops wants numbers from 1 to 64\n");
            return 2;
        }
    std::vector<const TfSystem *> systems;
    if (o.count("systems")) {
        std::istringstream ss(o.at("systems"));
        std::string x;
        while (std::getline(ss, x, ',')) {
            const TfSystem *t = find_tf_system(x);
            if (!t) {
                std::fprintf(stderr, "truflux bench: %s is not a truflux system\n", x.c_str());
                return 2;
            }
            systems.push_back(t);
        }
    } else {
        for (const TfSystem &t : tf_systems()) systems.push_back(&t);
    }
    std::string load_start = load_average();
    std::vector<ScaleResult> results;
    bool failed = false;
    bool explicit_list = o.count("systems") != 0;
    for (const TfSystem *t : systems) {
        std::string why = tf_probe(*t, env);
        if (!why.empty()) {
            ScaleResult r;
            r.system = t->name;
            r.mode = fanout ? "fanout" : "connections";
            r.n = n;
            r.unsupported = true;
            r.error = why;
            results.push_back(r);
            failed = failed || explicit_list;
            continue;
        }
        for (long l : loops) {
            std::fprintf(stderr, "bench: %s %s %ld, %ld loop%s ...\n", t->name.c_str(),
                         fanout ? "fanout" : "connections", n, l, l == 1 ? "" : "s");
            results.push_back(measure(env, *t, fanout, n, messages, l));
            failed = failed || !results.back().ok;
        }
    }
    if (json) {
        std::printf("{\n  \"date\": \"%s\",\n  \"machine\": {\"cpu\": \"%s\", \"cpus\": %ld},\n"
                    "  \"load_start\": \"%s\",\n  \"load_end\": \"%s\",\n  \"results\": [",
                    utc_now().c_str(), json_escape(cpu_model()).c_str(),
                    sysconf(_SC_NPROCESSORS_ONLN), load_start.c_str(), load_average().c_str());
        for (std::size_t i = 0; i < results.size(); i++) {
            const ScaleResult &r = results[i];
            auto jn = [](double v) {
                char b[32];
                if (std::isnan(v)) return std::string("null");
                std::snprintf(b, sizeof b, "%.6g", v);
                return std::string(b);
            };
            std::printf("%s\n    {\"system\": \"%s\", \"mode\": \"%s\", \"n\": %ld, \"loops\": %ld, "
                        "\"server_processes\": %ld, \"ok\": %s, \"unsupported\": %s",
                        i ? "," : "", r.system.c_str(), r.mode.c_str(), r.n, r.loops,
                        r.processes, r.ok ? "true" : "false", r.unsupported ? "true" : "false");
            if (!r.error.empty()) std::printf(", \"error\": \"%s\"", json_escape(r.error).c_str());
            if (r.ok)
                std::printf(", \"server_rss_anon_kb\": [%ld, %ld], \"server_vm_data_kb\": [%ld, %ld],"
                            " \"bytes_per_conn_rss_anon\": %s, \"bytes_per_conn_vm_data\": %s,"
                            " \"bytes_per_conn_heap_in_use\": %s,"
                            " \"connect_seconds\": %s, \"messages\": %ld, \"seconds\": %s,"
                            " \"deliveries_per_s\": %s, \"cpu_server\": %s, \"cpu_clients\": %s,"
                            " \"load\": \"%s\"",
                            r.before.rss_anon, r.after.rss_anon, r.before.vm_data, r.after.vm_data,
                            jn(r.per_conn_anon).c_str(), jn(r.per_conn_data).c_str(),
                            jn(r.per_conn_heap).c_str(), jn(r.setup_seconds).c_str(), r.messages, jn(r.seconds).c_str(),
                            jn(r.rate).c_str(), jn(r.cpu_server).c_str(), jn(r.cpu_clients).c_str(),
                            r.load.c_str());
            std::printf("}");
        }
        std::printf("\n  ]\n}\n");
    } else {
        std::printf("truflux bench, %s, %s (%ld CPUs); load average %s at start, %s at end\n",
                    utc_now().c_str(), cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN),
                    load_start.c_str(), load_average().c_str());
        for (const ScaleResult &r : results) {
            std::printf("\n%s, %s %ld, server on %ld loop%s", r.system.c_str(), r.mode.c_str(),
                        r.n, r.loops, r.loops == 1 ? "" : "s");
            if (r.processes > 1)
                std::printf(", in %ld processes (%ld connections or fewer each: the open-file "
                            "limit)", r.processes, r.per_process_limit);
            std::printf("\n");
            if (!r.ok) {
                std::printf("  %s: %s\n", r.unsupported ? "not measured" : "FAILED",
                            r.error.c_str());
                continue;
            }
            std::printf("  server memory%s: RssAnon %ld -> %ld kB, VmData %ld -> %ld kB\n",
                        r.processes > 1 ? " (all processes)" : "",
                        r.before.rss_anon, r.after.rss_anon, r.before.vm_data, r.after.vm_data);
            std::printf("  per connection: %.0f B resident (RssAnon), %.0f B reserved (VmData)",
                        r.per_conn_anon, r.per_conn_data);
            if (!std::isnan(r.per_conn_heap))
                std::printf(", %.0f B in use (malloc)", r.per_conn_heap);
            std::printf("\n");
            std::printf("  all %ld connected in %.2f s (load %s)\n", r.n, r.setup_seconds,
                        r.load.c_str());
            if (r.mode == "fanout")
                std::printf("  %ld broadcasts of 64 B to %ld clients in %.3f s: %.0f deliveries/s;"
                            " CPU server %.3f s, clients %.3f s\n",
                            r.messages, r.n, r.seconds, r.rate, r.cpu_server, r.cpu_clients);
        }
    }
    return failed ? 1 : 0;
}

}  // namespace tfbench
