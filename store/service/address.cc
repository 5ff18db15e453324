#include "store/service/address.h"

#include <fcntl.h>

#include <cerrno>
#include <charconv>
#include <map>
#include <mutex>

namespace coffer::service {

std::string ServiceAddress::GrpcTarget() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  return host + ":" + std::to_string(port);
}

Result<std::string> ServiceAddress::ResolvedGrpcTarget() const {
  constexpr std::string_view kReadAsUri = ",%?#";
  if (kind != Kind::kUnix || path.find_first_of(kReadAsUri) == std::string::npos) {
    return GrpcTarget();
  }
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                                        : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.find_first_of(kReadAsUri) != std::string::npos) {
    return Status::InvalidArgument("socket " + path +
                                   ": a socket's file name cannot hold ',', '%', '?' or '#'");
  }
  // Never closed: connections made later (a restarted server) name it too.
  static std::mutex mutex;
  static std::map<std::string, int> opened;
  std::lock_guard lock(mutex);
  auto it = opened.find(folder);
  if (it == opened.end()) {
    const int fd = open(folder.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, folder);
    it = opened.emplace(folder, fd).first;
  }
  return "unix:/proc/self/fd/" + std::to_string(it->second) + "/" + name;
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
