#include "store/ingest/archiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <set>

#include "store/base/crash_point.h"
#include "store/base/executor.h"
#include "store/base/unique_fd.h"
#include "store/chunk/fastcdc.h"
#include "store/chunk/image_chunks.h"
#include "store/ingest/commit_record.h"
#include "store/ingest/exclude.h"
#include "store/ingest/image_builder.h"
#include "store/ingest/parent_trees.h"
#include "store/ingest/source_meta.h"
#include "store/model/tree.h"
#include "store/repo/write_session.h"

namespace coffer::ingest {
namespace {

struct FileContent {
  std::vector<pb::Extent> extents;
  uint64_t size = 0;
  // Its size, mtime or ctime moved between the walk's stat and the end of
  // the read: what was stored may mix old and new content.
  bool changed_while_read = false;
};

// Files read one after another by one worker: a single hand-off between
// threads for many small files, which is what a tree of 60,000 files is made of.
struct ReadBatch {
  struct Job {
    UniqueFd fd;  // opened by the walk, so the batch needs no directory
    struct stat st;
    Result<FileContent> result = Status::Aborted("not read");
  };
  std::vector<Job> jobs;
  uint64_t bytes = 0;
  std::shared_future<void> done;
};

// One file's place in a batch.
struct ContentRef {
  std::shared_ptr<ReadBatch> batch;
  size_t index = 0;
  const Result<FileContent>& get() const {
    batch->done.wait();
    return batch->jobs[index].result;
  }
};

struct PendingDir;

// An entry whose content or subtree may still be in the making.
struct PendingEntry {
  pb::Entry entry;
  std::string path;
  std::optional<ContentRef> content;   // FILE being read
  std::shared_ptr<PendingDir> subdir;  // DIRECTORY whose tree is not stored yet
};

// A walked directory waiting for its files; its tree is stored once they are read.
struct PendingDir {
  std::string path;
  std::vector<PendingEntry> entries;
  std::optional<ObjectId> tree_id;  // set when stored
};

// Files larger than this get a batch of their own and seal their chunks on the
// session's workers, so that one big file still keeps every core busy.
constexpr uint64_t kLargeFile = 8 << 20;
constexpr size_t kBatchFiles = 32;
constexpr uint64_t kBatchBytes = 8 << 20;
// How far the walk may run ahead of the readers, in entries. It keeps the
// workers fed without holding a whole huge tree in memory.
constexpr size_t kMaxPendingEntries = 4096;

// The same inode, not changed since `old` was stored: a change of content,
// extended attributes or a symlink's target would have moved its ctime.
bool SameInode(const pb::Entry& old, pb::Entry::Type type, const struct stat& st) {
  return old.type() == type && old.ctime_ns() == ToNanos(st.st_ctim) && old.inode() == st.st_ino;
}

bool SameFile(const pb::Entry& old, const struct stat& st) {
  return SameInode(old, pb::Entry::FILE, st) && old.size() == static_cast<uint64_t>(st.st_size) &&
         old.mtime_ns() == ToNanos(st.st_mtim);
}

// Reads one file's content into chunks. Runs on a file worker.
class FileReader {
 public:
  FileReader(WriteSession& session, const chunk::FastCdc& cdc, BackupProgress& progress)
      : session_(session), cdc_(cdc), progress_(progress) {}

  Result<FileContent> Read(int fd, const struct stat& st) {
    PausePoint("backup-file-read");  // tests change a file here, after its stat
    FileContent content;
    background_ = static_cast<uint64_t>(st.st_size) > kLargeFile;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    // Only a file with fewer blocks than its size can have holes.
    bool maybe_sparse = static_cast<uint64_t>(st.st_blocks) * 512 < size;
    uint64_t pos = 0;
    while (pos < size) {
      uint64_t data = pos, hole = size;
      if (maybe_sparse) {
        off_t d = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
        if (d < 0 && errno != ENXIO) return Status::FromErrno(errno, "seek");
        data = d < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(d), size);
        if (data > pos) AddHole(content, data - pos);
        if (data >= size) {  // a trailing hole
          pos = size;
          break;
        }
        off_t h = lseek(fd, static_cast<off_t>(data), SEEK_HOLE);
        if (h < 0) return Status::FromErrno(errno, "seek");
        hole = std::min<uint64_t>(static_cast<uint64_t>(h), size);
      }
      COFFER_ASSIGN_OR_RETURN(uint64_t got, ReadRange(fd, data, hole - data, content));
      pos = data + got;
      if (got < hole - data) break;  // the file shrank while we read it
    }
    content.size = pos;
    struct stat after;
    content.changed_while_read = fstat(fd, &after) != 0 || after.st_size != st.st_size ||
                                 ToNanos(after.st_mtim) != ToNanos(st.st_mtim) ||
                                 ToNanos(after.st_ctim) != ToNanos(st.st_ctim);
    return content;
  }

