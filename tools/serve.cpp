// tools/serve.cpp: `truflux serve`: a server whose protocol has two messages, `echo` (sent
// back to its sender) and `chat` (relayed to every other client).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <truflux.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "serve_files.hpp"
#include "serve_stats.hpp"
#include "serve_web.hpp"
#include "security_opts.hpp"

namespace tfcli {
namespace {

const char serve_usage[] =
    "usage: truflux serve --tcp HOST:PORT [--tcp HOST:PORT ...] [--web [HOST:]PORT] [options]\n"
    "       truflux serve URL [URL ...] [options]\n"
    "\n"
    "Serves two messages: `echo` (any type) comes back to its sender unchanged; `chat` (any\n"
    "type) is relayed to every other client. PORT 0 picks a free port. Prints\n"
    "\"truflux listening on tcp://HOST:PORT\" per address on standard output, and a line per\n"
    "connect and disconnect on standard error. SIGINT or SIGTERM closes gracefully.\n"
    "\n"
    "options:\n"
    "  URL                       listen on this URL: tcp://, ws://, tls://, wss:// (TLS needs\n"
    "                            --tls-cert and --tls-key), tcp+ws:// or tls+ws:// (raw\n"
    "                            truflux and WebSocket on one port); ws and wss take a /PATH\n"
    "  --tcp HOST:PORT           listen on this address (repeatable; [::1]:PORT for IPv6)\n"
    "  --ws HOST:PORT            listen for WebSocket clients, ws://HOST:PORT (repeatable)\n"
    "  --web [HOST:]PORT         serve the chat page at http://HOST:PORT/ and WebSocket\n"
    "                            clients at ws://HOST:PORT/truflux (HOST 127.0.0.1 if omitted);\n"
    "                            prints \"truflux web page on http://HOST:PORT/\"\n"
    "  --accept-websocket        --tcp addresses also take WebSocket clients (same port)\n"
    "  --max-connections N       open connections at most (over every loop)\n"
    "  --loops N                 accept on N loops, each on a thread of its own, sharing the\n"
    "                            addresses (SO_REUSEPORT; default 1); works with\n"
    "                            --accept-files and --web\n"
    "  --max-message-size N      largest payload accepted, in bytes\n"
    "  --idle-timeout MS         close a connection silent for this long (0: never)\n"
    "  --handshake-timeout MS    close a connection whose hello takes longer than this\n"
    "  --stats-interval SECONDS  print the server's counters (truflux stats: ...) on\n"
    "                            standard error every SECONDS (0: only at exit) and at exit\n"
    "  --close-timeout MS        graceful close: wait at most this for peers (default 3000)\n"
    "  --strict                  refuse clients whose protocol definition differs\n"
    "  --accept-files DIR        accept every file clients send (truflux send-file, the\n"
    "                            --web page's file drop) into DIR\n"
    "  --quiet                   no connect/disconnect lines\n"
    "  --help                    this text\n";

int usage_error(const std::string &msg) {
    std::fprintf(stderr, "truflux serve: %s\n\n%s%s", msg.c_str(), serve_usage,
                 security_usage(true));
    return exit_usage;
}

// SCHEME://HOST:PORT[/PATH] with the port replaced (the one the system chose for port 0).
std::string with_port(const std::string &url, int port) {
    std::size_t at = url.find("://") + 3, slash = url.find('/', at);
    std::size_t colon = url.rfind(':', slash == std::string::npos ? url.size() : slash - 1);
    if (colon == std::string::npos || colon < at) return url;
    return url.substr(0, colon + 1) + std::to_string(port) +
           (slash == std::string::npos ? "" : url.substr(slash));
}

// "HOST:PORT" -> host and port text; HOST may be a bracketed IPv6 address.
bool split_host_port(const std::string &spec, std::string &host, std::string &port) {
    std::size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
        return false;
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    std::int64_t p;
    return parse_int(port, 0, 65535, p);
}

std::string peer_of(truflux::ConnectionRef c) {
    try {
        truflux::Address a = c.remote_address();
        if (a.host.find(':') != std::string::npos)
            return "[" + a.host + "]:" + std::to_string(a.port);
        return a.host + ":" + std::to_string(a.port);
    } catch (const truflux::error &) {
        return "?";
    }
}

// Ends the server on the first SIGINT/SIGTERM: signals are blocked in every thread and this
// one takes them with sigwait, so nothing runs in signal context.
class ShutdownWaiter {
public:
    ShutdownWaiter(const sigset_t &set, truflux::Server &server, truflux::Loop &loop,
                   std::chrono::milliseconds bound, bool quiet)
        : set_(set), server_(server), loop_(loop), bound_(bound), quiet_(quiet),
          thread_([this] { run(); }) {}

