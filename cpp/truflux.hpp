// truflux.hpp: the header-only C++17 wrapper of the truflux C API.
//
// It includes only the public C header <truflux/truflux.h> and the standard library, so one
// build of the shared library serves C and C++ alike. Classes own their C handle (move-only,
// noexcept destructor, move and swap, handle() as the escape hatch); failures throw
// truflux::error carrying the TRUFLUX_E* code. Sending is the one exception to throwing: a
// full send queue (TRUFLUX_EAGAIN) makes send() return false. No exception ever unwinds
// through the C library: whatever a handler throws is reported to on_error.
//
//   truflux::Loop loop;
//   truflux::Protocol proto;
//   proto.add("echo");
//   proto.on("echo", [](truflux::ConnectionRef c, const truflux::Message &m) {
//       c.send(m.id(), m.payload());
//   });
//   truflux::Server server(loop, proto);
//   server.listen("tcp://127.0.0.1:0");
//   loop.run();
#ifndef TRUFLUX_CPP_TRUFLUX_HPP
#define TRUFLUX_CPP_TRUFLUX_HPP

#include <truflux/truflux.h>

#include <truflux/error.hpp>
#include <truflux/security.hpp>
#include <truflux/message.hpp>
#include <truflux/conn.hpp>
#include <truflux/loop.hpp>
#include <truflux/options.hpp>
#include <truflux/protocol.hpp>
#include <truflux/endpoint.hpp>
#include <truflux/server.hpp>
#include <truflux/client.hpp>
#include <truflux/file.hpp>

#include <string>

namespace truflux {

// The library's version string at run time (may differ from TRUFLUX_VERSION_STRING).
inline std::string version() { return tf_version(); }

}  // namespace truflux

#endif
