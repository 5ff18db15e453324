// Test fixtures over the real filesystem: temporary folders, files with
// awkward properties, and a field-by-field comparison of two trees.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

namespace coffer::testing {

// A fresh folder PARENT/PREFIX-XXXXXX, removed with its contents. PARENT is
// $COFFER_TEST_TMPDIR (or /tmp) unless `parent` names another: a folder
// another user must reach cannot sit below a private one.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "coffer-test", const std::string& parent = {});
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

void RemoveTree(const std::string& path);
void WriteFile(const std::string& path, std::string_view content);
std::string ReadFile(const std::string& path);
// Deterministic pseudo-random bytes.
std::string RandomBytes(size_t size, uint64_t seed);
// A file of `size` bytes with data only at the given offsets (each `chunk` bytes long).
void MakeSparseFile(const std::string& path, uint64_t size, const std::vector<uint64_t>& data_at,
                    size_t chunk);
void SetXattr(const std::string& path, const std::string& name, const std::string& value);

// Builds a tree with every kind of entry Coffer stores: odd names (newline,
// non-UTF-8, 255 bytes), a deep path longer than PATH_MAX, holes, hardlinks,
// xattrs, symlinks, a fifo, setuid/sticky modes, nanosecond times, and (as
// root) a device node and foreign owners.
void MakeKitchenSinkTree(const std::string& root);

// Compares every field a restore must reproduce. Returns one line per difference.
std::vector<std::string> CompareTrees(const std::string& expected, const std::string& actual,
                                      bool compare_owners);

// Whether `mountpoint` is listed in /proc/mounts.
bool Mounted(const std::string& mountpoint);

// Runs `argv` and returns its exit code; stdout and stderr captured into `out`.
int RunCommand(const std::vector<std::string>& argv, std::string* out,
               const std::vector<std::string>& extra_env = {}, const std::string& stdin_data = {});

}  // namespace coffer::testing
