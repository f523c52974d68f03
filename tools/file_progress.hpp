// tools/file_progress.hpp: the progress bar of `truflux send-file` and `truflux serve
// --accept-files` on a terminal: one line on standard error, redrawn at most ten times a
// second, with bytes done and total, the rate and the time left.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tfcli {

// "12.3 MiB", "512 B".
inline std::string human_bytes(double n) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (n >= 1024.0 && u < 4) {
        n /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
    return buf;
}

// "1:02:03", "2:03", or "--:--" when unknown.
inline std::string human_duration(double seconds) {
    if (!(seconds >= 0.0) || seconds > 360000.0) return "--:--";
    long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

class ProgressBar {
public:
    using clock = std::chrono::steady_clock;

    // Draws only when enabled and standard error is a terminal.
    explicit ProgressBar(bool enabled) : on_(enabled && isatty(STDERR_FILENO)) {}

    bool active() const { return on_; }

    // Starts the rate and time-left over (a new batch of transfers).
    void restart() {
        start_ = clock::now();
        base_ = last_done_;
        started_ = true;
    }

    // done and total in bytes (total < 0: unknown). Redraws at most every 100 ms unless force.
    void update(std::uint64_t done, std::int64_t total, const std::string &label,
                bool force = false) {
        last_done_ = done;
        if (!on_) return;
        auto now = clock::now();
        if (!started_) restart();
        if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        double secs = std::chrono::duration<double>(now - start_).count();
        double moved = done > base_ ? static_cast<double>(done - base_) : 0.0;
        double rate = secs > 0.05 ? moved / secs : 0.0;
        std::string line = label + " ";
        if (total >= 0) {
            const int width = 24;
            double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
            if (frac > 1.0) frac = 1.0;
            int fill = static_cast<int>(frac * width);
            line += "[" + std::string(fill, '#') + std::string(width - fill, '.') + "] ";
            char pct[16];
            std::snprintf(pct, sizeof pct, "%3d%% ", static_cast<int>(frac * 100.0));
            line += pct;
            line += human_bytes(static_cast<double>(done)) + " / " +
                    human_bytes(static_cast<double>(total));
        } else {
            line += human_bytes(static_cast<double>(done));
        }
        line += "  " + human_bytes(rate) + "/s";
        if (total >= 0) {
            double left = rate > 0 ? (static_cast<double>(total) - static_cast<double>(done)) / rate
                                   : -1.0;
            line += "  ETA " + human_duration(left);
        }
        if (line.size() < width_) line += std::string(width_ - line.size(), ' ');
        width_ = line.size();
        std::fprintf(stderr, "\r%s", line.c_str());
        std::fflush(stderr);
        drawn_ = true;
    }

    // Erases the bar (before printing another line); the next update redraws it.
    void clear() {
        if (!on_ || !drawn_) return;
        std::fprintf(stderr, "\r%s\r", std::string(width_, ' ').c_str());
        std::fflush(stderr);
        drawn_ = false;
        width_ = 0;
    }

    // Leaves the last state on its line.
    void finish() {
        if (!on_ || !drawn_) return;
        std::fprintf(stderr, "\n");
        std::fflush(stderr);
        drawn_ = false;
        width_ = 0;
    }

private:
    bool on_;
    bool drawn_ = false, started_ = false;
    std::size_t width_ = 0;
    std::uint64_t base_ = 0, last_done_ = 0;
    clock::time_point start_, last_draw_;
};

}  // namespace tfcli
