// tests/test_cpp_wrapper.cpp: the header-only C++ wrapper (cpp/truflux.hpp) over real
// loopback sockets. Server and clients share one Loop driven by run_once in bounded loops.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
// cmocka.h declares some of its functions (print_error) without C linkage for C++.
extern "C" {
#include <cmocka.h>
}

#include <truflux.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Every wrapper class is move-only with noexcept destructor and move.
template <class T>
constexpr bool move_only_v = !std::is_copy_constructible_v<T> && !std::is_copy_assignable_v<T> &&
                             std::is_nothrow_move_constructible_v<T> &&
                             std::is_nothrow_move_assignable_v<T> &&
                             std::is_nothrow_destructible_v<T> && std::is_nothrow_swappable_v<T>;
static_assert(move_only_v<truflux::Loop>);
static_assert(move_only_v<truflux::Options>);
static_assert(move_only_v<truflux::Protocol>);
static_assert(move_only_v<truflux::Server>);
static_assert(move_only_v<truflux::Client>);
static_assert(move_only_v<truflux::Connection>);
static_assert(std::is_copy_constructible_v<truflux::ConnectionRef>);
static_assert(std::is_base_of_v<std::runtime_error, truflux::error>);

const char *const any_host = "tcp://127.0.0.1:0";

// Runs the loop until done() or 5 seconds; false on timeout.
template <class Pred>
bool run_until(truflux::Loop &loop, Pred done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        loop.run_once(20);
    }
    return true;
}

std::string url_of(const truflux::Server &s) {
    return "tcp://127.0.0.1:" + std::to_string(s.port());
}

template <class F>
void expect_error(int code, F &&f) {
    try {
        f();
    } catch (const truflux::error &e) {
        if (e.code() != code)
            fail_msg("expected %s, got %s (%s)", tf_errname(code), e.name(), e.what());
        // The message starts with the library's text for the code.
        assert_non_null(std::strstr(e.what(), tf_strerror(code)));
        return;
    }
    fail_msg("no truflux::error thrown, expected %s", tf_errname(code));
}

struct Received {
    std::string name;
    truflux::Type type;
    std::string data;
};

// A client that records what it receives and whether it is open or closed.
struct Peer {
    truflux::Client client;
    std::vector<Received> got;
    bool opened = false;
    bool closed = false;
    int close_reason = 0;
    bool close_remote = false;

    Peer(truflux::Loop &loop, const truflux::Protocol &proto,
         const truflux::Options &opts = truflux::Options())
        : client(loop, proto, opts) {
        client.on_open([this](truflux::ConnectionRef) { opened = true; });
        client.on_message([this](truflux::ConnectionRef, const truflux::Message &m) {
            got.push_back({std::string(m.name()), m.type(), m.str()});
        });
        client.on_close([this](truflux::ConnectionRef, int reason, bool remote) {
            closed = true;
            close_reason = reason;
            close_remote = remote;
        });
    }
};

truflux::Protocol echo_protocol() {
    truflux::Protocol p;
    p.add("echo");
    return p;
}

void echo_back(truflux::ConnectionRef c, const truflux::Message &m) {
    assert_true(c.send(m.id(), m.payload()));
}

void test_echo_each_type(void **) {
    truflux::Loop loop;
    truflux::Protocol sp = echo_protocol();
    sp.on("echo", echo_back);
    truflux::Server server(loop, sp);
    server.listen(any_host);
    assert_true(server.port() > 0);

    truflux::Protocol cp = echo_protocol();
    Peer peer(loop, cp);
    peer.client.connect(url_of(server));

    const std::string bin("\x00\x01\xfe\xff", 4);
    const std::string mp("\x92\x01\xa1x", 4);  // [1, "x"]
    // Queued before the hello; sent after it.
    assert_true(peer.client.send("echo"));
    assert_true(peer.client.send("echo", truflux::binary(bin)));
    assert_true(peer.client.send(std::string("echo"), truflux::text("h\xc3\xa9llo")));
    assert_true(peer.client.send(cp.id("echo"), truflux::msgpack(mp)));

    assert_true(run_until(loop, [&] { return peer.got.size() == 4; }));
    assert_true(peer.opened);
    const Received want[] = {{"echo", truflux::Type::Empty, ""},
                             {"echo", truflux::Type::Binary, bin},
                             {"echo", truflux::Type::Text, "h\xc3\xa9llo"},
                             {"echo", truflux::Type::MsgPack, mp}};
    for (std::size_t i = 0; i < 4; ++i) {
        assert_string_equal(peer.got[i].name.c_str(), want[i].name.c_str());
        assert_int_equal(static_cast<int>(peer.got[i].type), static_cast<int>(want[i].type));
        assert_int_equal(peer.got[i].data.size(), want[i].data.size());
        assert_memory_equal(peer.got[i].data.data(), want[i].data.data(), want[i].data.size());
    }

    truflux::ConnectionRef conn = peer.client.conn();
    assert_true(conn.is_open());
    truflux::Address remote = conn.remote_address();
    assert_string_equal(remote.host.c_str(), "127.0.0.1");
    assert_int_equal(remote.port, server.port());
    assert_string_equal(conn.local_address().host.c_str(), "127.0.0.1");
    truflux::Stats st = conn.stats();
    assert_int_equal(st.msgs_out, 4);
    assert_int_equal(st.msgs_in, 4);
    assert_int_equal(server.count(), 1);

    assert_true(peer.client.close());
    assert_true(run_until(loop, [&] { return peer.closed; }));
    assert_int_equal(peer.close_reason, 0);
    assert_false(peer.client.close());  // already closed: false, no throw
}