 private:
  static void AddHole(FileContent& content, uint64_t size) {
    if (!content.extents.empty() && content.extents.back().chunk_id().empty()) {
      content.extents.back().set_size(content.extents.back().size() + size);
      return;
    }
    pb::Extent extent;  // a hole: no chunk id
    extent.set_size(size);
    content.extents.push_back(std::move(extent));
  }

  Result<uint64_t> ReadRange(int fd, uint64_t offset, uint64_t length, FileContent& content) {
    chunk::FdChunker chunker(cdc_, fd, offset, length);
    for (;;) {
      COFFER_ASSIGN_OR_RETURN(std::optional<ByteView> piece, chunker.Next());
      if (!piece) break;
      // At the repository's zstd level, small files too: on a copy of /usr they
      // are half the bytes, and two levels more saved 1.3% of the repository
      // for 14% more backup CPU (bench/run --corpus system). Container imports,
      // measured against borg's repository size, ask for more (tar_import.cc).
      COFFER_ASSIGN_OR_RETURN(ObjectId id, session_.AddChunk(*piece, background_));
      pb::Extent& extent = content.extents.emplace_back();
      extent.set_chunk_id(id.bytes.data(), id.bytes.size());
      extent.set_size(piece->size());
      progress_.bytes_read += piece->size();
      CrashPoint("file-chunk");
    }
    return chunker.bytes_read();
  }

  WriteSession& session_;
  const chunk::FastCdc& cdc_;
  BackupProgress& progress_;
  bool background_ = false;
};

// One backup run: the walk, its statistics and the errors it met.
//
// The walk visits directories depth-first and queues file reads in batches;
// it does not wait for them. Walked directories wait in post-order in
// `pending_` (children before parents) and their trees are stored from the
// front of that queue once it holds more than kMaxPendingEntries entries, or
// at the end. So readers always have work and memory stays bounded.
class Walk {
 public:
  Walk(Repository& repo, const BackupOptions& options, BackupProgress& progress)
      : repo_(repo),
        options_(options),
        progress_(progress),
        excludes_(options.excludes),
        session_(repo, Threads()),
        files_(Threads(), 4 * Threads()) {}

  Result<BackupResult> Run(const std::vector<std::string>& paths);
  Result<BackupResult> RunStream(int fd, const std::string& name,
                                 const std::function<Status()>& producer_done);

 private:
  struct VirtualDir {  // a parent directory of a backed-up path
    pb::Entry meta;
    std::map<std::string, VirtualDir> dirs;
    std::map<std::string, PendingEntry> leaves;
  };

  unsigned Threads() const {
    return options_.threads ? options_.threads : Executor::DefaultThreads();
  }

  void Report(const std::string& path, const Status& status) {
    errors_.push_back({path, status});
    ++progress_.errors;
    stats_.set_errors(stats_.errors() + 1);
  }

  std::optional<pb::Tree> LoadParentTree(const pb::Entry* entry) {
    if (entry == nullptr || entry->type() != pb::Entry::DIRECTORY) return std::nullopt;
    auto id = ObjectId::FromBytes(AsBytes(entry->subtree_id()));
    if (!id) return std::nullopt;
    auto tree = parent_trees_.Take(*id);
    // A damaged parent only costs a full read, never the backup.
    if (!tree.ok()) return std::nullopt;
    return std::move(tree).value();
  }

