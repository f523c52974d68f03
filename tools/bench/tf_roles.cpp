// tools/bench/tf_roles.cpp: the truflux sides of the roundtrip table, as separate processes
// (`truflux bench --role server|client --system NAME ...`), through the public C API only:
// what an application would write. They print what the C peers print (peer_common.h).
#include <stdlib.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <truflux/truflux.h>

#include "bench.hpp"
#include "tf_side.hpp"

namespace tfbench {

double tf_now() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double tf_cpu() {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

TfSide::~TfSide() {
    if (server) truflux_server_free(server);
    if (client) truflux_client_free(client);
    truflux_options_free(options);
    truflux_protocol_free(proto);
    if (loop) truflux_loop_free(loop);
}

std::string TfSide::setup(const TfSystem &sys, bool as_server, const Env &env) {
    system = &sys;
    loop = truflux_loop_new();
    proto = truflux_protocol_new();
    options = truflux_options_new();
    if (!loop || !proto || !options) return "out of memory";
    int64_t id = tf_protocol_add(proto, "echo", TRUFLUX_TYPES_ANY, 0);
    if (id < 0) return std::string("protocol: ") + tf_strerror((int)id);
    echo_id = (uint32_t)id;
    // Rows go up to 10 MB; custom rows may be larger. Timers would only add noise.
    tf_options_set_int(options, TRUFLUX_OPT_MAX_MESSAGE_SIZE, 256 << 20);
    tf_options_set_int(options, TRUFLUX_OPT_IDLE_TIMEOUT, 0);
    tf_options_set_int(options, TRUFLUX_OPT_HEARTBEAT, 0);
    if (sys.configure) {
        std::string err = sys.configure(options, as_server, env);
        if (!err.empty()) return err;
    }
    return "";
}

std::string TfSide::make_server(const tf_callbacks_t &cbs) {
    server = truflux_server_new(loop, proto, options);
    if (!server) return std::string("server: ") + tf_strerror(tf_last_error());
    tf_server_set_callbacks(server, &cbs);
    return "";
}

int TfSide::listen(const std::string &host, int port) {
    std::string url = system->scheme + "://" + host + ":" + std::to_string(port);
    int rc = tf_server_listen(server, url.c_str());
    if (rc != 0) std::fprintf(stderr, "truflux bench: listen %s: %s\n", url.c_str(), tf_strerror(rc));
    return rc;
}

std::string TfSide::url(const std::string &host, int port) const {
    return system->scheme + "://" + host + ":" + std::to_string(port);
}

std::string tf_probe(const TfSystem &sys, const Env &env) {
    TfSide side;
    std::string err = side.setup(sys, true, env);
    if (err.empty()) {
        tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
        err = side.make_server(cbs);
    }
    if (err.empty()) {
        std::string url = side.url("127.0.0.1", 0);
        int rc = tf_server_listen(side.server, url.c_str());
        if (rc == TRUFLUX_EBADURL)
            return std::string(NOT_IN_BUILD) + ": no " + sys.scheme + ":// transport";
        if (rc != 0) return "listen " + url + ": " + tf_strerror(rc);
    }
    if (!err.empty()) return std::string(NOT_IN_BUILD) + ": " + err;
    // A client with the same options must be creatable too (client-only keys).
    TfSide client;
    err = client.setup(sys, false, env);
    if (err.empty()) {
        client.client = truflux_client_new(client.loop, client.proto, client.options);
        if (!client.client) err = std::string("client: ") + tf_strerror(tf_last_error());
    }
    return err.empty() ? "" : std::string(NOT_IN_BUILD) + ": " + err;
}

namespace {

int die(const std::string &what) {
    std::fprintf(stderr, "truflux bench: %s\n", what.c_str());
    return 1;
}

// ---- the server: echoes every message on its one connection, then reports its CPU -----

struct EchoServer {
    TfSide side;
    double cpu0 = -1;
    int error = 0;
};

void echo_back(void *user, tf_conn_t *conn, const tf_message_t *msg) {
    EchoServer *s = static_cast<EchoServer *>(user);
    if (s->cpu0 < 0) s->cpu0 = tf_cpu();
    int rc = tf_send(conn, msg->id, msg->type, msg->data, msg->len);
    if (rc != 0) {
        s->error = rc;
        tf_conn_close(conn, TRUFLUX_CLOSE_FORCE, rc);
    }
}

void server_conn_closed(void *user, tf_conn_t *conn, int reason, int) {
    EchoServer *s = static_cast<EchoServer *>(user);
    if (!conn) return;
    if (reason != 0 && !s->error) s->error = reason;
    tf_loop_stop(s->side.loop);
}

int run_server(const TfSystem &sys, const Env &env) {
    EchoServer s;
    std::string err = s.side.setup(sys, true, env);
    if (!err.empty()) return die(err);
    tf_protocol_on(s.side.proto, "echo", echo_back, &s);
    tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
    cbs.user = &s;
    cbs.on_close = server_conn_closed;
    err = s.side.make_server(cbs);
    if (!err.empty()) return die(err);
    if (s.side.listen("127.0.0.1", 0) != 0) return 1;
    std::printf("READY %d\n", tf_server_port(s.side.server));
    std::fflush(stdout);
    tf_loop_run(s.side.loop);
    double cpu = s.cpu0 < 0 ? 0 : tf_cpu() - s.cpu0;
    if (s.error) return die(std::string("connection ended with ") + tf_strerror(s.error));
    std::printf("CPU %.9f\n", cpu);
    std::fflush(stdout);
    return 0;
}

// ---- the client: times `count` roundtrips, one message in flight ----------------------

struct PingClient {
    TfSide side;
    unsigned char *buf = nullptr;
    size_t size = 0;
    long count = 0, done = 0;
    double t0 = 0, t1 = 0, cpu0 = 0, cpu1 = 0;
    int error = 0;
    std::string detail;
};

void ping(PingClient *c, tf_conn_t *conn) {
    int rc = tf_send(conn, c->side.echo_id, TRUFLUX_TYPE_BINARY, c->buf, c->size);
    if (rc != 0) {
        c->error = rc;
        c->detail = "tf_send";
        tf_client_close(c->side.client, TRUFLUX_CLOSE_FORCE);
    }
}

void client_open(void *user, tf_conn_t *conn) {
    PingClient *c = static_cast<PingClient *>(user);
    c->cpu0 = tf_cpu();
    c->t0 = tf_now();
    ping(c, conn);
}

void client_echo(void *user, tf_conn_t *conn, const tf_message_t *msg) {
    PingClient *c = static_cast<PingClient *>(user);
    if (msg->len != c->size) {
        c->error = TRUFLUX_EPROTO;
        c->detail = "echo has the wrong size";
        tf_client_close(c->side.client, TRUFLUX_CLOSE_FORCE);
        return;
    }
    if (++c->done < c->count) {
        ping(c, conn);
        return;
    }
    c->t1 = tf_now();
    c->cpu1 = tf_cpu();
    tf_client_close(c->side.client, TRUFLUX_CLOSE_GRACEFUL);
}

void client_error(void *user, tf_conn_t *, int code, const char *detail) {
    PingClient *c = static_cast<PingClient *>(user);
    if (!c->error) {
        c->error = code;
        c->detail = detail ? detail : "";
    }
}

void client_closed(void *user, tf_conn_t *, int reason, int) {
    PingClient *c = static_cast<PingClient *>(user);
    if (reason != 0 && !c->error) c->error = reason;
    tf_loop_stop(c->side.loop);
}

int run_client(const TfSystem &sys, const Env &env, int port, size_t size, long count) {
    PingClient c;
    c.size = size;
    c.count = count;
    void *p = nullptr;
    if (posix_memalign(&p, 4096, size ? (size + 4095) / 4096 * 4096 : 4096) != 0)
        return die("out of memory");
    c.buf = static_cast<unsigned char *>(p);
    for (size_t i = 0; i < size; i++) c.buf[i] = (unsigned char)(i * 131u + 7u);
    std::string err = c.side.setup(sys, false, env);
    if (!err.empty()) return die(err);
    tf_protocol_on(c.side.proto, "echo", client_echo, &c);
    c.side.client = truflux_client_new(c.side.loop, c.side.proto, c.side.options);
    if (!c.side.client) return die(std::string("client: ") + tf_strerror(tf_last_error()));
    tf_callbacks_t cbs = TRUFLUX_CALLBACKS_INIT;
    cbs.user = &c;
    cbs.on_open = client_open;
    cbs.on_error = client_error;
    cbs.on_close = client_closed;
    tf_client_set_callbacks(c.side.client, &cbs);
    std::string url = c.side.url("127.0.0.1", port);
    int rc = tf_client_connect(c.side.client, url.c_str());
    if (rc != 0) return die("connect " + url + ": " + tf_strerror(rc));
    tf_loop_run(c.side.loop);
    free(c.buf);
    if (c.done != c.count)
        return die("only " + std::to_string(c.done) + " of " + std::to_string(c.count) +
                   " roundtrips: " + tf_strerror(c.error) + " " + c.detail);
    std::printf("RESULT %.9f %.9f\n", c.t1 - c.t0, c.cpu1 - c.cpu0);
    std::fflush(stdout);
    return 0;
}

long get_long(const std::map<std::string, std::string> &o, const char *k, long def) {
    auto it = o.find(k);
    return it == o.end() ? def : std::atol(it->second.c_str());
}

std::string get_str(const std::map<std::string, std::string> &o, const char *k) {
    auto it = o.find(k);
    return it == o.end() ? std::string() : it->second;
}

}  // namespace

int run_role(const std::map<std::string, std::string> &o) {
    std::string role = get_str(o, "role"), name = get_str(o, "system");
    const TfSystem *sys = find_tf_system(name.empty() ? "truflux-tcp" : name);
    if (!sys) return die("no truflux system " + name);
    Env env;
    env.cert = get_str(o, "cert");
    env.key = get_str(o, "key");
    if (role == "server") return run_server(*sys, env);
    if (role == "client")
        return run_client(*sys, env, (int)get_long(o, "port", 0), (size_t)get_long(o, "size", 64),
                          get_long(o, "count", 1));
    if (role == "file-server" || role == "file-client")
        return run_file_role(*sys, env, role == "file-server", o);
    if (role == "conn-server" || role == "fanout-server")
        return run_scale_server(*sys, env, role == "fanout-server", o);
    if (role == "conn-clients" || role == "fanout-clients")
        return run_scale_clients(*sys, env, role == "fanout-clients", o);
    return die("unknown role " + role);
}

}  // namespace tfbench