void test_broadcast_excludes(void **) {
    truflux::Loop loop;
    truflux::Protocol proto;
    proto.add("hello", truflux::Types::Text);
    proto.add("news", truflux::Types::Text);
    proto.add("marker", truflux::Types::Empty);

    std::map<std::string, truflux::Connection> by_name;  // server side, kept past callbacks
    proto.on("hello", [&](truflux::ConnectionRef c, const truflux::Message &m) {
        by_name[m.str()] = c.retain();
    });
    truflux::Server server(loop, proto);
    server.listen(any_host);

    std::map<std::string, std::unique_ptr<Peer>> peers;
    for (const char *name : {"a", "b", "c"}) {
        auto p = std::make_unique<Peer>(loop, proto);
        p->client.connect(url_of(server));
        p->client.send("hello", truflux::text(name));
        peers[name] = std::move(p);
    }
    assert_true(run_until(loop, [&] { return by_name.size() == 3 && server.count() == 3; }));

    int n = server.broadcast("news", truflux::text("extra"), {by_name["c"]});
    assert_int_equal(n, 2);
    // Sent after the broadcast on the same connection, so it arrives after anything the
    // broadcast queued to c.
    assert_true(by_name["c"].send("marker"));

    assert_true(run_until(loop, [&] {
        return peers["a"]->got.size() == 1 && peers["b"]->got.size() == 1 &&
               !peers["c"]->got.empty();
    }));
    for (const char *name : {"a", "b"}) {
        assert_string_equal(peers[name]->got[0].name.c_str(), "news");
        assert_string_equal(peers[name]->got[0].data.c_str(), "extra");
    }
    assert_int_equal(peers["c"]->got.size(), 1);
    assert_string_equal(peers["c"]->got[0].name.c_str(), "marker");

    // By id, excluding two with a vector, then nobody excluded.
    std::vector<truflux::ConnectionRef> ex = {by_name["a"], by_name["b"]};
    assert_int_equal(server.broadcast(proto.id("news"), truflux::text("c only"), ex), 1);
    assert_int_equal(server.broadcast("news", truflux::text("all")), 3);
    assert_true(run_until(loop, [&] {
        return peers["a"]->got.size() == 2 && peers["b"]->got.size() == 2 &&
               peers["c"]->got.size() == 3;
    }));
    assert_string_equal(peers["c"]->got[1].data.c_str(), "c only");
    assert_string_equal(peers["c"]->got[2].data.c_str(), "all");
    assert_string_equal(peers["a"]->got[1].data.c_str(), "all");
}

