#include "fs/snapshot_fs.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>
#include <tuple>

#include "store/base/timespec.h"
#include "store/chunk/image_chunks.h"
#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "store/model/tree_split.h"

namespace coffer::fs {

namespace {

constexpr uint64_t kPage = 4096;

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
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                std::tolower(static_cast<unsigned char>(b)); });
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

// Where each of `items` begins when laid end to end from `first`, then
// where the last one ends.
template <typename Items, typename SizeOf>
std::vector<uint64_t> Starts(const Items& items, uint64_t first, SizeOf size_of) {
  std::vector<uint64_t> starts;
  starts.reserve(static_cast<size_t>(items.size()) + 1);
  starts.push_back(first);
  for (const auto& item : items) starts.push_back(starts.back() + size_of(item));
  return starts;
}

uint64_t ExtentSize(const pb::Extent& extent) { return extent.size(); }

// Which item of `starts` (made by Starts) holds `at`: the last that begins at
// or before it. `at` must be below starts.back().
size_t ItemHolding(const std::vector<uint64_t>& starts, uint64_t at) {
  return static_cast<size_t>(std::upper_bound(starts.begin(), starts.end() - 1, at) - starts.begin()) - 1;
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

const std::vector<uint8_t>& Zeros() {
  static const std::vector<uint8_t> zeros(1 << 20, 0);
  return zeros;
}

Status Stale() { return Status::NotFound("unknown inode"); }

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
uint64_t OpenedChunkBytes(const FsOptions& options) { return options.cache_bytes / 4; }
// The directory listings' share.
uint64_t TreeCacheBytes(const FsOptions& options) { return options.cache_bytes / 8; }

// Opening a chunk is CPU work (decryption, decompression), and the server and
// the kernel's FUSE copies need the same cores: one loader per core, so they
// do not crowd each other out (on 2 cores, 2 loaders read ~10% faster than
// 3), but at least 2 so a fetch overlaps with an opening, and at most 4 so
// the chunks in flight stay small beside the cache.
unsigned LoaderCount() { return std::clamp(std::thread::hardware_concurrency(), 2u, 4u); }

}  // namespace

size_t DirHandle::count() const {
  return 2 + (listing ? static_cast<size_t>(listing->entry_count()) : synthetic.size());
}

SnapshotFs::SnapshotFs(Repository& repo, FsOptions options)
    : repo_(repo),
      options_(std::move(options)),
      inode_budget_(options_.cache_bytes / 8),
      chunks_(OpenedChunkBytes(options_),
              [this](const ObjectId& id) { return repo_.ReadObject(ObjectKind::kChunk, id); },
              LoaderCount(),
              [this](std::span<const ObjectId> ids, const ChunkCache::BatchVisitor& use) {
                return repo_.ReadObjects(ObjectKind::kChunk, ids, crypto::IdCheck::kIfUnencrypted,
                                         use);
              }),
      trees_(TreeCacheBytes(options_)),
      tables_(options_.cache_bytes / 64) {
  options_.readahead_bytes = std::min(options_.readahead_bytes, OpenedChunkBytes(options_) / 2);
  if (!options_.now_ns) options_.now_ns = SteadyNowNs;
  if (!options_.log) options_.log = [](const std::string&) {};
}

SnapshotFs::~SnapshotFs() = default;

void SnapshotFs::SetKernelCache(KernelCache* kernel) { kernel_.store(kernel); }

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
    return age >= std::chrono::duration_cast<std::chrono::nanoseconds>(options_.refresh_after).count();
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

Result<SnapshotFs::TreePtr> SnapshotFs::ReadTree(const ObjectId& id) {
  {
    std::lock_guard lock(trees_mu_);
    if (auto* hit = trees_.Find(id)) return *hit;
  }
  // One object as stored: a split directory's parts, and a large file's
  // extent parts, are read when needed.
  COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo_.ReadTreeObject(id));
  return MakeListing(id, std::move(tree));
}

Result<SnapshotFs::TreePtr> SnapshotFs::MakeListing(const ObjectId& id, pb::Tree tree) {
  auto listing = std::make_shared<Listing>();
  listing->tree = std::move(tree);
  if (listing->split()) {
    if (listing->tree.entries_size() > 0) {
      return Status::Corruption("tree " + id.short_hex() + " has both entries and parts");
    }
    listing->part_starts =
        Starts(listing->tree.parts(), 0, [](const pb::TreePart& part) { return part.entries(); });
  }
  for (const pb::Entry& e : listing->tree.entries()) listing->any_xattrs |= e.xattrs_size() > 0;
  // What the decoded tree occupies (its strings and repeated fields), not its encoding.
  listing->memory_bytes = listing->tree.SpaceUsedLong() + listing->part_starts.size() * 8 + 128;
  TreePtr shared = std::move(listing);
  std::lock_guard lock(trees_mu_);
  trees_.Insert(id, shared, shared->memory_bytes);
  return shared;
}

