// ServiceAddress: where an object server listens and a client connects.
//   unix:PATH          a unix socket (the default: REPO/serve.sock)
//   tcp://HOST:PORT    TCP with TLS and a bearer token (ServerOptions,
//                      ConnectOptions), to serve other hosts
// Unix socket paths are limited by sun_path (108 bytes with the NUL). A longer
// path is refused with a clear kInvalidArgument rather than shortened by a
// chdir trick (chdir is process-wide, and a server has many threads).
#pragma once

#include <string>
#include <string_view>

#include "store/base/status.h"

namespace coffer::service {

// Longest unix socket path accepted (sun_path holds 108 bytes with the NUL).
constexpr size_t kMaxUnixPathBytes = 107;

struct ServiceAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp
  int port = 0;      // kTcp

  // The target string gRPC understands ("unix:/path", "host:port").
  std::string GrpcTarget() const;
  // The target to listen on or connect to. gRPC reads a unix: target as a
  // URI: it decodes %XX, and its client splits the path at commas (a list
  // of addresses), so a socket in a folder whose path holds one of ",%?#"
  // is named through that folder, opened once per process, as
  // unix:/proc/self/fd/N/NAME. kInvalidArgument if NAME itself holds one;
  // the folder's errno if it cannot be opened.
  Result<std::string> ResolvedGrpcTarget() const;
  // The address as the user wrote it.
  std::string ToString() const;
};

Result<ServiceAddress> ParseServiceAddress(std::string_view address);
// The same for an address to listen on, where tcp://HOST:0 asks for any free
// port (ObjectServer::address() then has the one chosen).
Result<ServiceAddress> ParseListenAddress(std::string_view address);

// "unix:REPO/serve.sock".
std::string DefaultServiceAddress(const std::string& repo_dir);

}  // namespace coffer::service