    ~ShutdownWaiter() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            abandoned_ = true;
        }
        if (!signalled_.load())
            pthread_kill(thread_.native_handle(), SIGTERM);
        cv_.notify_all();
        thread_.join();
    }

    // From the loop thread: the server reported it is done.
    void done() {
        std::lock_guard<std::mutex> lk(mu_);
        done_ = true;
        cv_.notify_all();
    }

private:
    void run() {
        int sig = 0;
        sigwait(&set_, &sig);
        signalled_ = true;
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (abandoned_)
                return;
        }
        if (!quiet_)
            std::fprintf(stderr, "truflux serve: %s, closing\n",
                         sig == SIGINT ? "SIGINT" : "SIGTERM");
        try {
            server_.close(truflux::CloseMode::Graceful);
        } catch (const truflux::error &e) {
            std::fprintf(stderr, "truflux serve: close: %s\n", e.what());
        }
        std::unique_lock<std::mutex> lk(mu_);
        if (!cv_.wait_for(lk, bound_, [this] { return done_ || abandoned_; })) {
            std::fprintf(stderr, "truflux serve: close did not finish within %lld ms\n",
                         static_cast<long long>(bound_.count()));
            lk.unlock();
            try {
                loop_.stop();
            } catch (const std::exception &e) {
                std::fprintf(stderr, "truflux serve: %s\n", e.what());
            }
        }
    }

    sigset_t set_;
    truflux::Server &server_;
    truflux::Loop &loop_;
    std::chrono::milliseconds bound_;
    bool quiet_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    bool abandoned_ = false;
    std::atomic<bool> signalled_{false};
    std::thread thread_;
};

// The --web fronts of the added loops (--loops N), sharing the web port with the first
// loop's through SO_REUSEPORT. An evhttp belongs to its loop's event_base, so each front is
// made, bound and freed on that loop's thread, and the page's WebSocket connections it
// upgrades live on that loop.
class LoopWebFronts {
public:
    LoopWebFronts() = default;
    LoopWebFronts(const LoopWebFronts &) = delete;
    LoopWebFronts &operator=(const LoopWebFronts &) = delete;
    ~LoopWebFronts() {
        for (auto &f : fronts_) {
            std::unique_ptr<WebFront> &front = f.second;
            try {
                on_loop(*f.first, [&front] { front.reset(); });
            } catch (...) {
                front.reset();  // the loop runs no more: any thread may free it
            }
        }
    }

    bool add(truflux::Loop &l, tf_server_t *server, const std::string &host, int port,
             const std::string &security, std::string &err) {
        std::unique_ptr<WebFront> front(new WebFront());
        front->set_security(security);
        bool ok = false;
        on_loop(l, [&] {
            ok = front->start(l.event_base(), server, host, port, err, true);
            if (!ok) front.reset();
        });
        if (ok) fronts_.emplace_back(&l, std::move(front));
        return ok;
    }

private:
    // Runs fn on the loop's thread and waits for it.
    static void on_loop(truflux::Loop &l, const std::function<void()> &fn) {
        std::promise<void> done;
        std::future<void> finished = done.get_future();
        l.call([&] {
            try {
                fn();
            } catch (...) {
                done.set_exception(std::current_exception());
                return;
            }
            done.set_value();
        });
        finished.get();
    }