void SnapshotFs::ReadAheadTrees(const Listing& dir) {
  // The directories to look below, and the trees not in the cache yet.
  std::vector<const pb::Tree*> frontier = {&dir.tree};
  std::vector<TreePtr> keep_alive;  // the cache may drop what the walk still reads
  size_t read = 0;
  size_t looked_at = 0;  // bounds the walk through trees read before, too
  uint64_t read_bytes = 0;
  const uint64_t max_read_bytes = TreeCacheBytes(options_) / 2;
  while (!frontier.empty() && read < kReadAheadTrees && looked_at < 4 * kReadAheadTrees &&
         read_bytes < max_read_bytes) {
    std::vector<const pb::Tree*> next;
    std::vector<ObjectId> missing;
    for (const pb::Tree* tree : frontier) {
      for (const pb::Entry& entry : tree->entries()) {
        if (entry.type() != pb::Entry::DIRECTORY) continue;
        auto id = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
        if (!id || ++looked_at > 4 * kReadAheadTrees) continue;
        TreePtr cached;
        {
          std::lock_guard lock(trees_mu_);
          if (auto* hit = trees_.Find(*id)) cached = *hit;
        }
        if (cached) {
          next.push_back(&cached->tree);
          keep_alive.push_back(std::move(cached));
        } else if (read + missing.size() < kReadAheadTrees) {
          missing.push_back(*id);
        }
      }
    }
    for (size_t from = 0; from < missing.size() && read_bytes < max_read_bytes;
         from += kReadAheadBatch) {
      const size_t count = std::min(kReadAheadBatch, missing.size() - from);
      std::span<const ObjectId> batch(missing.data() + from, count);
      Status batch_status = repo_.ReadObjects(
          ObjectKind::kTree, batch, crypto::IdCheck::kIfUnencrypted,
          [&](size_t index, Result<Bytes> object) {
            // A batch may hold more than the budget: the rest is not kept.
            if (!object.ok() || read_bytes >= max_read_bytes) return;
            pb::Tree tree;
            if (!model::Decode(*object, &tree, "tree " + batch[index].short_hex()).ok()) return;
            auto listing = MakeListing(batch[index], std::move(tree));
            if (!listing.ok()) return;
            read_bytes += (*listing)->memory_bytes;
            next.push_back(&(*listing)->tree);
            keep_alive.push_back(std::move(*listing));
          });
      read += count;
      if (!batch_status.ok()) return;
    }
    frontier = std::move(next);
  }
}

uint64_t SnapshotFs::tree_cache_bytes() const {
  std::lock_guard lock(trees_mu_);
  return trees_.used();
}

Result<std::pair<ObjectId, SnapshotFs::TreePtr>> SnapshotFs::ReadPart(const ObjectId& dir_id,
                                                                     const Listing& dir, size_t k) {
  COFFER_ASSIGN_OR_RETURN(ObjectId part_id, model::PartId(dir_id, dir.tree, k));
  COFFER_ASSIGN_OR_RETURN(TreePtr part, ReadTree(part_id));
  COFFER_RETURN_IF_ERROR(model::CheckPart(dir_id, dir.tree, k, part->tree));
  return std::make_pair(part_id, std::move(part));
}

Result<SnapshotFs::Found> SnapshotFs::FindChild(const ObjectId& dir_id, const TreePtr& dir,
                                                std::string_view name) {
  Found found;
  if (!dir->split()) {
    found.entry = model::FindEntry(dir->tree, name);
    found.holder = dir;
    found.holder_id = dir_id;
    return found;
  }
  std::optional<size_t> k = model::PartFor(dir->tree, name);
  if (!k) return found;
  COFFER_ASSIGN_OR_RETURN((std::tie(found.holder_id, found.holder)), ReadPart(dir_id, *dir, *k));
  found.entry = model::FindEntry(found.holder->tree, name);
  return found;
}

Result<SnapshotFs::TreePtr> SnapshotFs::TreeOf(const Node& node) {
  if (node.kind == Node::Kind::kSnapshot ||
      (node.kind == Node::Kind::kEntry && node.type == pb::Entry::DIRECTORY)) {
    return ReadTree(node.subtree);
  }
  return Status::InvalidArgument("not a directory");
}

