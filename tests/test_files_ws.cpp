// tests/test_files_ws.cpp: file transfers over the WebSocket transport, with a C server
// that the JS client tests (tests/ws/node_files.test.mjs) drive.
//   test_files_ws                 self-test: a C client over ws:// asks this server for a
//                                 file, receives it, checks it, and sends one back
//   test_files_ws --serve DIR     listens on ws://127.0.0.1:0, prints "port N", serves until
//                                 killed (SIGTERM)
// The server's protocol is {cmd, event}. A client sends cmd "offer PATH" (the server offers
// that file), "pause ID", "resume ID", "cancel ID" (on the server's transfer ID). Offers from
// the client are accepted into DIR, except names starting with "decline" (declined) and
// "pause" (accepted, then paused by the server until cmd "resume ID"). Every file event of
// the connection is reported to it as an event message: "offer ID NAME", "accept ID",
// "decline ID", "pause ID", "resume ID", "cancel ID", "error ID CODE", "end ID STATUS"
// (codes as the C library's negative numbers), so the JS side can await what the C side saw.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <truflux.hpp>

namespace {

struct helper {
    std::string dir;
    std::map<std::pair<tf_conn_t *, std::uint32_t>, truflux::File> files;

    static void event(truflux::FileRef f, const std::string &what, const std::string &tail = "") {
        std::string line = what + " " + std::to_string(f.id()) + tail;
        f.connection().send("event", truflux::text(line));
    }

    void command(truflux::ConnectionRef c, const std::string &line) {
        std::istringstream in(line);
        std::string verb, arg;
        in >> verb >> arg;
        try {
            if (verb == "offer") {
                truflux::File f = truflux::send_file(c, arg);
                files[{c.handle(), f.id()}] = std::move(f);
                return;
            }
            auto it = files.find({c.handle(), static_cast<std::uint32_t>(std::atoi(arg.c_str()))});
            if (it == files.end()) throw truflux::error(TRUFLUX_EINVAL, "no transfer " + arg);
            if (verb == "pause") it->second.pause();
            else if (verb == "resume") it->second.resume();
            else if (verb == "cancel") it->second.cancel();
            else throw truflux::error(TRUFLUX_EINVAL, "unknown command " + verb);
        } catch (const truflux::error &e) {
            c.send("event", truflux::text("failed " + line + " " + std::to_string(e.code())));
        }
    }

    void attach(truflux::Files &fs) {
        fs.on_offer([this](truflux::ConnectionRef c, truflux::FileRef f) {
              event(f, "offer", " " + f.name());
              std::string name = f.name();
              if (name.rfind("decline", 0) == 0) {
                  f.decline();
                  return;
              }
              f.accept_dir(dir);
              if (name.rfind("pause", 0) == 0) {
                  f.pause();
                  files[{c.handle(), f.id()}] = f.retain();
              }
          })
            .on_accept([](truflux::FileRef f) { event(f, "accept"); })
            .on_decline([](truflux::FileRef f) { event(f, "decline"); })
            .on_pause([](truflux::FileRef f) { event(f, "pause"); })
            .on_resume([](truflux::FileRef f) { event(f, "resume"); })
            .on_cancel([](truflux::FileRef f) { event(f, "cancel"); })
            .on_error([](truflux::FileRef f, int code, std::string_view) {
                event(f, "error", " " + std::to_string(code));
            })
            .on_end([this](truflux::FileRef f, int status) {
                event(f, "end", " " + std::to_string(status));
                files.erase({f.connection().handle(), f.id()});
            });
    }
};

truflux::Protocol protocol() {
    truflux::Protocol p;
    p.add("cmd", truflux::Types::Text);
    p.add("event", truflux::Types::Text);
    return p;
}

int serve(const char *dir) {
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    truflux::Loop loop;
    helper h;
    h.dir = dir;
    truflux::Protocol proto = protocol();
    proto.on("cmd", [&h](truflux::ConnectionRef c, const truflux::Message &m) {
        h.command(c, std::string(m.data()));
    });
    truflux::Server server(loop, proto);
    truflux::Files fs(server);
    h.attach(fs);
    server.listen("ws://127.0.0.1:0");
    std::printf("port %d\n", server.port());
    std::fflush(stdout);
    loop.start();
    int sig = 0;
    sigwait(&sigs, &sig);
    loop.stop();
    h.files.clear();
    return 0;
}

// Self-test: the client asks for a file, receives it over ws:// and compares it; then it
// sends a file that the server accepts into its directory.
int self_test() {
    char base[] = "/tmp/tf-files-ws-XXXXXX";
    if (!mkdtemp(base)) return 1;
    std::string b = base, sdir = b + "/server", cdir = b + "/client", src = b + "/a.bin";
    mkdir(sdir.c_str(), 0700);
    mkdir(cdir.c_str(), 0700);
    std::string content;
    for (int i = 0; i < 300000; ++i) content += static_cast<char>((i * 131) ^ (i >> 7));
    std::ofstream(src, std::ios::binary) << content;

    truflux::Loop loop;
    helper h;
    h.dir = sdir;
    truflux::Protocol proto = protocol();
    proto.on("cmd", [&h](truflux::ConnectionRef c, const truflux::Message &m) {
        h.command(c, std::string(m.data()));
    });
    truflux::Server server(loop, proto);
    truflux::Files fs(server);
    h.attach(fs);
    server.listen("ws://127.0.0.1:0");

    truflux::Client client(loop, proto);
    truflux::Files cfs(client);
    int received = 1, sent = 1;
    std::string events;
    cfs.on_offer([&](truflux::ConnectionRef, truflux::FileRef f) { f.accept_dir(cdir); })
        .on_end([&](truflux::FileRef f, int status) {
            (f.incoming() ? received : sent) = status;
        });
    client.on_message([&](truflux::ConnectionRef, const truflux::Message &m) {
        events += std::string(m.data()) + "\n";
    });
    client.on_open([&](truflux::ConnectionRef c) {
        client.send("cmd", truflux::text("offer " + src));
        truflux::send_file(c, src, "back.bin");
    });
    client.connect("ws://127.0.0.1:" + std::to_string(server.port()));
    auto t0 = std::chrono::steady_clock::now();
    while ((received == 1 || sent == 1 || events.find("end 1 0") == std::string::npos ||
            events.find("end 2 0") == std::string::npos) &&
           std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
        loop.run_once(100);
    auto slurp = [](const std::string &p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    bool ok = received == 0 && sent == 0 && slurp(cdir + "/a.bin") == content &&
              slurp(sdir + "/back.bin") == content && events.find("offer 1") != std::string::npos &&
              events.find("accept 2") != std::string::npos &&
              events.find("end 2 0") != std::string::npos;
    if (!ok)
        std::fprintf(stderr, "received %d sent %d events:\n%s", received, sent, events.c_str());
    std::printf("%s: files over ws:// both ways\n", ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
    std::string rm = "rm -rf " + b;
    if (std::system(rm.c_str()) != 0) ok = false;
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc > 2 && std::strcmp(argv[1], "--serve") == 0) return serve(argv[2]);
    return self_test();
}
