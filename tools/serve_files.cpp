// tools/serve_files.cpp: `truflux serve --accept-files DIR`: accepts every file a client
// offers into DIR (a transfer cut short by a dropped connection resumes when offered again),
// with a line per file on standard error and, on a terminal, a progress bar over the
// transfers running.
//
// With --loops N the file events of different connections arrive on different threads at
// once. Each transfer is keyed by its own handle (unique while it runs, and it runs on one
// loop), the table, the bar and the lines on standard error are shared under one mutex,
// and the library gives each transfer a temporary file name of its own (random, or the
// resumable content's key, locked while in use), so concurrent transfers never write into
// one file.
#include "serve_files.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include "file_progress.hpp"

namespace tfcli {

namespace {

class serve_files final : public FileReceiver {
public:
    serve_files(truflux::Server &server, std::string dir, bool quiet)
        : files_(server), dir_(std::move(dir)), quiet_(quiet), bar_(!quiet) {
        files_.on_offer([this](truflux::ConnectionRef, truflux::FileRef f) { offer(f); })
            .on_progress([this](truflux::FileRef f, std::uint64_t done, std::int64_t) {
                std::lock_guard<std::mutex> lk(mu_);
                auto it = running_.find(f.handle());
                if (it != running_.end()) it->second.done = done;
                redraw(false);
            })
            .on_error([this](truflux::FileRef f, int code, std::string_view detail) {
                std::string line = f.name() + ": " + tf_strerror(code) + " (" +
                                   std::string(detail) + ")";
                std::lock_guard<std::mutex> lk(mu_);
                note(line);
            })
            .on_end([this](truflux::FileRef f, int status) { ended(f, status); });
    }

private:
    struct transfer {
        std::uint64_t done = 0;
        std::int64_t size = 0;
    };

    // The library is called outside the lock: only the bookkeeping is shared.
    void offer(truflux::FileRef f) {
        std::string name = f.name();
        try {
            f.accept_dir(dir_);
        } catch (const truflux::error &e) {
            {
                std::lock_guard<std::mutex> lk(mu_);
                note(name + ": cannot accept: " + e.what());
            }
            f.decline();
            return;
        }
        transfer t;
        t.size = f.size();
        t.done = f.stats().offset;
        std::lock_guard<std::mutex> lk(mu_);
        if (running_.empty()) bar_.restart();
        running_[f.handle()] = t;
        if (!quiet_ && t.done > 0)
            note("resuming " + name + " at " + human_bytes(static_cast<double>(t.done)));
        redraw(true);
    }

    void ended(truflux::FileRef f, int status) {
        std::string name = f.name();
        std::uint64_t position = status == 0 ? f.stats().position : 0;
        std::lock_guard<std::mutex> lk(mu_);
        auto it = running_.find(f.handle());
        bool accepted = it != running_.end();
        if (accepted) running_.erase(it);
        if (status == 0) {
            if (!quiet_)
                note("received " + name + " (" + human_bytes(static_cast<double>(position)) +
                     ")");
        } else if (accepted) {
            note(name + ": " + tf_strerror(status));
        }
        if (running_.empty()) {
            bar_.clear();
        } else {
            redraw(true);
        }
    }

    // mu_ held.
    void note(const std::string &line) {
        bar_.clear();
        std::fprintf(stderr, "truflux serve: %s\n", line.c_str());
    }

    // mu_ held.
    void redraw(bool force) {
        if (running_.empty()) return;
        std::uint64_t done = 0;
        std::int64_t total = 0;
        for (auto &kv : running_) {
            done += kv.second.done;
            if (kv.second.size < 0 || total < 0)
                total = -1;
            else
                total += kv.second.size;
        }
        std::string label = running_.size() == 1
                                ? "receiving"
                                : "receiving " + std::to_string(running_.size()) + " files";
        bar_.update(done, total, label, force);
    }

    truflux::Files files_;
    std::string dir_;
    bool quiet_;
    std::mutex mu_;  // running_, bar_ and the lines on standard error
    ProgressBar bar_;
    std::map<tf_file_t *, transfer> running_;
};

}  // namespace

std::string check_accept_dir(const std::string &dir) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return dir + ": " + strerror(errno);
    if (!S_ISDIR(st.st_mode)) return dir + ": not a directory";
    return std::string();
}

std::unique_ptr<FileReceiver> accept_files(truflux::Server &server, const std::string &dir,
                                           bool quiet) {
    return std::unique_ptr<FileReceiver>(new serve_files(server, dir, quiet));
}

}  // namespace tfcli
