// tools/serve_files.cpp: `truflux serve --accept-files DIR`: accepts every file a client
// offers into DIR (a transfer cut short by a dropped connection resumes when offered again),
// with a line per file on standard error and, on a terminal, a progress bar over the
// transfers running.
#include "serve_files.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "file_progress.hpp"

namespace tfcli {

namespace {

class serve_files final : public FileReceiver {
public:
    serve_files(truflux::Server &server, std::string dir, bool quiet)
        : files_(server), dir_(std::move(dir)), quiet_(quiet), bar_(!quiet) {
        files_.on_offer([this](truflux::ConnectionRef, truflux::FileRef f) { offer(f); })
            .on_progress([this](truflux::FileRef f, std::uint64_t done, std::int64_t) {
                auto it = running_.find(f.handle());
                if (it != running_.end()) it->second.done = done;
                redraw(false);
            })
            .on_error([this](truflux::FileRef f, int code, std::string_view detail) {
                note(f.name() + ": " + tf_strerror(code) + " (" + std::string(detail) + ")");
            })
            .on_end([this](truflux::FileRef f, int status) { ended(f, status); });
    }

private:
    struct transfer {
        std::uint64_t done = 0;
        std::int64_t size = 0;
    };

    void offer(truflux::FileRef f) {
        try {
            f.accept_dir(dir_);
        } catch (const truflux::error &e) {
            note(f.name() + ": cannot accept: " + e.what());
            f.decline();
            return;
        }
        transfer t;
        t.size = f.size();
        t.done = f.stats().offset;
        if (running_.empty()) bar_.restart();
        running_[f.handle()] = t;
        if (!quiet_ && t.done > 0)
            note("resuming " + f.name() + " at " + human_bytes(static_cast<double>(t.done)));
        redraw(true);
    }

    void ended(truflux::FileRef f, int status) {
        auto it = running_.find(f.handle());
        bool accepted = it != running_.end();
        if (accepted) running_.erase(it);
        if (status == 0) {
            if (!quiet_)
                note("received " + f.name() + " (" +
                     human_bytes(static_cast<double>(f.stats().position)) + ")");
        } else if (accepted) {
            note(f.name() + ": " + tf_strerror(status));
        }
        if (running_.empty()) {
            bar_.clear();
        } else {
            redraw(true);
        }
    }

    void note(const std::string &line) {
        bar_.clear();
        std::fprintf(stderr, "truflux serve: %s\n", line.c_str());
    }

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