    std::vector<std::pair<truflux::Loop *, std::unique_ptr<WebFront>>> fronts_;
};

}  // namespace

int serve_main(int argc, char **argv) {
    Args args;
    std::string err;
    std::vector<OptSpec> specs = {
        {"tcp", true},          {"max-connections", true}, {"max-message-size", true},
        {"idle-timeout", true}, {"close-timeout", true},   {"strict", false},
        {"quiet", false},       {"help", false},           {"accept-files", true},
        {"ws", true},           {"web", true},             {"accept-websocket", false},
        {"handshake-timeout", true}, {"stats-interval", true}, {"loops", true},
    };
    add_security_specs(specs, true);
    if (!args.parse(argc, argv, specs, err))
        return usage_error(err);
    if (args.has("help")) {
        std::fputs(serve_usage, stdout);
        std::fputs(security_usage(true), stdout);
        return exit_ok;
    }
    const std::vector<std::string> &urls = args.positionals();
    for (const std::string &u : urls)
        if (u.find("://") == std::string::npos)
            return usage_error("unexpected argument " + u + " (a URL is SCHEME://HOST:PORT)");
    std::vector<std::string> tcp = args.all("tcp");
    std::vector<std::string> wsl = args.all("ws");
    if (tcp.empty() && wsl.empty() && urls.empty() && !args.has("web") && !args.has("tls") &&
        !args.has("wss"))
        return usage_error("--tcp HOST:PORT is required (or a URL, --ws, --web, --tls, --wss)");
    if (args.has("accept-files")) {
        std::string why = check_accept_dir(args.get("accept-files"));
        if (!why.empty())
            return usage_error("--accept-files: " + why);
    }
    for (const std::string &spec : wsl) {
        std::string host, port;
        if (!split_host_port(spec, host, port))
            return usage_error("--ws wants HOST:PORT, got " + spec);
    }
    std::string web_host = "127.0.0.1";
    std::int64_t web_port = -1;
    if (args.has("web")) {
        std::string spec = args.get("web"), port = spec;
        if (spec.find(':') != std::string::npos && !split_host_port(spec, web_host, port))
            return usage_error("--web wants [HOST:]PORT, got " + spec);
        if (!parse_int(port, 0, 65535, web_port))
            return usage_error("--web wants [HOST:]PORT, got " + spec);
        if (web_host.size() > 2 && web_host.front() == '[' && web_host.back() == ']')
            web_host = web_host.substr(1, web_host.size() - 2);
        if (!web_page_built()) {
            std::fprintf(stderr, "truflux serve: this build has no web page: run `npm ci` in "
                                 "bindings/js (Node.js and npm), then rebuild\n");
            return exit_failure;
        }
    }

    std::vector<std::string> hosts, ports;
    for (const std::string &spec : tcp) {
        std::string host, port;
        if (!split_host_port(spec, host, port))
            return usage_error("--tcp wants HOST:PORT, got " + spec);
        hosts.push_back(host);
        ports.push_back(port);
    }

    std::int64_t loops = 1;
    if (args.has("loops") && !parse_int(args.get("loops"), 1, 64, loops))
        return usage_error("--loops wants a number from 1 to 64");

    bool quiet = args.has("quiet");
    std::int64_t close_timeout = 3000;
    std::int64_t stats_interval = -1;  // no --stats-interval: no stats lines
    truflux::Options opts;
    try {
        std::int64_t v;
        if (args.has("max-connections")) {
            if (!parse_int(args.get("max-connections"), 1, INT32_MAX, v))
                return usage_error("--max-connections wants a positive number");
            opts.max_connections(v);
        }
        if (args.has("max-message-size")) {
            if (!parse_int(args.get("max-message-size"), 1, INT32_MAX, v))
                return usage_error("--max-message-size wants a positive number");
            opts.max_message_size(v);
        }
        if (args.has("idle-timeout")) {
            if (!parse_int(args.get("idle-timeout"), 0, INT32_MAX, v))
                return usage_error("--idle-timeout wants milliseconds");
            opts.idle_timeout(v);
        }
        if (args.has("handshake-timeout")) {
            if (!parse_int(args.get("handshake-timeout"), 1, INT32_MAX, v))
                return usage_error("--handshake-timeout wants milliseconds");
            opts.handshake_timeout(v);
        }
        if (args.has("stats-interval") &&
            !parse_int(args.get("stats-interval"), 0, 86400, stats_interval))
            return usage_error("--stats-interval wants seconds (0: only at exit)");
        if (args.has("close-timeout") &&
            !parse_int(args.get("close-timeout"), 0, INT32_MAX, close_timeout))
            return usage_error("--close-timeout wants milliseconds");
        opts.close_timeout(close_timeout);
        if (args.has("strict"))
            opts.strict(true);
        if (args.has("accept-websocket"))
            opts.accept_websocket(true);
        std::string security_err = apply_security(args, true, opts);
        if (!security_err.empty())
            return usage_error(security_err);
    } catch (const truflux::error &e) {
        std::fprintf(stderr, "truflux serve: bad option value: %s\n", e.what());
        return exit_usage;
    }

    // Before any thread exists, so that every thread inherits the mask and only the
    // waiter takes these signals.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    try {
        truflux::Loop loop;
        truflux::Protocol proto;
        proto.add("echo");
        proto.add("chat");
        truflux::Server *server_ptr = nullptr;
        proto.on("echo", [quiet](truflux::ConnectionRef c, const truflux::Message &m) {
            if (!c.send(m.id(), m.payload()) && !quiet)
                std::fprintf(stderr, "truflux serve: %s: send queue full, echo dropped\n",
                             peer_of(c).c_str());
        });
        proto.on("chat", [&server_ptr](truflux::ConnectionRef c, const truflux::Message &m) {
            server_ptr->broadcast(m.id(), m.payload(), {c});
        });

        // The other loops, each on a library thread; declared before the server, which they
        // must outlive. Handlers then run on several threads: each only touches its own
        // connection, and the server's calls are safe from any thread.
        std::vector<truflux::Loop> extra_loops;
        for (std::int64_t i = 1; i < loops; ++i) {
            extra_loops.emplace_back();
            extra_loops.back().start();
        }

        truflux::Server server(loop, proto, opts);
        server_ptr = &server;
        report_security(server, quiet);
        std::unique_ptr<FileReceiver> file_rx;
        if (args.has("accept-files"))
            file_rx = accept_files(server, args.get("accept-files"), quiet);
        ShutdownWaiter *waiter_ptr = nullptr;

        server.on_open([quiet, &server](truflux::ConnectionRef c) {
            auto *peer = new std::string(peer_of(c));
            c.set_user(peer);
            if (!quiet)
                std::fprintf(stderr, "truflux serve: connect %s (%zu open)\n", peer->c_str(),
                             server.count());
        });
        server.on_close([quiet, &loop, &waiter_ptr](truflux::ConnectionRef c, int reason,
                                                   bool remote) {
            if (!c) {
                if (waiter_ptr)
                    waiter_ptr->done();
                loop.stop();
                return;
            }
            std::string *peer = c.user_as<std::string>();
            c.set_user(nullptr);
            if (!quiet)
                std::fprintf(stderr, "truflux serve: disconnect %s: %s (%s)\n",
                             peer ? peer->c_str() : peer_of(c).c_str(), tf_strerror(reason),
                             remote ? "by peer" : "by server");
            delete peer;
        });
        server.on_error([quiet](truflux::ConnectionRef c, int code, std::string_view detail) {
            if (quiet)
                return;
            std::string *peer = c ? c.user_as<std::string>() : nullptr;
            std::string who = c ? (peer ? *peer : peer_of(c)) : std::string("server");
            std::fprintf(stderr, "truflux serve: error %s: %s (%.*s)\n", who.c_str(),
                         tf_strerror(code), static_cast<int>(detail.size()), detail.data());
        });

        for (truflux::Loop &l : extra_loops)
            server.add_loop(l);  // before listening (handlers and settings reach every loop)
        for (std::size_t i = 0; i < tcp.size(); ++i) {
            std::string url = "tcp://" + tcp[i];
            try {
                server.listen(url);
            } catch (const truflux::error &e) {
                std::fprintf(stderr, "truflux serve: cannot listen on %s: %s\n", url.c_str(),
                             e.what());
                return exit_failure;
            }
        }
        for (const std::string &spec : wsl) {
            std::string url = "ws://" + spec;
            try {
                server.listen(url);
            } catch (const truflux::error &e) {
                std::fprintf(stderr, "truflux serve: cannot listen on %s: %s\n", url.c_str(),
                             e.what());
                return exit_failure;
            }
        }
        if (!listen_tls(server, args, tcp.empty() && wsl.empty()))
            return exit_failure;
        bool url_first = tcp.empty() && wsl.empty() && !args.has("tls") && !args.has("wss");
        for (const std::string &url : urls) {
            try {
                server.listen(url);
            } catch (const truflux::error &e) {
                std::fprintf(stderr, "truflux serve: cannot listen on %s: %s\n", url.c_str(),
                             e.what());
                return exit_failure;
            }
        }
        // The C API reports the port of the first listener only; others print as given.
        for (std::size_t i = 0; i < tcp.size(); ++i) {
            std::string port = ports[i];
            if (i == 0)
                port = std::to_string(server.port());
            std::printf("truflux listening on tcp://%s:%s\n", hosts[i].c_str(), port.c_str());
        }
        for (std::size_t i = 0; i < wsl.size(); ++i) {
            std::string spec = wsl[i];
            if (i == 0 && tcp.empty())
                spec = spec.substr(0, spec.rfind(':') + 1) + std::to_string(server.port());
            std::printf("truflux listening on ws://%s\n", spec.c_str());
        }
        for (std::size_t i = 0; i < urls.size(); ++i)
            std::printf("truflux listening on %s\n",
                        i == 0 && url_first ? with_port(urls[i], server.port()).c_str()
                                            : urls[i].c_str());
        // Declared after the server: destroyed first, they unbind before the server goes.
        tfcli::WebFront web;
        LoopWebFronts extra_web;
        if (web_port >= 0) {
            std::string err;
            web.set_security(tfcli::web_security_script(args));
            if (!web.start(loop.event_base(), server.handle(), web_host,
                           static_cast<int>(web_port), err, !extra_loops.empty())) {
                std::fprintf(stderr, "truflux serve: --web: %s\n", err.c_str());
                return exit_failure;
            }
            for (truflux::Loop &l : extra_loops) {
                if (!extra_web.add(l, server.handle(), web_host, web.port(), web.security(),
                                   err)) {
                    std::fprintf(stderr, "truflux serve: --web: %s\n", err.c_str());
                    return exit_failure;
                }
            }
            bool v6 = web_host.find(':') != std::string::npos;
            std::printf("truflux web page on http://%s%s%s:%d/\n", v6 ? "[" : "",
                        web_host.c_str(), v6 ? "]" : "", web.port());
        }
        std::fflush(stdout);

        std::unique_ptr<StatsPrinter> stats;
        if (stats_interval >= 0)
            stats.reset(new StatsPrinter(loop, server, static_cast<long>(stats_interval)));
        ShutdownWaiter waiter(sigs, server, loop,
                              std::chrono::milliseconds(close_timeout + 1000), quiet);
        waiter_ptr = &waiter;
        loop.run();
        waiter_ptr = nullptr;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "truflux serve: %s\n", e.what());
        return exit_failure;
    }
    return exit_ok;
}

}  // namespace tfcli
