// examples/cpp/chat.cpp: a broadcast chat room with the C++ wrapper.
//
//   chat serve PORT          runs the room on 127.0.0.1:PORT (0: a free port, printed as
//                            "listening on PORT"); prints joins and departures
//   chat join PORT NAME      joins as NAME; each line of standard input goes to everyone
//                            else in the room, and their lines are printed
//
// The protocol shows states: a connection starts in "lobby", where only `join` is accepted,
// and moves to "room", where `say` is. `line` (server to clients) is valid everywhere.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <truflux.hpp>

namespace {

truflux::Protocol chat_protocol() {
    truflux::Protocol p;
    p.add_state("lobby");
    p.add_state("room");
    p.add("join", truflux::Types::Text, 64);
    p.add("say", truflux::Types::Text);
    p.add("line", truflux::Types::Text);
    p.allow("join", "lobby");
    p.allow("say", "room");
    return p;
}

void print_line(std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

int serve(int port) {
    truflux::Loop loop;
    truflux::Protocol proto = chat_protocol();
    std::map<tf_conn_t *, std::string> names;  // loop thread only
    truflux::Server *room = nullptr;

    proto.on("join", [&](truflux::ConnectionRef c, const truflux::Message &m) {
        std::string name = m.str();
        names[c.handle()] = name;
        c.set_state("room");
        std::string note = "* " + name + " joined";
        print_line(note);
        room->broadcast("line", truflux::text(note), {c});
    });
    proto.on("say", [&](truflux::ConnectionRef c, const truflux::Message &m) {
        std::string line = names[c.handle()] + ": " + std::string(m.text());
        room->broadcast("line", truflux::text(line), {c});
    });

    truflux::Server server(loop, proto);
    room = &server;
    server.on_close([&](truflux::ConnectionRef c, int, bool) {
        auto it = names.find(c.handle());
        if (it == names.end())
            return;
        std::string note = "* " + it->second + " left";
        names.erase(it);
        print_line(note);
        server.broadcast("line", truflux::text(note));
    });
    server.on_error([](truflux::ConnectionRef, int, std::string_view detail) {
        std::fprintf(stderr, "chat: %.*s\n", static_cast<int>(detail.size()), detail.data());
    });
    server.listen("tcp://127.0.0.1:" + std::to_string(port));
    std::printf("listening on %d\n", server.port());
    std::fflush(stdout);
    loop.run();
    return 0;
}

int join(int port, const std::string &name) {
    truflux::Loop loop;
    truflux::Client client(loop, chat_protocol());
    // Lines typed before the room accepted us wait here (loop thread only): a `say` sent
    // before `join` would break the protocol's state rule.
    std::vector<std::string> early;
    bool joined = false;
    bool input_ended = false;  // leave once joined and every line is sent
    int status = 0;

    client.on_open([&](truflux::ConnectionRef c) {
        c.send("join", truflux::text(name));
        c.set_state("room");
        joined = true;
        for (const std::string &line : early)
            c.send("say", truflux::text(line));
        early.clear();
        if (input_ended)
            client.close(truflux::CloseMode::Graceful);
    });
    client.on_message([](truflux::ConnectionRef, const truflux::Message &m) {
        print_line(m.text());
    });
    client.on_error([](truflux::ConnectionRef, int, std::string_view detail) {
        std::fprintf(stderr, "chat: %.*s\n", static_cast<int>(detail.size()), detail.data());
    });
    client.on_close([&](truflux::ConnectionRef, int reason, bool) {
        if (reason != 0) {
            std::fprintf(stderr, "chat: disconnected: %s\n", tf_strerror(reason));
            status = 1;
        }
        loop.stop();
    });
    client.connect("tcp://127.0.0.1:" + std::to_string(port));

    // Standard input blocks, so a thread reads it and hands each line to the loop.
    std::mutex mu;
    bool reader_done = false;
    std::thread reader([&] {
        std::string line;
        while (std::getline(std::cin, line)) {
            loop.call([&, line] {
                if (joined)
                    client.send("say", truflux::text(line));
                else
                    early.push_back(line);
            });
        }
        {
            std::lock_guard<std::mutex> lk(mu);
            reader_done = true;
        }
        loop.call([&] {
            input_ended = true;
            if (joined)
                client.close(truflux::CloseMode::Graceful);
        });
    });

    loop.run();
    {
        std::lock_guard<std::mutex> lk(mu);
        if (!reader_done) {
            // The server went away while standard input is still open: nothing can wake the
            // reader, so leave without waiting for it.
            std::fflush(stdout);
            std::_Exit(status ? status : 1);
        }
    }
    reader.join();
    return status;
}

int usage() {
    std::fprintf(stderr, "usage: chat serve PORT | chat join PORT NAME\n");
    return 2;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3)
        return usage();
    std::string cmd = argv[1];
    char *end = nullptr;
    long port = std::strtol(argv[2], &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return usage();
    try {
        if (cmd == "serve" && argc == 3)
            return serve(static_cast<int>(port));
        if (cmd == "join" && argc == 4)
            return join(static_cast<int>(port), argv[3]);
    } catch (const truflux::error &e) {
        std::fprintf(stderr, "chat: %s\n", e.what());
        return 1;
    }
    return usage();
}
