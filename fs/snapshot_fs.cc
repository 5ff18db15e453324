#include "fs/snapshot_fs.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>
#include <tuple>

#include "fs/file_reader.h"
#include "store/base/timespec.h"
#include "store/chunk/image_chunks.h"
#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "store/model/tree_split.h"

namespace coffer::fs {

namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

mode_t TypeBits(pb::Entry::Type type) {
  switch (type) {
    case pb::Entry::DIRECTORY: return S_IFDIR;
    case pb::Entry::SYMLINK: return S_IFLNK;
    case pb::Entry::FIFO: return S_IFIFO;
    case pb::Entry::CHAR_DEVICE: return S_IFCHR;
    case pb::Entry::BLOCK_DEVICE: return S_IFBLK;
    default: return S_IFREG;
  }
}

bool IsSyntheticDir(Node::Kind kind) {
  return kind == Node::Kind::kRoot || kind == Node::Kind::kType || kind == Node::Kind::kGroup;
}

bool IsDirectory(const Node& node) {
  if (node.kind == Node::Kind::kEntry) return node.type == pb::Entry::DIRECTORY;
  return node.kind != Node::Kind::kLatest && node.kind != Node::Kind::kPartition;
}

constexpr std::string_view kPartitionsSuffix = ".partitions";

bool EndsWithIgnoringCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<ptrdiff_t>(suffix.size()),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    });
}

// Stored as a disk image: data in fixed 64 KiB chunks, holes in whole
// chunks (store/chunk/image_chunks.h; adjacent holes are merged), the last
// extent shorter. Content-defined chunks are almost never exactly 64 KiB,
// let alone all of them, so the extents tell without reading anything; a
// file in extent parts has parts of whole image chunks.
bool StoredAsImage(const pb::Entry& entry) {
  using chunk::kImageChunkSize;
  if (entry.extents_size() == 0) {
    return entry.extent_parts_size() >= 2 && entry.extent_parts(0).size() % kImageChunkSize == 0;
  }
  bool any_chunk = false;
  for (int i = 0; i + 1 < entry.extents_size(); ++i) {
    const pb::Extent& e = entry.extents(i);
    const bool hole = e.chunk_id().empty();
    if (hole ? e.size() % kImageChunkSize != 0 : e.size() != kImageChunkSize) return false;
    any_chunk |= !hole;
  }
  return any_chunk;
}

// Whether the mount looks for a partition table in `entry`: a regular file
// stored as a disk image or named like one. Nothing is read to decide, so
// listing a directory reads the first sectors of such files only.
bool MayHavePartitions(const pb::Entry& entry) {
  if (entry.type() != pb::Entry::FILE || entry.size() < kMbrSectorSize) return false;
  return EndsWithIgnoringCase(entry.name(), ".img") || EndsWithIgnoringCase(entry.name(), ".raw") ||
         StoredAsImage(entry);
}
// What st_blocks counts: the bytes of data extents. A file in extent parts
// (more than 8192 chunks) counts the bytes its parts cover: reading every
// part for a stat would cost far more than the answer is worth, so holes
// inside such a file count as data.
uint64_t StoredBytes(const pb::Entry& entry) {
  uint64_t n = 0;
  for (const pb::Extent& e : entry.extents()) {
    if (!e.chunk_id().empty()) n += e.size();
  }
  for (const pb::ExtentPart& part : entry.extent_parts()) n += part.size();
  return n;
}

// The bytes of data extents within [from, to) of `entry`: what st_blocks
// counts for a partition. In extent parts, all of it (as StoredBytes).
uint64_t StoredBytesIn(const pb::Entry& entry, uint64_t from, uint64_t to) {
  if (entry.extent_parts_size() > 0) return to - from;
  uint64_t n = 0, at = 0;
  for (const pb::Extent& e : entry.extents()) {
    const uint64_t end = at + e.size();
    if (!e.chunk_id().empty() && end > from && at < to) n += std::min(end, to) - std::max(at, from);
    at = end;
    if (at >= to) break;
  }
  return n;
}

Status Stale() {
  return Status::NotFound("unknown inode");
}

// Attributes of entries come from the stored entry alone.
const Node& AnyEntry() {
  static const Node node = [] {
    Node n;
    n.kind = Node::Kind::kEntry;
    return n;
  }();
  return node;
}