  std::shared_ptr<PendingDir> WalkDir(UniqueFd dirfd, const std::string& path, pb::Tree* parent,
                                      dev_t root_dev);
  // `parent` is the entry in the parent snapshot's tree, which the walk owns:
  // what is reused is moved out of it. With `follow`, a symlink at `name` is
  // visited as what it names (a PATH given with a trailing slash).
  Result<std::optional<PendingEntry>> Visit(int dirfd, const std::string& name,
                                            const std::string& path, pb::Entry* parent,
                                            dev_t root_dev, bool follow = false);
  // A block device named on the command line, or a file with --image: its
  // content read here, in order, as a disk image (image_builder.h).
  Result<std::optional<PendingEntry>> VisitImage(const std::string& path, const std::string& name);
  // Queues an open file for reading; the batch goes to a worker when full.
  ContentRef ReadLater(UniqueFd fd, const struct stat& st);
  void FlushBatch();
  // The entry as stored: content or subtree filled in; nullopt (reported) if
  // its content could not be read.
  std::optional<pb::Entry> Finish(PendingEntry& p);
  // Stores the trees of walked directories, oldest first, until at most
  // `keep` entries are pending; with `keep` 0, every one, empty ones too.
  Status StorePending(size_t keep);
  Result<ObjectId> StoreVirtual(VirtualDir& dir);
  Result<BackupResult> Commit(const ObjectId& root, std::vector<std::string> paths,
                              std::chrono::steady_clock::time_point start);

  Repository& repo_;
  const BackupOptions& options_;
  BackupProgress& progress_;
  ExcludeMatcher excludes_;
  OwnerNames owners_;
  std::optional<Snapshot> parent_;
  ParentTrees parent_trees_{repo_};
  pb::SnapshotStats stats_;
  std::vector<SourceError> errors_;
  std::map<std::pair<dev_t, ino_t>, ContentRef> hardlinks_;
  std::shared_ptr<ReadBatch> batch_;
  std::deque<std::shared_ptr<PendingDir>> pending_;
  size_t pending_entries_ = 0;
  Status walk_error_;  // a failure of the store: ends the walk
  WriteSession session_;
  Executor files_;  // after session_: its workers stop before the session goes
};

ContentRef Walk::ReadLater(UniqueFd fd, const struct stat& st) {
  bool large = static_cast<uint64_t>(st.st_size) > kLargeFile;
  if (large) FlushBatch();
  if (!batch_) batch_ = std::make_shared<ReadBatch>();
  // Built in place: moving a temporary Job made GCC 12 warn (wrongly) that
  // its result's vector may be used uninitialized.
  ReadBatch::Job& job = batch_->jobs.emplace_back();
  job.fd = std::move(fd);
  job.st = st;
  batch_->bytes += static_cast<uint64_t>(st.st_size);
  ContentRef ref{batch_, batch_->jobs.size() - 1};
  if (large || batch_->jobs.size() >= kBatchFiles || batch_->bytes >= kBatchBytes) FlushBatch();
  return ref;
}

void Walk::FlushBatch() {
  if (!batch_) return;
  std::shared_ptr<ReadBatch> batch = std::move(batch_);
  batch_.reset();
  // The task lets go of the batch once it has run: the batch holds the
  // task's future, whose shared state holds this function, so keeping the
  // capture made a cycle that leaked every batch and its files' extents.
  batch->done = files_
                    .Async([this, batch]() mutable {
                      FileReader reader(session_, repo_.chunker(), progress_);
                      for (ReadBatch::Job& job : batch->jobs) {
                        job.result = reader.Read(job.fd.get(), job.st);
                        job.fd.reset();
                      }
                      batch.reset();
                    })
                    .share();
}

Result<std::optional<PendingEntry>> Walk::Visit(int dirfd, const std::string& name,
                                                const std::string& path, pb::Entry* parent,
                                                dev_t root_dev, bool follow) {
  const int nofollow = follow ? 0 : O_NOFOLLOW;
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
    Report(path, Status::FromErrno(errno, "stat"));
    return std::optional<PendingEntry>();
  }
  pb::Entry::Type type;
  if (!EntryTypeOf(st.st_mode, &type)) return std::optional<PendingEntry>();  // sockets

