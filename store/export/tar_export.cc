#include "store/export/tar_export.h"

#include <sys/sysmacros.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "store/export/pax_writer.h"
#include "store/model/posix_acl.h"
#include "store/model/tree.h"
#include "store/restore/content_reader.h"

namespace coffer::exporting {
namespace {

// vzdump writes the container's config first, from outside its root.
constexpr std::string_view kFirstMembers[] = {"etc/vzdump/pct.conf", "etc/vzdump/pct.fw"};

// Files up to this size are fetched in batches of up to so many chunks and bytes.
constexpr uint64_t kSmallFile = 1 << 20;
constexpr size_t kBatchChunks = 256;
constexpr uint64_t kBatchBytes = 8 << 20;

std::optional<TarMember::Type> MemberType(pb::Entry::Type type) {
  switch (type) {
    case pb::Entry::FILE: return TarMember::Type::kFile;
    case pb::Entry::DIRECTORY: return TarMember::Type::kDirectory;
    case pb::Entry::SYMLINK: return TarMember::Type::kSymlink;
    case pb::Entry::FIFO: return TarMember::Type::kFifo;
    case pb::Entry::CHAR_DEVICE: return TarMember::Type::kCharDevice;
    case pb::Entry::BLOCK_DEVICE: return TarMember::Type::kBlockDevice;
    default: return std::nullopt;
  }
}

// An ACL as star and GNU tar write it in SCHILY.acl.*: entries separated by
// commas, named ones by number ("user:1000:r-x"; GNU tar and libacl read
// numbers where a name would be).
std::string AclText(const std::vector<model::AclEntry>& acl) {
  std::string out;
  for (const model::AclEntry& e : acl) {
    if (!out.empty()) out += ',';
    switch (e.tag) {
      case model::kAclUserObj: out += "user::"; break;
      case model::kAclUser: out += "user:" + std::to_string(e.id) + ":"; break;
      case model::kAclGroupObj: out += "group::"; break;
      case model::kAclGroup: out += "group:" + std::to_string(e.id) + ":"; break;
      case model::kAclMask: out += "mask::"; break;
      default: out += "other::"; break;
    }
    out += (e.perm & 4) ? 'r' : '-';
    out += (e.perm & 2) ? 'w' : '-';
    out += (e.perm & 1) ? 'x' : '-';
  }
  return out;
}

// Writes one snapshot as a tar: the walk, the members, the content.
class TarWriter {
 public:
  TarWriter(Repository& repo, const Snapshot& snapshot, const OutputFn& out,
            ExportProgress* progress)
      : repo_(repo), snapshot_(snapshot), tar_(out), progress_(*progress) {}

  Status Run() {
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
    return tar_.Finish();
  }

 private:
  // The directory's entries, then each subdirectory's right after it.
  // Runs of small files are written together, their chunks fetched in one
  // round trip: a container is mostly small files, and one round trip to
  // the server per file would be most of an export's time.
  Status WriteDirectory(const ObjectId& tree_id, const std::string& prefix) {
    COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo_.ReadTree(tree_id));
    std::vector<const pb::Entry*> small_files;
    uint64_t small_bytes = 0;
    size_t small_chunks = 0;
    auto flush = [&]() -> Status {
      Status s = WriteSmallFiles(small_files, prefix, tree_id);
      small_files.clear();
      small_bytes = 0;
      small_chunks = 0;
      return s;
    };
    for (const pb::Entry& entry : tree.entries()) {
      COFFER_RETURN_IF_ERROR(model::CheckEntryName(entry.name()));
      const std::string path = prefix + entry.name();
      if (written_first_.count(path) > 0) continue;
      if (entry.type() == pb::Entry::FILE && entry.extent_parts_size() == 0 &&
          entry.size() <= kSmallFile) {
        if (small_chunks + entry.extents_size() > kBatchChunks ||
            small_bytes + entry.size() > kBatchBytes) {
          COFFER_RETURN_IF_ERROR(flush());
        }
        small_files.push_back(&entry);
        small_bytes += entry.size();
        small_chunks += static_cast<size_t>(entry.extents_size());
        continue;
      }
      COFFER_RETURN_IF_ERROR(flush());
      COFFER_RETURN_IF_ERROR(WriteMember(entry, path, tree_id));
      if (entry.type() == pb::Entry::DIRECTORY) {
        auto sub = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
        if (!sub)
          return Status::Corruption("tree " + tree_id.short_hex() + ": malformed subtree id");
        COFFER_RETURN_IF_ERROR(WriteDirectory(*sub, path + "/"));
      }
    }
    return flush();
  }