// The opened chunks' share of the caches' memory (see FsOptions::cache_bytes).
uint64_t OpenedChunkBytes(const FsOptions& options) {
  return options.cache_bytes / 4;
}
// The directory listings' share.
uint64_t TreeCacheBytes(const FsOptions& options) {
  return options.cache_bytes / 8;
}

// Opening a chunk is CPU work (decryption, decompression), and the server and
// the kernel's FUSE copies need the same cores: one loader per core, so they
// do not crowd each other out (on 2 cores, 2 loaders read ~10% faster than
// 3), but at least 2 so a fetch overlaps with an opening, and at most 4 so
// the chunks in flight stay small beside the cache.
unsigned LoaderCount() {
  return std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
}

}  // namespace

size_t DirHandle::count() const {
  return 2 + (listing ? static_cast<size_t>(listing->entry_count()) : synthetic.size());
}

SnapshotFs::SnapshotFs(Repository& repo, FsOptions options)
    : repo_(repo),
      options_(std::move(options)),
      inode_budget_(options_.cache_bytes / 8),
      chunks_(
          OpenedChunkBytes(options_),
          [this](const ObjectId& id) { return repo_.ReadObject(ObjectKind::kChunk, id); },
          LoaderCount(),
          [this](std::span<const ObjectId> ids, const ChunkCache::BatchVisitor& use) {
            return repo_.ReadObjects(ObjectKind::kChunk, ids, crypto::IdCheck::kIfUnencrypted, use);
          }),
      trees_(repo_, TreeCacheBytes(options_)),
      tables_(options_.cache_bytes / 64) {
  options_.readahead_bytes = std::min(options_.readahead_bytes, OpenedChunkBytes(options_) / 2);
  if (!options_.now_ns) options_.now_ns = SteadyNowNs;
  if (!options_.log) options_.log = [](const std::string&) {};
  reader_ = std::make_unique<FileReader>(chunks_, trees_, options_.readahead_bytes, options_.log,
                                         kernel_);
}

SnapshotFs::~SnapshotFs() = default;

void SnapshotFs::SetKernelCache(KernelCache* kernel) {
  kernel_.store(kernel);
}

Status SnapshotFs::Start() {
  COFFER_ASSIGN_OR_RETURN(auto dirs, ListNow());
  std::lock_guard lock(dirs_mu_);
  dirs_ = std::move(dirs);
  return Status::Ok();
}

Result<std::shared_ptr<const SyntheticDirs>> SnapshotFs::ListNow() {
  int64_t now = options_.now_ns();
  COFFER_ASSIGN_OR_RETURN(std::vector<Snapshot> snaps, repo_.ListSnapshots(options_.group));
  for (const Snapshot& snap : snaps) {
    if (!snap.damaged()) continue;
    std::lock_guard lock(damage_mu_);
    if (damage_logged_.insert(snap.ref).second) {
      options_.log(snap.CheckReadable().message() + "; it is left out of the mount");
    }
  }
  return std::make_shared<const SyntheticDirs>(BuildSyntheticDirs(std::move(snaps), now));
}

std::shared_ptr<const SyntheticDirs> SnapshotFs::CurrentDirs(bool refresh) {
  std::shared_ptr<const SyntheticDirs> current;
  {
    std::lock_guard lock(dirs_mu_);
    current = dirs_;
  }
  auto stale = [&] {
    int64_t age = options_.now_ns() - current->listed_at;
    return age >=
           std::chrono::duration_cast<std::chrono::nanoseconds>(options_.refresh_after).count();
  };
  if (!refresh || !stale()) return current;
  std::unique_lock refreshing(refresh_mu_, std::try_to_lock);
  if (!refreshing.owns_lock()) return current;  // another thread is listing
  {
    std::lock_guard lock(dirs_mu_);
    current = dirs_;
  }
  if (!stale()) return current;
  auto fresh = ListNow();
  if (!fresh.ok()) {
    options_.log("cannot list snapshots: " + fresh.status().message());
    return current;
  }
  std::lock_guard lock(dirs_mu_);
  dirs_ = *fresh;
  return dirs_;
}

