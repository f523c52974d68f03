// tools/args.hpp: the CLI's small option parser: --name, --name VALUE, --name=VALUE, "--" to
// end options, positional arguments in between.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace tfcli {

struct OptSpec {
    std::string name;   // without the leading "--"
    bool takes_value;
};

class Args {
public:
    // Parses argv[1..argc) (argv[0] is the subcommand). Returns false with `err` set for an
    // unknown option or a missing value.
    bool parse(int argc, char **argv, const std::vector<OptSpec> &specs, std::string &err) {
        bool options_done = false;
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (options_done || a.size() < 2 || a[0] != '-') {
                positionals_.push_back(a);
                continue;
            }
            if (a == "--") {
                options_done = true;
                continue;
            }
            if (a == "-h")
                a = "--help";
            if (a.compare(0, 2, "--") != 0) {
                err = "unknown option " + a;
                return false;
            }
            std::string name = a.substr(2), value;
            bool has_inline = false;
            std::size_t eq = name.find('=');
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name.erase(eq);
                has_inline = true;
            }
            const OptSpec *spec = find(specs, name);
            if (!spec) {
                err = "unknown option --" + name;
                return false;
            }
            if (spec->takes_value && !has_inline) {
                if (i + 1 >= argc) {
                    err = "option --" + name + " needs a value";
                    return false;
                }
                value = argv[++i];
            } else if (!spec->takes_value && has_inline) {
                err = "option --" + name + " takes no value";
                return false;
            }
            values_[name].push_back(value);
        }
        return true;
    }

    bool has(const std::string &name) const { return values_.count(name) != 0; }

    // The last value given for an option, or `def`.
    std::string get(const std::string &name, const std::string &def = std::string()) const {
        auto it = values_.find(name);
        return it == values_.end() ? def : it->second.back();
    }

    // Every value given for a repeatable option, in order.
    std::vector<std::string> all(const std::string &name) const {
        auto it = values_.find(name);
        return it == values_.end() ? std::vector<std::string>() : it->second;
    }

    const std::vector<std::string> &positionals() const { return positionals_; }

private:
    static const OptSpec *find(const std::vector<OptSpec> &specs, const std::string &name) {
        for (const OptSpec &s : specs)
            if (s.name == name)
                return &s;
        return nullptr;
    }

    std::map<std::string, std::vector<std::string>> values_;
    std::vector<std::string> positionals_;
};

// Parses a decimal integer in [lo, hi]; false for anything else.
inline bool parse_int(const std::string &s, std::int64_t lo, std::int64_t hi, std::int64_t &out) {
    if (s.empty())
        return false;
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    out = v;
    return true;
}

// Parses a non-negative decimal number of seconds (fractions allowed).
inline bool parse_seconds(const std::string &s, double &out) {
    if (s.empty())
        return false;
    errno = 0;
    char *end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (errno != 0 || *end != '\0' || !(v >= 0.0) || v > 86400.0 * 365)
        return false;
    out = v;
    return true;
}

}  // namespace tfcli
