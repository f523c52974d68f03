// tests/test_secure_cpp.cpp: the secure layer through the C++ wrapper (cpp/truflux.hpp):
// keys, options, the on_secure / on_secure_fail handlers, authorisation with a lambda,
// switching directions, the handshake's information, over loopback.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <truflux.hpp>

#include <chrono>
#include <string>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

namespace {

static_assert(!std::is_copy_constructible_v<truflux::KeyPair>);
static_assert(std::is_nothrow_move_constructible_v<truflux::KeyPair>);

template <class Pred>
bool run_until(truflux::Loop &loop, Pred done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        loop.run_once(20);
    }
    return true;
}

truflux::Protocol chat_protocol() {
    truflux::Protocol p;
    p.add("chat");
    return p;
}

}  // namespace

static void test_secure_cpp_keys(void **) {
    truflux::KeyPair kp = truflux::KeyPair::generate();
    std::string text = truflux::to_base64(kp.public_key());
    assert_int_equal(text.size(), 44);
    assert_true(truflux::key_from_base64(" " + text + "\n") == kp.public_key());
    assert_true(truflux::public_key(kp.secret()) == kp.public_key());
    truflux::KeyPair again = truflux::KeyPair::from_secret(kp.secret());
    assert_true(again.public_key() == kp.public_key());
    try {
        truflux::key_from_base64("nope");
        fail();
    } catch (const truflux::error &e) {
        assert_int_equal(e.code(), TRUFLUX_EINVAL);
    }
    std::string b = truflux::crypto_backend();
    assert_true(b == "mbedtls" || b == "openssl");
}

// XX with an authorising lambda: the server sees the client's key, both sides get
// on_secure before on_open, and the wrapper reports what the handshake established.
static void test_secure_cpp_xx_authorize(void **) {
    for (bool accept : {true, false}) {
        truflux::Loop loop;
        truflux::Protocol proto = chat_protocol();
        truflux::KeyPair skeys = truflux::KeyPair::generate(), ckeys = truflux::KeyPair::generate();
        truflux::Options so, co;
        so.secure(truflux::Policy::Required).static_key(skeys.secret()).secure_ciphers("AESGCM");
        co.secure(truflux::Policy::Optional).static_key(ckeys.secret());
        truflux::Server server(loop, proto, so);
        std::vector<std::string> events;
        truflux::Key seen{};
        server.authorize([&](truflux::ConnectionRef, const truflux::Key &k) {
            seen = k;
            return accept;
        });
        server.on_secure([&](truflux::ConnectionRef) { events.push_back("s:secure"); });
        server.on_open([&](truflux::ConnectionRef c) {
            events.push_back(c.secure() ? "s:open-secure" : "s:open-plain");
        });
        server.on_secure_fail([&](truflux::ConnectionRef, int code, std::string_view) {
            events.push_back(std::string("s:fail:") + tf_errname(code));
        });
        std::string got;
        server.on_message([&](truflux::ConnectionRef, const truflux::Message &m) {
            got = std::string(m.data());
        });
        server.listen("tcp://127.0.0.1:0");
        truflux::Client client(loop, proto, co);
        int fails = 0, closes = 0;
        client.on_secure_fail([&](truflux::ConnectionRef, int code, std::string_view) {
            fails++;
            assert_int_equal(code, TRUFLUX_EAUTH);
        });
        client.on_close([&](truflux::ConnectionRef, int, bool) { closes++; });
        client.connect("tcp://127.0.0.1:" + std::to_string(server.port()));
        client.send("chat", truflux::text("over XX"));
        if (accept) {
            assert_true(run_until(loop, [&] { return !got.empty(); }));
            assert_string_equal(got.c_str(), "over XX");
            assert_true(seen == ckeys.public_key());
            assert_true(events.size() >= 2);
            assert_string_equal(events[0].c_str(), "s:secure");
            assert_string_equal(events[1].c_str(), "s:open-secure");
            truflux::SecureInfo info = client.conn().secure_info();
            assert_true(info.established);
            assert_true(info.pattern == truflux::Pattern::XX);
            assert_true(info.cipher == truflux::Cipher::AESGCM);
            assert_true(info.has_peer_key && info.peer_key == skeys.public_key());
            assert_true(client.conn().secure());
            assert_true(client.conn().peer_secure());
            try {
                client.conn().set_secure(truflux::Direction::Send, false);
                fail();
            } catch (const truflux::error &e) {
                assert_int_equal(e.code(), TRUFLUX_ENOTSECURE);
            }
        } else {
            assert_true(run_until(loop, [&] { return closes == 1; }));
            assert_int_equal(fails, 1);
            assert_true(got.empty());
            assert_int_equal(events.size(), 1);
            assert_string_equal(events[0].c_str(), "s:fail:EAUTH");
        }
    }
}

// Optional on both sides: switching the client's direction off and on through the wrapper.
static void test_secure_cpp_switching(void **) {
    truflux::Loop loop;
    truflux::Protocol proto = chat_protocol();
    truflux::Options so, co;
    so.secure(truflux::Policy::Optional);
    co.secure(truflux::Policy::Optional).rekey(3, 0, 0);
    truflux::Server server(loop, proto, so);
    std::vector<std::string> got;
    std::vector<bool> was_secure;
    server.on_message([&](truflux::ConnectionRef c, const truflux::Message &m) {
        got.emplace_back(m.data());
        was_secure.push_back(c.peer_secure());
    });
    server.listen("tcp://127.0.0.1:0");
    truflux::Client client(loop, proto, co);
    bool secure = false;
    client.on_secure([&](truflux::ConnectionRef) { secure = true; });
    client.connect("tcp://127.0.0.1:" + std::to_string(server.port()));
    assert_true(run_until(loop, [&] { return secure; }));
    truflux::Connection c = client.conn().retain();
    c.send("chat", truflux::text("a"));
    c.set_secure(truflux::Direction::Send, false);
    c.send("chat", truflux::text("b"));
    c.set_secure(truflux::Direction::Send, true);
    for (int i = 0; i < 10; i++) c.send("chat", truflux::text("c"));
    assert_true(run_until(loop, [&] { return got.size() == 12; }));
    assert_string_equal(got[0].c_str(), "a");
    assert_true(was_secure[0]);
    assert_string_equal(got[1].c_str(), "b");
    assert_false(was_secure[1]);
    assert_true(was_secure[2]);
    assert_true(c.secure_info().rekeys_sent >= 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secure_cpp_keys),
        cmocka_unit_test(test_secure_cpp_xx_authorize),
        cmocka_unit_test(test_secure_cpp_switching),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