Result<std::pair<ObjectId, TreeObjectPtr>> SnapshotFs::ReadPart(const ObjectId& dir_id,
                                                                const TreeObject& dir, size_t k) {
  COFFER_ASSIGN_OR_RETURN(ObjectId part_id, model::PartId(dir_id, dir.tree, k));
  COFFER_ASSIGN_OR_RETURN(TreeObjectPtr part, trees_.Read(part_id));
  COFFER_RETURN_IF_ERROR(model::CheckPart(dir_id, dir.tree, k, part->tree));
  return std::make_pair(part_id, std::move(part));
}

Result<SnapshotFs::StoredEntry> SnapshotFs::FindChild(const ObjectId& dir_id,
                                                      const TreeObjectPtr& dir,
                                                      std::string_view name) {
  StoredEntry found;
  if (!dir->split()) {
    found.entry = model::FindEntry(dir->tree, name);
    found.holder = dir_id;
    found.holder_tree = dir;
    return found;
  }
  std::optional<size_t> k = model::PartFor(dir->tree, name);
  if (!k) return found;
  COFFER_ASSIGN_OR_RETURN((std::tie(found.holder, found.holder_tree)), ReadPart(dir_id, *dir, *k));
  found.entry = model::FindEntry(found.holder_tree->tree, name);
  return found;
}

Result<TreeObjectPtr> SnapshotFs::TreeOf(const Node& node) {
  if (node.kind == Node::Kind::kSnapshot ||
      (node.kind == Node::Kind::kEntry && node.type == pb::Entry::DIRECTORY)) {
    return trees_.Read(node.subtree);
  }
  return Status::InvalidArgument("not a directory");
}

Result<SnapshotFs::StoredEntry> SnapshotFs::EntryOf(const Node& node) {
  StoredEntry found;
  found.holder = node.holder;
  COFFER_ASSIGN_OR_RETURN(found.holder_tree, trees_.Read(node.holder));
  found.entry = model::FindEntry(found.holder_tree->tree, node.name);
  if (!found.entry) return Status::Corruption("entry " + node.name + " is missing from its tree");
  return found;
}

Attr SnapshotFs::AttrOf(uint64_t ino, const Node& node, const pb::Entry* entry,
                        const SyntheticDirs& dirs) const {
  Attr a;
  a.ino = ino;
  struct stat& st = a.st;
  st.st_ino = ino;
  st.st_blksize = 1 << 20;
  if (node.kind == Node::Kind::kEntry) {
    const pb::Entry& e = *entry;
    bool dir = e.type() == pb::Entry::DIRECTORY;
    st.st_mode = TypeBits(e.type()) | (e.mode() & 07777);
    st.st_nlink = e.nlink() ? e.nlink() : (dir ? 2 : 1);
    st.st_uid = e.uid();
    st.st_gid = e.gid();
    if (e.type() == pb::Entry::FILE) st.st_size = static_cast<off_t>(e.size());
    if (e.type() == pb::Entry::SYMLINK) st.st_size = static_cast<off_t>(e.symlink_target().size());
    if (e.type() == pb::Entry::CHAR_DEVICE || e.type() == pb::Entry::BLOCK_DEVICE) {
      st.st_rdev = static_cast<dev_t>(e.rdev());
    }
    st.st_blocks = static_cast<blkcnt_t>((StoredBytes(e) + 511) / 512);
    st.st_mtim = ToTimespec(e.mtime_ns());
    st.st_atim = st.st_mtim;
    st.st_ctim = ToTimespec(e.ctime_ns());
    a.timeout = kSnapshotTimeout;
    return a;
  }
  int64_t t = 0;
  switch (node.kind) {
    case Node::Kind::kRoot: t = dirs.newest; break;
    case Node::Kind::kType:
      if (auto* type = dirs.FindType(node.name)) t = type->newest;
      break;
    case Node::Kind::kGroup:
      if (auto* g = dirs.FindGroup(node.name)) t = g->newest;
      break;
    case Node::Kind::kLatest:
      t = node.snapshot->ref.time_ns;
      st.st_size = static_cast<off_t>(model::FormatTime(t).size());
      break;
    case Node::Kind::kSnapshot: t = node.snapshot->ref.time_ns; break;
    default: break;
  }
  st.st_mode = node.kind == Node::Kind::kLatest ? (S_IFLNK | 0777) : (S_IFDIR | 0555);
  st.st_nlink = node.kind == Node::Kind::kLatest ? 1 : 2;
  st.st_uid = options_.uid;
  st.st_gid = options_.gid;
  st.st_mtim = st.st_atim = st.st_ctim = ToTimespec(t);
  a.timeout = kSyntheticTimeout;
  return a;
}

