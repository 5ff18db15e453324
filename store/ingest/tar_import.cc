#include "store/ingest/tar_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "store/base/crash_point.h"
#include "store/chunk/fastcdc.h"
#include "store/ingest/commit_record.h"
#include "store/ingest/exclude.h"
#include "store/model/posix_acl.h"
#include "store/model/tree.h"
#include "store/repo/write_session.h"

namespace coffer::ingest {
namespace {

// A directory the archive implies without listing it.
constexpr uint32_t kImpliedDirMode = 0755;

// The id of a named ACL entry. GNU tar writes names (acl_to_text), even with
// --numeric-owner, and numbers only where the host it ran on had no name;
// tar extraction looks names up on the host that extracts, and so does this.
Result<uint32_t> AclId(bool user, int id, const char* name) {
  if (id >= 0) return static_cast<uint32_t>(id);
  if (name == nullptr || *name == '\0')
    return Status::InvalidArgument("an ACL entry without a user or group");
  char buf[4096];
  if (user) {
    struct passwd pw, *found = nullptr;
    if (getpwnam_r(name, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_uid;
  } else {
    struct group gr, *found = nullptr;
    if (getgrnam_r(name, &gr, buf, sizeof buf, &found) == 0 && found) return found->gr_gid;
  }
  return Status::InvalidArgument(std::string("its ACL names ") + (user ? "user " : "group ") +
                                 name + ", which this host does not know");
}

// One POSIX ACL of the member (`type` access or default) as the kernel's
// xattr value; nullopt if it has none (an access ACL of only the three base
// entries is the mode: libarchive folds them into it, as the kernel does).
Result<std::optional<std::string>> AclXattr(struct archive_entry* e, int type) {
  if (archive_entry_acl_reset(e, type) == 0) return std::optional<std::string>();
  std::vector<model::AclEntry> entries;
  int entry_type, permset, tag, id;
  const char* name;
  while (archive_entry_acl_next(e, type, &entry_type, &permset, &tag, &id, &name) == ARCHIVE_OK) {
    model::AclEntry entry{0, static_cast<uint16_t>(permset & ARCHIVE_ENTRY_ACL_PERMS_POSIX1E),
                          model::kAclUndefinedId};
    switch (tag) {
      case ARCHIVE_ENTRY_ACL_USER_OBJ: entry.tag = model::kAclUserObj; break;
      case ARCHIVE_ENTRY_ACL_GROUP_OBJ: entry.tag = model::kAclGroupObj; break;
      case ARCHIVE_ENTRY_ACL_MASK: entry.tag = model::kAclMask; break;
      case ARCHIVE_ENTRY_ACL_OTHER: entry.tag = model::kAclOther; break;
      case ARCHIVE_ENTRY_ACL_USER:
      case ARCHIVE_ENTRY_ACL_GROUP: {
        bool user = tag == ARCHIVE_ENTRY_ACL_USER;
        entry.tag = user ? model::kAclUser : model::kAclGroup;
        COFFER_ASSIGN_OR_RETURN(entry.id, AclId(user, id, name));
        break;
      }
      default:
        return Status::InvalidArgument("an ACL entry of unknown kind " + std::to_string(tag));
    }
    entries.push_back(entry);
  }
  return std::optional<std::string>(model::EncodeAclXattr(std::move(entries)));
}

// Seconds and nanoseconds as int64 nanoseconds, clamped to its range.
int64_t ClampedNanos(int64_t sec, long nsec) {
  constexpr int64_t kMaxSec = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  nsec = std::clamp<long>(nsec, 0, 999'999'999);
  if (sec > kMaxSec) return kMaxSec * 1'000'000'000 + 999'999'999;
  if (sec < -kMaxSec) return -kMaxSec * 1'000'000'000;
  return sec * 1'000'000'000 + nsec;
}

// A member's path as snapshot components: "./etc/x", "etc/x" and "/etc/x"
// are {"etc", "x"}; "./" is the root, {}. Tar extraction refuses ".."
// (GNU tar: "Member name contains '..'"), so does this.
Result<std::vector<std::string>> MemberPath(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("a member without a name");
  std::vector<std::string> parts;
  for (std::string& part : model::SplitPath(name)) {
    if (part == ".") continue;
    if (part == "..") return Status::InvalidArgument("its name contains \"..\"");
    parts.push_back(std::move(part));
  }
  return parts;
}

// Cuts the data of a file into the chunks FdChunker cuts from the same bytes
// on disk: each range of data between holes is chunked on its own, so a
// tar import and a directory backup of one tree store the same chunks.
class RangeChunker {
 public:
  using Emit = std::function<Status(ByteView chunk)>;

  explicit RangeChunker(const chunk::FastCdc& cdc) : cdc_(cdc), max_(cdc.params().max_size) {}

  // More bytes of the current range; whole chunks go to `emit`.
  Status Feed(ByteView data, const Emit& emit) {
    while (!data.empty()) {
      if (begin_ == end_ && data.size() >= max_) {
        // Nothing carried over: cut the caller's bytes where they are.
        size_t cut = cdc_.NextBoundary(data, false);
        COFFER_RETURN_IF_ERROR(emit(data.first(cut)));
        data = data.subspan(cut);
        continue;
      }
      if (buffer_.empty()) buffer_.resize(4 * size_t{max_});
      if (end_ == buffer_.size()) {  // less than max_ is pending: room for 3 * max_
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      size_t n = std::min(buffer_.size() - end_, data.size());
      std::memcpy(buffer_.data() + end_, data.data(), n);
      end_ += n;
      data = data.subspan(n);
      while (end_ - begin_ >= max_) {  // NextBoundary cuts within max_ bytes
        ByteView pending(buffer_.data() + begin_, end_ - begin_);
        size_t cut = cdc_.NextBoundary(pending, false);
        COFFER_RETURN_IF_ERROR(emit(pending.first(cut)));
        begin_ += cut;
      }
    }
    return Status::Ok();
  }

  // Ends the current range: its last chunks go to `emit`.
  Status Finish(const Emit& emit) {
    while (begin_ < end_) {
      ByteView pending(buffer_.data() + begin_, end_ - begin_);
      size_t cut = cdc_.NextBoundary(pending, true);
      COFFER_RETURN_IF_ERROR(emit(pending.first(cut)));
      begin_ += cut;
    }
    begin_ = end_ = 0;
    return Status::Ok();
  }

 private:
  const chunk::FastCdc& cdc_;
  const uint32_t max_;
  Bytes buffer_;  // allocated on first need, kept for the next files
  size_t begin_ = 0, end_ = 0;
};

// The metadata of an inode: everything but a name. Hard links share one.
struct Inode {
  pb::Entry entry;
  uint32_t links = 0;  // names in the finished tree
};

constexpr size_t kNoDir = static_cast<size_t>(-1);

// One name in a directory: a directory (an index into Run::dirs_) or an inode.
struct Child {
  size_t dir = kNoDir;
  std::shared_ptr<Inode> inode;
};

struct Dir {
  pb::Entry meta;                         // no name, no subtree yet
  std::map<std::string, Child> children;  // bytewise order, as trees are sorted
};

class Run {
 public:
  Run(Repository& repo, const BackupOptions& options, BackupProgress& progress)
      : repo_(repo),
        options_(options),
        progress_(progress),
        excludes_(options.excludes),
        chunker_(repo.chunker()),
        session_(repo, options.threads ? options.threads : Executor::DefaultThreads()) {
    dirs_.emplace_back();  // the root
  }

  Result<BackupResult> Go(ArchiveSource& source);

 private:
  void Report(const std::string& member, const Status& status) {
    errors_.push_back({member, status});
    ++progress_.errors;
    stats_.set_errors(stats_.errors() + 1);
  }

  // Reads one member (its data too) into the tree: an error only if the
  // archive cannot be read on; a member left out is reported.
  Status AddMember(ArchiveSource& source, struct archive_entry* e);
  bool Excluded(const std::vector<std::string>& parts) const;
  // Everything but content, links and subtree: nullopt (reported) if the
  // member cannot be stored.
  std::optional<pb::Entry> Metadata(const std::string& member, struct archive_entry* e);
  // The directory that holds `parts`, making those the archive implies
  // with the times of `member`. kInvalidArgument for a path through a
  // non-directory.
  Result<size_t> ParentDir(const std::vector<std::string>& parts, const pb::Entry& member);
  const Child* Lookup(const std::vector<std::string>& parts) const;
  size_t NewDir(pb::Entry meta) {
    dirs_.push_back(Dir{std::move(meta), {}});
    return dirs_.size() - 1;
  }
  // Streams the member's data into chunks: the extents and size of `entry`.
  Status ReadContent(ArchiveSource& source, pb::Entry& entry);
  void AddHole(pb::Entry& entry, uint64_t size);
  Result<ObjectId> StoreTrees();
  void NumberHardLinkGroups();
  Result<BackupResult> Commit(const ObjectId& root, const std::string& path,
                              std::chrono::steady_clock::time_point start);

  Repository& repo_;
  const BackupOptions& options_;
  BackupProgress& progress_;
  ExcludeMatcher excludes_;
  RangeChunker chunker_;
  // A deque: a new directory never moves the others while they are in use.
  std::deque<Dir> dirs_;
  pb::SnapshotStats stats_;
  std::vector<SourceError> errors_;
  WriteSession session_;
};

bool Run::Excluded(const std::vector<std::string>& parts) const {
  if (excludes_.empty()) return false;
  std::string path;
  for (const std::string& part : parts) {
    path += "/" + part;
    if (excludes_.Excluded(path, part)) return true;
  }
  return false;
}

std::optional<pb::Entry> Run::Metadata(const std::string& member, struct archive_entry* e) {
  pb::Entry entry;
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR: entry.set_type(pb::Entry::DIRECTORY); break;
    case AE_IFLNK: entry.set_type(pb::Entry::SYMLINK); break;
    case AE_IFIFO: entry.set_type(pb::Entry::FIFO); break;
    case AE_IFCHR: entry.set_type(pb::Entry::CHAR_DEVICE); break;
    case AE_IFBLK: entry.set_type(pb::Entry::BLOCK_DEVICE); break;
    case AE_IFSOCK: return std::nullopt;  // Coffer stores no sockets; GNU tar archives none
    default: entry.set_type(pb::Entry::FILE); break;  // libarchive's reading of other types
  }
  const int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  constexpr int64_t kMaxId = std::numeric_limits<uint32_t>::max();
  if (uid < 0 || uid > kMaxId || gid < 0 || gid > kMaxId) {
    Report(member, Status::InvalidArgument("owner " + std::to_string(uid) + ":" +
                                           std::to_string(gid) + " is out of range"));
    return std::nullopt;
  }
  entry.set_mode(archive_entry_perm(e) & 07777);
  entry.set_uid(static_cast<uint32_t>(uid));
  entry.set_gid(static_cast<uint32_t>(gid));
  if (const char* user = archive_entry_uname(e)) entry.set_user(user);
  if (const char* group = archive_entry_gname(e)) entry.set_group(group);
  entry.set_mtime_ns(ClampedNanos(archive_entry_mtime(e), archive_entry_mtime_nsec(e)));
  entry.set_ctime_ns(archive_entry_ctime_is_set(e)
                         ? ClampedNanos(archive_entry_ctime(e), archive_entry_ctime_nsec(e))
                         : entry.mtime_ns());
  entry.set_nlink(1);
  if (entry.type() == pb::Entry::SYMLINK) {
    const char* target = archive_entry_symlink(e);
    entry.set_symlink_target(target != nullptr ? target : "");
    entry.set_size(entry.symlink_target().size());  // as lstat says
  }
  if (entry.type() == pb::Entry::CHAR_DEVICE || entry.type() == pb::Entry::BLOCK_DEVICE) {
    entry.set_rdev(archive_entry_rdev(e));
  }

  // xattrs, the ACLs among them, sorted by name; an ACL wins over an xattr
  // of its name.
  std::map<std::string, std::string> xattrs;
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (name == nullptr || *name == '\0') continue;
    xattrs[name].assign(static_cast<const char*>(value), value != nullptr ? size : 0);
  }
  for (auto [type, xattr] : {std::pair{ARCHIVE_ENTRY_ACL_TYPE_ACCESS, model::kAccessAclXattr},
                             std::pair{ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, model::kDefaultAclXattr}}) {
    Result<std::optional<std::string>> acl = AclXattr(e, type);
    if (!acl.ok()) {
      Report(member, acl.status().WithContext("stored without its ACL"));
    } else if (*acl) {
      xattrs[std::string(xattr)] = std::move(**acl);
    }
  }
  // With a mask, the group bits of the mode are the mask's, as stat gives
  // them (and the member's header had them); libarchive put the ACL's group
  // entry there.
  if (auto access = xattrs.find(std::string(model::kAccessAclXattr)); access != xattrs.end()) {
    Result<std::vector<model::AclEntry>> acl = model::DecodeAclXattr(access->second);
    for (const model::AclEntry& a : acl.ok() ? *acl : std::vector<model::AclEntry>()) {
      if (a.tag == model::kAclMask)
        entry.set_mode((entry.mode() & ~070u) | (uint32_t{a.perm} << 3));
    }
  }
  if (archive_entry_acl_types(e) & ARCHIVE_ENTRY_ACL_TYPE_NFS4) {
    Report(member, Status::Unsupported("stored without its NFSv4 ACL, which Coffer cannot store"));
  }
  for (auto& [key, val] : xattrs) {
    pb::Xattr* x = entry.add_xattrs();
    x->set_name(key);
    x->set_value(std::move(val));
  }
  return entry;
}

Result<size_t> Run::ParentDir(const std::vector<std::string>& parts, const pb::Entry& member) {
  size_t dir = 0;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = dirs_[dir].children.find(parts[i]);
    if (it == dirs_[dir].children.end()) {
      pb::Entry implied;
      implied.set_type(pb::Entry::DIRECTORY);
      implied.set_mode(kImpliedDirMode);
      implied.set_mtime_ns(member.mtime_ns());
      implied.set_ctime_ns(member.ctime_ns());
      size_t made = NewDir(std::move(implied));
      dirs_[dir].children.emplace(parts[i], Child{made, nullptr});
      dir = made;
      continue;
    }
    if (it->second.dir == kNoDir) {
      std::string path;
      for (size_t j = 0; j <= i; ++j) path += (j ? "/" : "") + parts[j];
      return Status::InvalidArgument(path + " is not a directory in the archive");
    }
    dir = it->second.dir;
  }
  return dir;
}

const Child* Run::Lookup(const std::vector<std::string>& parts) const {
  size_t dir = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto it = dirs_[dir].children.find(parts[i]);
    if (it == dirs_[dir].children.end()) return nullptr;
    if (i + 1 == parts.size()) return &it->second;
    if (it->second.dir == kNoDir) return nullptr;
    dir = it->second.dir;
  }
  return nullptr;
}

void Run::AddHole(pb::Entry& entry, uint64_t size) {
  auto* extents = entry.mutable_extents();
  if (!extents->empty() && extents->rbegin()->chunk_id().empty()) {
    extents->rbegin()->set_size(extents->rbegin()->size() + size);
    return;
  }
  entry.add_extents()->set_size(size);  // a hole: no chunk id
}

Status Run::ReadContent(ArchiveSource& source, pb::Entry& entry) {
  const uint64_t size = entry.size();
  // Every member at the small-object effort, unlike a folder backup's files
  // (archiver.cc): a container's tree is mostly programs, libraries and text,
  // where two zstd levels more save ~1.8% of the repository (the /usr
  // container of bench/proxmox.py: 340.8 instead of 347.1 MB) for ~7% more
  // import time, and an import is already well ahead of its peers'
  // (bench/results/proxmox.md).
  const crypto::Effort effort = crypto::Effort::kSmall;
  auto emit = [&](ByteView piece) -> Status {
    COFFER_ASSIGN_OR_RETURN(ObjectId id, session_.AddChunk(piece, /*background=*/true, effort));
    pb::Extent* extent = entry.add_extents();
    extent->set_chunk_id(id.bytes.data(), id.bytes.size());
    extent->set_size(piece.size());
    progress_.bytes_read += piece.size();
    CrashPoint("file-chunk");
    return Status::Ok();
  };
  uint64_t pos = 0;  // where the data read so far ends in the file
  for (;;) {
    COFFER_ASSIGN_OR_RETURN(ArchiveSource::DataBlock block, source.ReadDataBlock());
    if (block.end) break;
    if (block.bytes.empty()) continue;
    if (block.offset < pos || block.offset > size || block.bytes.size() > size - block.offset) {
      return source.DamageHere("a damaged sparse map (data at " + std::to_string(block.offset) +
                               " of a file of " + std::to_string(size) + " bytes, after " +
                               std::to_string(pos) + ")");
    }
    if (block.offset > pos) {  // a hole: the data range before it ends
      COFFER_RETURN_IF_ERROR(chunker_.Finish(emit));
      AddHole(entry, block.offset - pos);
      pos = block.offset;
    }
    COFFER_RETURN_IF_ERROR(chunker_.Feed(block.bytes, emit));
    pos += block.bytes.size();
  }
  COFFER_RETURN_IF_ERROR(chunker_.Finish(emit));
  if (pos < size) AddHole(entry, size - pos);
  return Status::Ok();
}

Status Run::AddMember(ArchiveSource& source, struct archive_entry* e) {
  const std::string member = source.member_name();
  progress_.set_current(member);
  Result<std::vector<std::string>> parts = MemberPath(member);
  if (!parts.ok()) {
    Report(member, parts.status());
    return Status::Ok();
  }
  if (parts->empty()) return Status::Ok();  // "./": a snapshot's root has no entry
  if (Excluded(*parts)) return Status::Ok();
  const std::string& name = parts->back();

  if (const char* link = archive_entry_hardlink(e)) {
    Result<std::vector<std::string>> target = MemberPath(link);
    const Child* found = target.ok() && !target->empty() ? Lookup(*target) : nullptr;
    if (found == nullptr || found->dir != kNoDir) {
      Report(member,
             Status::InvalidArgument(std::string("a hard link to ") + link + ", " +
                                     (found ? "a directory" : "which the archive has not held")));
      return Status::Ok();
    }
    std::shared_ptr<Inode> inode = found->inode;  // before the map changes
    Result<size_t> parent = ParentDir(*parts, inode->entry);
    if (!parent.ok()) {
      Report(member, parent.status());
      return Status::Ok();
    }
    dirs_[*parent].children[name] = Child{kNoDir, std::move(inode)};
    return Status::Ok();
  }

  std::optional<pb::Entry> entry = Metadata(member, e);
  if (!entry) return Status::Ok();
  Result<size_t> parent = ParentDir(*parts, *entry);
  if (!parent.ok()) {
    Report(member, parent.status());
    return Status::Ok();
  }

  if (entry->type() == pb::Entry::DIRECTORY) {
    ++progress_.dirs;
    auto it = dirs_[*parent].children.find(name);
    if (it != dirs_[*parent].children.end() && it->second.dir != kNoDir) {
      dirs_[it->second.dir].meta = std::move(*entry);  // tar extraction keeps what is inside
      return Status::Ok();
    }
    size_t made = NewDir(std::move(*entry));
    dirs_[*parent].children[name] = Child{made, nullptr};
    return Status::Ok();
  }

  auto inode = std::make_shared<Inode>();
  inode->entry = std::move(*entry);
  if (inode->entry.type() == pb::Entry::FILE) {
    ++progress_.files;
    inode->entry.set_size(static_cast<uint64_t>(std::max<la_int64_t>(archive_entry_size(e), 0)));
    COFFER_RETURN_IF_ERROR(ReadContent(source, inode->entry));
  }
  dirs_[*parent].children[name] = Child{kNoDir, std::move(inode)};
  return Status::Ok();
}

// Hard link groups are numbered in the order a walk of the finished tree by
// name (a directory's entries right after it) first meets them, not in the
// archive's order: the same tree gets the same numbers, and so the same ids,
// whichever order a tar wrote it in (`coffer export` writes it by name).
void Run::NumberHardLinkGroups() {
  uint64_t next = 0;
  std::vector<std::pair<std::map<std::string, Child>::iterator, size_t>> stack;
  stack.emplace_back(dirs_[0].children.begin(), 0);
  while (!stack.empty()) {
    auto& [at, dir] = stack.back();
    if (at == dirs_[dir].children.end()) {
      stack.pop_back();
      continue;
    }
    Child& child = (at++)->second;
    if (child.dir != kNoDir) {
      stack.emplace_back(dirs_[child.dir].children.begin(), child.dir);
    } else if (child.inode->links > 1 && child.inode->entry.inode() == 0) {
      child.inode->entry.set_inode(++next);
    }
  }
}

Result<ObjectId> Run::StoreTrees() {
  // Which directories are still in the tree (one replaced by a file is not),
  // how many subdirectories each has, and how many names each inode has.
  // A directory's index is above its parent's: one pass down is enough.
  std::vector<bool> reachable(dirs_.size(), false);
  std::vector<uint32_t> subdirs(dirs_.size(), 0);
  reachable[0] = true;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    if (!reachable[i]) continue;
    for (auto& [name, child] : dirs_[i].children) {
      if (child.dir != kNoDir) {
        reachable[child.dir] = true;
        ++subdirs[i];
      } else {
        ++child.inode->links;
      }
    }
  }
  NumberHardLinkGroups();

