// tests/test_files_cpp.cpp: the C++ wrapper of file transfers (cpp/truflux/file.hpp) over
// real loopback sockets: Files handlers on a Server and a Client, send_file / send_stream,
// FileRef::accept_* and the controls, and handlers that throw.
#include <truflux.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

// After the standard headers: cmocka's fail() macro would break <ios>.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

using namespace std::chrono_literals;

namespace {

static_assert(!std::is_copy_constructible_v<truflux::File>);
static_assert(std::is_nothrow_move_constructible_v<truflux::File>);
static_assert(std::is_nothrow_move_constructible_v<truflux::Files>);
static_assert(std::is_nothrow_destructible_v<truflux::Files>);
static_assert(std::is_copy_constructible_v<truflux::FileRef>);

template <class Pred>
bool run_until(truflux::Loop &loop, Pred done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        loop.run_once(10);
    }
    return true;
}

std::string temp_dir() {
    char t[] = "/tmp/tffcpp-XXXXXX";
    if (!mkdtemp(t)) std::abort();
    return t;
}

void write_file(const std::string &path, const std::string &data) {
    std::ofstream(path, std::ios::binary) << data;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A server and a client with Files on both, open.
struct pair {
    truflux::Loop loop;
    truflux::Protocol proto;
    truflux::Server server;
    truflux::Files sfiles;
    truflux::Client client;
    truflux::Files cfiles;
    truflux::Connection sconn, cconn;

    pair()
        : proto(make_proto()), server(loop, proto), sfiles(server), client(loop, proto),
          cfiles(client) {
        server.on_open([this](truflux::ConnectionRef c) { sconn = c.retain(); });
        client.on_open([this](truflux::ConnectionRef c) { cconn = c.retain(); });
        server.listen("tcp://127.0.0.1:0");
        client.connect("tcp://127.0.0.1:" + std::to_string(server.port()));
        assert_true(run_until(loop, [&] { return sconn && cconn; }));
    }
    static truflux::Protocol make_proto() {
        truflux::Protocol p;
        p.add("echo");
        return p;
    }
};

void test_send_file_accept_dir(void **) {
    std::string dir = temp_dir();
    write_file(dir + "/in.txt", std::string(100000, 'x') + "end");
    pair p;
    std::vector<int> ends;
    std::string offered;
    p.sfiles.on_offer([&](truflux::ConnectionRef, truflux::FileRef f) {
        offered = f.name();
        assert_true(f.incoming());
        mkdir((dir + "/out").c_str(), 0700);
        f.accept_dir(dir + "/out");
    });
    p.sfiles.on_end([&](truflux::FileRef, int status) { ends.push_back(status); });
    int sender_end = 1;
    uint64_t progress = 0;
    p.cfiles.on_progress([&](truflux::FileRef, uint64_t done, int64_t) { progress = done; })
        .on_end([&](truflux::FileRef, int status) { sender_end = status; });
    truflux::File f = truflux::send_file(p.cconn, dir + "/in.txt");
    assert_int_equal(f.size(), 100003);
    assert_false(f.incoming());
    assert_true(run_until(p.loop, [&] { return ends.size() == 1 && sender_end != 1; }));
    assert_int_equal(ends[0], 0);
    assert_int_equal(sender_end, 0);
    assert_string_equal(offered.c_str(), "in.txt");
    assert_int_equal(progress, 100003);
    assert_int_equal(f.stats().position, 100003);
    assert_true(read_file(dir + "/out/in.txt") == read_file(dir + "/in.txt"));
    // The transfer has ended: the controls say so instead of throwing.
    assert_false(f.cancel());
    assert_false(f.pause());
    // Errors throw truflux::error with the code.
    try {
        truflux::send_file(p.cconn, dir + "/missing");
        fail();
    } catch (const truflux::error &e) {
        assert_int_equal(e.code(), TRUFLUX_ENOTFOUND);
    }
    try {
        truflux::send_file(p.cconn, dir + "/in.txt", "../up");
        fail();
    } catch (const truflux::error &e) {
        assert_int_equal(e.code(), TRUFLUX_EFILENAME);
    }
    system(("rm -rf " + dir).c_str());
}

void test_stream_both_ways_and_controls(void **) {
    pair p;
    std::string got;
    int closed = 1;
    truflux::File in;
    p.cfiles.on_offer([&](truflux::ConnectionRef, truflux::FileRef f) {
        assert_true(f.is_stream());
        in = f.retain();
        f.accept([&](const void *d, size_t n) -> long {
            got.append(static_cast<const char *>(d), n);
            return static_cast<long>(n);
        }, [&](int status) { closed = status; });
    });
    int paused = 0, resumed = 0, sender_end = 1;
    p.sfiles.on_pause([&](truflux::FileRef) { paused++; })
        .on_resume([&](truflux::FileRef) { resumed++; })
        .on_end([&](truflux::FileRef, int s) { sender_end = s; });
    size_t produced = 0;
    bool source_closed = false;
    truflux::File out = truflux::send_stream(
        p.sconn, "gen.txt", truflux::FileSizeUnknown,
        [&](void *buf, size_t len) -> long {
            if (produced == 3) return 0;
            static const char *parts[] = {"one ", "two ", "three"};
            size_t n = std::strlen(parts[produced]);
            if (n > len) n = len;
            std::memcpy(buf, parts[produced++], n);
            return static_cast<long>(n);
        },
        [&](int) { source_closed = true; });
    assert_true(run_until(p.loop, [&] { return bool(in); }));
    // Pause from the receiver: the sender hears of it.
    in.pause();
    assert_true(run_until(p.loop, [&] { return paused == 1; }));
    in.resume();
    assert_true(run_until(p.loop, [&] { return resumed == 1; }));
    assert_true(run_until(p.loop, [&] { return sender_end != 1 && closed != 1; }));
    assert_int_equal(sender_end, 0);
    assert_int_equal(closed, 0);
    assert_true(source_closed);
    assert_string_equal(got.c_str(), "one two three");
}

void test_decline_cancel_and_throwing_handler(void **) {
    pair p;
    int declined = 0, cancelled = 0;
    std::vector<int> errors, ends;
    truflux::File pending;
    p.sfiles.on_offer([&](truflux::ConnectionRef, truflux::FileRef f) {
        if (f.name() == "no") {
            f.decline();
        } else if (f.name() == "throw") {
            throw std::runtime_error("boom");
        } else {
            pending = f.retain();
        }
    });
    p.sfiles.on_error([&](truflux::FileRef, int code, std::string_view) { errors.push_back(code); });
    p.cfiles.on_decline([&](truflux::FileRef) { declined++; })
        .on_cancel([&](truflux::FileRef) { cancelled++; })
        .on_end([&](truflux::FileRef, int s) { ends.push_back(s); });
    auto zero = [](void *, size_t) -> long { return 0; };
    truflux::File a = truflux::send_stream(p.cconn, "no", 10, zero);
    truflux::File b = truflux::send_stream(p.cconn, "throw", 10, zero);
    truflux::File c = truflux::send_stream(p.cconn, "keep", 10, zero);
    assert_true(run_until(p.loop, [&] { return declined == 1 && bool(pending); }));
    // The throwing handler was reported, and its offer stays pending until cancelled.
    assert_int_equal(errors.size(), 1);
    assert_int_equal(errors[0], TRUFLUX_EINTERNAL);
    assert_true(b.cancel());
    pending.cancel();  // the receiver cancels "keep": the sender hears of it
    assert_true(run_until(p.loop, [&] { return ends.size() == 3; }));
    assert_int_equal(cancelled, 1);
    assert_int_equal(ends[0], TRUFLUX_EDECLINED);
    // Files destroyed before its Server: later events go nowhere, nothing crashes.
    p.sfiles = truflux::Files(p.server);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_file_accept_dir),
        cmocka_unit_test(test_stream_both_ways_and_controls),
        cmocka_unit_test(test_decline_cancel_and_throwing_handler),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