Result<uint64_t> SnapshotFs::AcquireSynthetic(const NodePtr& parent, std::string_view name_view,
                                              const SyntheticDirs& dirs) {
  std::string name(name_view);
  auto node = std::make_shared<Node>();
  node->parent = 0;
  std::string key;
  bool pinned = true;
  switch (parent->kind) {
    case Node::Kind::kRoot:
      if (!dirs.FindType(name)) return Status::NotFound(name);
      node->kind = Node::Kind::kType;
      node->name = name;
      break;
    case Node::Kind::kType: {
      const SyntheticDirs::Type* type = dirs.FindType(parent->name);
      if (!type || !type->groups.count(name)) return Status::NotFound(name);
      node->kind = Node::Kind::kGroup;
      node->name = parent->name + "/" + name;
      break;
    }
    case Node::Kind::kGroup: {
      const SyntheticDirs::Group* g = dirs.FindGroup(parent->name);
      if (!g) return Status::NotFound(name);
      node->name = parent->name + "/" + name;
      if (name == "latest") {
        // One inode per target: when a newer snapshot arrives, the kernel's
        // next lookup finds a different inode and drops the cached link.
        node->kind = Node::Kind::kLatest;
        node->snapshot = g->by_time.at(g->newest_name);
        key = "s:" + node->name + "@" + g->newest_name;
        pinned = false;
        break;
      }
      auto it = g->by_time.find(name);
      if (it == g->by_time.end()) return Status::NotFound(name);
      node->kind = Node::Kind::kSnapshot;
      node->snapshot = it->second;
      auto root = ObjectId::FromBytes(AsBytes(it->second->record.root_tree_id()));
      if (!root)
        return Status::Corruption("snapshot " + node->name + " has a malformed root tree id");
      node->subtree = *root;
      break;
    }
    default: return Status::NotFound(name);
  }
  if (key.empty()) key = "s:" + node->name;
  NodePtr made = node;
  return inodes_.Acquire(
      key, [&] { return made; }, pinned);
}

Result<Attr> SnapshotFs::AcquireChild(uint64_t parent_ino, const Node& parent,
                                      const ObjectId& holder, const pb::Entry& entry,
                                      bool xattrs_nearby) {
  Status failure = Status::Ok();
  bool shared = entry.nlink() > 1 && entry.type() != pb::Entry::DIRECTORY;
  std::string key = shared
                        ? "h:" + parent.snapshot->ref.id.hex() + ":" +
                              std::to_string(entry.device()) + ":" + std::to_string(entry.inode())
                        : "c:" + std::to_string(parent_ino) + "/" + entry.name();
  uint64_t ino = inodes_.Acquire(
      key,
      [&] {
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::kEntry;
        node->type = entry.type();
        node->has_xattrs = entry.xattrs_size() > 0;
        node->xattrs_nearby = xattrs_nearby;
        node->parent = parent_ino;
        node->name = entry.name();
        node->snapshot = parent.snapshot;
        node->holder = holder;
        if (entry.type() == pb::Entry::DIRECTORY) {
          auto subtree = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
          if (subtree)
            node->subtree = *subtree;
          else
            failure = Status::Corruption("directory " + entry.name() + " has a malformed tree id");
        }
        return NodePtr(std::move(node));
      },
      /*pinned=*/false);
  if (!failure.ok()) {
    inodes_.Forget(ino, 1);
    return failure;
  }
  if (inodes_.bytes() > inode_budget_) {
    if (KernelCache* kernel = kernel_.load()) kernel->Trim();
  }
  static const SyntheticDirs kEmpty;
  return AttrOf(ino, AnyEntry(), &entry, kEmpty);
}

std::vector<Eviction> SnapshotFs::TakeEvictions(size_t max) {
  return inodes_.TakeEvictions(inode_budget_, max);
}

