// tools/connect.cpp: `truflux connect URL`: sends standard input line by line as `echo` (or
// `chat`) messages and prints every message that arrives as NAME<TAB>payload.
//
// The loop runs in the main thread. A reader thread reads standard input into a bounded
// queue and posts a "pump" to the loop (tf_loop_call), which sends what it can; when the
// send queue is full the pump waits for on_drain. At end of input the reader waits (bounded)
// for the echo replies, then closes the client gracefully.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <truflux.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "json_msgpack.hpp"
#include "security_opts.hpp"

namespace tfcli {
namespace {

const char connect_usage[] =
    "usage: truflux connect URL [--message echo|chat] [--type TYPE] [--wait SECONDS]\n"
    "\n"
    "Connects to URL (tcp://HOST:PORT, tls://HOST:PORT, or ws://HOST:PORT/PATH and\n"
    "wss://HOST:PORT/PATH for WebSocket) speaking the `truflux serve` protocol (echo, chat).\n"
    "Sends each line of standard input (without its newline) as one message, and prints\n"
    "every message received as NAME<TAB>PAYLOAD: text as is, binary as 0x-prefixed hex,\n"
    "MessagePack as mp:-prefixed hex, empty as nothing. At end of input, waits for the\n"
    "replies to the echo messages sent, then closes. Exit status: 0 success, 1 connection\n"
    "failure (or missing replies, or a line that could not be sent), 2 usage error.\n"
    "\n"
    "options:\n"
    "  --message NAME   echo (default) or chat\n"
    "  --type TYPE      text (default); binary (the line's bytes); empty (one empty\n"
    "                   message per line); msgpack (the line is JSON, sent as MessagePack)\n"
    "  --wait SECONDS   how long to wait for replies and for the connection (default 5)\n"
    "  --help           this text\n";

constexpr std::size_t max_queued_lines = 256;

int usage_error(const std::string &msg) {
    std::fprintf(stderr, "truflux connect: %s\n\n%s%s", msg.c_str(), connect_usage,
                 security_usage(false));
    return exit_usage;
}

void print_message(const truflux::Message &m) {
    static const char hex[] = "0123456789abcdef";
    std::string out(m.name());
    out += '\t';
    std::string_view d = m.data();
    switch (m.type()) {
    case truflux::Type::Text:
        out.append(d.data(), d.size());
        break;
    case truflux::Type::Binary:
    case truflux::Type::MsgPack:
        out += m.type() == truflux::Type::Binary ? "0x" : "mp:";
        for (unsigned char ch : d) {
            out += hex[ch >> 4];
            out += hex[ch & 15];
        }
        break;
    case truflux::Type::Empty:
        break;
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
}

// State shared by the reader thread and the loop thread, under `mu`.
struct Session {
    std::mutex mu;
    std::condition_variable cv;
    // Read (and encoded for the chosen type), not yet accepted by the library: line number
    // and payload bytes.
    std::deque<std::pair<std::uint64_t, std::string>> lines;
    bool eof = false;               // the reader reached the end of input
    bool in_getline = false;        // the reader is blocked reading standard input
    bool pump_posted = false;       // a pump is queued or waiting for on_drain
    bool input_done = false;        // every line was handed to the library
    bool opened = false;
    bool closed = false;
    bool send_failed = false;  // a line was not sent
    std::uint64_t echo_sent = 0, echo_received = 0;

    // Loop thread only.
    int close_reason = 0;
    bool close_remote = false;
    std::string last_error;
    std::vector<std::pair<int, std::string>> errors;  // reported after the open
};

class Connector {
public:
    Connector(truflux::Loop &loop, truflux::Client &client, std::string message,
              truflux::Type type, double wait_s)
        : loop_(loop), client_(client), message_(std::move(message)), type_(type),
          wait_(std::chrono::duration<double>(wait_s)) {}

    void install() {
        client_.on_open([this](truflux::ConnectionRef) {
            std::lock_guard<std::mutex> lk(s_.mu);
            s_.opened = true;
            s_.cv.notify_all();
        });
        client_.on_message([this](truflux::ConnectionRef, const truflux::Message &m) {
            print_message(m);
            if (m.name() == "echo") {
                std::lock_guard<std::mutex> lk(s_.mu);
                ++s_.echo_received;
                s_.cv.notify_all();
            }
        });
        client_.on_error([this](truflux::ConnectionRef, int code, std::string_view detail) {
            s_.last_error = std::string(detail.empty() ? tf_strerror(code) : detail);
            bool opened;
            {
                std::lock_guard<std::mutex> lk(s_.mu);
                opened = s_.opened;
            }
            // Before the open, the error is why connecting failed; after it, errors that end
            // the connection come again as its close reason. finish() reports both once.
            if (opened)
                s_.errors.emplace_back(code, s_.last_error);
        });
        client_.on_drain([this](truflux::ConnectionRef) { pump(); });
        client_.on_close([this](truflux::ConnectionRef, int reason, bool remote) {
            s_.close_reason = reason;
            s_.close_remote = remote;
            {
                std::lock_guard<std::mutex> lk(s_.mu);
                s_.closed = true;
                s_.cv.notify_all();
            }
            // Stopped from the inbox, after this iteration: a CLOSE frame queued by the
            // ending (e.g. refusing a server's key) still goes out first.
            loop_.call([this] { loop_.stop(); });
        });
    }

    void start_reader() { reader_ = std::thread([this] { read_input(); }); }

    // After the loop ended: the exit status, with the reason on stderr.
    int finish(const std::string &url, bool loop_failed) {
        std::unique_lock<std::mutex> lk(s_.mu);
        s_.closed = true;  // the loop is over: the reader must stop whatever happened
        int code = exit_ok;
        for (const auto &e : s_.errors) {
            if (e.first == s_.close_reason)
                continue;
            std::fprintf(stderr, "truflux connect: %s (%s)\n", tf_strerror(e.first),
                         e.second.c_str());
            code = exit_failure;
        }
        if (loop_failed) {
            code = exit_failure;
        } else if (!s_.opened) {
            std::fprintf(stderr, "truflux connect: cannot connect to %s: %s%s%s%s\n", url.c_str(),
                         tf_strerror(s_.close_reason ? s_.close_reason : TRUFLUX_ETIMEDOUT),
                         s_.last_error.empty() ? "" : " (", s_.last_error.c_str(),
                         s_.last_error.empty() ? "" : ")");
            code = exit_failure;
        } else if (s_.close_reason != 0) {
            std::fprintf(stderr, "truflux connect: connection to %s closed%s: %s\n", url.c_str(),
                         s_.close_remote ? " by the server" : "", tf_strerror(s_.close_reason));
            code = exit_failure;
        } else if (s_.echo_received < s_.echo_sent) {
            std::fprintf(stderr,
                         "truflux connect: %llu of %llu echo replies missing from %s after "
                         "%.3g s\n",
                         static_cast<unsigned long long>(s_.echo_sent - s_.echo_received),
                         static_cast<unsigned long long>(s_.echo_sent), url.c_str(),
                         wait_.count());
            code = exit_failure;
        } else if (s_.send_failed) {
            code = exit_failure;
        }
        bool reader_blocked = s_.in_getline;
        lk.unlock();
        if (reader_blocked) {
            // Standard input is still open: nothing can wake the reader, so leave at once.
            std::fflush(stdout);
            std::fflush(stderr);
            _exit(code);
        }
        s_.cv.notify_all();
        reader_.join();
        return code;
    }

private:
    void read_input() {
        char *buf = nullptr;
        std::size_t cap = 0;
        std::uint64_t line_no = 0;
        for (;;) {
            {
                std::lock_guard<std::mutex> lk(s_.mu);
                if (s_.closed)
                    break;
                s_.in_getline = true;
            }
            ssize_t n = getline(&buf, &cap, stdin);
            std::unique_lock<std::mutex> lk(s_.mu);
            s_.in_getline = false;
            if (n < 0) {
                s_.eof = true;
                lk.unlock();
                post_pump();
                wait_and_close();
                break;
            }
            ++line_no;
            if (n > 0 && buf[n - 1] == '\n')
                --n;
            std::string bytes(buf, static_cast<std::size_t>(n));
            if (type_ == truflux::Type::MsgPack) {
                std::string encoded, err;
                if (!json_to_msgpack(bytes, encoded, err)) {
                    std::fprintf(stderr, "truflux connect: line %llu not sent: invalid JSON: %s\n",
                                 static_cast<unsigned long long>(line_no), err.c_str());
                    s_.send_failed = true;
                    continue;
                }
                bytes.swap(encoded);
            } else if (type_ == truflux::Type::Empty) {
                bytes.clear();
            }
            s_.cv.wait(lk, [this] { return s_.lines.size() < max_queued_lines || s_.closed; });
            if (s_.closed)
                break;
            s_.lines.emplace_back(line_no, std::move(bytes));
            lk.unlock();
            post_pump();
        }
        std::free(buf);
    }

    void post_pump() {
        {
            std::lock_guard<std::mutex> lk(s_.mu);
            if (s_.pump_posted || s_.closed)
                return;
            s_.pump_posted = true;
        }
        try {
            loop_.call([this] { pump(); });
        } catch (const truflux::error &) {
            // The loop is going away: the session is over.
        }
    }

    // Loop thread: hands queued lines to the library until the queue is empty or full.
    void pump() {
        for (;;) {
            std::pair<std::uint64_t, std::string> line;
            {
                std::lock_guard<std::mutex> lk(s_.mu);
                if (s_.closed)
                    return;
                if (s_.lines.empty()) {
                    s_.pump_posted = false;
                    if (s_.eof && !s_.input_done) {
                        s_.input_done = true;
                        s_.cv.notify_all();
                    }
                    return;
                }
                line = s_.lines.front();
            }
            bool queued = false;
            try {
                queued = client_.send(message_, truflux::Payload(type_, line.second.data(),
                                                                 line.second.size()));
            } catch (const truflux::error &e) {
                std::fprintf(stderr, "truflux connect: line %llu not sent: %s\n",
                             static_cast<unsigned long long>(line.first), e.what());
                {
                    std::lock_guard<std::mutex> lk(s_.mu);
                    s_.send_failed = true;
                }
                drop_front(false);
                continue;
            }
            if (!queued)
                return;  // retried after on_drain; pump_posted stays set meanwhile
            drop_front(message_ == "echo");
        }
    }

    void drop_front(bool counts_as_echo) {
        std::lock_guard<std::mutex> lk(s_.mu);
        s_.lines.pop_front();
        if (counts_as_echo)
            ++s_.echo_sent;
        s_.cv.notify_all();
    }

    // Reader thread, at end of input: waits for the connection, the last line handed over
    // and every echo reply, at most --wait, then closes.
    void wait_and_close() {
        std::unique_lock<std::mutex> lk(s_.mu);
        s_.cv.wait_for(lk, wait_, [this] {
            return s_.closed ||
                   (s_.opened && s_.input_done && s_.echo_received >= s_.echo_sent);
        });
        if (s_.closed)
            return;
        bool opened = s_.opened;
        lk.unlock();
        try {
            if (opened) {
                client_.close(truflux::CloseMode::Graceful);
                return;
            }
            // Still connecting after --wait: give up without waiting for a close handshake.
            client_.close(truflux::CloseMode::Force);
        } catch (const truflux::error &e) {
            std::fprintf(stderr, "truflux connect: close: %s\n", e.what());
        }
        try {
            loop_.stop();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "truflux connect: %s\n", e.what());
        }
    }

    truflux::Loop &loop_;
    truflux::Client &client_;
    std::string message_;
    truflux::Type type_;
    std::chrono::duration<double> wait_;
    Session s_;
    std::thread reader_;
};

}  // namespace

int connect_main(int argc, char **argv) {
    Args args;
    std::string err;
    std::vector<OptSpec> specs = {
        {"message", true}, {"type", true}, {"wait", true}, {"help", false}};
    add_security_specs(specs, false);
    if (!args.parse(argc, argv, specs, err))
        return usage_error(err);
    if (args.has("help")) {
        std::fputs(connect_usage, stdout);
        std::fputs(security_usage(false), stdout);
        return exit_ok;
    }
    if (args.positionals().size() != 1)
        return usage_error(args.positionals().empty() ? "URL is required"
                                                      : "exactly one URL expected");
    std::string url = args.positionals()[0];
    std::string message = args.get("message", "echo");
    if (message != "echo" && message != "chat")
        return usage_error("--message must be echo or chat");
    std::string type_name = args.get("type", "text");
    truflux::Type type;
    if (type_name == "text")
        type = truflux::Type::Text;
    else if (type_name == "binary")
        type = truflux::Type::Binary;
    else if (type_name == "empty")
        type = truflux::Type::Empty;
    else if (type_name == "msgpack")
        type = truflux::Type::MsgPack;
    else
        return usage_error("--type must be text, binary, empty or msgpack");
    double wait_s = 5.0;
    if (args.has("wait") && !parse_seconds(args.get("wait"), wait_s))
        return usage_error("--wait wants a number of seconds");

    truflux::Options opts;
    try {
        std::string security_err = apply_security(args, false, opts);
        if (!security_err.empty())
            return usage_error(security_err);
    } catch (const truflux::error &e) {
        return usage_error(std::string("bad option value: ") + e.what());
    }

    signal(SIGPIPE, SIG_IGN);
    try {
        truflux::Loop loop;
        truflux::Protocol proto;
        proto.add("echo");
        proto.add("chat");
        truflux::Client client(loop, proto, opts);
        Connector conn(loop, client, message, type, wait_s);
        conn.install();
        try {
            client.connect(url);
        } catch (const truflux::error &e) {
            std::fprintf(stderr, "truflux connect: cannot connect to %s: %s\n", url.c_str(),
                         e.what());
            return exit_failure;
        }
        conn.start_reader();
        bool loop_failed = false;
        try {
            loop.run();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "truflux connect: %s\n", e.what());
            loop_failed = true;
        }
        return conn.finish(url, loop_failed);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "truflux connect: %s\n", e.what());
        return exit_failure;
    }
}

}  // namespace tfcli
