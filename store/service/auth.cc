#include "store/service/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace coffer::service {

Result<std::string> ReadCredentialFile(const std::string& path, std::string_view what) {
  constexpr size_t kMaxBytes = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // errno still says why the open failed (std::filebuf opens with fopen).
    return Status::InvalidArgument("cannot read the " + std::string(what) + " file " + path + ": " +
                                   std::strerror(errno));
  }
  std::string content;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    content.append(buf, static_cast<size_t>(in.gcount()));
    if (content.size() > kMaxBytes) {
      return Status::InvalidArgument("the " + std::string(what) + " file " + path +
                                     " is larger than 1 MiB");
    }
  }
  if (in.bad()) {
    return Status::IoError("cannot read the " + std::string(what) + " file " + path + ": " +
                           std::strerror(errno));
  }
  if (content.empty()) {
    return Status::InvalidArgument("the " + std::string(what) + " file " + path + " is empty");
  }
  return content;
}

Result<std::string> ParseToken(std::string_view text, std::string_view where) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  if (text.empty())
    return Status::InvalidArgument("the token in " + std::string(where) + " is empty");
  if (text.size() > kMaxTokenBytes) {
    return Status::InvalidArgument("the token in " + std::string(where) + " is longer than " +
                                   std::to_string(kMaxTokenBytes) + " bytes");
  }
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) {
      return Status::InvalidArgument("the token in " + std::string(where) +
                                     " must be printable ASCII without spaces, on one line");
    }
  }
  return std::string(text);
}

std::string_view RoleName(TokenRole role) {
  return role == TokenRole::kFull ? "full" : "append-only";
}

std::optional<TokenRole> MatchBearer(std::string_view value,
                                     const std::vector<ServerToken>& tokens) {
  std::optional<TokenRole> found;
  for (const ServerToken& t : tokens) {
    // No early exit: every token is compared whatever matched before.
    bool match = BearerMatches(value, t.token);
    if (match && !found) found = t.role;
  }
  return found;
}

bool BearerMatches(std::string_view value, std::string_view expected) {
  // Compares every byte of `expected` whatever the value's length, so the
  // time taken does not say how much of a guess was right.
  bool prefix_ok = value.starts_with(kBearerPrefix);
  std::string_view given = prefix_ok ? value.substr(kBearerPrefix.size()) : std::string_view();
  volatile unsigned char diff = (prefix_ok && given.size() == expected.size()) ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

}  // namespace coffer::service