  PendingEntry p;
  p.path = path;
  p.entry.set_name(name);
  FillMetadata(st, owners_, &p.entry);
  const bool same_inode = !options_.force && parent != nullptr && SameInode(*parent, type, st);
  const bool unchanged = same_inode && SameFile(*parent, st);
  // Attributes come from the open file or directory where there is one (a
  // path costs the kernel a lookup), from the path otherwise.
  auto read_xattrs = [&](int fd) {
    if (same_inode) return;
    Status s = fd >= 0 ? ReadXattrsOfOpenFile(fd, &p.entry) : ReadXattrs(dirfd, name, &p.entry);
    if (!s.ok()) Report(path, s);
  };
  if (same_inode) *p.entry.mutable_xattrs() = std::move(*parent->mutable_xattrs());

  switch (type) {
    case pb::Entry::SYMLINK:
      read_xattrs(-1);
      if (same_inode) {  // a symlink's target is never changed in place
        p.entry.set_allocated_symlink_target(parent->release_symlink_target());
      } else if (Status s = ReadSymlink(dirfd, name, &p.entry); !s.ok()) {
        Report(path, s);
        return std::optional<PendingEntry>();
      }
      break;
    case pb::Entry::DIRECTORY: {
      ++progress_.dirs;
      stats_.set_dirs(stats_.dirs() + 1);
      progress_.set_current(path);
      if (options_.one_file_system && st.st_dev != root_dev) {
        read_xattrs(-1);
        p.subdir = std::make_shared<PendingDir>();  // the mount point, empty
        p.subdir->path = path;
        pending_.push_back(p.subdir);
        break;
      }
      UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC));
      if (!fd.valid()) {
        Report(path, Status::FromErrno(errno, "open directory"));
        return std::optional<PendingEntry>();
      }
      read_xattrs(fd.get());
      std::optional<pb::Tree> parent_tree = options_.force ? std::nullopt : LoadParentTree(parent);
      p.subdir = WalkDir(std::move(fd), path, parent_tree ? &*parent_tree : nullptr, root_dev);
      break;
    }
    case pb::Entry::FILE: {
      ++progress_.files;
      // Counted once it is sure to be stored: a file that cannot be opened
      // is an error, not a new file.
      const auto count = [&](bool is_new) {
        stats_.set_files_total(stats_.files_total() + 1);
        stats_.set_bytes_total(stats_.bytes_total() + static_cast<uint64_t>(st.st_size));
        if (unchanged) {
          stats_.set_files_unchanged(stats_.files_unchanged() + 1);
        } else if (is_new) {
          stats_.set_files_new(stats_.files_new() + 1);
        } else {
          stats_.set_files_changed(stats_.files_changed() + 1);
        }
      };
      if (unchanged) {
        *p.entry.mutable_extents() = std::move(*parent->mutable_extents());
        count(false);
        break;
      }
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (st.st_nlink > 1) {  // read a hardlinked file once
        if (auto it = hardlinks_.find(key); it != hardlinks_.end()) {
          read_xattrs(-1);
          p.content = it->second;
          count(parent == nullptr);
          break;
        }
      }
      int flags = O_RDONLY | nofollow | O_CLOEXEC | O_NOCTTY;
      UniqueFd fd(openat(dirfd, name.c_str(), flags | O_NOATIME));
      if (!fd.valid() && errno == EPERM) fd.reset(openat(dirfd, name.c_str(), flags));
      if (!fd.valid()) {
        Report(path, Status::FromErrno(errno, "open"));
        return std::optional<PendingEntry>();
      }
      count(parent == nullptr);
      read_xattrs(fd.get());
      p.content = ReadLater(std::move(fd), st);
      if (st.st_nlink > 1) hardlinks_.emplace(key, *p.content);
      break;
    }
    default: read_xattrs(-1); break;  // a FIFO or a device is not opened
  }
  return std::optional<PendingEntry>(std::move(p));
}

