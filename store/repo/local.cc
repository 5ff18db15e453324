#include "store/repo/local.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "store/base/file_io.h"
#include "store/objects/folder_copy.h"
#include "store/objects/forwarding_object_store.h"
#include "store/objects/local_object_store.h"
#include "store/repo/layout.h"
#include "store/repo/repo_lock.h"

namespace coffer {
namespace {

// Makes `dir`, or checks that it is an empty folder; `made` says which.
Status EnsureEmptyDirectory(const std::string& dir, bool* made = nullptr) {
  if (made != nullptr) *made = false;
  if (mkdir(dir.c_str(), 0700) == 0) {
    if (made != nullptr) *made = true;
    return Status::Ok();
  }
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

// Whether `dir` is a folder holding nothing but entries named in `names`, and at least one.
bool HoldsOnly(const std::string& dir, std::initializer_list<std::string_view> names) {
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  if (error) return false;
  size_t seen = 0;
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (std::find(names.begin(), names.end(), name) == names.end()) return false;
    ++seen;
  }
  return !error && seen > 0;
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
                           std::string_view passphrase,
                           const std::function<Status(const Repository::NewKey&)>& keep_key) {
  COFFER_RETURN_IF_ERROR(EnsureEmptyDirectory(dir));
  RepoLayout layout(dir);
  COFFER_ASSIGN_OR_RETURN(RepoLock lock, RepoLock::Acquire(layout.lock(), {}, "coffer init"));
  COFFER_ASSIGN_OR_RETURN(auto store, LocalObjectStore::Create(layout.db()));
  Repository::NewKey key;
  COFFER_RETURN_IF_ERROR(Repository::Initialize(*store, options, passphrase, &key));
  if (keep_key) COFFER_RETURN_IF_ERROR(keep_key(key));
  // The marker last: a folder with it is a complete repository.
  return WriteMarker(layout);
}

Status InitLocalStore(const std::string& dir, const std::function<Status(ObjectStore&)>& fill) {
  COFFER_RETURN_IF_ERROR(EnsureEmptyDirectory(dir));
  RepoLayout layout(dir);
  COFFER_ASSIGN_OR_RETURN(RepoLock lock,
                          RepoLock::Acquire(layout.lock(), {}, "coffer sync --init"));
  {
    COFFER_ASSIGN_OR_RETURN(auto store, LocalObjectStore::Create(layout.db()));
    COFFER_RETURN_IF_ERROR(fill(*store));
  }
  return WriteMarker(layout);
}

namespace {

// The copy into the folder of `layout`, under its lock (given up on return):
// the database under another name, renamed once complete, then the marker.
Result<FolderCopyReport> CopyIntoLockedFolder(RepoLock lock, LocalObjectStore& source,
                                              const RepoLayout& layout,
                                              const std::string& partial) {
  std::error_code error;
  std::filesystem::remove_all(partial, error);  // a killed copy's, if any
  if (error) return Status::FromErrno(error.value(), "remove " + partial);
  COFFER_ASSIGN_OR_RETURN(FolderCopyReport report, source.CopyTo(partial));
  if (rename(partial.c_str(), layout.db().c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + partial);
  }
  COFFER_RETURN_IF_ERROR(SyncDirectory(layout.dir));
  // The marker last, after the database is on disk: a folder with it is a complete repository.
  COFFER_RETURN_IF_ERROR(WriteMarker(layout));
  COFFER_RETURN_IF_ERROR(SyncDirectory(layout.dir));
  return report;
}

// FolderCopySource::CopyRepositoryTo for the repository whose database is `source`.
Result<FolderCopyReport> CopyRepositoryFolder(LocalObjectStore& source, const std::string& dir) {
  if (dir.empty() || dir.front() != '/') {
    return Status::InvalidArgument(
        "the folder to copy the repository to must be an absolute path: " + dir);
  }
  RepoLayout layout(dir);
  const std::string partial = layout.db() + ".copying";
  // A folder holding only what a copy killed half-way leaves is taken as
  // empty: that copy is started over.
  bool made = false;
  if (!HoldsOnly(dir, {"lock", "db.copying"}))
    COFFER_RETURN_IF_ERROR(EnsureEmptyDirectory(dir, &made));
  // Held by another copy into the same folder: that one's files stay.
  COFFER_ASSIGN_OR_RETURN(RepoLock lock,
                          RepoLock::Acquire(layout.lock(), {}, "coffer sync --init"));
  Result<FolderCopyReport> copied = CopyIntoLockedFolder(std::move(lock), source, layout, partial);
  if (!copied.ok()) {
    std::error_code ignored;
    if (made) {
      std::filesystem::remove_all(dir, ignored);
    } else {
      for (const std::string& ours : {partial, layout.db(), layout.lock(), layout.marker()}) {
        std::filesystem::remove_all(ours, ignored);
      }
    }
  }
  return copied;
}

// A LocalObjectStore that owns the repository lock and gives it up only
// after the database is closed.
class LockedStore final : public ForwardingObjectStore, public FolderCopySource {
 public:
  LockedStore(RepoLock lock, std::unique_ptr<LocalObjectStore> store)
      : ForwardingObjectStore(std::move(store)), lock_(std::move(lock)) {}
  ~LockedStore() override { CloseTarget(); }

