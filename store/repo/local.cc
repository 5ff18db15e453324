#include "store/repo/local.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "store/objects/local_object_store.h"
#include "store/repo/layout.h"
#include "store/repo/repo_lock.h"

namespace coffer {
namespace {

Status EnsureEmptyDirectory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) == 0) return Status::Ok();
  if (errno != EEXIST) return Status::FromErrno(errno, "create " + dir);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "open " + dir);
  bool empty = true;
  while (dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") empty = false;
  }
  closedir(d);
  if (!empty) return Status::AlreadyExists(dir + " exists and is not empty");
  return Status::Ok();
}

Status WriteMarker(const RepoLayout& layout) {
  std::ofstream out(layout.marker(), std::ios::trunc);
  out << "Coffer repository\nformat " << kFormatVersion << "\n";
  out.close();
  if (!out) return Status::IoError("cannot write " + layout.marker());
  return Status::Ok();
}

}  // namespace

Status InitLocalRepository(const std::string& dir, const InitOptions& options,
                           std::string_view passphrase) {
  COFFER_RETURN_IF_ERROR(EnsureEmptyDirectory(dir));
  RepoLayout layout(dir);
  COFFER_ASSIGN_OR_RETURN(RepoLock lock, RepoLock::Acquire(layout.lock(), {}, "coffer init"));
  COFFER_ASSIGN_OR_RETURN(auto store, LocalObjectStore::Create(layout.db()));
  COFFER_RETURN_IF_ERROR(Repository::Initialize(*store, options, passphrase));
  // The marker last: a folder with it is a complete repository.
  return WriteMarker(layout);
}

Result<std::unique_ptr<Repository>> OpenLocalRepository(const std::string& dir,
                                                        const LocalOpenOptions& options,
                                                        const PassphraseFn& passphrase) {
  RepoLayout layout(dir);
  struct stat st;
  if (stat(layout.marker().c_str(), &st) != 0) {
    return Status::NotFound("no Coffer repository at " + dir);
  }
  COFFER_ASSIGN_OR_RETURN(RepoLock lock,
                          RepoLock::Acquire(layout.lock(), options.lock_wait,
                                            options.holder_description));
  COFFER_ASSIGN_OR_RETURN(auto store, LocalObjectStore::Open(layout.db()));
  COFFER_ASSIGN_OR_RETURN(auto repo, Repository::Open(std::move(store), passphrase));
  repo->Retain(std::make_shared<RepoLock>(std::move(lock)));
  return repo;
}

}  // namespace coffer