  std::vector<std::optional<ObjectId>> ids(dirs_.size());
  for (size_t i = dirs_.size(); i-- > 0;) {
    if (!reachable[i]) continue;
    pb::Tree tree;
    for (auto& [name, child] : dirs_[i].children) {
      pb::Entry* entry = tree.add_entries();
      if (child.dir != kNoDir) {
        *entry = std::move(dirs_[child.dir].meta);
        entry->set_nlink(2 + subdirs[child.dir]);
        const ObjectId& id = *ids[child.dir];
        entry->set_subtree_id(id.bytes.data(), id.bytes.size());
        stats_.set_dirs(stats_.dirs() + 1);
      } else {
        *entry = child.inode->entry;
        entry->set_nlink(child.inode->links);
        if (entry->type() == pb::Entry::FILE) {
          stats_.set_files_total(stats_.files_total() + 1);
          stats_.set_files_new(stats_.files_new() + 1);
          stats_.set_bytes_total(stats_.bytes_total() + entry->size());
        }
      }
      entry->set_name(name);
    }
    dirs_[i].children.clear();  // its inodes go with their last name
    model::SortEntries(&tree);
    COFFER_ASSIGN_OR_RETURN(ids[i], session_.AddTree(tree));
  }
  return *ids[0];
}

Result<BackupResult> Run::Go(ArchiveSource& source) {
  auto start = std::chrono::steady_clock::now();
  if (source.format() != ArchiveFormat::kTar) {
    return Status::InvalidArgument(std::string(source.display_name()) +
                                   " is not a tar archive: it does not start with a tar header");
  }
  for (;;) {
    // Once the archive has ended, NextHeader has read the stream to its end.
    COFFER_ASSIGN_OR_RETURN(struct archive_entry * e, source.NextHeader());
    if (e == nullptr) break;
    COFFER_RETURN_IF_ERROR(AddMember(source, e));
  }
  COFFER_ASSIGN_OR_RETURN(ObjectId root, StoreTrees());
  return Commit(root, std::string(source.display_name()), start);
}

Result<BackupResult> Run::Commit(const ObjectId& root, const std::string& path,
                                 std::chrono::steady_clock::time_point start) {
  stats_.set_bytes_read(progress_.bytes_read);
  COFFER_ASSIGN_OR_RETURN(Snapshot committed,
                          CommitRecord(session_, options_, root, {path}, std::nullopt,
                                       !errors_.empty(), stats_, start));
  return BackupResult{std::move(committed), std::move(errors_)};
}

}  // namespace

TarImporter::TarImporter(Repository& repo, BackupOptions options, BackupProgress* progress)
    : repo_(repo), options_(std::move(options)), progress_(progress ? progress : &own_progress_) {}

Result<BackupResult> TarImporter::Import(ArchiveSource& source) {
  Run run(repo_, options_, *progress_);
  return run.Go(source);
}

}  // namespace coffer::ingest