Result<std::optional<PendingEntry>> Walk::VisitImage(const std::string& path,
                                                     const std::string& name) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0) {
    Report(path, Status::FromErrno(errno, "open"));
    return std::optional<PendingEntry>();
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode) && ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
    Report(path, Status::FromErrno(errno, "size of block device"));
    return std::optional<PendingEntry>();
  }
  posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  PendingEntry p;
  p.path = path;
  p.entry.set_name(name);
  FillMetadata(st, owners_, &p.entry);
  p.entry.set_type(pb::Entry::FILE);  // a device's content, not the device
  p.entry.set_rdev(0);
  ++progress_.files;
  progress_.set_current(path);
  stats_.set_files_total(stats_.files_total() + 1);
  stats_.set_files_new(stats_.files_new() + 1);
  stats_.set_bytes_total(stats_.bytes_total() + size);

  COFFER_ASSIGN_OR_RETURN(auto image,
                          ImageBuilder::Create(session_, size, ImageBuilder::Order::kSequential));
  // Large reads, cut into image chunks: a disk is read at its own speed.
  constexpr uint64_t kReadSize = 64 * chunk::kImageChunkSize;
  Bytes buffer(kReadSize);
  uint64_t offset = 0;
  while (offset < size) {
    const uint64_t want = std::min(kReadSize, size - offset);
    uint64_t got = 0;
    while (got < want) {
      ssize_t n =
          pread(fd.get(), buffer.data() + got, want - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Report(path, Status::FromErrno(errno, "read at byte " + std::to_string(offset + got)));
        return std::optional<PendingEntry>();
      }
      if (n == 0) break;
      got += static_cast<uint64_t>(n);
    }
    if (got < want) {  // a file that shrank: an image must be whole
      Report(path, Status::IoError("it shrank while it was read, at byte " +
                                   std::to_string(offset + got)));
      return std::optional<PendingEntry>();
    }
    for (uint64_t at = 0; at < got; at += chunk::kImageChunkSize) {
      const uint64_t index = (offset + at) / chunk::kImageChunkSize;
      ByteView piece(buffer.data() + at, std::min(chunk::kImageChunkSize, got - at));
      COFFER_RETURN_IF_ERROR(image->Put(index, piece));
    }
    offset += got;
    progress_.bytes_read += got;
  }
  COFFER_RETURN_IF_ERROR(image->Finish(&p.entry));
  return std::optional<PendingEntry>(std::move(p));
}

std::optional<pb::Entry> Walk::Finish(PendingEntry& p) {
  if (p.content) {
    const Result<FileContent>& content = p.content->get();
    if (!content.ok()) {
      Report(p.path, content.status());
      return std::nullopt;
    }
    for (const pb::Extent& e : content->extents) *p.entry.add_extents() = e;
    p.entry.set_size(content->size);
    // Stored as read, as tar and borg do, and named: the snapshot is
    // incomplete, and the next backup reads the file again (its mtime or
    // ctime no longer match the stored ones).
    if (content->changed_while_read) {
      Report(p.path, Status::Aborted("changed while it was read; stored as read"));
    }
  }
  if (p.subdir) {
    // Post-order: a subdirectory's tree is stored before its parent's.
    const ObjectId& id = *p.subdir->tree_id;
    p.entry.set_subtree_id(id.bytes.data(), id.bytes.size());
  }
  return std::move(p.entry);
}