  Status WriteSmallFiles(const std::vector<const pb::Entry*>& files, const std::string& prefix,
                         const ObjectId& tree_id) {
    if (files.empty()) return Status::Ok();
    std::vector<ObjectId> ids;
    for (const pb::Entry* entry : files) {
      for (const pb::Extent& x : entry->extents()) {
        if (x.chunk_id().empty()) continue;
        auto id = ObjectId::FromBytes(AsBytes(x.chunk_id()));
        if (!id)
          return Status::Corruption("tree " + tree_id.short_hex() +
                                    ": extent with a malformed chunk id");
        ids.push_back(*id);
      }
    }
    std::vector<Result<Bytes>> chunks;
    if (!ids.empty()) {
      COFFER_ASSIGN_OR_RETURN(chunks, repo_.ReadObjects(ObjectKind::kChunk, ids));
    }
    // Each file's share of the ids and chunks, in order.
    size_t first = 0;
    for (const pb::Entry* entry : files) {
      size_t n = 0;
      for (const pb::Extent& x : entry->extents()) n += x.chunk_id().empty() ? 0 : 1;
      const Prefetched own{std::span(ids).subspan(first, n), std::span(chunks).subspan(first, n)};
      first += n;
      COFFER_RETURN_IF_ERROR(WriteMember(*entry, prefix + entry->name(), tree_id, own));
    }
    return Status::Ok();
  }

  // A small file's chunks, fetched with others' (WriteSmallFiles).
  struct Prefetched {
    std::span<const ObjectId> ids;
    std::span<const Result<Bytes>> chunks;
  };

  // A file's content: from its prefetched chunks when given, else read
  // through restore::ReadContent.
  Status ReadFile(const pb::Entry& entry, const ObjectId& tree_id,
                  const std::optional<Prefetched>& prefetched,
                  const restore::ContentVisitor& visit) {
    if (!prefetched) return restore::ReadContent(repo_, tree_id, entry, visit);
    COFFER_ASSIGN_OR_RETURN(
        const uint64_t end,
        restore::VisitFetched(entry.extents(), 0, prefetched->ids, prefetched->chunks, visit));
    if (end != entry.size()) {
      return Status::Corruption("a file's extents cover " + std::to_string(end) +
                                " bytes, its size is " + std::to_string(entry.size()));
    }
    return Status::Ok();
  }