void test_errors(void **) {
    truflux::Loop loop;
    truflux::Protocol proto;
    proto.add("echo");
    proto.add("only_text", truflux::Types::Text);
    expect_error(TRUFLUX_EEXIST, [&] { proto.add("echo"); });
    expect_error(TRUFLUX_ENOTFOUND, [&] { proto.id("nosuch"); });
    expect_error(TRUFLUX_ENOTFOUND, [&] { proto.name(12345); });
    expect_error(TRUFLUX_ENOTFOUND, [&] { proto.on("nosuch", echo_back); });
    assert_string_equal(std::string(proto.name(proto.id("echo"))).c_str(), "echo");
    assert_int_equal(proto.id("echo"), truflux::Protocol::name_id("echo"));

    truflux::Server server(loop, proto);
    // The server froze the protocol.
    expect_error(TRUFLUX_EBUSY, [&] { proto.add("late"); });
    expect_error(TRUFLUX_EBUSY, [&] { proto.on("echo", echo_back); });

    expect_error(TRUFLUX_EBADURL, [&] { server.listen("nope://127.0.0.1:0"); });
    try {
        server.listen("nope://127.0.0.1:0");
    } catch (const truflux::error &e) {
        assert_string_equal(e.name(), "EBADURL");
    }
    server.listen(any_host);
    expect_error(TRUFLUX_ENOTFOUND, [&] { server.broadcast("nosuch"); });
    expect_error(TRUFLUX_ESCHEMA, [&] { server.broadcast("only_text", truflux::binary("x")); });

    truflux::Client client(loop, proto);
    expect_error(TRUFLUX_ECLOSED, [&] { client.send("echo"); });  // before connect
    expect_error(TRUFLUX_EBADURL, [&] { client.connect("not a url"); });
    client.connect(url_of(server));
    expect_error(TRUFLUX_ENOTFOUND, [&] { client.send("nosuch"); });
    expect_error(TRUFLUX_ENOTFOUND, [&] { client.conn().send("nosuch", truflux::text("x")); });
    expect_error(TRUFLUX_ESCHEMA, [&] { client.send("only_text", truflux::binary("x")); });
    expect_error(TRUFLUX_EUTF8, [&] { client.send("echo", truflux::text("\xff\xfe")); });

    // Options out of range.
    expect_error(TRUFLUX_EINVAL, [] { truflux::Options().max_message_size(-1); });
    assert_int_equal(truflux::Options().get(truflux::Option::Nodelay), 1);
    assert_int_equal(truflux::Options().heartbeat(1234).get(truflux::Option::Heartbeat), 1234);

    // A constructor failure: the protocol was moved from.
    truflux::Protocol moved = std::move(proto);
    expect_error(TRUFLUX_EINVAL, [&] { truflux::Server bad(loop, proto); });
    expect_error(TRUFLUX_EINVAL, [&] { proto.add("x"); });

    truflux::error e(TRUFLUX_EPROTO, "frame 3");
    assert_int_equal(e.code(), TRUFLUX_EPROTO);
    assert_string_equal(e.detail().c_str(), "frame 3");
    assert_string_equal(e.what(), (std::string(tf_strerror(TRUFLUX_EPROTO)) + ": frame 3").c_str());
}

void test_move_semantics(void **) {
    truflux::Loop a;
    tf_loop_t *lh = a.handle();
    truflux::Loop loop(std::move(a));
    assert_null(a.handle());
    assert_false(static_cast<bool>(a));
    assert_ptr_equal(loop.handle(), lh);
    expect_error(TRUFLUX_EINVAL, [&] { a.run_once(0); });
    {
        truflux::Loop other;
        swap(other, a);  // a now owns a fresh loop, other the empty one
        assert_non_null(a.handle());
        assert_null(other.handle());
    }
    a = truflux::Loop();  // move-assign frees the previous loop

    truflux::Options o1;
    o1.idle_timeout(777);
    truflux::Options o2(std::move(o1));
    assert_null(o1.handle());
    assert_int_equal(o2.get(truflux::Option::IdleTimeout), 777);

    truflux::Protocol p1 = echo_protocol();
    p1.on("echo", echo_back);
    truflux::Protocol sp;
    sp = std::move(p1);
    assert_null(p1.handle());
    assert_int_equal(sp.count(), 1);

    // Servers and clients keep working after being moved: handlers follow them.
    std::unique_ptr<truflux::Server> first(new truflux::Server(loop, sp));
    truflux::Server server(std::move(*first));
    first.reset();  // destroying the moved-from object is safe
    expect_error(TRUFLUX_EINVAL, [] {
        truflux::Loop l2;
        truflux::Protocol p2 = echo_protocol();
        truflux::Server s(l2, p2);
        truflux::Server t(std::move(s));
        s.port();
    });
    server.listen(any_host);

    truflux::Connection held;
    bool server_saw_close = false;
    server.on_open([&](truflux::ConnectionRef c) {
        truflux::Connection tmp = c.retain();
        held = std::move(tmp);
        assert_false(static_cast<bool>(tmp));
        assert_null(tmp.handle());
    });
    server.on_close([&](truflux::ConnectionRef c, int, bool) {
        if (c)
            server_saw_close = true;
    });

    truflux::Protocol cp = echo_protocol();
    auto peer = std::make_unique<Peer>(loop, cp);
    truflux::Client client(std::move(peer->client));
    assert_null(peer->client.handle());
    expect_error(TRUFLUX_EINVAL, [&] { peer->client.send("echo"); });
    client.connect(url_of(server));
    client.send("echo", truflux::text("moved"));
    assert_true(run_until(loop, [&] { return peer->got.size() == 1; }));
    assert_string_equal(peer->got[0].data.c_str(), "moved");
    assert_true(static_cast<bool>(held));
    assert_true(held.is_open());

    truflux::Connection other;
    swap(held, other);
    assert_false(static_cast<bool>(held));
    assert_true(other.is_open());

    // A retained connection outlives its close: sending then throws ECLOSED.
    client.close(truflux::CloseMode::Force);
    assert_true(run_until(loop, [&] { return server_saw_close; }));
    assert_false(other.is_open());
    expect_error(TRUFLUX_ECLOSED, [&] { other.send("echo"); });
    other.reset();
    assert_null(other.handle());
}