Result<Attr> SnapshotFs::Lookup(uint64_t parent_ino, std::string_view name) {
  NodePtr parent = inodes_.Get(parent_ino);
  if (!parent) return Stale();
  if (IsSyntheticDir(parent->kind)) {
    auto dirs = CurrentDirs(/*refresh=*/true);
    COFFER_ASSIGN_OR_RETURN(uint64_t ino, AcquireSynthetic(parent, name, *dirs));
    NodePtr node = inodes_.Get(ino);
    if (!node) return Stale();
    return AttrOf(ino, *node, nullptr, *dirs);
  }
  if (parent->kind == Node::Kind::kPartitions) return LookupPartition(parent_ino, *parent, name);
  if (!IsDirectory(*parent)) return Status::NotFound(std::string(name));
  COFFER_ASSIGN_OR_RETURN(auto tree, TreeOf(*parent));
  COFFER_ASSIGN_OR_RETURN(StoredEntry found, FindChild(parent->subtree, tree, name));
  if (!found.entry) return LookupPartitions(parent_ino, *parent, tree, name);
  return AcquireChild(parent_ino, *parent, found.holder, *found.entry,
                      found.holder_tree->any_xattrs);
}

void SnapshotFs::Forget(uint64_t ino, uint64_t n) {
  inodes_.Forget(ino, n);
}

Result<Attr> SnapshotFs::GetAttr(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (node->kind == Node::Kind::kEntry) {
    COFFER_ASSIGN_OR_RETURN(auto found, EntryOf(*node));
    static const SyntheticDirs kEmpty;
    return AttrOf(ino, *node, found.entry, kEmpty);
  }
  if (node->kind == Node::Kind::kPartitions || node->kind == Node::Kind::kPartition) {
    COFFER_ASSIGN_OR_RETURN(auto image, ImageEntryOf(*node));
    return PartitionAttr(ino, *node, *image.entry);
  }
  bool synthetic = node->kind != Node::Kind::kSnapshot;
  auto dirs = CurrentDirs(/*refresh=*/synthetic);
  return AttrOf(ino, *node, nullptr, *dirs);
}

Result<std::string> SnapshotFs::ReadLink(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (node->kind == Node::Kind::kEntry && node->type == pb::Entry::SYMLINK) {
    COFFER_ASSIGN_OR_RETURN(auto found, EntryOf(*node));
    return found.entry->symlink_target();
  }
  if (node->kind == Node::Kind::kLatest) return model::FormatTime(node->snapshot->ref.time_ns);
  return Status::InvalidArgument("not a symlink");
}

Result<std::unique_ptr<DirHandle>> SnapshotFs::OpenDir(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (!IsDirectory(*node)) return Status::InvalidArgument("not a directory");
  auto dir = std::make_unique<DirHandle>();
  dir->ino = ino;
  dir->node = node;
  if (IsSyntheticDir(node->kind)) {
    auto dirs = CurrentDirs(/*refresh=*/true);
    auto add = [&](const std::string& name, mode_t type) {
      dir->synthetic.push_back(DirItem{name, type});
    };
    if (node->kind == Node::Kind::kRoot) {
      for (const auto& [name, type] : dirs->types) add(name, S_IFDIR);
    } else if (node->kind == Node::Kind::kType) {
      if (auto* type = dirs->FindType(node->name)) {
        for (const auto& [name, g] : type->groups) add(name, S_IFDIR);
      }
    } else if (auto* g = dirs->FindGroup(node->name)) {
      for (const auto& [name, snap] : g->by_time) add(name, S_IFDIR);
      add("latest", S_IFLNK);
    }
    return dir;
  }
  if (node->kind == Node::Kind::kPartitions) {
    for (const Partition& p : node->image->table.partitions) {
      dir->synthetic.push_back(DirItem{std::to_string(p.number), S_IFREG});
    }
    dir->immutable = true;
    return dir;
  }
  COFFER_ASSIGN_OR_RETURN(dir->listing, TreeOf(*node));
  dir->immutable = true;
  if (!dir->listing->split()) trees_.ReadAheadBelow(*dir->listing);
  return dir;
}

