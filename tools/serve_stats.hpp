// tools/serve_stats.hpp: `truflux serve --stats-interval SECONDS`: the server's counters
// (tf_server_stats) as one line on standard error, periodically and once at exit.
#pragma once
#include <string>

#include <truflux.hpp>

struct event;

namespace tfcli {

// One line: "truflux stats: accepted=N opened=N active=N refused_limit=N ...".
std::string stats_line(const tf_server_stats_t &s);

// Prints the line every `seconds` on the loop's thread while it lives (0: only at exit),
// and once more when destroyed (the final counts, e.g. after SIGTERM).
class StatsPrinter {
public:
    StatsPrinter(truflux::Loop &loop, truflux::Server &server, long seconds);
    ~StatsPrinter();
    StatsPrinter(const StatsPrinter &) = delete;
    StatsPrinter &operator=(const StatsPrinter &) = delete;
    void print() const;

private:
    truflux::Server &server_;
    event *timer_ = nullptr;
};

}  // namespace tfcli