std::shared_ptr<PendingDir> Walk::WalkDir(UniqueFd dirfd, const std::string& path, pb::Tree* parent,
                                          dev_t root_dev) {
  auto dir = std::make_shared<PendingDir>();
  dir->path = path;
  std::vector<std::string> names;
  {
    int listing_fd = dup(dirfd.get());
    DIR* listing = listing_fd < 0 ? nullptr : fdopendir(listing_fd);
    if (listing == nullptr) {
      if (listing_fd >= 0) close(listing_fd);
      Report(path, Status::FromErrno(errno, "list directory"));
    } else {
      errno = 0;
      while (dirent* e = readdir(listing)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
      }
      if (errno != 0) Report(path, Status::FromErrno(errno, "list directory"));
      closedir(listing);
    }
  }
  std::sort(names.begin(), names.end());

  dir->entries.reserve(names.size());
  for (const std::string& name : names) {
    if (!walk_error_.ok()) break;
    std::string child = path == "/" ? "/" + name : path + "/" + name;
    if (!excludes_.empty() && excludes_.Excluded(child, name)) continue;
    pb::Entry* old = parent ? model::FindEntry(*parent, name) : nullptr;
    auto entry = Visit(dirfd.get(), name, child, old, root_dev);
    if (!entry.ok()) {
      walk_error_ = entry.status();
      break;
    }
    if (*entry) dir->entries.push_back(std::move(**entry));
  }
  pending_entries_ += dir->entries.size();
  pending_.push_back(dir);
  if (pending_entries_ > kMaxPendingEntries && walk_error_.ok()) {
    walk_error_ = StorePending(kMaxPendingEntries / 2);
  }
  return dir;
}

Status Walk::StorePending(size_t keep) {
  FlushBatch();  // the oldest directories may wait for the open batch
  while (!pending_.empty() && (keep == 0 || pending_entries_ > keep)) {
    std::shared_ptr<PendingDir> dir = std::move(pending_.front());
    pending_.pop_front();
    pb::Tree tree;
    for (PendingEntry& p : dir->entries) {
      if (auto entry = Finish(p)) *tree.add_entries() = std::move(*entry);
    }
    pending_entries_ -= dir->entries.size();
    dir->entries.clear();
    COFFER_ASSIGN_OR_RETURN(ObjectId id, session_.AddTree(tree));
    dir->tree_id = id;
  }
  return Status::Ok();
}

Result<ObjectId> Walk::StoreVirtual(VirtualDir& dir) {
  pb::Tree tree;
  for (auto& [name, sub] : dir.dirs) {
    pb::Entry* e = tree.add_entries();
    *e = sub.meta;
    e->set_name(name);
    COFFER_ASSIGN_OR_RETURN(ObjectId id, StoreVirtual(sub));
    e->set_subtree_id(id.bytes.data(), id.bytes.size());
  }
  for (auto& [name, leaf] : dir.leaves) {
    if (auto entry = Finish(leaf)) *tree.add_entries() = std::move(*entry);
  }
  model::SortEntries(&tree);
  return session_.AddTree(tree);
}

