#include "store/export/tar_export.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "store/model/posix_acl.h"
#include "store/model/tree.h"
#include "store/restore/content_reader.h"

namespace coffer::exporting {
namespace {

// vzdump writes the container's config first, from outside its root.
constexpr std::string_view kFirstMembers[] = {"etc/vzdump/pct.conf", "etc/vzdump/pct.fw"};

constexpr size_t kZeroBufferSize = 1 << 20;

struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<struct archive_entry, EntryDeleter>;

int64_t Seconds(int64_t ns) { return ns >= 0 ? ns / 1'000'000'000 : -((-ns + 999'999'999) / 1'000'000'000); }
long Nanos(int64_t ns) { return static_cast<long>(ns - Seconds(ns) * 1'000'000'000); }

mode_t FileType(pb::Entry::Type type) {
  switch (type) {
    case pb::Entry::FILE: return AE_IFREG;
    case pb::Entry::DIRECTORY: return AE_IFDIR;
    case pb::Entry::SYMLINK: return AE_IFLNK;
    case pb::Entry::FIFO: return AE_IFIFO;
    case pb::Entry::CHAR_DEVICE: return AE_IFCHR;
    case pb::Entry::BLOCK_DEVICE: return AE_IFBLK;
    default: return 0;
  }
}

int AclTag(uint16_t tag) {
  switch (tag) {
    case model::kAclUserObj: return ARCHIVE_ENTRY_ACL_USER_OBJ;
    case model::kAclUser: return ARCHIVE_ENTRY_ACL_USER;
    case model::kAclGroupObj: return ARCHIVE_ENTRY_ACL_GROUP_OBJ;
    case model::kAclGroup: return ARCHIVE_ENTRY_ACL_GROUP;
    case model::kAclMask: return ARCHIVE_ENTRY_ACL_MASK;
    default: return ARCHIVE_ENTRY_ACL_OTHER;
  }
}

// Writes one snapshot as a tar: the walk, the members, the content.
class TarWriter {
 public:
  TarWriter(Repository& repo, const Snapshot& snapshot, const OutputFn& out, ExportProgress* progress)
      : repo_(repo), snapshot_(snapshot), out_(out), progress_(*progress) {}

  ~TarWriter() {
    if (archive_ != nullptr) archive_write_free(archive_);
  }

  Status Run() {
    COFFER_RETURN_IF_ERROR(Open());
    auto root_id = ObjectId::FromBytes(AsBytes(snapshot_.record.root_tree_id()));
    if (!root_id) return Status::Corruption(snapshot_.name() + ": malformed root tree id");

    for (std::string_view path : kFirstMembers) {
      Result<pb::Entry> entry = repo_.LookupPath(snapshot_, path);
      if (entry.status().code() == Code::kNotFound) continue;
      if (!entry.ok()) return entry.status();
      if (entry->type() != pb::Entry::FILE) continue;
      COFFER_RETURN_IF_ERROR(WriteMember(*entry, std::string(path), *root_id));
      written_first_.insert(std::string(path));
    }

    // The root: a snapshot's root is synthetic; vzdump's "./" is the
    // container's root directory, owned by its root.
    pb::Entry root;
    root.set_type(pb::Entry::DIRECTORY);
    root.set_mode(0755);
    root.set_mtime_ns(snapshot_.ref.time_ns);
    root.set_ctime_ns(snapshot_.ref.time_ns);
    COFFER_RETURN_IF_ERROR(WriteMember(root, "", *root_id));
    COFFER_RETURN_IF_ERROR(WriteDirectory(*root_id, ""));
    return Close();
  }

 private:
  static la_ssize_t OnWrite(struct archive*, void* self, const void* data, size_t size) {
    auto* writer = static_cast<TarWriter*>(self);
    Status s = writer->out_(ByteView(static_cast<const uint8_t*>(data), size));
    if (!s.ok()) {
      writer->output_error_ = s;
      return -1;
    }
    return static_cast<la_ssize_t>(size);
  }

  Status Open() {
    archive_ = archive_write_new();
    if (archive_ == nullptr) return Status::IoError("libarchive: out of memory");
    if (archive_write_set_format_pax(archive_) != ARCHIVE_OK) return ArchiveError("pax format");
    // SCHILY.xattr.* only, as GNU tar writes and reads them; libarchive's
    // own LIBARCHIVE.xattr.* would make GNU tar warn on every member.
    archive_write_set_format_option(archive_, "pax", "xattrheader", "SCHILY");
    if (archive_write_open(archive_, this, nullptr, &TarWriter::OnWrite, nullptr) != ARCHIVE_OK) {
      return ArchiveError("open");
    }
    return Status::Ok();
  }

  Status Close() {
    if (archive_write_close(archive_) != ARCHIVE_OK) return ArchiveError("end of archive");
    return Status::Ok();
  }

  Status ArchiveError(const std::string& what) {
    if (!output_error_.ok()) return output_error_;
    const char* message = archive_error_string(archive_);
    return Status::IoError("tar: " + what + ": " + (message ? message : "libarchive failed"));
  }

  // The directory's entries, then each subdirectory's right after it.
  Status WriteDirectory(const ObjectId& tree_id, const std::string& prefix) {
    COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo_.ReadTree(tree_id));
    for (const pb::Entry& entry : tree.entries()) {
      COFFER_RETURN_IF_ERROR(model::CheckEntryName(entry.name()));
      const std::string path = prefix + entry.name();
      if (written_first_.count(path) > 0) continue;
      COFFER_RETURN_IF_ERROR(WriteMember(entry, path, tree_id));
      if (entry.type() == pb::Entry::DIRECTORY) {
        auto sub = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
        if (!sub) return Status::Corruption("tree " + tree_id.short_hex() + ": malformed subtree id");
        COFFER_RETURN_IF_ERROR(WriteDirectory(*sub, path + "/"));
      }
    }
    return Status::Ok();
  }

  Status WriteMember(const pb::Entry& entry, const std::string& path, const ObjectId& tree_id) {
    const mode_t type = FileType(entry.type());
    if (type == 0) return Status::Ok();  // nothing tar can hold
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), (entry.type() == pb::Entry::DIRECTORY ? "./" + path + (path.empty() ? "" : "/") : "./" + path).c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), entry.mode() & 07777);
    archive_entry_set_uid(e.get(), entry.uid());
    archive_entry_set_gid(e.get(), entry.gid());
    if (!entry.user().empty()) archive_entry_set_uname(e.get(), entry.user().c_str());
    if (!entry.group().empty()) archive_entry_set_gname(e.get(), entry.group().c_str());
    archive_entry_set_mtime(e.get(), Seconds(entry.mtime_ns()), Nanos(entry.mtime_ns()));
    archive_entry_set_ctime(e.get(), Seconds(entry.ctime_ns()), Nanos(entry.ctime_ns()));
    if (entry.type() == pb::Entry::SYMLINK) archive_entry_set_symlink(e.get(), entry.symlink_target().c_str());
    if (entry.type() == pb::Entry::CHAR_DEVICE || entry.type() == pb::Entry::BLOCK_DEVICE) {
      archive_entry_set_rdev(e.get(), static_cast<dev_t>(entry.rdev()));
    }
    COFFER_RETURN_IF_ERROR(AddXattrs(e.get(), entry, path));

