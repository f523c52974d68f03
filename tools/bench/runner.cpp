// tools/bench/runner.cpp: the benchmark's child processes. Each runs in its own process
// group (so a stuck one is killed with whatever it started), optionally pinned to one CPU,
// with its stdout on a pipe read line by line under a deadline.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bench.hpp"

namespace tfbench {
namespace {

double mono_now() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int scratch_counter = 0;

}  // namespace

long raise_nofile(long n) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if ((long)rl.rlim_cur >= n) return (long)rl.rlim_cur;
    rlimit want = rl;
    want.rlim_cur = (rlim_t)n;
    if ((long)want.rlim_max < n) want.rlim_max = (rlim_t)n;  // works as root only
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
        want.rlim_max = rl.rlim_max;
        want.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &want);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

Child::~Child() {
    kill_now();
    if (out_ >= 0) close(out_);
    if (in_ >= 0) close(in_);
    if (!err_path_.empty()) unlink(err_path_.c_str());
}

std::string Child::start(const std::vector<std::string> &argv,
                         const std::vector<std::string> &env, int pin_cpu, bool with_stdin) {
    int out[2], in[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0) return std::string("pipe: ") + strerror(errno);
    if (with_stdin && pipe2(in, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return std::string("pipe: ") + strerror(errno);
    }
    const char *tmp = getenv("TMPDIR");
    err_path_ = std::string(tmp && *tmp ? tmp : "/tmp") + "/tfbench-stderr." +
                std::to_string(getpid()) + "." + std::to_string(++scratch_counter);
    int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err < 0) return "cannot create " + err_path_;
    std::vector<char *> args;
    for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) return std::string("fork: ") + strerror(errno);
    if (pid == 0) {
        setpgid(0, 0);
        if (pin_cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(pin_cpu, &set);
            sched_setaffinity(0, sizeof set, &set);
        }
        dup2(out[1], 1);
        dup2(err, 2);
        if (with_stdin) {
            dup2(in[0], 0);
        } else {
            int devnull = open("/dev/null", O_RDONLY);
            if (devnull >= 0) dup2(devnull, 0);
        }
        for (const std::string &e : env) putenv(const_cast<char *>(e.c_str()));
        execvp(args[0], args.data());
        fprintf(stderr, "cannot run %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);  // also here: whichever runs first, the group exists before a kill
    close(out[1]);
    close(err);
    if (with_stdin) {
        close(in[0]);
        in_ = in[1];
    }
    out_ = out[0];
    pid_ = pid;
    return "";
}

bool Child::read_line(std::string &line, double timeout) {
    double deadline = mono_now() + timeout;
    for (;;) {
        std::size_t nl = buf_.find('\n');
        if (nl != std::string::npos) {
            line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return true;
        }
        double left = deadline - mono_now();
        if (left <= 0 || out_ < 0) return false;
        struct pollfd p = {out_, POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        char tmp[4096];
        ssize_t n = read(out_, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf_.append(tmp, (std::size_t)n);
    }
}

void Child::close_stdin() {
    if (in_ >= 0) close(in_);
    in_ = -1;
}

int Child::wait(double timeout) {
    if (pid_ < 0) return -1;
    double deadline = mono_now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            // Whatever it left running in its group goes with it.
            ::kill(-pid_, SIGKILL);
            pid_ = -1;
            return status;
        }
        if (r < 0 && errno != EINTR) {
            pid_ = -1;
            return -1;
        }
        if (mono_now() >= deadline) {
            kill_now();
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, nullptr);
    }
}

void Child::kill_now() {
    if (pid_ < 0) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::string Child::stderr_tail() const {
    std::ifstream f(err_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (s.size() > 600) s = "..." + s.substr(s.size() - 600);
    return s;
}

static std::string describe_exit(int status) {
    if (status == -1) return "timed out (killed)";
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
    return "ended oddly";
}

static Sample fail(Sample s, const std::string &what, const Child &c) {
    s.ok = false;
    s.error = what;
    std::string tail = c.stderr_tail();
    if (!tail.empty()) s.error += ": " + tail;
    return s;
}

static std::vector<std::string> cat(const std::vector<std::string> &a,
                                    const std::vector<std::string> &b) {
    std::vector<std::string> v = a;
    v.insert(v.end(), b.begin(), b.end());
    return v;
}

Sample run_sample(const Launch &launch, const Env &env, const Row &row,
                  const std::vector<std::string> &wrap_server,
                  const std::vector<std::string> &wrap_client) {
    Sample s;
    Child server, client;
    std::string err = server.start(cat(wrap_server, launch.server), launch.env, env.pin_cpu);
    if (!err.empty()) return fail(s, "server: " + err, server);
    std::string line;
    // Under valgrind a server takes seconds to start.
    if (!server.read_line(line, wrap_server.empty() ? 30 : 120) || line.compare(0, 6, "READY ") != 0)
        return fail(s, "server did not report READY (" + describe_exit(server.wait(1)) + ")",
                    server);
    std::istringstream ready(line.substr(6));
    std::string port, extra;
    ready >> port >> extra;
    std::vector<std::string> cargs = cat(wrap_client, launch.client);
    cargs.insert(cargs.end(), {"--port", port, "--size", std::to_string(row.size), "--count",
                               std::to_string(row.count)});
    if (!extra.empty()) cargs.insert(cargs.end(), {"--extra", extra});
    err = client.start(cargs, launch.env, env.pin_cpu);
    if (!err.empty()) return fail(s, "client: " + err, client);
    bool got = client.read_line(line, env.timeout);
    while (got && line.compare(0, 7, "RESULT ") != 0) {
        s.client_lines.push_back(line);
        got = client.read_line(line, env.timeout);
    }
    if (!got) {
        int st = client.wait(0.5);
        server.kill_now();
        return fail(s, "client gave no result (" + describe_exit(st) + ")", client);
    }
    if (std::sscanf(line.c_str() + 7, "%lf %lf", &s.seconds, &s.cpu_client) != 2)
        return fail(s, "client printed a malformed result: " + line, client);
    int cst = client.wait(30);
    if (!(WIFEXITED(cst) && WEXITSTATUS(cst) == 0) || cst == -1)
        return fail(s, "client " + describe_exit(cst), client);
    got = server.read_line(line, 30);
    while (got && line.compare(0, 4, "CPU ") != 0) got = server.read_line(line, 30);
    if (!got || std::sscanf(line.c_str() + 4, "%lf", &s.cpu_server) != 1) {
        int st = server.wait(0.5);
        return fail(s, "server did not report its CPU time (" + describe_exit(st) + ")", server);
    }
    int sst = server.wait(30);
    if (!(WIFEXITED(sst) && WEXITSTATUS(sst) == 0) || sst == -1)
        return fail(s, "server " + describe_exit(sst), server);
    std::sscanf(load_average().c_str(), "%lf", &s.load1);
    s.ok = true;
    return s;
}

}  // namespace tfbench