void test_throwing_handler(void **) {
    truflux::Loop loop;
    truflux::Protocol sp;
    sp.add("echo");
    sp.add("boom");
    sp.add("bang");
    sp.on("echo", echo_back);
    sp.on("boom", [](truflux::ConnectionRef, const truflux::Message &) {
        throw std::runtime_error("kaput");
    });
    truflux::Server server(loop, sp);
    std::vector<std::pair<int, std::string>> errors;
    server.on_message([](truflux::ConnectionRef, const truflux::Message &) { throw 42; });
    server.on_error([&](truflux::ConnectionRef c, int code, std::string_view detail) {
        assert_true(static_cast<bool>(c));
        errors.emplace_back(code, std::string(detail));
    });
    server.listen(any_host);

    truflux::Protocol cp;  // the same messages, without the server's handlers
    cp.add("echo");
    cp.add("boom");
    cp.add("bang");
    Peer peer(loop, cp);
    peer.client.connect(url_of(server));
    peer.client.send("boom");
    peer.client.send("bang");  // no protocol handler: on_message, which throws 42
    peer.client.send("echo", truflux::text("still here"));
    assert_true(run_until(loop, [&] { return peer.got.size() == 1 && errors.size() == 2; }));
    assert_int_equal(errors[0].first, TRUFLUX_EINTERNAL);
    assert_string_equal(errors[0].second.c_str(), "handler threw: kaput");
    assert_int_equal(errors[1].first, TRUFLUX_EINTERNAL);
    assert_string_equal(errors[1].second.c_str(), "handler threw: unknown exception");
    // The connection carried on.
    assert_string_equal(peer.got[0].data.c_str(), "still here");
    assert_false(peer.closed);

    // Without an on_error handler the exception surfaces from run_once, on the caller's
    // thread, and the loop stays usable.
    peer.client.on_message([](truflux::ConnectionRef, const truflux::Message &) {
        throw std::logic_error("escaped");
    });
    peer.client.send("echo", truflux::text("again"));
    bool rethrown = false;
    try {
        run_until(loop, [] { return false; });
    } catch (const std::logic_error &e) {
        rethrown = std::string(e.what()) == "escaped";
    }
    assert_true(rethrown);

    // Same for a function given to Loop::call.
    loop.call([] { throw std::out_of_range("from call"); });
    rethrown = false;
    try {
        run_until(loop, [] { return false; });
    } catch (const std::out_of_range &) {
        rethrown = true;
    }
    assert_true(rethrown);
}

void test_protocol_destroyed_before_server(void **) {
    truflux::Loop loop;
    std::unique_ptr<truflux::Server> server;
    std::string captured = "reply:";
    {
        truflux::Protocol sp;
        sp.add("ask", truflux::Types::Text);
        sp.add("answer", truflux::Types::Text);
        // The handler owns state (a copy of `captured`) that must outlive the Protocol.
        sp.on("ask", [prefix = captured](truflux::ConnectionRef c, const truflux::Message &m) {
            c.send("answer", truflux::text(prefix + std::string(m.text())));
        });
        server.reset(new truflux::Server(loop, sp));
    }
    server->listen(any_host);

    truflux::Protocol cp;
    cp.add("ask", truflux::Types::Text);
    cp.add("answer", truflux::Types::Text);
    Peer peer(loop, cp);
    peer.client.connect(url_of(*server));
    peer.client.send("ask", truflux::text("42"));
    assert_true(run_until(loop, [&] { return peer.got.size() == 1; }));
    assert_string_equal(peer.got[0].name.c_str(), "answer");
    assert_string_equal(peer.got[0].data.c_str(), "reply:42");
    // Names still resolve through the server's own reference to the definition.
    assert_int_equal(server->broadcast("answer", truflux::text("bye")), 1);
    assert_true(run_until(loop, [&] { return peer.got.size() == 2; }));
}