Result<BackupResult> Walk::Run(const std::vector<std::string>& raw_paths) {
  auto start = std::chrono::steady_clock::now();
  std::string cwd;
  if (std::any_of(raw_paths.begin(), raw_paths.end(),
                  [](const std::string& p) { return !p.starts_with("/"); })) {
    char cwd_buf[PATH_MAX];
    // Never guessed: a relative PATH taken from / would store other files.
    if (getcwd(cwd_buf, sizeof cwd_buf) == nullptr) {
      return Status::FromErrno(errno, "the current directory, which a relative PATH needs");
    }
    cwd = cwd_buf;
  }
  std::vector<std::string> paths;
  // A trailing slash resolves a symlink to the directory it names, as the
  // kernel resolves such a path (/var/run/ is /run's content).
  std::set<std::string> followed;
  for (const auto& p : raw_paths) {
    paths.push_back(AbsolutePath(p, cwd));
    if (p.size() > 1 && p.ends_with('/')) followed.insert(paths.back());
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  // A path inside another given path is already covered by it.
  std::erase_if(paths, [&](const std::string& p) {
    return std::any_of(paths.begin(), paths.end(), [&](const std::string& q) {
      return q != p && (q == "/" || p.starts_with(q + "/"));
    });
  });
  // Excludes apply to the named PATHs too, as restic's and borg's do: a PATH
  // that is, or lies in, an excluded path is left out, before anything is
  // registered.
  if (!excludes_.empty()) {
    std::erase_if(paths, [&](const std::string& p) {
      std::string prefix;
      for (const std::string& part : model::SplitPath(p)) {
        prefix += "/" + part;
        if (excludes_.Excluded(prefix, part)) return true;
      }
      return false;
    });
    if (paths.empty()) {
      return Status::InvalidArgument("every PATH given is excluded by --exclude or --exclude-file");
    }
  }

  // Registered before anything is stored or reused, so a garbage collection
  // running meanwhile keeps the parent's objects even if it is pruned. A
  // parent pruned between the listing and the registration: take the next.
  for (int attempt = 0;; ++attempt) {
    if (!options_.force) {
      COFFER_ASSIGN_OR_RETURN(parent_, repo_.LatestSnapshot(options_.group));
    }
    Status begun =
        session_.Begin(parent_ ? std::optional<SnapshotRef>(parent_->ref) : std::nullopt);
    if (begun.ok()) {
      PausePoint("backup-registered");
      break;
    }
    if (begun.code() != Code::kNotFound || attempt == 2) {
      return begun.WithContext("registering the backup");
    }
  }
  std::optional<pb::Tree> parent_root;
  if (parent_) {
    auto root_id = ObjectId::FromBytes(AsBytes(parent_->record.root_tree_id()));
    if (root_id) {
      auto tree = parent_trees_.Take(*root_id);
      if (tree.ok()) parent_root = std::move(tree).value();
    }
  }

  if (paths.size() == 1 && paths[0] == "/") {
    UniqueFd fd(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "open /");
    auto root = WalkDir(std::move(fd), "/", parent_root ? &*parent_root : nullptr, st.st_dev);
    COFFER_RETURN_IF_ERROR(walk_error_);
    COFFER_RETURN_IF_ERROR(StorePending(0));
    return Commit(*root->tree_id, paths, start);
  }

  VirtualDir root;
  size_t stored = 0;
  for (const std::string& path : paths) {
    std::vector<std::string> parts = model::SplitPath(path);
    VirtualDir* node = &root;
    std::optional<pb::Tree> parent_tree = parent_root;
    std::string prefix;
    bool ok = true;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += "/" + parts[i];
      auto [it, inserted] = node->dirs.try_emplace(parts[i]);
      if (inserted) {
        // Followed: a directory above a PATH may be a symlink to one (/lib
        // on a merged-/usr system); it is stored as the directory it names.
        struct stat st;
        const int err = stat(prefix.c_str(), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (err != 0) {
          node->dirs.erase(it);  // nothing of this PATH is stored
          Report(path, Status::FromErrno(err, "stat " + prefix));
          ok = false;
          break;
        }
        FillMetadata(st, owners_, &it->second.meta);
      }
      node = &it->second;
      const pb::Entry* old = parent_tree ? model::FindEntry(*parent_tree, parts[i]) : nullptr;
      parent_tree = LoadParentTree(old);
    }
    if (!ok) continue;
    std::string dir = prefix.empty() ? "/" : prefix;
    UniqueFd dirfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const bool follow = followed.contains(path);
    struct stat st;
    if (!dirfd.valid() ||
        fstatat(dirfd.get(), parts.back().c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
      Report(path, Status::FromErrno(errno, "stat"));
      continue;
    }
    // Named on the command line, a block device (or its symlink, as LVM
    // names them) is content; so is any file with --image.
    struct stat target;
    if (stat(path.c_str(), &target) == 0 &&
        (S_ISBLK(target.st_mode) || (options_.image && S_ISREG(target.st_mode)))) {
      COFFER_ASSIGN_OR_RETURN(auto image, VisitImage(path, parts.back()));
      if (image) {
        node->leaves.emplace(parts.back(), std::move(*image));
        ++stored;
      }
      continue;
    }
    pb::Entry* old = parent_tree ? model::FindEntry(*parent_tree, parts.back()) : nullptr;
    COFFER_ASSIGN_OR_RETURN(auto entry,
                            Visit(dirfd.get(), parts.back(), path, old, st.st_dev, follow));
    COFFER_RETURN_IF_ERROR(walk_error_);
    if (!entry) continue;
    node->leaves.emplace(parts.back(), std::move(*entry));
    ++stored;
  }
  if (stored == 0) {
    return Status::NotFound(errors_.empty()
                                ? "nothing to back up"
                                : errors_.front().path + ": " + errors_.front().status.message());
  }
  COFFER_RETURN_IF_ERROR(StorePending(0));
  COFFER_ASSIGN_OR_RETURN(ObjectId root_id, StoreVirtual(root));
  return Commit(root_id, paths, start);
}

Result<BackupResult> Walk::RunStream(int fd, const std::string& name,
                                     const std::function<Status()>& producer_done) {
  auto start = std::chrono::steady_clock::now();
  const chunk::FastCdc& cdc = repo_.chunker();
  pb::Entry entry;
  entry.set_name(name);
  entry.set_type(pb::Entry::FILE);
  entry.set_mode(0600);
  entry.set_uid(getuid());
  entry.set_gid(getgid());
  entry.set_user(owners_.User(getuid()));
  entry.set_group(owners_.Group(getgid()));
  entry.set_mtime_ns(options_.time_ns);
  entry.set_ctime_ns(options_.time_ns);
  entry.set_nlink(1);

  // A pipe cannot be pread, so the stream is chunked from a sliding buffer.
  const size_t max = cdc.params().max_size;
  Bytes buffer(4 * max);
  size_t begin = 0, end = 0;
  bool eof = false;
  uint64_t total = 0;
  while (!eof || begin < end) {
    if (!eof && end - begin < max) {
      if (begin > 0) {
        std::memmove(buffer.data(), buffer.data() + begin, end - begin);
        end -= begin;
        begin = 0;
      }
      while (end < buffer.size()) {
        ssize_t n = read(fd, buffer.data() + end, buffer.size() - end);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status::FromErrno(errno, "read standard input");
        if (n == 0) {
          eof = true;
          break;
        }
        end += static_cast<size_t>(n);
      }
    }
    if (begin == end) break;
    ByteView available(buffer.data() + begin, end - begin);
    size_t cut = cdc.NextBoundary(available, eof);
    if (cut == 0) continue;  // needs more bytes: the refill above reads them
    COFFER_ASSIGN_OR_RETURN(ObjectId id, session_.AddChunk(available.first(cut)));
    pb::Extent* extent = entry.add_extents();
    extent->set_chunk_id(id.bytes.data(), id.bytes.size());
    extent->set_size(cut);
    begin += cut;
    total += cut;
    progress_.bytes_read += cut;
    CrashPoint("file-chunk");
  }
  entry.set_size(total);
  COFFER_RETURN_IF_ERROR(producer_done());
  ++progress_.files;
  stats_.set_files_new(1);
  stats_.set_files_total(1);
  stats_.set_bytes_total(total);
  pb::Tree tree;
  *tree.add_entries() = entry;
  COFFER_ASSIGN_OR_RETURN(ObjectId root, session_.AddTree(tree));
  return Commit(root, {name}, start);
}

Result<BackupResult> Walk::Commit(const ObjectId& root, std::vector<std::string> paths,
                                  std::chrono::steady_clock::time_point start) {
  stats_.set_bytes_read(progress_.bytes_read);
  std::optional<SnapshotRef> parent;
  if (parent_) parent = parent_->ref;
  COFFER_ASSIGN_OR_RETURN(Snapshot committed,
                          CommitRecord(session_, options_, root, std::move(paths), parent,
                                       !errors_.empty(), stats_, start));
  return BackupResult{std::move(committed), std::move(errors_)};
}

}  // namespace

Archiver::Archiver(Repository& repo, BackupOptions options, BackupProgress* progress)
    : repo_(repo), options_(std::move(options)), progress_(progress ? progress : &own_progress_) {}

Result<BackupResult> Archiver::BackupPaths(const std::vector<std::string>& paths) {
  Walk walk(repo_, options_, *progress_);
  return walk.Run(paths);
}

Result<BackupResult> Archiver::BackupStream(int fd, const std::string& name,
                                            const std::function<Status()>& producer_done) {
  Walk walk(repo_, options_, *progress_);
  return walk.RunStream(fd, name, producer_done);
}

std::string AbsolutePath(const std::string& path, const std::string& cwd) {
  std::vector<std::string> parts;
  std::string full = path.starts_with("/") ? path : cwd + "/" + path;
  for (std::string& part : model::SplitPath(full)) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(part));
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

}  // namespace coffer::ingest