Result<DirItemView> SnapshotFs::ItemAt(DirHandle& dir, size_t index) {
  DirItemView item;
  if (index < 2) {
    item.name = index == 0 ? "." : "..";
    item.type = S_IFDIR;
    return item;
  }
  if (!dir.listing) {
    const DirItem& synthetic = dir.synthetic[index - 2];
    item.name = synthetic.name;
    item.type = synthetic.type;
    return item;
  }
  const uint64_t n = index - 2;
  const TreeObject& listing = *dir.listing;
  const pb::Entry* entry;
  if (!listing.split()) {
    entry = &listing.tree.entries(static_cast<int>(n));
    item.holder = dir.node->subtree;
    item.any_xattrs = listing.any_xattrs;
  } else {
    // The part holding entry n: the last whose start is <= n.
    if (!dir.part_listing || n < listing.part_starts[dir.part] ||
        n >= listing.part_starts[dir.part + 1]) {
      size_t k = ItemHolding(listing.part_starts, n);
      COFFER_ASSIGN_OR_RETURN((std::tie(dir.part_id, dir.part_listing)),
                              ReadPart(dir.node->subtree, listing, k));
      dir.part = k;
    }
    entry = &dir.part_listing->tree.entries(static_cast<int>(n - listing.part_starts[dir.part]));
    item.holder = dir.part_id;
    item.any_xattrs = dir.part_listing->any_xattrs;
  }
  item.entry = entry;
  item.name = entry->name();
  item.type = TypeBits(entry->type());
  return item;
}

Result<Attr> SnapshotFs::LookupItem(DirHandle& dir, size_t index) {
  COFFER_ASSIGN_OR_RETURN(DirItemView item, ItemAt(dir, index));
  if (index < 2) {
    Attr a;
    a.st.st_mode = S_IFDIR;
    return a;
  }
  if (!item.entry) return Lookup(dir.ino, item.name);
  // The open listing holds the entry: no tree lookup.
  return AcquireChild(dir.ino, *dir.node, item.holder, *item.entry, item.any_xattrs);
}

Result<std::optional<std::string>> SnapshotFs::PartitionsDirAfter(DirHandle& dir, size_t index) {
  const std::optional<std::string> none;
  if (!dir.listing || index < 2) return none;
  COFFER_ASSIGN_OR_RETURN(DirItemView item, ItemAt(dir, index));
  if (!item.entry || !MayHavePartitions(*item.entry)) return none;
  std::string name = std::string(item.name) + std::string(kPartitionsSuffix);
  COFFER_ASSIGN_OR_RETURN(StoredEntry stored, FindChild(dir.node->subtree, dir.listing, name));
  if (stored.entry) return none;  // a stored entry of that name is shown instead
  auto partitions = PartitionsOf(item.holder, *item.entry, PathIn(*dir.node, item.name));
  if (!partitions.ok() || !*partitions) return none;  // logged there
  return std::optional<std::string>(std::move(name));
}

Result<std::shared_ptr<const ImagePartitions>> SnapshotFs::PartitionsOf(const ObjectId& holder,
                                                                        const pb::Entry& entry,
                                                                        const std::string& path) {
  // Trees are content-addressed: a tree id and a name say which image this is.
  std::string key(reinterpret_cast<const char*>(holder.bytes.data()), holder.bytes.size());
  key += entry.name();
  {
    std::lock_guard lock(tables_mu_);
    if (const auto* hit = tables_.Find(key)) return *hit;
  }
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<FileHandle> image, reader_->Open(0, entry, path));
  bool read_failed = false;
  auto read_at = [&](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    // Through the chunk cache, without readahead: a few sectors are wanted.
    const uint64_t end = std::min<uint64_t>(entry.size(), offset + out.size());
    Result<ReadData> data = reader_->ReadContent(*image, offset, end, /*offer=*/false);
    if (!data.ok()) {
      read_failed = true;
      return data.status();
    }
    size_t at = 0;
    for (const struct iovec& piece : data->iov) {
      std::memcpy(out.data() + at, piece.iov_base, piece.iov_len);
      at += piece.iov_len;
    }
    return at;
  };
  Result<std::optional<PartitionTable>> table = ReadPartitionTable(entry.size(), read_at);
  if (!table.ok() && read_failed) {
    // Not cached: the image's data is damaged or the server is gone, and a
    // later listing tries again.
    options_.log("cannot read the partition table of " + path + ": " + table.status().message());
    return table.status();
  }
  if (!table.ok()) {
    options_.log(path + ": its partition table is refused (" + table.status().message() + "); no " +
                 entry.name() + std::string(kPartitionsSuffix) + " is shown");
  } else if (*table && (*table)->from_backup) {
    options_.log(path + ": its primary GPT is damaged (" + (*table)->primary_damage +
                 "); the partitions are those of the backup GPT at the image's end");
  }
  std::shared_ptr<const ImagePartitions> shown;
  if (table.ok() && *table && !(*table)->partitions.empty()) {
    auto partitions = std::make_shared<ImagePartitions>();
    partitions->holder = holder;
    partitions->image_name = entry.name();
    partitions->table = std::move(**table);
    shown = std::move(partitions);
  }
  uint64_t cost = 2 * key.size() + 128;  // the key twice (list and index), the nodes
  if (shown)
    cost += sizeof(ImagePartitions) + shown->table.partitions.size() * (sizeof(Partition) + 64);
  std::lock_guard lock(tables_mu_);
  tables_.Insert(key, shown, cost);
  return shown;
}

