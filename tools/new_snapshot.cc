#include "tools/new_snapshot.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <chrono>

#include <fmt/format.h>

#include "store/model/snapshot_name.h"

namespace coffer::tools {

std::string ShortHostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string name = buf;
  name = name.substr(0, name.find('.'));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '-';
  }
  return name.empty() ? "localhost" : name;
}

std::string UserName() {
  struct passwd* pw = getpwuid(getuid());
  return pw ? pw->pw_name : std::to_string(getuid());
}

Result<int64_t> ChooseTime(Repository& repo, const std::string& group, const std::string& text) {
  COFFER_ASSIGN_OR_RETURN(auto existing, repo.ListSnapshots(group));
  auto taken = [&](int64_t t) {
    for (const auto& s : existing) {
      if (s.ref.time_ns == t) return true;
    }
    return false;
  };
  if (!text.empty()) {
    COFFER_ASSIGN_OR_RETURN(int64_t t, model::ParseTime(text));
    if (taken(t)) {
      return Status::AlreadyExists(
          fmt::format("{} already has a snapshot at {}", group, model::FormatTime(t)));
    }
    return t;
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count() *
                model::kNanosPerSecond;
  while (taken(now)) now += model::kNanosPerSecond;
  return now;
}

}  // namespace coffer::tools
