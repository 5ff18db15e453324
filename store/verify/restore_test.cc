#include "store/verify/restore_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <utility>

#include "store/base/timespec.h"
#include "store/base/unique_fd.h"
#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "store/restore/content_reader.h"
#include "store/restore/restorer.h"

namespace coffer::verify {
namespace {

// ---- the scratch folder -------------------------------------------------

// Removes `name` in `parent` and everything below it, never following a
// symlink. Directories are made writable first: a restored read-only
// directory (0555) could not be emptied otherwise by anyone but root.
Status RemoveAllAt(int parent, const std::string& name) {
  struct stat st;
  if (fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::Ok() : Status::FromErrno(errno, "stat " + name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(parent, name.c_str(), 0) != 0) return Status::FromErrno(errno, "remove " + name);
    return Status::Ok();
  }
  int fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + name);
  fchmod(fd, 0700);  // best effort: unlinking below needs write and search permission
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return Status::FromErrno(errno, "list " + name);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* d = readdir(dir)) {
    std::string child = d->d_name;
    if (child != "." && child != "..") names.push_back(std::move(child));
  }
  Status status = errno != 0 ? Status::FromErrno(errno, "list " + name) : Status::Ok();
  for (const std::string& child : names) {
    Status s = RemoveAllAt(dirfd(dir), child);
    if (status.ok()) status = s;
  }
  closedir(dir);
  if (unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && status.ok()) {
    status = Status::FromErrno(errno, "remove " + name);
  }
  return status;
}

// The scratch folder: made fresh (mode 0700, so no other user can put
// anything in the way), removed with everything in it when this goes.
class Scratch {
 public:
  static Result<std::unique_ptr<Scratch>> Make(const std::string& parent_option) {
    std::string parent = parent_option;
    if (parent.empty()) {
      const char* tmpdir = std::getenv("TMPDIR");
      parent = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/var/tmp";
    }
    std::string pattern = parent + "/coffer-restore-test.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return Status::FromErrno(errno, "create a scratch folder in " + parent);
    }
    auto scratch = std::unique_ptr<Scratch>(new Scratch(pattern));
    scratch->fd_ = UniqueFd(open(pattern.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!scratch->fd_.valid()) return Status::FromErrno(errno, "open " + pattern);
    return scratch;
  }
  ~Scratch() { (void)Remove(); }

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  // Removes the folder; later calls do nothing.
  Status Remove() {
    if (removed_) return Status::Ok();
    removed_ = true;
    fd_.reset();
    size_t slash = path_.rfind('/');
    std::string parent = slash == 0 ? "/" : path_.substr(0, slash);
    UniqueFd parent_fd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd.valid()) return Status::FromErrno(errno, "open " + parent);
    return RemoveAllAt(parent_fd.get(), path_.substr(slash + 1));
  }

 private:
  explicit Scratch(std::string path) : path_(std::move(path)) {}
  std::string path_;
  UniqueFd fd_;
  bool removed_ = false;
};

// ---- the sample ---------------------------------------------------------

bool Sampled(const pb::Entry& entry) {
  return entry.type() == pb::Entry::FILE || entry.type() == pb::Entry::SYMLINK;
}