  Status WriteMember(const pb::Entry& entry, const std::string& path, const ObjectId& tree_id,
                     const std::optional<Prefetched>& prefetched = std::nullopt) {
    const std::optional<TarMember::Type> type = MemberType(entry.type());
    if (!type) return Status::Ok();  // nothing tar can hold
    TarMember m;
    m.type = *type;
    m.path = "./" + path;
    if (entry.type() == pb::Entry::DIRECTORY && !path.empty()) m.path += '/';
    m.mode = entry.mode() & 07777;
    m.uid = entry.uid();
    m.gid = entry.gid();
    m.user = entry.user();
    m.group = entry.group();
    m.mtime_ns = entry.mtime_ns();
    m.ctime_ns = entry.ctime_ns();
    if (entry.type() == pb::Entry::SYMLINK) m.linkpath = entry.symlink_target();
    if (entry.type() == pb::Entry::CHAR_DEVICE || entry.type() == pb::Entry::BLOCK_DEVICE) {
      m.dev_major = major(static_cast<dev_t>(entry.rdev()));
      m.dev_minor = minor(static_cast<dev_t>(entry.rdev()));
    }
    COFFER_RETURN_IF_ERROR(AddXattrs(m, entry, path));

    // The second and later names of a hard-linked inode: links to the first.
    if (entry.type() != pb::Entry::DIRECTORY && entry.nlink() > 1 && entry.inode() != 0) {
      auto [first, inserted] = first_names_.try_emplace({entry.device(), entry.inode()}, path);
      if (!inserted) {
        m.type = TarMember::Type::kHardLink;
        m.linkpath = "./" + first->second;
        return Begin(m);
      }
    }
    if (entry.type() != pb::Entry::FILE) return Begin(m);

    m.size = entry.size();
    // Holes are known before the header: GNU sparse 1.0 puts the map of the
    // data regions in front of the data.
    bool has_holes = false;
    std::vector<std::pair<uint64_t, uint64_t>> regions;  // offset, length
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
    if (!has_holes) {
      COFFER_RETURN_IF_ERROR(Begin(m));
      Status content =
          ReadFile(entry, tree_id, prefetched, [&](const restore::ContentPiece& piece) {
            progress_.bytes += piece.size;
            return tar_.WriteData(piece.data);
          });
      return content.ok() ? Status::Ok() : content.WithContext(path);
    }
    regions = WholeBlockRegions(std::move(regions), entry.size());
    // A file that ends in a hole ends its map with an empty region at its
    // size, as GNU tar writes it.
    if (regions.empty() || regions.back().first + regions.back().second < entry.size()) {
      regions.emplace_back(entry.size(), 0);
    }
    m.sparse_map = regions;
    COFFER_RETURN_IF_ERROR(Begin(m));
    // The regions' bytes: the data, and zeros where a widened region covers
    // a hole.
    static const Bytes kZeros(1 << 20, 0);
    size_t region = 0;
    Status content = ReadFile(entry, tree_id, prefetched, [&](const restore::ContentPiece& piece) {
      const uint64_t piece_end = piece.offset + piece.size;
      for (; region < regions.size(); ++region) {
        const auto [start, length] = regions[region];
        const uint64_t from = std::max(start, piece.offset);
        const uint64_t to = std::min(start + length, piece_end);
        if (from < to) {
          if (piece.hole()) {
            for (uint64_t left = to - from; left > 0;) {
              const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
              COFFER_RETURN_IF_ERROR(tar_.WriteData(ByteView(kZeros.data(), n)));
              left -= n;
            }
          } else {
            progress_.bytes += to - from;
            COFFER_RETURN_IF_ERROR(
                tar_.WriteData(piece.data.subspan(from - piece.offset, to - from)));
          }
        }
        if (start + length > piece_end) break;  // the region goes on in the next piece
      }
      return Status::Ok();
    });
    if (!content.ok()) return content.WithContext(path);
    return Status::Ok();
  }

  Status AddXattrs(TarMember& m, const pb::Entry& entry, const std::string& path) {
    for (const pb::Xattr& x : entry.xattrs()) {
      const bool access = x.name() == model::kAccessAclXattr;
      if (!access && x.name() != model::kDefaultAclXattr) {
        m.records.emplace_back("SCHILY.xattr." + x.name(), x.value());
        continue;
      }
      Result<std::vector<model::AclEntry>> acl = model::DecodeAclXattr(x.value());
      if (!acl.ok()) return acl.status().WithContext(path);
      m.records.emplace_back(access ? "SCHILY.acl.access" : "SCHILY.acl.default", AclText(*acl));
    }
    return Status::Ok();
  }

  Status Begin(const TarMember& m) {
    COFFER_RETURN_IF_ERROR(tar_.Begin(m));
    ++progress_.entries;
    return Status::Ok();
  }

  Repository& repo_;
  const Snapshot& snapshot_;
  PaxWriter tar_;
  ExportProgress& progress_;
  std::set<std::string> written_first_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> first_names_;  // (device, inode) -> path
};

}  // namespace

std::vector<std::pair<uint64_t, uint64_t>> WholeBlockRegions(
    std::vector<std::pair<uint64_t, uint64_t>> regions, uint64_t size) {
  constexpr uint64_t kTarBlock = 512;
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (auto [start, length] : regions) {
    uint64_t begin = start / kTarBlock * kTarBlock;
    uint64_t end = std::min(size, (start + length + kTarBlock - 1) / kTarBlock * kTarBlock);
    if (!out.empty() && out.back().first + out.back().second >= begin) {
      begin = out.back().first;
      out.pop_back();
    }
    out.emplace_back(begin, end - begin);
  }
  return out;
}

Status ExportTar(Repository& repo, const Snapshot& snapshot, const OutputFn& out,
                 ExportProgress* progress) {
  COFFER_RETURN_IF_ERROR(snapshot.CheckReadable());
  ExportProgress own;
  TarWriter writer(repo, snapshot, out, progress != nullptr ? progress : &own);
  return writer.Run();
}

}  // namespace coffer::exporting