Result<Attr> SnapshotFs::LookupPartitions(uint64_t parent_ino, const Node& parent,
                                          const TreeObjectPtr& tree, std::string_view name) {
  if (name.size() <= kPartitionsSuffix.size() || !name.ends_with(kPartitionsSuffix)) {
    return Status::NotFound(std::string(name));
  }
  const std::string_view image_name = name.substr(0, name.size() - kPartitionsSuffix.size());
  COFFER_ASSIGN_OR_RETURN(StoredEntry image, FindChild(parent.subtree, tree, image_name));
  if (!image.entry || !MayHavePartitions(*image.entry)) return Status::NotFound(std::string(name));
  COFFER_ASSIGN_OR_RETURN(auto partitions,
                          PartitionsOf(image.holder, *image.entry, PathIn(parent, image_name)));
  if (!partitions) return Status::NotFound(std::string(name));
  const uint64_t ino = inodes_.Acquire(
      "p:" + std::to_string(parent_ino) + "/" + std::string(name),
      [&] {
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::kPartitions;
        node->parent = parent_ino;
        node->name = std::string(name);
        node->snapshot = parent.snapshot;
        node->holder = image.holder;
        node->image = partitions;
        return NodePtr(std::move(node));
      },
      /*pinned=*/false);
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  return PartitionAttr(ino, *node, *image.entry);
}

Result<Attr> SnapshotFs::LookupPartition(uint64_t parent_ino, const Node& parent,
                                         std::string_view name) {
  const std::vector<Partition>& partitions = parent.image->table.partitions;
  auto it = std::find_if(partitions.begin(), partitions.end(),
                         [&](const Partition& p) { return std::to_string(p.number) == name; });
  if (it == partitions.end()) return Status::NotFound(std::string(name));
  COFFER_ASSIGN_OR_RETURN(auto image, ImageEntryOf(parent));
  const uint64_t ino = inodes_.Acquire(
      "q:" + std::to_string(parent_ino) + "/" + std::string(name),
      [&] {
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::kPartition;
        node->parent = parent_ino;
        node->name = std::string(name);
        node->snapshot = parent.snapshot;
        node->holder = parent.holder;
        node->image = parent.image;
        node->partition = static_cast<uint32_t>(it - partitions.begin());
        return NodePtr(std::move(node));
      },
      /*pinned=*/false);
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  return PartitionAttr(ino, *node, *image.entry);
}

Result<SnapshotFs::StoredEntry> SnapshotFs::ImageEntryOf(const Node& node) {
  StoredEntry image;
  image.holder = node.image->holder;
  COFFER_ASSIGN_OR_RETURN(image.holder_tree, trees_.Read(node.image->holder));
  image.entry = model::FindEntry(image.holder_tree->tree, node.image->image_name);
  if (!image.entry)
    return Status::Corruption("entry " + node.image->image_name + " is missing from its tree");
  return image;
}

