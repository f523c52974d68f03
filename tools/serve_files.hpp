// tools/serve_files.hpp: the `--accept-files DIR` part of `truflux serve` (serve_files.cpp).
#pragma once

#include <memory>
#include <string>

#include <truflux.hpp>

namespace tfcli {

// Accepts every offered file into a directory while it lives; destroy it before the server.
class FileReceiver {
public:
    virtual ~FileReceiver() = default;
};

// "" if dir is a directory, else why not.
std::string check_accept_dir(const std::string &dir);

// Enables files on `server` (before it listens), accepting into `dir`.
std::unique_ptr<FileReceiver> accept_files(truflux::Server &server, const std::string &dir,
                                           bool quiet);

}  // namespace tfcli
