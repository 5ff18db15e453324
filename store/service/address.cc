#include "store/service/address.h"

#include <charconv>

namespace coffer::service {

std::string ServiceAddress::GrpcTarget() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  return host + ":" + std::to_string(port);
}

std::string ServiceAddress::ToString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  return "tcp://" + host + ":" + std::to_string(port);
}

namespace {

Result<ServiceAddress> Parse(std::string_view address, bool any_port) {
  ServiceAddress out;
  if (address.starts_with("unix:")) {
    out.kind = ServiceAddress::Kind::kUnix;
    out.path = std::string(address.substr(5));
    if (out.path.starts_with("//")) out.path = out.path.substr(2);  // unix://PATH
    if (out.path.empty())
      return Status::InvalidArgument("address " + std::string(address) + ": no socket path");
    if (out.path.find('\0') != std::string::npos) {
      return Status::InvalidArgument("address: socket path contains a NUL byte");
    }
    if (out.path.size() > kMaxUnixPathBytes) {
      return Status::InvalidArgument(
          "socket path " + out.path + " is " + std::to_string(out.path.size()) +
          " bytes; unix sockets allow at most " + std::to_string(kMaxUnixPathBytes) +
          ": move the repository to a shorter path or listen on a shorter unix:PATH");
    }
    return out;
  }
  if (address.starts_with("tcp://")) {
    std::string_view rest = address.substr(6);
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::InvalidArgument("address " + std::string(address) +
                                     ": expected tcp://HOST:PORT");
    }
    out.kind = ServiceAddress::Kind::kTcp;
    out.host = std::string(rest.substr(0, colon));
    std::string_view port = rest.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || ptr != port.data() + port.size() || out.port < (any_port ? 0 : 1) ||
        out.port > 65535) {
      return Status::InvalidArgument("address " + std::string(address) + ": bad port");
    }
    return out;
  }
  return Status::InvalidArgument("address " + std::string(address) +
                                 ": expected unix:PATH or tcp://HOST:PORT");
}

}  // namespace

Result<ServiceAddress> ParseServiceAddress(std::string_view address) {
  return Parse(address, /*any_port=*/false);
}

Result<ServiceAddress> ParseListenAddress(std::string_view address) {
  return Parse(address, /*any_port=*/true);
}

std::string DefaultServiceAddress(const std::string& repo_dir) {
  return "unix:" + repo_dir + "/serve.sock";
}

}  // namespace coffer::service
