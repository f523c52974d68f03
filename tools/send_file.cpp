// tools/send_file.cpp: `truflux send-file URL FILE...`: offers every FILE at once on one
// connection and waits until each has finished (the receiver verified its checksum and has
// it under its name), or failed. A progress bar on a terminal.
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <truflux.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "file_progress.hpp"

namespace tfcli {
namespace {

const char send_file_usage[] =
    "usage: truflux send-file URL FILE... [options]\n"
    "\n"
    "Connects to URL (tcp://HOST:PORT), offers every FILE to the server at once (under its\n"
    "last path component) and waits until each one has finished: the server has verified its\n"
    "SHA-256 and stored it. A file that a dropped connection cut short resumes where it\n"
    "stopped when sent again. On a terminal, shows a progress bar (bytes, rate, time left)\n"
    "on standard error. Exit status: 0 every file finished, 1 a file failed (refused,\n"
    "cancelled, checksum, connection lost) or the connection failed, 2 usage error.\n"
    "\n"
    "options:\n"
    "  --wait SECONDS   how long to wait for the connection (default 10)\n"
    "  --no-progress    no progress bar\n"
    "  --quiet          only errors on standard error\n"
    "  --help           this text\n";

int usage_error(const std::string &msg) {
    std::fprintf(stderr, "truflux send-file: %s\n\n%s", msg.c_str(), send_file_usage);
    return exit_usage;
}

struct item {
    std::string path;
    std::int64_t size = 0;
    std::uint64_t done = 0;
    int status = 1;  // 1: not ended yet
    truflux::File file;
};

class sender {
public:
    sender(std::vector<item> &items, bool quiet, bool progress)
        : items_(items), quiet_(quiet), bar_(progress && !quiet) {
        for (const item &it : items_) total_ += it.size;
    }

    // Offers every file on the open connection.
    void offer_all(truflux::ConnectionRef c) {
        bar_.restart();
        for (std::size_t i = 0; i < items_.size(); ++i) {
            item &it = items_[i];
            try {
                it.file = truflux::send_file(c, it.path);
                it.file.set_user(&it);
            } catch (const truflux::error &e) {
                it.status = e.code();
                note(it.path + ": " +
                     (e.code() == TRUFLUX_ENOTSUP ? std::string("the server does not accept files")
                                                  : std::string(e.what())));
            }
        }
    }

    void progress(truflux::FileRef f, std::uint64_t done) {
        item *it = f.user_as<item>();
        if (!it) return;
        it->done = done;
        redraw(false);
    }

    void ended(truflux::FileRef f, int status) {
        item *it = f.user_as<item>();
        if (!it) return;
        it->status = status;
        if (status == 0) {
            it->done = static_cast<std::uint64_t>(it->size);
            if (!quiet_)
                note("sent " + f.name() + " (" + human_bytes(static_cast<double>(it->size)) + ")");
        } else {
            note(it->path + ": " + tf_strerror(status));
        }
        redraw(true);
    }

    void error(truflux::FileRef f, int code, std::string_view detail) {
        item *it = f ? f.user_as<item>() : nullptr;
        note((it ? it->path : std::string("file")) + ": " + tf_strerror(code) + " (" +
             std::string(detail) + ")");
    }

    bool all_ended() const {
        for (const item &it : items_)
            if (it.status == 1) return false;
        return true;
    }

    bool all_ok() const {
        for (const item &it : items_)
            if (it.status != 0) return false;
        return true;
    }

    void note(const std::string &line) {
        bar_.clear();
        std::fprintf(stderr, "truflux send-file: %s\n", line.c_str());
        redraw(true);
    }

    void done() { bar_.finish(); }

private:
    void redraw(bool force) {
        std::uint64_t d = 0;
        for (const item &it : items_) d += it.done;
        std::string label = items_.size() == 1 ? "sending" : "sending " +
                                                                 std::to_string(items_.size()) +
                                                                 " files";
        bar_.update(d, total_, label, force);
    }

    std::vector<item> &items_;
    bool quiet_;
    ProgressBar bar_;
    std::int64_t total_ = 0;
};

}  // namespace

int send_file_main(int argc, char **argv) {
    Args args;
    std::string err;
    const std::vector<OptSpec> specs = {
        {"wait", true}, {"no-progress", false}, {"quiet", false}, {"help", false},
    };
    if (!args.parse(argc, argv, specs, err)) return usage_error(err);
    if (args.has("help")) {
        std::fputs(send_file_usage, stdout);
        return exit_ok;
    }
    const std::vector<std::string> &pos = args.positionals();
    if (pos.size() < 2) return usage_error("a URL and at least one FILE are required");
    double wait_s = 10.0;
    if (args.has("wait") && !parse_seconds(args.get("wait"), wait_s))
        return usage_error("--wait wants a number of seconds");
    bool quiet = args.has("quiet");

    std::vector<item> items(pos.size() - 1);
    for (std::size_t i = 1; i < pos.size(); ++i) {
        struct stat st;
        if (stat(pos[i].c_str(), &st) != 0) {
            std::fprintf(stderr, "truflux send-file: %s: %s\n", pos[i].c_str(), strerror(errno));
            return exit_failure;
        }
        if (!S_ISREG(st.st_mode)) {
            std::fprintf(stderr, "truflux send-file: %s: not a regular file\n", pos[i].c_str());
            return exit_failure;
        }
        items[i - 1].path = pos[i];
        items[i - 1].size = static_cast<std::int64_t>(st.st_size);
    }
    signal(SIGPIPE, SIG_IGN);

    try {
        truflux::Loop loop;
        truflux::Protocol proto;
        proto.add("echo");
        proto.add("chat");
        truflux::Options opts;
        opts.handshake_timeout(static_cast<std::int64_t>(wait_s * 1000.0 + 0.5));
        truflux::Client client(loop, proto, opts);
        truflux::Files files(client);
        sender s(items, quiet, !args.has("no-progress"));
        bool opened = false;

        client.on_open([&](truflux::ConnectionRef c) {
            opened = true;
            s.offer_all(c);
            if (s.all_ended()) client.close();
        });
        client.on_error([&](truflux::ConnectionRef, int code, std::string_view detail) {
            s.note(std::string(tf_strerror(code)) + " (" + std::string(detail) + ")");
        });
        client.on_close([&](truflux::ConnectionRef, int, bool) { loop.stop(); });
        files.on_progress([&](truflux::FileRef f, std::uint64_t done, std::int64_t) {
            s.progress(f, done);
        });
        files.on_decline([&](truflux::FileRef f) { s.note(f.name() + ": refused by the server"); });
        files.on_error([&](truflux::FileRef f, int code, std::string_view detail) {
            s.error(f, code, detail);
        });
        files.on_end([&](truflux::FileRef f, int status) {
            s.ended(f, status);
            if (s.all_ended()) client.close();
        });

        client.connect(pos[0]);
        loop.run();
        s.done();
        if (!opened) return exit_failure;
        return s.all_ok() ? exit_ok : exit_failure;
    } catch (const truflux::error &e) {
        std::fprintf(stderr, "truflux send-file: %s\n", e.what());
        return e.code() == TRUFLUX_EBADURL ? exit_usage : exit_failure;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "truflux send-file: %s\n", e.what());
        return exit_failure;
    }
}

}  // namespace tfcli
