// TempDir: a fresh directory for one test, removed with everything in it when
// the TempDir is destroyed. It is made under $COFFER_TEST_TMPDIR if set,
// else /tmp.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace coffer::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("COFFER_TEST_TMPDIR");
    std::filesystem::path parent = (base != nullptr && *base != '\0') ? base : "/tmp";
    std::filesystem::create_directories(parent);
    std::string pattern = (parent / "coffer-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // A path inside the directory that does not exist yet.
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace coffer::testing
