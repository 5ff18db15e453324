// RepoLayout: where things live inside a repository folder.
//   DIR/COFFER   marker with the format version, so a stray folder is never
//                mistaken for a repository
//   DIR/db/      the RocksDB database (store/kv)
//   DIR/lock     the lock file naming the process that holds the repository
#pragma once

#include <string>

namespace coffer {

constexpr int kFormatVersion = 1;

struct RepoLayout {
  explicit RepoLayout(std::string dir) : dir(std::move(dir)) {}
  std::string dir;
  std::string marker() const { return dir + "/COFFER"; }
  std::string db() const { return dir + "/db"; }
  std::string lock() const { return dir + "/lock"; }
};

}  // namespace coffer