// Visits every regular file and symlink of the snapshot in tree order (depth
// first, names sorted), with its path ("/etc/hosts"). A directory whose tree
// cannot be read is handed to `unreadable` and skipped.
using EntryVisitor = std::function<void(const std::string& path, const pb::Entry& entry)>;
Status WalkSnapshot(
    Repository& repo, const Snapshot& snapshot, const EntryVisitor& visit,
    const std::function<void(const std::string& path, const Status& status)>& unreadable) {
  auto root = ObjectId::FromBytes(AsBytes(snapshot.record.root_tree_id()));
  if (!root) return Status::Corruption(snapshot.name() + ": a malformed root tree id");
  // Directories still to walk; the last is walked next, so each directory's
  // subdirectories are pushed in reverse to come out in name order.
  std::vector<std::pair<ObjectId, std::string>> pending{{*root, ""}};
  while (!pending.empty()) {
    auto [id, dir] = std::move(pending.back());
    pending.pop_back();
    Result<pb::Tree> tree = repo.ReadTree(id);
    if (!tree.ok()) {
      Status status = restore::MissingIsDamage(tree.status());
      if (status.code() != Code::kCorruption) return status;  // not damage: the run cannot go on
      unreadable(dir.empty() ? "/" : dir, status);
      continue;
    }
    size_t first_new = pending.size();
    for (const pb::Entry& entry : tree->entries()) {
      std::string path = dir + "/" + entry.name();
      if (entry.type() == pb::Entry::DIRECTORY) {
        auto sub = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
        if (!sub) {
          unreadable(path, Status::Corruption("a directory with a malformed tree id"));
          continue;
        }
        pending.emplace_back(*sub, std::move(path));
      } else if (Sampled(entry)) {
        visit(path, entry);
      }
    }
    std::reverse(pending.begin() + static_cast<std::ptrdiff_t>(first_new), pending.end());
  }
  return Status::Ok();
}

// ---- reading back -------------------------------------------------------

std::string Octal(uint32_t mode) {
  char text[16];
  snprintf(text, sizeof text, "%04o", mode);
  return text;
}

