#include "store/restore/restorer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "store/base/executor.h"
#include "store/base/timespec.h"
#include "store/base/unique_fd.h"
#include "store/model/posix_acl.h"
#include "store/model/tree.h"
#include "store/restore/content_reader.h"

namespace coffer::restore {
namespace {

std::string ProcFdPath(int dirfd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

Status WriteAll(int fd, ByteView data, uint64_t offset) {
  while (!data.empty()) {
    ssize_t n = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "write");
    data = data.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Result<ObjectId> ExtentId(const pb::Extent& extent) {
  auto id = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
  if (!id) return Status::Corruption("extent with a malformed chunk id");
  return *id;
}

// An open directory of the target. Shared: a directory that holds the first
// link of a hard-linked file stays open while later links may need it.
using DirPtr = std::shared_ptr<const UniqueFd>;

// Where the first link of a hard-linked file was made. Later links are made
// relative to its directory's descriptor, never by a path from the target,
// so a directory renamed or swapped for a symlink meanwhile cannot redirect
// them.
struct FirstLink {
  DirPtr dir;               // null beyond kHeldLinkDirs: then reopened from the target
  std::string name;         // in `dir`
  std::string rel;          // relative to the target
  uint64_t links_left = 0;  // further links the snapshot may hold
};

// Directories held open for first links; beyond this (a tree of many hard
// links), later links reopen the first link's directory from the target,
// one component at a time and never following a symlink.
constexpr size_t kHeldLinkDirs = 256;

class Run {
 public:
  Run(Repository& repo, const RestoreOptions& options, RestoreProgress& progress)
      : repo_(repo),
        options_(options),
        progress_(progress),
        threads_(options.threads ? options.threads : Executor::DefaultThreads()),
        writers_(std::make_unique<Executor>(threads_, 2 * threads_)) {}

  Result<RestoreResult> Go(const Snapshot& snapshot, std::string_view path);

 private:
  void Report(const std::string& path, const Status& status) {
    std::lock_guard lock(mutex_);
    result_.errors.push_back({path, status});
    ++progress_.errors;
  }
  void Step(RestoreStep step, const std::string& rel) {
    if (options_.before_step) options_.before_step(step, rel);
  }

  // Creates `entry` in `dir` and, for directories, everything below it.
  void RestoreEntry(const DirPtr& dir, const pb::Entry& entry, const std::string& rel);
  void RestoreDirectory(const DirPtr& dir, const pb::Entry& entry, const std::string& rel);
  void RestoreFile(const DirPtr& dir, const pb::Entry& entry, const std::string& rel);
  // A symlink, fifo or device node.
  void RestoreNode(const DirPtr& dir, const pb::Entry& entry, const std::string& rel);
  // A further link of a hard-linked file whose first link is `first`.
  Status LinkAgain(FirstLink& first, int dirfd, const std::string& name);
  // For an entry with more than one link (a file, a FIFO, a device node or a
  // symlink): links it to the name restored first for its inode and returns
  // true, or, if it is the first, remembers it and returns false.
  bool LinkedToAnEarlierName(const DirPtr& dir, const pb::Entry& entry, const std::string& rel);
  // The directory of `rel`, opened from the target without following symlinks.
  Result<UniqueFd> ReopenParent(const std::string& rel);
  Status RemoveExisting(int dirfd, const std::string& name);

  // Owner, mode, xattrs and times of an entry opened as `fd`: a regular file
  // or directory open for reading or writing, or (`fd_is_path`) a fifo or
  // device opened with O_PATH, set through /proc/self/fd.
  Status ApplyMetadata(int fd, bool fd_is_path, const pb::Entry& entry);
  // The same for a symlink, by its name in `dirfd`, never following it.
  Status ApplySymlinkMetadata(int dirfd, const std::string& name, const pb::Entry& entry);

  // Files written one after another by one worker: one hand-off for many
  // small files (a tree of 60,000 files cost 100,000 context switches).
  struct WriteJob {
    UniqueFd fd;
    pb::Entry entry;
    std::string rel;
  };
  void QueueWrite(WriteJob job);
  void FlushWrites();
  // Writes the files' contents, fetching their chunks a window at a time,
  // then sets each file's length and metadata.
  void WriteFiles(std::vector<WriteJob>& jobs);
  void FinishFile(WriteJob& job, const Status& written);

  Repository& repo_;
  const RestoreOptions& options_;
  RestoreProgress& progress_;
  unsigned threads_;
  std::shared_ptr<std::vector<WriteJob>> writes_;
  uint64_t queued_bytes_ = 0;
  DirPtr target_;
  std::mutex mutex_;
  RestoreResult result_;
  std::map<std::pair<uint64_t, uint64_t>, FirstLink> first_link_;  // (dev, ino)
  size_t held_link_dirs_ = 0;  // entries of first_link_ holding a directory
  std::unique_ptr<Executor> writers_;
};

Status Run::RemoveExisting(int dirfd, const std::string& name) {
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Status::Ok();
  if (S_ISDIR(st.st_mode)) return Status::AlreadyExists("a directory is in the way");
  if (unlinkat(dirfd, name.c_str(), 0) != 0) return Status::FromErrno(errno, "remove existing");
  return Status::Ok();
}

Status Run::ApplyMetadata(int fd, bool fd_is_path, const pb::Entry& entry) {
  // An O_PATH descriptor cannot be written through; its /proc/self/fd link
  // leads to the very inode it holds, whatever its name leads to by now.
  const std::string proc = fd_is_path ? "/proc/self/fd/" + std::to_string(fd) : std::string();
  if (options_.restore_owners) {
    int rc = fd_is_path ? chown(proc.c_str(), entry.uid(), entry.gid())
                        : fchown(fd, entry.uid(), entry.gid());
    if (rc != 0) return Status::FromErrno(errno, "chown");
  }
  // A POSIX ACL the entry had not, inherited from a default ACL of the
  // directory it was created in (or left on a directory restored over),
  // would grant what the snapshot does not: removed, before the mode is set.
  for (std::string_view acl : {model::kAccessAclXattr, model::kDefaultAclXattr}) {
    if (acl == model::kDefaultAclXattr && entry.type() != pb::Entry::DIRECTORY) continue;
    const bool stored = std::any_of(entry.xattrs().begin(), entry.xattrs().end(),
                                    [&](const pb::Xattr& x) { return x.name() == acl; });
    if (stored) continue;
    const char* name = acl.data();  // the constants are string literals
    const int removed = fd_is_path ? removexattr(proc.c_str(), name) : fremovexattr(fd, name);
    if (removed != 0 && errno != ENODATA && errno != ENOTSUP) {
      return Status::FromErrno(errno, "remove " + std::string(acl));
    }
  }
  // After chown, which clears setuid and setgid.
  int rc = fd_is_path ? chmod(proc.c_str(), entry.mode()) : fchmod(fd, entry.mode());
  if (rc != 0) return Status::FromErrno(errno, "chmod");
  for (const pb::Xattr& x : entry.xattrs()) {
    rc = fd_is_path
             ? setxattr(proc.c_str(), x.name().c_str(), x.value().data(), x.value().size(), 0)
             : fsetxattr(fd, x.name().c_str(), x.value().data(), x.value().size(), 0);
    if (rc != 0) return Status::FromErrno(errno, "setxattr " + x.name());
  }
  struct timespec times[2] = {ToTimespec(entry.mtime_ns()), ToTimespec(entry.mtime_ns())};
  rc = fd_is_path ? utimensat(AT_FDCWD, proc.c_str(), times, 0) : futimens(fd, times);
  if (rc != 0) return Status::FromErrno(errno, "set times");
  return Status::Ok();
}

Status Run::ApplySymlinkMetadata(int dirfd, const std::string& name, const pb::Entry& entry) {
  if (options_.restore_owners &&
      fchownat(dirfd, name.c_str(), entry.uid(), entry.gid(), AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno(errno, "chown");
  }
  // A symlink has no mode of its own. Its xattrs by a path through the
  // directory's descriptor, the last component not followed.
  const std::string path = ProcFdPath(dirfd, name);
  for (const pb::Xattr& x : entry.xattrs()) {
    if (lsetxattr(path.c_str(), x.name().c_str(), x.value().data(), x.value().size(), 0) != 0) {
      return Status::FromErrno(errno, "setxattr " + x.name());
    }
  }
  struct timespec times[2] = {ToTimespec(entry.mtime_ns()), ToTimespec(entry.mtime_ns())};
  if (utimensat(dirfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno(errno, "set times");
  }
  return Status::Ok();
}

// The chunks of the files in a write batch are fetched a window at a time:
// through a server, one round trip per window rather than one per chunk.
// The window's sealed chunks are in memory at once, opened one at a time.
constexpr size_t kFetchChunks = 64;
constexpr uint64_t kFetchBytes = 8u << 20;

void Run::WriteFiles(std::vector<WriteJob>& jobs) {
  struct Piece {
    size_t job;
    uint64_t offset;
    ObjectId id;
    uint64_t size;
  };
  std::vector<Status> written(jobs.size());  // a file's first error
  std::vector<Piece> window;
  uint64_t window_bytes = 0;
  auto fetch = [&] {
    if (window.empty()) return;
    std::vector<ObjectId> ids;
    ids.reserve(window.size());
    for (const Piece& piece : window) ids.push_back(piece.id);
    Status read =
        repo_.ReadObjects(ObjectKind::kChunk, ids, crypto::IdCheck::kIfUnencrypted,
                          [&](size_t i, Result<Bytes> chunk) {
                            const Piece& piece = window[i];
                            Status& status = written[piece.job];
                            if (!status.ok()) return;
                            status = CheckChunk(chunk, piece.id, piece.size);
                            if (status.ok())
                              status = WriteAll(jobs[piece.job].fd.get(), *chunk, piece.offset);
                            if (status.ok()) progress_.bytes += chunk->size();
                          });
    if (!read.ok()) {
      for (const Piece& piece : window) {
        if (written[piece.job].ok()) written[piece.job] = read;
      }
    }
    window.clear();
    window_bytes = 0;
  };
  size_t finished = 0;  // jobs before this one are done
  for (size_t j = 0; j < jobs.size(); ++j) {
    uint64_t offset = 0;
    for (const pb::Extent& extent : jobs[j].entry.extents()) {
      if (!extent.chunk_id().empty()) {
        Result<ObjectId> id = ExtentId(extent);
        if (!id.ok()) {
          written[j] = id.status();
          break;
        }
        window.push_back({j, offset, *id, extent.size()});
        window_bytes += extent.size();
        if (window.size() >= kFetchChunks || window_bytes >= kFetchBytes) {
          fetch();
          // Every chunk of the files before this one has been written.
          for (; finished < j; ++finished) FinishFile(jobs[finished], written[finished]);
        }
      }
      offset += extent.size();
    }
  }
  fetch();
  for (; finished < jobs.size(); ++finished) FinishFile(jobs[finished], written[finished]);
}

void Run::FinishFile(WriteJob& job, const Status& written) {
  Status s = written;
  // Sets the length, and leaves a trailing hole a hole.
  if (s.ok() && ftruncate(job.fd.get(), static_cast<off_t>(job.entry.size())) != 0) {
    s = Status::FromErrno(errno, "truncate");
  }
  if (s.ok()) s = ApplyMetadata(job.fd.get(), /*fd_is_path=*/false, job.entry);
  if (!s.ok()) Report(job.rel, s);
  job.fd.reset();
  ++progress_.files;
}

Result<UniqueFd> Run::ReopenParent(const std::string& rel) {
  std::vector<std::string> parts = model::SplitPath(rel);
  UniqueFd dir(fcntl(target_->get(), F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return Status::FromErrno(errno, "open the target");
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    UniqueFd next(
        openat(dir.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return Status::FromErrno(errno, "open the directory of " + rel);
    dir = std::move(next);
  }
  return dir;
}

Status Run::LinkAgain(FirstLink& first, int dirfd, const std::string& name) {
  UniqueFd reopened;
  int first_dir = first.dir ? first.dir->get() : -1;
  if (!first.dir) {
    COFFER_ASSIGN_OR_RETURN(reopened, ReopenParent(first.rel));
    first_dir = reopened.get();
  }
  // No AT_SYMLINK_FOLLOW: whatever is at the first link's name is linked
  // itself, never what a symlink there points to.
  if (linkat(first_dir, first.name.c_str(), dirfd, name.c_str(), 0) != 0) {
    return Status::FromErrno(errno, "link to " + first.rel);
  }
  return Status::Ok();
}

bool Run::LinkedToAnEarlierName(const DirPtr& dir, const pb::Entry& entry, const std::string& rel) {
  if (entry.nlink() <= 1) return false;
  auto key = std::make_pair(entry.device(), entry.inode());
  auto it = first_link_.find(key);
  if (it == first_link_.end()) {
    FirstLink first{nullptr, entry.name(), rel, entry.nlink() - 1};
    if (held_link_dirs_ < kHeldLinkDirs) {
      first.dir = dir;
      ++held_link_dirs_;
    }
    first_link_.emplace(key, std::move(first));
    return false;
  }
  Step(RestoreStep::kLink, rel);
  FirstLink& first = it->second;
  if (Status s = LinkAgain(first, dir->get(), entry.name()); !s.ok()) Report(rel, s);
  if (first.links_left > 0) --first.links_left;
  if (first.links_left == 0) {  // every link is made: let its directory go
    if (first.dir) --held_link_dirs_;
    first_link_.erase(it);
  }
  return true;
}

void Run::RestoreFile(const DirPtr& dir, const pb::Entry& entry, const std::string& rel) {
  const std::string& name = entry.name();
  const int dirfd = dir->get();
  if (Status s = RemoveExisting(dirfd, name); !s.ok()) return Report(rel, s);
  if (LinkedToAnEarlierName(dir, entry, rel)) return;
  UniqueFd fd(
      openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Report(rel, Status::FromErrno(errno, "create"));
  ++result_.files;
  QueueWrite({std::move(fd), entry, rel});
}

void Run::QueueWrite(WriteJob job) {
  if (!writes_) writes_ = std::make_shared<std::vector<WriteJob>>();
  queued_bytes_ += job.entry.size();
  writes_->push_back(std::move(job));
  if (writes_->size() >= 32 || queued_bytes_ >= (8u << 20)) FlushWrites();
}

void Run::FlushWrites() {
  if (!writes_) return;
  std::shared_ptr<std::vector<WriteJob>> batch = std::move(writes_);
  writes_.reset();
  queued_bytes_ = 0;
  writers_->Submit([this, batch] { WriteFiles(*batch); });
}

// Creates directory `name` in `dirfd` if it is missing and opens it, never
// following a symlink: something other than a directory in its place (put
// there before or during the restore) is an error, neither followed nor
// replaced.
Result<UniqueFd> MakeAndOpenDirectory(int dirfd, const std::string& name, const std::string& rel) {
  if (mkdirat(dirfd, name.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "create directory");
  }
  UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) return fd;
  if (errno == ELOOP || errno == ENOTDIR) {
    return Status::AlreadyExists("a symlink or another non-directory is in the way of directory " +
                                 rel + " (not followed, not replaced)");
  }
  return Status::FromErrno(errno, "open directory");
}

void Run::RestoreDirectory(const DirPtr& parent, const pb::Entry& entry, const std::string& rel) {
  Result<UniqueFd> opened = MakeAndOpenDirectory(parent->get(), entry.name(), rel);
  if (!opened.ok()) return Report(rel, opened.status());
  DirPtr dir = std::make_shared<const UniqueFd>(std::move(opened).value());
  ++result_.dirs;
  auto id = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
  if (!id) return Report(rel, Status::Corruption("directory with a malformed tree id"));
  auto tree = repo_.ReadTree(*id);
  if (!tree.ok()) return Report(rel, MissingIsDamage(tree.status()));
  for (const pb::Entry& child : tree->entries()) {
    RestoreEntry(dir, child, rel.empty() ? child.name() : rel + "/" + child.name());
  }
  if (Status s = ApplyMetadata(dir->get(), /*fd_is_path=*/false, entry); !s.ok()) Report(rel, s);
}

void Run::RestoreEntry(const DirPtr& dir, const pb::Entry& entry, const std::string& rel) {
  const std::string& name = entry.name();
  if (Status s = model::CheckEntryName(name); !s.ok()) return Report(rel, s);
  switch (entry.type()) {
    case pb::Entry::DIRECTORY: return RestoreDirectory(dir, entry, rel);
    case pb::Entry::FILE: return RestoreFile(dir, entry, rel);
    default: return RestoreNode(dir, entry, rel);
  }
}

void Run::RestoreNode(const DirPtr& dir, const pb::Entry& entry, const std::string& rel) {
  const std::string& name = entry.name();
  const int dirfd = dir->get();
  if (Status s = RemoveExisting(dirfd, name); !s.ok()) return Report(rel, s);
  if (LinkedToAnEarlierName(dir, entry, rel)) return;
  int rc = 0;
  mode_t type = 0;
  switch (entry.type()) {
    case pb::Entry::SYMLINK:
      rc = symlinkat(entry.symlink_target().c_str(), dirfd, name.c_str());
      type = S_IFLNK;
      break;
    case pb::Entry::FIFO:
      rc = mkfifoat(dirfd, name.c_str(), 0600);
      type = S_IFIFO;
      break;
    case pb::Entry::CHAR_DEVICE:
    case pb::Entry::BLOCK_DEVICE:
      type = entry.type() == pb::Entry::CHAR_DEVICE ? S_IFCHR : S_IFBLK;
      rc = mknodat(dirfd, name.c_str(), type | 0600, static_cast<dev_t>(entry.rdev()));
      break;
    default: return Report(rel, Status::Unsupported("unknown entry type"));
  }
  if (rc != 0) return Report(rel, Status::FromErrno(errno, "create"));
  ++result_.files;
  ++progress_.files;
  Step(RestoreStep::kNodeMetadata, rel);
  if (type == S_IFLNK) {
    if (Status s = ApplySymlinkMetadata(dirfd, name, entry); !s.ok()) Report(rel, s);
    return;
  }
  // The node itself, held by an O_PATH descriptor: if its name was swapped
  // for a symlink since it was made, the descriptor holds that symlink and
  // is refused; after this, the name no longer matters.
  UniqueFd node(openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!node.valid()) return Report(rel, Status::FromErrno(errno, "open"));
  struct stat st;
  if (fstat(node.get(), &st) != 0) return Report(rel, Status::FromErrno(errno, "stat"));
  if ((st.st_mode & S_IFMT) != type) {
    return Report(rel,
                  Status::Aborted("replaced by something else while being restored; left alone"));
  }
  if (Status s = ApplyMetadata(node.get(), /*fd_is_path=*/true, entry); !s.ok()) Report(rel, s);
}

// Opens the target folder, creating what is missing. Folders that already
// exist are taken as the caller names them (a symlink in the target's own
// path is the caller's choice); those made here are opened without following
// symlinks, so one raced into their place is refused.
Result<UniqueFd> OpenTarget(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("no target folder");
  UniqueFd dir(open(path.starts_with("/") ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Status::FromErrno(errno, "open " + path);
  std::string done = path.starts_with("/") ? "" : ".";
  for (const std::string& part : model::SplitPath(path)) {
    done += "/" + part;
    bool made = mkdirat(dir.get(), part.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) return Status::FromErrno(errno, "create " + done);
    int flags = O_PATH | O_DIRECTORY | O_CLOEXEC | (made ? O_NOFOLLOW : 0);
    UniqueFd next(openat(dir.get(), part.c_str(), flags));
    if (!next.valid()) return Status::FromErrno(errno, "open " + done);
    dir = std::move(next);
  }
  return dir;
}

Result<RestoreResult> Run::Go(const Snapshot& snapshot, std::string_view path) {
  COFFER_RETURN_IF_ERROR(snapshot.CheckReadable());
  std::vector<std::string> parts = model::SplitPath(path);
  auto root_id = ObjectId::FromBytes(AsBytes(snapshot.record.root_tree_id()));
  if (!root_id) return Status::Corruption("snapshot with a malformed root tree id");
  COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo_.ReadTree(*root_id));

  // The requested entry is found before anything is created: a PATH that is
  // not in the snapshot leaves no target folder behind.
  std::vector<pb::Entry> along;  // from the root's child down to PATH's entry
  for (size_t i = 0; i < parts.size(); ++i) {
    const pb::Entry* found = model::FindEntry(tree, parts[i]);
    const bool last = i + 1 == parts.size();
    if (found == nullptr || (!last && found->type() != pb::Entry::DIRECTORY)) {
      return Status::NotFound("'" + std::string(path) + "' is not in " + snapshot.name());
    }
    COFFER_RETURN_IF_ERROR(model::CheckEntryName(found->name()));
    along.push_back(*found);
    if (last) break;
    auto id = ObjectId::FromBytes(AsBytes(found->subtree_id()));
    if (!id) return Status::Corruption("directory with a malformed tree id");
    COFFER_ASSIGN_OR_RETURN(tree, repo_.ReadTree(*id));
  }

  COFFER_ASSIGN_OR_RETURN(UniqueFd target, OpenTarget(options_.target));
  target_ = std::make_shared<const UniqueFd>(std::move(target));
  // The entry's parents are created with their metadata (applied once
  // everything below is in place).
  std::vector<std::pair<DirPtr, pb::Entry>> parents;
  DirPtr dir = target_;
  std::string rel;
  for (size_t i = 0; i < along.size(); ++i) {
    pb::Entry& entry = along[i];
    if (i + 1 == along.size()) {
      RestoreEntry(dir, entry, rel.empty() ? entry.name() : rel + "/" + entry.name());
      break;
    }
    rel = rel.empty() ? entry.name() : rel + "/" + entry.name();
    COFFER_ASSIGN_OR_RETURN(UniqueFd opened, MakeAndOpenDirectory(dir->get(), entry.name(), rel));
    dir = std::make_shared<const UniqueFd>(std::move(opened));
    parents.emplace_back(dir, std::move(entry));
  }
  if (parts.empty()) {
    for (const pb::Entry& child : tree.entries()) RestoreEntry(target_, child, child.name());
  }
  FlushWrites();
  writers_->WaitIdle();
  for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
    if (Status s = ApplyMetadata(it->first->get(), /*fd_is_path=*/false, it->second); !s.ok()) {
      Report(it->second.name(), s);
    }
  }
  writers_.reset();
  first_link_.clear();
  result_.bytes = progress_.bytes;
  return std::move(result_);
}

}  // namespace

bool RestoreResult::damaged() const {
  for (const auto& e : errors) {
    if (e.status.code() == Code::kCorruption) return true;
  }
  return false;
}

Restorer::Restorer(Repository& repo, RestoreOptions options, RestoreProgress* progress)
    : repo_(repo), options_(std::move(options)), progress_(progress ? progress : &own_progress_) {}

Result<RestoreResult> Restorer::Restore(const Snapshot& snapshot, std::string_view path) {
  Run run(repo_, options_, *progress_);
  return run.Go(snapshot, path);
}

Status WriteFileContent(Repository& repo, const pb::Entry& entry, int fd) {
  if (entry.type() != pb::Entry::FILE) return Status::InvalidArgument("not a regular file");
  static const Bytes kZeros(1 << 20, 0);
  auto write_all = [fd](ByteView data) -> Status {
    while (!data.empty()) {
      ssize_t n = write(fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "write");
      data = data.subspan(static_cast<size_t>(n));
    }
    return Status::Ok();
  };
  // Chunks are fetched a window at a time (one round trip to the server per
  // window) and written in file order as each is opened.
  const auto& extents = entry.extents();
  for (int begin = 0; begin < extents.size();) {
    if (extents[begin].chunk_id().empty()) {
      for (uint64_t left = extents[begin].size(); left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
        COFFER_RETURN_IF_ERROR(write_all(ByteView(kZeros.data(), n)));
        left -= n;
      }
      ++begin;
      continue;
    }
    std::vector<ObjectId> ids;
    uint64_t window_bytes = 0;
    int end = begin;
    for (; end < extents.size() && !extents[end].chunk_id().empty() && ids.size() < kFetchChunks &&
           window_bytes < kFetchBytes;
         ++end) {
      COFFER_ASSIGN_OR_RETURN(ObjectId id, ExtentId(extents[end]));
      ids.push_back(id);
      window_bytes += extents[end].size();
    }
    Status written;
    COFFER_RETURN_IF_ERROR(repo.ReadObjects(
        ObjectKind::kChunk, ids, crypto::IdCheck::kIfUnencrypted,
        [&](size_t i, Result<Bytes> chunk) {
          if (!written.ok()) return;
          written = CheckChunk(chunk, ids[i], extents[begin + static_cast<int>(i)].size());
          if (written.ok()) written = write_all(*chunk);
        }));
    COFFER_RETURN_IF_ERROR(written);
    begin = end;
  }
  return Status::Ok();
}

Result<RestoredRange> RestoreRange(Repository& repo, const pb::Entry& entry, uint64_t offset,
                                   uint64_t length, int fd) {
  if (entry.type() != pb::Entry::FILE) return Status::InvalidArgument("not a regular file");
  if (entry.extent_parts_size() > 0) {
    return Status::InvalidArgument("the file's extents are not assembled (Repository::ReadTree)");
  }
  const uint64_t want_end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
  RestoredRange range{UINT64_MAX, 0};
  struct Piece {
    uint64_t offset;
    ObjectId id;
    uint64_t size;
  };
  std::vector<Piece> window;
  uint64_t window_bytes = 0;
  auto fetch = [&]() -> Status {
    if (window.empty()) return Status::Ok();
    std::vector<ObjectId> ids;
    ids.reserve(window.size());
    for (const Piece& piece : window) ids.push_back(piece.id);
    Status written;
    COFFER_RETURN_IF_ERROR(
        repo.ReadObjects(ObjectKind::kChunk, ids, crypto::IdCheck::kIfUnencrypted,
                         [&](size_t i, Result<Bytes> chunk) {
                           if (!written.ok()) return;
                           written = CheckChunk(chunk, window[i].id, window[i].size);
                           if (written.ok()) written = WriteAll(fd, *chunk, window[i].offset);
                         }));
    window.clear();
    window_bytes = 0;
    return written;
  };
  uint64_t at = 0;
  for (const pb::Extent& extent : entry.extents()) {
    const uint64_t begin = at;
    at += extent.size();
    if (at <= offset || extent.size() == 0) continue;
    if (begin >= want_end) break;
    range.begin = std::min(range.begin, begin);
    range.end = at;
    if (extent.chunk_id().empty()) continue;  // a hole stays a hole
    COFFER_ASSIGN_OR_RETURN(ObjectId id, ExtentId(extent));
    window.push_back({begin, id, extent.size()});
    window_bytes += extent.size();
    if (window.size() >= kFetchChunks || window_bytes >= kFetchBytes)
      COFFER_RETURN_IF_ERROR(fetch());
  }
  COFFER_RETURN_IF_ERROR(fetch());
  if (range.begin == UINT64_MAX) range = {offset, offset};  // past the end: nothing to write
  return range;
}

}  // namespace coffer::restore
