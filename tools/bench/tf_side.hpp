// tools/bench/tf_side.hpp: one truflux side of a measurement (a loop, the `echo` protocol,
// options set for the system), shared by the roundtrip roles and the scale roles.
#pragma once

#include <map>
#include <string>

#include <truflux/truflux.h>

#include "bench.hpp"

namespace tfbench {

struct TfSide {
    const TfSystem *system = nullptr;
    tf_loop_t *loop = nullptr;
    tf_protocol_t *proto = nullptr;
    tf_options_t *options = nullptr;
    tf_server_t *server = nullptr;
    tf_client_t *client = nullptr;
    uint32_t echo_id = 0;

    TfSide() = default;
    TfSide(const TfSide &) = delete;
    TfSide &operator=(const TfSide &) = delete;
    ~TfSide();

    // Loop, protocol (one message, `echo`, any type) and the system's options.
    std::string setup(const TfSystem &sys, bool as_server, const Env &env);
    std::string make_server(const tf_callbacks_t &cbs);
    int listen(const std::string &host, int port);
    std::string url(const std::string &host, int port) const;
};

double tf_now();
double tf_cpu();

int run_scale_server(const TfSystem &sys, const Env &env, bool fanout,
                     const std::map<std::string, std::string> &opts);
int run_scale_clients(const TfSystem &sys, const Env &env, bool fanout,
                      const std::map<std::string, std::string> &opts);

}  // namespace tfbench