Result<std::pair<SnapshotFs::TreePtr, const pb::Entry*>> SnapshotFs::EntryOf(const Node& node) {
  COFFER_ASSIGN_OR_RETURN(TreePtr tree, ReadTree(node.holder));
  const pb::Entry* entry = model::FindEntry(tree->tree, node.name);
  if (!entry) return Status::Corruption("entry " + node.name + " is missing from its tree");
  return std::make_pair(std::move(tree), entry);
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
    case Node::Kind::kRoot:
      t = dirs.newest;
      break;
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
    case Node::Kind::kSnapshot:
      t = node.snapshot->ref.time_ns;
      break;
    default:
      break;
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
      if (!root) return Status::Corruption("snapshot " + node->name + " has a malformed root tree id");
      node->subtree = *root;
      break;
    }
    default:
      return Status::NotFound(name);
  }
  if (key.empty()) key = "s:" + node->name;
  NodePtr made = node;
  return inodes_.Acquire(key, [&] { return made; }, pinned);
}

Result<Attr> SnapshotFs::AcquireChild(uint64_t parent_ino, const Node& parent, const ObjectId& holder,
                                      const pb::Entry& entry, bool xattrs_nearby) {
  Status failure = Status::Ok();
  bool shared = entry.nlink() > 1 && entry.type() != pb::Entry::DIRECTORY;
  std::string key = shared ? "h:" + parent.snapshot->ref.id.hex() + ":" + std::to_string(entry.device()) +
                                 ":" + std::to_string(entry.inode())
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
          if (subtree) node->subtree = *subtree;
          else failure = Status::Corruption("directory " + entry.name() + " has a malformed tree id");
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
  COFFER_ASSIGN_OR_RETURN(Found found, FindChild(parent->subtree, tree, name));
  if (!found.entry) return LookupPartitions(parent_ino, *parent, tree, name);
  return AcquireChild(parent_ino, *parent, found.holder_id, *found.entry, found.holder->any_xattrs);
}

void SnapshotFs::Forget(uint64_t ino, uint64_t n) { inodes_.Forget(ino, n); }