    // The second and later names of a hard-linked inode: links to the first.
    if (entry.type() != pb::Entry::DIRECTORY && entry.nlink() > 1 && entry.inode() != 0) {
      auto [first, inserted] = first_names_.try_emplace({entry.device(), entry.inode()}, path);
      if (!inserted) {
        archive_entry_set_hardlink(e.get(), ("./" + first->second).c_str());
        archive_entry_set_size(e.get(), 0);
        return WriteHeader(e.get(), path);
      }
    }
    if (entry.type() != pb::Entry::FILE) return WriteHeader(e.get(), path);

    archive_entry_set_size(e.get(), static_cast<la_int64_t>(entry.size()));
    // Holes are declared before the header (GNU sparse 1.0 puts the map of
    // the data regions in front of the data).
    bool has_holes = false;
    std::vector<std::pair<uint64_t, uint64_t>> regions;  // data: offset, length
    uint64_t offset = 0;
    COFFER_RETURN_IF_ERROR(restore::ForEachExtent(repo_, tree_id, entry, [&](const pb::Extent& x) {
      if (x.chunk_id().empty()) {
        has_holes = has_holes || x.size() > 0;
      } else if (!regions.empty() && regions.back().first + regions.back().second == offset) {
        regions.back().second += x.size();
      } else {
        regions.emplace_back(offset, x.size());
      }
      offset += x.size();
      return Status::Ok();
    }));
    if (has_holes) {
      for (const auto& [at, length] : regions) {
        archive_entry_sparse_add_entry(e.get(), static_cast<la_int64_t>(at), static_cast<la_int64_t>(length));
      }
      // A file that ends in a hole ends its map with an empty region at its
      // size, as GNU tar writes it, so that extraction gives its length.
      if (regions.empty() || regions.back().first + regions.back().second < entry.size()) {
        archive_entry_sparse_add_entry(e.get(), static_cast<la_int64_t>(entry.size()), 0);
      }
    }
    COFFER_RETURN_IF_ERROR(WriteHeader(e.get(), path));
    static const Bytes kZeros(kZeroBufferSize, 0);
    Status content = restore::ReadContent(repo_, tree_id, entry, [&](const restore::ContentPiece& piece) {
      if (!piece.hole()) {
        progress_.bytes += piece.size;
        return WriteData(piece.data);
      }
      // Hole bytes are passed through: the sparse writer skips them.
      for (uint64_t left = piece.size; left > 0;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
        COFFER_RETURN_IF_ERROR(WriteData(ByteView(kZeros.data(), n)));
        left -= n;
      }
      return Status::Ok();
    });
    if (!content.ok()) return content.WithContext(path);
    return Status::Ok();
  }

  Status AddXattrs(struct archive_entry* e, const pb::Entry& entry, const std::string& path) {
    for (const pb::Xattr& x : entry.xattrs()) {
      const bool access = x.name() == model::kAccessAclXattr;
      if (!access && x.name() != model::kDefaultAclXattr) {
        archive_entry_xattr_add_entry(e, x.name().c_str(), x.value().data(), x.value().size());
        continue;
      }
      Result<std::vector<model::AclEntry>> acl = model::DecodeAclXattr(x.value());
      if (!acl.ok()) return acl.status().WithContext(path);
      const int type = access ? ARCHIVE_ENTRY_ACL_TYPE_ACCESS : ARCHIVE_ENTRY_ACL_TYPE_DEFAULT;
      for (const model::AclEntry& a : *acl) {
        const bool named = a.tag == model::kAclUser || a.tag == model::kAclGroup;
        archive_entry_acl_add_entry(e, type, a.perm, AclTag(a.tag), named ? static_cast<int>(a.id) : -1,
                                    nullptr);
      }
    }
    // The ACL's base entries change libarchive's idea of the mode: the
    // header keeps the stored one (its group bits are the mask's).
    archive_entry_set_perm(e, entry.mode() & 07777);
    return Status::Ok();
  }

  Status WriteHeader(struct archive_entry* e, const std::string& path) {
    const int rc = archive_write_header(archive_, e);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return ArchiveError("./" + path);
    ++progress_.entries;
    return Status::Ok();
  }

  Status WriteData(ByteView data) {
    while (!data.empty()) {
      const la_ssize_t n = archive_write_data(archive_, data.data(), data.size());
      if (n < 0) return ArchiveError("file data");
      if (n == 0) return Status::IoError("tar: a file's data is longer than its header says");
      data = data.subspan(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Repository& repo_;
  const Snapshot& snapshot_;
  const OutputFn& out_;
  ExportProgress& progress_;
  struct archive* archive_ = nullptr;
  Status output_error_;
  std::set<std::string> written_first_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> first_names_;  // (device, inode) -> path
};

}  // namespace

Status ExportTar(Repository& repo, const Snapshot& snapshot, const OutputFn& out,
                 ExportProgress* progress) {
  COFFER_RETURN_IF_ERROR(snapshot.CheckReadable());
  ExportProgress own;
  TarWriter writer(repo, snapshot, out, progress != nullptr ? progress : &own);
  return writer.Run();
}

}  // namespace coffer::exporting
