#include "store/base/crash_point.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

namespace coffer {
namespace {

struct CrashSpec {
  std::string name;
  long countdown = 0;  // hits left before the crash
};

const CrashSpec* Spec() {
  static const CrashSpec* spec = []() -> const CrashSpec* {
    const char* env = std::getenv("COFFER_CRASH_AT");
    if (env == nullptr || *env == '\0') return nullptr;
    auto* s = new CrashSpec;
    std::string text = env;
    size_t colon = text.find(':');
    s->name = text.substr(0, colon);
    s->countdown = colon == std::string::npos ? 1 : std::atol(text.c_str() + colon + 1);
    if (s->countdown < 1) s->countdown = 1;
    return s;
  }();
  return spec;
}

std::atomic<long> hits{0};

}  // namespace

void CrashPoint(std::string_view name) {
  const CrashSpec* spec = Spec();
  if (spec == nullptr || spec->name != name) return;
  if (hits.fetch_add(1) + 1 >= spec->countdown) std::raise(SIGKILL);
}

void PausePoint(std::string_view name) {
  static const std::string spec = [] {
    const char* env = std::getenv("COFFER_PAUSE_AT");
    return std::string(env == nullptr ? "" : env);
  }();
  static std::atomic<bool> paused{false};
  if (spec.empty()) return;
  const size_t colon = spec.find(':');
  if (colon == std::string::npos || spec.compare(0, colon, name) != 0 || colon != name.size())
    return;
  if (paused.exchange(true)) return;
  const std::string base = spec.substr(colon + 1) + "/" + std::string(name);
  int reached = ::open((base + ".reached").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (reached >= 0) ::close(reached);
  int release = ::open((base + ".release").c_str(), O_RDONLY | O_CLOEXEC);
  if (release >= 0) ::close(release);
}

}  // namespace coffer