Result<Attr> SnapshotFs::GetAttr(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (node->kind == Node::Kind::kEntry) {
    COFFER_ASSIGN_OR_RETURN(auto found, EntryOf(*node));
    static const SyntheticDirs kEmpty;
    return AttrOf(ino, *node, found.second, kEmpty);
  }
  if (node->kind == Node::Kind::kPartitions || node->kind == Node::Kind::kPartition) {
    COFFER_ASSIGN_OR_RETURN(auto image, ImageEntryOf(*node));
    return PartitionAttr(ino, *node, *image.second);
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
    return found.second->symlink_target();
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
    auto add = [&](const std::string& name, mode_t type) { dir->synthetic.push_back(DirItem{name, type}); };
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
  if (!dir->listing->split()) ReadAheadTrees(*dir->listing);
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
  const Listing& listing = *dir.listing;
  const pb::Entry* entry;
  if (!listing.split()) {
    entry = &listing.tree.entries(static_cast<int>(n));
    item.holder = dir.node->subtree;
    item.any_xattrs = listing.any_xattrs;
  } else {
    // The part holding entry n: the last whose start is <= n.
    if (!dir.part_listing || n < listing.part_starts[dir.part] || n >= listing.part_starts[dir.part + 1]) {
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
  COFFER_ASSIGN_OR_RETURN(Found stored, FindChild(dir.node->subtree, dir.listing, name));
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
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<FileHandle> image, HandleFor(0, entry, path));
  bool read_failed = false;
  auto read_at = [&](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    // Through the chunk cache, without readahead: a few sectors are wanted.
    const uint64_t end = std::min<uint64_t>(entry.size(), offset + out.size());
    Result<ReadData> data = ReadContent(*image, offset, end, /*offer=*/false);
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
  if (shown) cost += sizeof(ImagePartitions) + shown->table.partitions.size() * (sizeof(Partition) + 64);
  std::lock_guard lock(tables_mu_);
  tables_.Insert(key, shown, cost);
  return shown;
}

Result<Attr> SnapshotFs::LookupPartitions(uint64_t parent_ino, const Node& parent, const TreePtr& tree,
                                          std::string_view name) {
  if (name.size() <= kPartitionsSuffix.size() || !name.ends_with(kPartitionsSuffix)) {
    return Status::NotFound(std::string(name));
  }
  const std::string_view image_name = name.substr(0, name.size() - kPartitionsSuffix.size());
  COFFER_ASSIGN_OR_RETURN(Found image, FindChild(parent.subtree, tree, image_name));
  if (!image.entry || !MayHavePartitions(*image.entry)) return Status::NotFound(std::string(name));
  COFFER_ASSIGN_OR_RETURN(auto partitions,
                          PartitionsOf(image.holder_id, *image.entry, PathIn(parent, image_name)));
  if (!partitions) return Status::NotFound(std::string(name));
  const uint64_t ino = inodes_.Acquire(
      "p:" + std::to_string(parent_ino) + "/" + std::string(name),
      [&] {
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::kPartitions;
        node->parent = parent_ino;
        node->name = std::string(name);
        node->snapshot = parent.snapshot;
        node->holder = image.holder_id;
        node->image = partitions;
        return NodePtr(std::move(node));
      },
      /*pinned=*/false);
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  return PartitionAttr(ino, *node, *image.entry);
}

Result<Attr> SnapshotFs::LookupPartition(uint64_t parent_ino, const Node& parent, std::string_view name) {
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
  return PartitionAttr(ino, *node, *image.second);
}

Result<std::pair<SnapshotFs::TreePtr, const pb::Entry*>> SnapshotFs::ImageEntryOf(const Node& node) {
  COFFER_ASSIGN_OR_RETURN(TreePtr tree, ReadTree(node.image->holder));
  const pb::Entry* entry = model::FindEntry(tree->tree, node.image->image_name);
  if (!entry) return Status::Corruption("entry " + node.image->image_name + " is missing from its tree");
  return std::make_pair(std::move(tree), entry);
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
    st.st_blocks = static_cast<blkcnt_t>((StoredBytesIn(image, p.offset, p.offset + p.size) + 511) / 512);
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
    if (p->kind != Node::Kind::kEntry && p->kind != Node::Kind::kPartitions) return p->name + "/" + path;
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
    COFFER_ASSIGN_OR_RETURN(auto file, HandleFor(ino, *image.second, PathOf(*node)));
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
  return HandleFor(ino, *found.second, PathOf(*node));
}

Result<std::unique_ptr<FileHandle>> SnapshotFs::HandleFor(uint64_t ino, const pb::Entry& entry,
                                                          std::string path) {
  auto file = std::make_unique<FileHandle>();
  file->ino = ino;
  file->entry = entry;
  file->path = std::move(path);
  file->size = entry.size();
  if (file->entry.extent_parts_size() > 0) {
    if (file->entry.extents_size() > 0) {
      return Status::Corruption(file->path + ": has both extents and extent parts");
    }
    file->part_starts =
        Starts(file->entry.extent_parts(), 0, [](const pb::ExtentPart& part) { return part.size(); });
    return file;
  }
  auto whole = std::make_shared<ExtentRun>();
  whole->extents = &file->entry.extents();  // the handle outlives its runs
  whole->starts = Starts(*whole->extents, 0, ExtentSize);
  file->whole = std::move(whole);
  return file;
}

size_t ExtentRun::IndexOf(uint64_t offset) const { return ItemHolding(starts, offset); }

Result<ExtentRunPtr> SnapshotFs::RunAt(FileHandle& file, uint64_t offset) {
  if (file.whole) return offset < file.whole->starts.back() ? file.whole : nullptr;
  const std::vector<uint64_t>& starts = file.part_starts;
  if (offset >= starts.back()) return ExtentRunPtr();
  const size_t k = ItemHolding(starts, offset);
  {
    std::lock_guard lock(file.mu);
    for (const auto& [index, run] : file.recent_parts) {
      if (index == k) return run;
    }
  }
  const pb::ExtentPart& ref = file.entry.extent_parts(static_cast<int>(k));
  auto part_id = ObjectId::FromBytes(AsBytes(ref.tree_id()));
  if (!part_id) {
    return Status::Corruption(file.path + ": extent part " + std::to_string(k) + " has a malformed id");
  }
  COFFER_ASSIGN_OR_RETURN(TreePtr part, ReadTree(*part_id));
  COFFER_RETURN_IF_ERROR(model::CheckExtentPart(*part_id, ref, part->tree).WithContext(file.path));
  auto run = std::make_shared<ExtentRun>();
  run->holder = part;
  run->extents = &part->tree.entries(0).extents();
  run->starts = Starts(*run->extents, starts[k], ExtentSize);
  std::lock_guard lock(file.mu);
  // The part being read and the one read ahead into; older ones go.
  constexpr size_t kRecentParts = 3;
  if (file.recent_parts.size() >= kRecentParts) file.recent_parts.erase(file.recent_parts.begin());
  file.recent_parts.emplace_back(k, run);
  return ExtentRunPtr(std::move(run));
}

void SnapshotFs::PlanReadahead(FileHandle& file, uint64_t offset, uint64_t end, bool* random) {
  // The kernel's own readahead sends several reads at once, so they may
  // arrive a little out of order: near the expected offset counts as sequential.
  constexpr uint64_t kSlack = 2ull << 20;
  uint64_t from, to;
  {
    std::lock_guard lock(file.mu);
    bool continues = file.any_read ? offset + kSlack >= file.expected && offset <= file.expected + kSlack
                                   : offset == file.start;
    file.any_read = true;
    file.sequential_run = continues ? file.sequential_run + 1 : 0;
    file.expected = continues ? std::max(file.expected, end) : end;
    *random = !continues;
    if (!continues || options_.readahead_bytes == 0) return;
    from = std::max(end, file.readahead_to);
    to = std::min<uint64_t>(file.start + file.size, end + options_.readahead_bytes);
    if (from >= to) return;
    file.readahead_to = to;
  }
  struct Ahead {
    ObjectId id;
    uint64_t bytes;
    uint64_t start;  // in the entry
  };
  std::vector<Ahead> ahead;
  for (uint64_t at = from; at < to;) {
    Result<ExtentRunPtr> run = RunAt(file, at);
    if (!run.ok() || !*run) break;  // errors are left for the read that needs the chunk
    const ExtentRun& r = **run;
    for (size_t i = r.IndexOf(at); i < r.count() && r.starts[i] < to; ++i) {
      const pb::Extent& extent = (*r.extents)[static_cast<int>(i)];
      auto id = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
      if (id && !chunks_.Has(*id)) ahead.push_back({*id, extent.size(), r.starts[i]});
    }
    at = r.starts.back();
  }
  for (const Ahead& chunk : ahead) {
    if (chunks_.Prefetch(chunk.id, chunk.bytes) == ChunkCache::Prefetched::kQueueFull) {
      // The rest is planned again by the next read, once the queue has room.
      std::lock_guard lock(file.mu);
      file.readahead_to = std::min(file.readahead_to, std::max(chunk.start, end));
      break;
    }
  }
}

void SnapshotFs::OfferChunk(FileHandle& file, const ExtentRun& run, size_t extent, const ChunkPtr& chunk) {
  KernelCache* kernel = kernel_.load();
  if (!kernel) return;
  const uint64_t chunk_start = run.starts[extent];
  {
    std::lock_guard lock(file.mu);
    // Offering a chunk twice is only wasted work: start afresh rather than
    // let a random reader of a huge file grow the set without end.
    constexpr size_t kMaxRemembered = 1 << 16;
    if (file.offered.size() >= kMaxRemembered) file.offered.clear();
    if (!file.offered.insert(chunk_start).second) return;
  }
  // What the handle shows of the chunk, in the handle's offsets (a
  // partition starts anywhere in its image).
  const uint64_t start = std::max(chunk_start, file.start) - file.start;
  const uint64_t stop = std::min(run.starts[extent + 1], file.start + file.size) - file.start;
  // Only whole pages: the kernel keeps a page only when it gets all of it
  // (or everything up to the end of the file).
  uint64_t first = (start + kPage - 1) / kPage * kPage;
  uint64_t last = stop == file.size ? stop : stop / kPage * kPage;
  if (first >= last) return;
  ByteView data(chunk->data() + (file.start + first - chunk_start), static_cast<size_t>(last - first));
  kernel->Offer(file.ino, first, data, chunk);
}

Result<ReadData> SnapshotFs::Read(FileHandle& file, uint64_t offset, size_t size) {
  if (offset >= file.size || size == 0) return ReadData();
  const uint64_t from = file.start + offset;
  const uint64_t to = file.start + std::min<uint64_t>(file.size, offset + size);
  bool random = false;
  PlanReadahead(file, from, to, &random);
  return ReadContent(file, from, to, random);
}

Result<ReadData> SnapshotFs::ReadContent(FileHandle& file, uint64_t offset, uint64_t end, bool offer) {
  ReadData data;
  const std::vector<uint8_t>& zeros = Zeros();
  auto add_zeros = [&](uint64_t n) {
    while (n > 0) {
      size_t piece = static_cast<size_t>(std::min<uint64_t>(n, zeros.size()));
      data.iov.push_back({const_cast<uint8_t*>(zeros.data()), piece});
      n -= piece;
    }
  };
  uint64_t pos = offset;
  while (pos < end) {
    COFFER_ASSIGN_OR_RETURN(ExtentRunPtr run, RunAt(file, pos));
    if (!run) {  // past the last extent: a trailing hole
      add_zeros(end - pos);
      break;
    }
    const uint64_t run_began_at = pos;
    for (size_t i = run->IndexOf(pos); pos < end && i < run->count(); ++i) {
      const pb::Extent& extent = (*run->extents)[static_cast<int>(i)];
      uint64_t piece_end = std::min(end, run->starts[i + 1]);
      if (piece_end <= pos) continue;
      if (extent.chunk_id().empty()) {
        add_zeros(piece_end - pos);
      } else {
        auto id = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
        Result<ChunkPtr> chunk = Status::Corruption("malformed chunk id");
        if (id) {
          chunk = chunks_.Get(*id);
          if (chunk.ok() && (*chunk)->size() != extent.size()) {
            chunk = Status::Corruption("chunk " + id->short_hex() + " has the wrong size");
          }
        }
        if (!chunk.ok()) {
          std::string what = id ? id->hex() : std::string("(malformed id)");
          const char* kind = chunk.status().code() == Code::kCorruption ? "damaged chunk" : "cannot read chunk";
          options_.log(std::string(kind) + " " + what + " in " + file.path + ": " + chunk.status().message());
          return chunk.status();
        }
        uint64_t within = pos - run->starts[i];
        data.iov.push_back({const_cast<uint8_t*>((*chunk)->data() + within),
                            static_cast<size_t>(piece_end - pos)});
        if (offer) OfferChunk(file, *run, i, *chunk);
        data.keep.push_back(std::move(chunk).value());
      }
      pos = piece_end;
    }
    if (pos == run_began_at) return Status::Corruption(file.path + ": its extents do not cover its size");
  }
  data.size = static_cast<size_t>(end - offset);
  return data;
}

void SnapshotFs::WaitForReadahead() { chunks_.WaitIdle(); }

Result<std::optional<uint64_t>> SnapshotFs::Seek(FileHandle& file, uint64_t offset, int whence) {
  if (offset >= file.size) return std::optional<uint64_t>();
  bool want_data = whence == SEEK_DATA;
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return Status::InvalidArgument("bad whence");
  // In the entry's offsets: the handle shows [begin, end) of it.
  const uint64_t begin = file.start, end = file.start + file.size, from = begin + offset;
  uint64_t at = from;
  while (at < end) {
    COFFER_ASSIGN_OR_RETURN(ExtentRunPtr run, RunAt(file, at));
    if (!run) break;
    for (size_t i = run->IndexOf(at); i < run->count() && run->starts[i] < end; ++i) {
      const pb::Extent& extent = (*run->extents)[static_cast<int>(i)];
      if (extent.size() == 0) continue;
      bool is_data = !extent.chunk_id().empty();
      if (is_data == want_data) return std::optional<uint64_t>(std::max(from, run->starts[i]) - begin);
    }
    if (run->starts.back() <= at) break;
    at = run->starts.back();
  }
  if (want_data) return std::optional<uint64_t>();  // only holes from here on
  // Past the last extent up to the size is a hole, and EOF counts as one.
  return std::optional<uint64_t>(std::min(end, std::max(from, at)) - begin);
}

Result<SnapshotFs::XattrLookup> SnapshotFs::GetXattr(uint64_t ino, std::string_view name) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  XattrLookup out;
  bool entry = node->kind == Node::Kind::kEntry;
  if (!entry || !node->has_xattrs) {  // most entries: no tree needed
    out.found = entry && node->xattrs_nearby ? XattrLookup::Found::kAbsent : XattrLookup::Found::kNoneHere;
    return out;
  }
  COFFER_ASSIGN_OR_RETURN(auto found, EntryOf(*node));
  out.found = XattrLookup::Found::kAbsent;
  for (const pb::Xattr& x : found.second->xattrs()) {
    if (x.name() == name) {
      out.found = XattrLookup::Found::kValue;
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
  for (const pb::Xattr& x : found.second->xattrs()) {
    names += x.name();
    names.push_back('\0');
  }
  return names;
}

}  // namespace coffer::fs