void test_backpressure_and_drain(void **) {
    truflux::Loop loop;
    truflux::Protocol proto = echo_protocol();
    truflux::Server server(loop, proto);
    server.listen(any_host);

    Peer peer(loop, proto, truflux::Options().send_hwm(1024).send_lwm(0));
    int drained = 0;
    peer.client.on_drain([&](truflux::ConnectionRef) { ++drained; });
    peer.client.connect(url_of(server));
    // Not open yet: everything stays queued, so the second message finds the queue above
    // its high-water mark.
    std::string big(4000, 'x');
    assert_true(peer.client.send("echo", truflux::binary(big)));
    assert_false(peer.client.send("echo", truflux::binary(big)));
    assert_true(run_until(loop, [&] { return drained == 1; }));
    assert_true(peer.client.send("echo", truflux::binary(big)));
}

void test_call_from_other_thread(void **) {
    truflux::Loop loop;
    std::atomic<int> ran{0};
    std::atomic<bool> on_loop_thread{false};
    std::thread t([&] {
        for (int i = 0; i < 10; ++i)
            loop.call([&, i] {
                if (ran.load() == i)  // in call order
                    ++ran;
                on_loop_thread = loop.in_thread();
            });
    });
    t.join();
    assert_true(run_until(loop, [&] { return ran.load() == 10; }));
    assert_true(on_loop_thread.load());

    // A loop on the library's own thread.
    std::atomic<bool> started_ran{false};
    loop.start();
    loop.call([&] { started_ran = true; });
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!started_ran && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    loop.stop();
    assert_true(started_ran.load());

    // A function never run (the loop is freed first) is destroyed, not leaked (ASan).
    auto owned = std::make_shared<int>(7);
    {
        truflux::Loop doomed;
        doomed.call([owned] {});
        assert_int_equal(owned.use_count(), 2);
    }
    assert_int_equal(owned.use_count(), 1);
}

void test_destroy_inside_handler_and_close(void **) {
    truflux::Loop loop;
    truflux::Protocol proto = echo_protocol();
    auto server = std::make_unique<truflux::Server>(loop, proto);
    bool done_reported = false;
    server->on_close([&](truflux::ConnectionRef c, int, bool) {
        if (!c)
            done_reported = true;
    });
    server->listen(any_host);

    // Graceful server close: the client hears ESHUTDOWN from the server, then the server
    // reports itself done with an empty ConnectionRef.
    Peer peer(loop, proto);
    peer.client.connect(url_of(*server));
    assert_true(run_until(loop, [&] { return server->count() == 1 && peer.opened; }));
    assert_true(server->close());
    assert_false(server->close());
    assert_true(run_until(loop, [&] { return done_reported && peer.closed; }));
    assert_int_equal(peer.close_reason, TRUFLUX_ESHUTDOWN);
    assert_true(peer.close_remote);

    // A second server destroyed from inside its own message handler.
    auto victim = std::make_unique<truflux::Server>(loop, proto);
    victim->on_message([&](truflux::ConnectionRef, const truflux::Message &) { victim.reset(); });
    victim->listen(any_host);
    Peer peer2(loop, proto);
    peer2.client.connect(url_of(*victim));
    peer2.client.send("echo");
    assert_true(run_until(loop, [&] { return !victim && peer2.closed; }));
    assert_int_equal(peer2.got.size(), 0);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_each_type),
        cmocka_unit_test(test_broadcast_excludes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_move_semantics),
        cmocka_unit_test(test_throwing_handler),
        cmocka_unit_test(test_protocol_destroyed_before_server),
        cmocka_unit_test(test_backpressure_and_drain),
        cmocka_unit_test(test_call_from_other_thread),
        cmocka_unit_test(test_destroy_inside_handler_and_close),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