std::string TimeText(int64_t ns) {
  return model::FormatTime(ns - ns % 1'000'000'000).substr(0, 19) + "." +
         std::to_string(1'000'000'000 + ns % 1'000'000'000).substr(1) + "Z";
}

// The xattrs of what `list`/`get` reach, by name.
using XattrMap = std::map<std::string, std::string>;
Result<XattrMap> ReadXattrs(const std::function<ssize_t(char*, size_t)>& list,
                            const std::function<ssize_t(const char*, void*, size_t)>& get) {
  XattrMap out;
  std::string names;
  for (;;) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) return Status::FromErrno(errno, "list xattrs");
    names.resize(static_cast<size_t>(n));
    n = list(names.data(), names.size());
    if (n < 0 && errno == ERANGE) continue;  // grew meanwhile
    if (n < 0) return Status::FromErrno(errno, "list xattrs");
    names.resize(static_cast<size_t>(n));
    break;
  }
  for (size_t at = 0; at < names.size();) {
    std::string name = names.c_str() + at;
    at += name.size() + 1;
    std::string value;
    for (;;) {
      ssize_t n = get(name.c_str(), nullptr, 0);
      if (n < 0) return Status::FromErrno(errno, "read xattr " + name);
      value.resize(static_cast<size_t>(n));
      n = get(name.c_str(), value.data(), value.size());
      if (n < 0 && errno == ERANGE) continue;
      if (n < 0) return Status::FromErrno(errno, "read xattr " + name);
      value.resize(static_cast<size_t>(n));
      break;
    }
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

void CompareXattrs(const pb::Entry& entry, const Result<XattrMap>& found,
                   std::vector<std::string>& diffs) {
  if (!found.ok()) {
    diffs.push_back(found.status().message());
    return;
  }
  XattrMap expected;
  for (const pb::Xattr& x : entry.xattrs()) expected.emplace(x.name(), x.value());
  for (const auto& [name, value] : expected) {
    auto it = found->find(name);
    if (it == found->end()) {
      diffs.push_back("xattr " + name + " missing");
    } else if (it->second != value) {
      diffs.push_back("xattr " + name + " differs");
    }
  }
  for (const auto& [name, value] : *found) {
    if (!expected.contains(name)) diffs.push_back("xattr " + name + " is not in the snapshot");
  }
}

// Owner and mtime, common to files and symlinks.
void CompareStat(const pb::Entry& entry, const struct stat& st, bool owners,
                 std::vector<std::string>& diffs) {
  if (owners && (st.st_uid != entry.uid() || st.st_gid != entry.gid())) {
    diffs.push_back("owner " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                    ", the snapshot says " + std::to_string(entry.uid()) + ":" +
                    std::to_string(entry.gid()));
  }
  if (ToNanos(st.st_mtim) != entry.mtime_ns()) {
    diffs.push_back("mtime " + TimeText(ToNanos(st.st_mtim)) + ", the snapshot says " +
                    TimeText(entry.mtime_ns()));
  }
}

Status ReadFully(int fd, uint64_t offset, Bytes& buffer, uint64_t* got) {
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t n =
        pread(fd, buffer.data() + done, buffer.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  *got = done;
  return Status::Ok();
}

// Compares the extents of `entry` that lie in [begin, end) with the bytes of
// `fd` at their offsets: a data extent by its keyed id, a hole as zeros. The
// first difference is added to `diffs`; the bytes read are counted.
Status CompareContent(Repository& repo, const pb::Entry& entry, int fd, uint64_t begin,
                      uint64_t end, std::vector<std::string>& diffs, uint64_t& bytes_read) {
  constexpr uint64_t kHolePiece = 1u << 20;
  Bytes buffer;
  uint64_t at = 0;
  for (const pb::Extent& extent : entry.extents()) {
    const uint64_t start = at;
    at += extent.size();
    if (at <= begin || extent.size() == 0) continue;
    if (start >= end) break;
    const bool hole = extent.chunk_id().empty();
    // A data extent is hashed whole; a hole is read a piece at a time.
    for (uint64_t offset = start; offset < at;) {
      uint64_t want = hole ? std::min(kHolePiece, at - offset) : extent.size();
      buffer.resize(static_cast<size_t>(want));
      uint64_t got = 0;
      COFFER_RETURN_IF_ERROR(ReadFully(fd, offset, buffer, &got));
      bytes_read += got;
      const std::string where =
          "bytes " + std::to_string(offset) + ".." + std::to_string(offset + want);
      if (got < want) {
        diffs.push_back("content: ends at byte " + std::to_string(offset + got) +
                        ", the snapshot has " + std::to_string(at) + " or more");
        return Status::Ok();
      }
      if (hole) {
        if (std::any_of(buffer.begin(), buffer.end(), [](uint8_t b) { return b != 0; })) {
          diffs.push_back("content: " + where + " should be zeros (a hole)");
          return Status::Ok();
        }
      } else if (!std::ranges::equal(repo.sealer().IdOf(buffer).view(),
                                     AsBytes(extent.chunk_id()))) {
        diffs.push_back("content: " + where + " differ from the snapshot's chunk");
        return Status::Ok();
      }
      offset += want;
    }
  }
  return Status::Ok();
}

// Pushes the file out of the page cache after flushing it, so the read that
// follows comes from the disk, not from the memory the restore wrote.
void DropCache(int fd) {
  (void)fdatasync(fd);
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

// The directory that holds `path` (a snapshot path) below `root`, opened
// one component at a time without following symlinks: a deep path may be
// longer than PATH_MAX.
Result<UniqueFd> OpenParent(int root, const std::vector<std::string>& parts) {
  UniqueFd dir(fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return Status::FromErrno(errno, "open the scratch folder");
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    UniqueFd next(
        openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return Status::FromErrno(errno, "open restored directory " + parts[i]);
    dir = std::move(next);
  }
  return dir;
}

class Run {
 public:
  Run(Repository& repo, const Snapshot& snapshot, const RestoreTestOptions& options,
      Scratch& scratch, RestoreTestResult& result)
      : repo_(repo),
        snapshot_(snapshot),
        options_(options),
        owners_(options.owners.value_or(geteuid() == 0)),
        scratch_(scratch),
        result_(result),
        random_(result.seed) {}

  Status Go();

 private:
  void Mismatch(const std::string& path, std::vector<std::string> diffs,
                Status status = Status::Ok()) {
    std::string what;
    for (const std::string& d : diffs) what += (what.empty() ? "" : "; ") + d;
    result_.mismatches.push_back({path, std::move(what), std::move(status)});
  }
  // Restores the sampled file at `path` into `folder` (a fresh folder of
  // the scratch, at `folder_path`) and compares it, adding a mismatch when
  // it differs; an error only when the run cannot go on.
  Status CheckWhole(const std::string& path, const pb::Entry& entry, int folder,
                    const std::string& folder_path);
  // The same for a disk image, by options_.image_ranges random ranges.
  Status CheckImage(const std::string& path, const pb::Entry& entry, int folder);
  void CompareRestored(const std::string& path, const pb::Entry& entry, int folder,
                       std::vector<std::string>& diffs);

  Repository& repo_;
  const Snapshot& snapshot_;
  const RestoreTestOptions& options_;
  const bool owners_;
  Scratch& scratch_;
  RestoreTestResult& result_;
  std::mt19937_64 random_;
};

Status Run::CheckWhole(const std::string& path, const pb::Entry& entry, int folder,
                       const std::string& folder_path) {
  restore::RestoreOptions restore_options;
  restore_options.target = folder_path;
  restore_options.threads = 1;  // one file: more writers would only wait
  restore_options.restore_owners = owners_;
  restore::Restorer restorer(repo_, restore_options);
  Result<restore::RestoreResult> restored = restorer.Restore(snapshot_, path);
  if (!restored.ok()) {
    Status status = restore::MissingIsDamage(restored.status());
    if (status.code() != Code::kCorruption) return status;
    Mismatch(path, {"not restored: " + status.message()}, status);
    return Status::Ok();
  }
  std::vector<std::string> diffs;
  Status first_error;
  for (const restore::RestoreError& e : restored->errors) {
    diffs.push_back("not restored: " + (e.path == path.substr(1) ? "" : "/" + e.path + ": ") +
                    e.status.message());
    if (first_error.ok()) first_error = e.status;
  }
  if (diffs.empty()) CompareRestored(path, entry, folder, diffs);
  if (!diffs.empty()) Mismatch(path, std::move(diffs), first_error);
  return Status::Ok();
}

void Run::CompareRestored(const std::string& path, const pb::Entry& entry, int folder,
                          std::vector<std::string>& diffs) {
  std::vector<std::string> parts = model::SplitPath(path);
  Result<UniqueFd> dir = OpenParent(folder, parts);
  if (!dir.ok()) return diffs.push_back(dir.status().message());
  const std::string& name = parts.back();
  if (entry.type() == pb::Entry::SYMLINK) {
    struct stat st;
    if (fstatat(dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return diffs.push_back(Status::FromErrno(errno, "stat").message());
    }
    if (!S_ISLNK(st.st_mode)) return diffs.push_back("not a symlink");
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = readlinkat(dir->get(), name.c_str(), target.data(), target.size());
    if (n < 0) return diffs.push_back(Status::FromErrno(errno, "readlink").message());
    target.resize(static_cast<size_t>(n));
    if (target != entry.symlink_target()) {
      diffs.push_back("symlink target '" + target + "', the snapshot says '" +
                      entry.symlink_target() + "'");
    }
    result_.bytes_checked += target.size();
    CompareStat(entry, st, owners_, diffs);
    // A symlink's xattrs by a path through its directory's descriptor, not followed.
    const std::string proc = "/proc/self/fd/" + std::to_string(dir->get()) + "/" + name;
    CompareXattrs(
        entry,
        ReadXattrs([&](char* buf, size_t size) { return llistxattr(proc.c_str(), buf, size); },
                   [&](const char* x, void* buf, size_t size) {
                     return lgetxattr(proc.c_str(), x, buf, size);
                   }),
        diffs);
    return;
  }
  UniqueFd fd(openat(dir->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return diffs.push_back(Status::FromErrno(errno, "open").message());
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return diffs.push_back(Status::FromErrno(errno, "stat").message());
  if (!S_ISREG(st.st_mode)) return diffs.push_back("not a regular file");
  DropCache(fd.get());
  if (static_cast<uint64_t>(st.st_size) != entry.size()) {
    diffs.push_back("size " + std::to_string(st.st_size) + ", the snapshot says " +
                    std::to_string(entry.size()));
  } else if (Status s = CompareContent(repo_, entry, fd.get(), 0, entry.size(), diffs,
                                       result_.bytes_checked);
             !s.ok()) {
    diffs.push_back(s.message());
  }
  if ((st.st_mode & 07777) != (entry.mode() & 07777)) {
    diffs.push_back("mode " + Octal(st.st_mode & 07777) + ", the snapshot says " +
                    Octal(entry.mode() & 07777));
  }
  CompareStat(entry, st, owners_, diffs);
  const int raw = fd.get();
  CompareXattrs(entry,
                ReadXattrs([raw](char* buf, size_t size) { return flistxattr(raw, buf, size); },
                           [raw](const char* x, void* buf, size_t size) {
                             return fgetxattr(raw, x, buf, size);
                           }),
                diffs);
}

Status Run::CheckImage(const std::string& path, const pb::Entry& entry, int folder) {
  ++result_.images_checked;
  UniqueFd fd(openat(folder, "image", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "create a file in the scratch folder");
  std::vector<std::string> diffs;
  Status first_error;
  for (uint64_t r = 0; r < options_.image_ranges && diffs.empty(); ++r) {
    const uint64_t offset = entry.size() == 0 ? 0 : random_() % entry.size();
    Result<restore::RestoredRange> range =
        restore::RestoreRange(repo_, entry, offset, options_.range_size, fd.get());
    if (!range.ok()) {
      Status status = restore::MissingIsDamage(range.status());
      if (status.code() != Code::kCorruption) return status;
      diffs.push_back("range from byte " + std::to_string(offset) +
                      " not restored: " + status.message());
      first_error = status;
      break;
    }
    ++result_.ranges_checked;
    DropCache(fd.get());
    COFFER_RETURN_IF_ERROR(CompareContent(repo_, entry, fd.get(), range->begin, range->end, diffs,
                                          result_.bytes_checked));
  }
  if (!diffs.empty()) Mismatch(path, std::move(diffs), first_error);
  return Status::Ok();
}

Status Run::Go() {
  auto unreadable = [&](const std::string& path, const Status& status) {
    Mismatch(path, {"directory not readable: " + status.message()}, status);
  };
  uint64_t wanted = options_.files;
  if (options_.percent) {
    uint64_t population = 0;
    COFFER_RETURN_IF_ERROR(WalkSnapshot(
        repo_, snapshot_, [&](const std::string&, const pb::Entry&) { ++population; },
        [](const std::string&, const Status&) {}));  // reported by the sampling walk
    wanted = static_cast<uint64_t>(
        std::ceil(*options_.percent / 100.0 * static_cast<double>(population)));
    wanted = std::min(wanted, population);
  }

  // Algorithm R: the i-th file (from 0) replaces a random slot with
  // probability wanted / (i + 1). The modulo's bias is below 2^-40 for any
  // tree that fits a repository; mt19937_64's output, unlike the standard
  // distributions', is the same in every standard library.
  std::vector<std::pair<uint64_t, std::string>> reservoir;  // (walk position, path)
  uint64_t seen = 0;
  COFFER_RETURN_IF_ERROR(WalkSnapshot(
      repo_, snapshot_,
      [&](const std::string& path, const pb::Entry&) {
        if (reservoir.size() < wanted) {
          reservoir.emplace_back(seen, path);
        } else if (wanted > 0) {
          uint64_t slot = random_() % (seen + 1);
          if (slot < wanted) reservoir[slot] = {seen, path};
        }
        ++seen;
      },
      unreadable));
  result_.population = seen;
  std::sort(reservoir.begin(), reservoir.end());

  for (size_t i = 0; i < reservoir.size(); ++i) {
    const std::string& path = reservoir[i].second;
    result_.sample.push_back(path);
    ++result_.files_checked;
    Result<pb::Entry> entry = repo_.LookupPath(snapshot_, path);
    if (!entry.ok()) {
      Status status = restore::MissingIsDamage(entry.status());
      if (status.code() != Code::kCorruption) return status;
      Mismatch(path, {"not found: " + status.message()}, status);
      continue;
    }
    // Each file in a folder of its own, removed once it is checked: the
    // scratch holds one sampled file at a time, and a read-only directory
    // restored for one cannot stand in the way of the next.
    const std::string folder_name = std::to_string(i);
    if (mkdirat(scratch_.fd(), folder_name.c_str(), 0700) != 0) {
      return Status::FromErrno(errno, "create a folder in " + scratch_.path());
    }
    UniqueFd folder(openat(scratch_.fd(), folder_name.c_str(),
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!folder.valid()) return Status::FromErrno(errno, "open a folder in " + scratch_.path());
    Status checked =
        IsDiskImage(snapshot_.ref.group, *entry, options_.image_min_size)
            ? CheckImage(path, *entry, folder.get())
            : CheckWhole(path, *entry, folder.get(), scratch_.path() + "/" + folder_name);
    folder.reset();
    COFFER_RETURN_IF_ERROR(checked);
    COFFER_RETURN_IF_ERROR(
        RemoveAllAt(scratch_.fd(), folder_name).WithContext("remove the restored sample"));
  }
  return Status::Ok();
}

}  // namespace

bool RestoreTestResult::damaged() const {
  return std::any_of(mismatches.begin(), mismatches.end(), [](const RestoreTestMismatch& m) {
    return m.status.code() == Code::kCorruption;
  });
}

bool IsDiskImage(std::string_view group, const pb::Entry& entry, uint64_t image_min_size) {
  if (entry.type() != pb::Entry::FILE) return false;
  return group.starts_with("vm/") || entry.size() >= image_min_size;
}

Result<RestoreTestResult> RunRestoreTest(Repository& repo, const Snapshot& snapshot,
                                         const RestoreTestOptions& options) {
  COFFER_RETURN_IF_ERROR(snapshot.CheckReadable());
  if (options.percent && !(*options.percent > 0 && *options.percent <= 100)) {
    return Status::InvalidArgument("the share of files must be above 0 and at most 100 percent");
  }
  if (options.range_size == 0)
    return Status::InvalidArgument("a range of disk image must not be empty");
  const auto started = std::chrono::steady_clock::now();
  RestoreTestResult result;
  result.seed = options.seed;
  while (result.seed == 0) {
    std::random_device random;
    result.seed = (uint64_t{random()} << 32) | random();
  }
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<Scratch> scratch, Scratch::Make(options.scratch_parent));
  result.scratch = scratch->path();
  Run run(repo, snapshot, options, *scratch, result);
  Status ran = run.Go();
  // Removed whether the run went well or not; the run's error comes first.
  Status removed = scratch->Remove();
  COFFER_RETURN_IF_ERROR(ran);
  if (!removed.ok()) result.scratch_left = removed.message();
  result.duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  return result;
}

Status RecordRestoreTest(Repository& repo, const Snapshot& snapshot,
                         const RestoreTestResult& result, int64_t now_ns) {
  pb::RestoreTestRecord record;
  record.set_time_ns(now_ns);
  record.set_ok(result.ok());
  record.set_files_checked(result.files_checked);
  record.set_bytes_checked(result.bytes_checked);
  record.set_mismatches(result.mismatches.size());
  record.set_seed(result.seed);
  return repo.UpdateNote(
      snapshot, [&record](pb::SnapshotNote& note) { *note.mutable_last_restore_test() = record; });
}

}  // namespace coffer::verify