Attr SnapshotFs::PartitionAttr(uint64_t ino, const Node& node, const pb::Entry& image) const {
  Attr a;
  a.ino = ino;
  struct stat& st = a.st;
  st.st_ino = ino;
  st.st_blksize = 1 << 20;
  // Readable by whoever may read the image; never writable.
  const mode_t readable = image.mode() & 0444;
  if (node.kind == Node::Kind::kPartitions) {
    st.st_mode = S_IFDIR | readable | readable >> 2;
    st.st_nlink = 2;
  } else {
    const Partition& p = node.image->table.partitions[node.partition];
    st.st_mode = S_IFREG | readable;
    st.st_nlink = 1;
    st.st_size = static_cast<off_t>(p.size);
    st.st_blocks =
        static_cast<blkcnt_t>((StoredBytesIn(image, p.offset, p.offset + p.size) + 511) / 512);
  }
  st.st_uid = image.uid();
  st.st_gid = image.gid();
  st.st_mtim = ToTimespec(image.mtime_ns());
  st.st_atim = st.st_mtim;
  st.st_ctim = ToTimespec(image.ctime_ns());
  a.timeout = kSnapshotTimeout;
  return a;
}

std::string SnapshotFs::PathOf(const Node& node) const {
  std::string path = node.name;
  uint64_t parent = node.parent;
  for (int depth = 0; depth < 4096; ++depth) {
    NodePtr p = inodes_.Get(parent);
    if (!p) return "?/" + path;
    if (p->kind != Node::Kind::kEntry && p->kind != Node::Kind::kPartitions)
      return p->name + "/" + path;
    path = p->name + "/" + path;
    parent = p->parent;
  }
  return path;
}

std::string SnapshotFs::PathIn(const Node& dir, std::string_view name) const {
  // A snapshot's node is named by its whole path already.
  return (dir.kind == Node::Kind::kSnapshot ? dir.name : PathOf(dir)) + "/" + std::string(name);
}

Result<std::unique_ptr<FileHandle>> SnapshotFs::Open(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (node->kind == Node::Kind::kPartition) {
    COFFER_ASSIGN_OR_RETURN(auto image, ImageEntryOf(*node));
    COFFER_ASSIGN_OR_RETURN(auto file, reader_->Open(ino, *image.entry, PathOf(*node)));
    const Partition& p = node->image->table.partitions[node->partition];
    if (p.offset > file->size || p.size > file->size - p.offset) {
      return Status::Corruption(file->path + ": the partition lies past the image's end");
    }
    file->start = p.offset;
    file->size = p.size;
    return file;
  }
  if (node->kind != Node::Kind::kEntry || node->type != pb::Entry::FILE) {
    return Status::InvalidArgument("not a regular file");
  }
  COFFER_ASSIGN_OR_RETURN(auto found, EntryOf(*node));
  return reader_->Open(ino, *found.entry, PathOf(*node));
}

Result<ReadData> SnapshotFs::Read(FileHandle& file, uint64_t offset, size_t size) {
  return reader_->Read(file, offset, size);
}

Result<std::optional<uint64_t>> SnapshotFs::Seek(FileHandle& file, uint64_t offset, int whence) {
  return reader_->Seek(file, offset, whence);
}

void SnapshotFs::WaitForReadahead() {
  chunks_.WaitIdle();
}

uint64_t SnapshotFs::tree_cache_bytes() const {
  return trees_.used_bytes();
}
Result<SnapshotFs::XattrLookup> SnapshotFs::GetXattr(uint64_t ino, std::string_view name) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  XattrLookup out;
  bool entry = node->kind == Node::Kind::kEntry;
  if (!entry || !node->has_xattrs) {  // most entries: no tree needed
    out.outcome = entry && node->xattrs_nearby ? XattrLookup::Outcome::kAbsent
                                               : XattrLookup::Outcome::kNoneHere;
    return out;
  }
  COFFER_ASSIGN_OR_RETURN(auto found, EntryOf(*node));
  out.outcome = XattrLookup::Outcome::kAbsent;
  for (const pb::Xattr& x : found.entry->xattrs()) {
    if (x.name() == name) {
      out.outcome = XattrLookup::Outcome::kValue;
      out.value = x.value();
      break;
    }
  }
  return out;
}

Result<std::string> SnapshotFs::ListXattr(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  std::string names;
  if (node->kind != Node::Kind::kEntry || !node->has_xattrs) return names;
  COFFER_ASSIGN_OR_RETURN(auto found, EntryOf(*node));
  for (const pb::Xattr& x : found.entry->xattrs()) {
    names += x.name();
    names.push_back('\0');
  }
  return names;
}

}  // namespace coffer::fs