  Result<FolderCopyReport> CopyRepositoryTo(const std::string& dir) override {
    return CopyRepositoryFolder(local(), dir);
  }

 private:
  LocalObjectStore& local() { return static_cast<LocalObjectStore&>(target()); }  // as constructed

  RepoLock lock_;
};

}  // namespace

Status CheckLocalRepository(const std::string& dir) {
  struct stat st;
  if (stat(RepoLayout(dir).marker().c_str(), &st) != 0) {
    return Status::NotFound("no Coffer repository at " + dir);
  }
  return Status::Ok();
}

namespace {

// The repository at `dir` to this process alone: its marker checked, its lock held.
Result<RepoLock> LockRepository(const std::string& dir, const LocalOpenOptions& options) {
  COFFER_RETURN_IF_ERROR(CheckLocalRepository(dir));
  return RepoLock::Acquire(RepoLayout(dir).lock(), options.lock_wait, options.holder_description);
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> OpenLocalStore(const std::string& dir,
                                                    const LocalOpenOptions& options) {
  COFFER_ASSIGN_OR_RETURN(RepoLock lock, LockRepository(dir, options));
  RepoLayout layout(dir);
  COFFER_ASSIGN_OR_RETURN(auto store, LocalObjectStore::Open(layout.db()));
  return std::unique_ptr<ObjectStore>(
      std::make_unique<LockedStore>(std::move(lock), std::move(store)));
}

Result<ObjectCheck> UnencryptedObjectCheck(ObjectStore& store) {
  COFFER_ASSIGN_OR_RETURN(pb::RepoConfig config, Repository::ReadConfig(store));
  if (config.encrypted()) return ObjectCheck();
  auto keys = std::make_shared<crypto::KeySet>(crypto::KeySet::Unencrypted());
  auto sealer = std::make_shared<crypto::Sealer>(*keys, config.zstd_level());
  return ObjectCheck([keys, sealer](ObjectKind kind, const ObjectId& id, ByteView sealed) {
    return sealer->Open(kind, id, sealed, crypto::IdCheck::kAlways).status();
  });
}

Result<std::unique_ptr<Repository>> OpenLocalRepository(const std::string& dir,
                                                        const LocalOpenOptions& options,
                                                        const PassphraseFn& passphrase) {
  COFFER_ASSIGN_OR_RETURN(auto store, OpenLocalStore(dir, options));
  OpenOptions open;
  open.allow_unencrypted = options.allow_unencrypted;
  return Repository::Open(std::move(store), passphrase, open);
}

Result<LocalRepairResult> RepairLocalRepository(const std::string& dir,
                                                const LocalOpenOptions& options) {
  COFFER_ASSIGN_OR_RETURN(RepoLock lock, LockRepository(dir, options));
  RepoLayout layout(dir);
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc;
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  LocalRepairResult result;
  result.kept = layout.db() + ".damaged-" + stamp;
  COFFER_ASSIGN_OR_RETURN(result.report, kv::RepairDatabase(layout.db(), result.kept));
  return result;
}

}  // namespace coffer
