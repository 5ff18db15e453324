#include "fs/snapshot_fs.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "store/base/timespec.h"
#include "store/model/snapshot_name.h"
#include "store/model/tree.h"

namespace coffer::fs {

struct SnapshotFs::Index {
  struct Group {
    std::map<std::string, std::shared_ptr<const Snapshot>> by_time;  // "2026-...Z" -> snapshot
    int64_t newest = 0;
    std::string newest_name;
  };
  struct Type {
    std::map<std::string, Group> groups;
    int64_t newest = 0;
  };
  int64_t listed_at = 0;
  int64_t newest = 0;
  std::map<std::string, Type> types;

  const Type* FindType(const std::string& name) const {
    auto it = types.find(name);
    return it == types.end() ? nullptr : &it->second;
  }
  // `path` is "TYPE/NAME".
  const Group* FindGroup(const std::string& path) const {
    size_t slash = path.find('/');
    if (slash == std::string::npos) return nullptr;
    const Type* type = FindType(path.substr(0, slash));
    if (!type) return nullptr;
    auto it = type->groups.find(path.substr(slash + 1));
    return it == type->groups.end() ? nullptr : &it->second;
  }
};

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
  if (node.kind == Node::Kind::kEntry) return node.entry.type() == pb::Entry::DIRECTORY;
  return node.kind != Node::Kind::kLatest;
}

uint64_t StoredBytes(const pb::Entry& entry) {
  uint64_t n = 0;
  for (const pb::Extent& e : entry.extents()) {
    if (!e.chunk_id().empty()) n += e.size();
  }
  return n;
}

const std::vector<uint8_t>& Zeros() {
  static const std::vector<uint8_t> zeros(1 << 20, 0);
  return zeros;
}

Status Stale() { return Status::NotFound("unknown inode"); }

}  // namespace

SnapshotFs::SnapshotFs(Repository& repo, FsOptions options)
    : repo_(repo),
      options_(std::move(options)),
      chunks_(options_.chunk_cache_bytes),
      trees_(options_.tree_cache_bytes) {
  if (!options_.now_ns) options_.now_ns = SteadyNowNs;
  if (!options_.log) options_.log = [](const std::string&) {};
}

Status SnapshotFs::Start() {
  COFFER_ASSIGN_OR_RETURN(auto index, ListNow());
  std::lock_guard lock(index_mu_);
  index_ = std::move(index);
  return Status::Ok();
}

Result<std::shared_ptr<const SnapshotFs::Index>> SnapshotFs::ListNow() {
  int64_t now = options_.now_ns();
  COFFER_ASSIGN_OR_RETURN(std::vector<Snapshot> snaps, repo_.ListSnapshots(options_.group));
  auto index = std::make_shared<Index>();
  index->listed_at = now;
  for (Snapshot& snap : snaps) {
    const std::string& group = snap.ref.group;
    size_t slash = group.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == group.size() ||
        group.find('/', slash + 1) != std::string::npos) {
      continue;  // not TYPE/NAME: no place in the tree
    }
    int64_t t = snap.ref.time_ns;
    std::string time_name = model::FormatTime(t);
    Index::Type& type = index->types[group.substr(0, slash)];
    Index::Group& g = type.groups[group.substr(slash + 1)];
    if (t >= g.newest || g.by_time.empty()) {
      g.newest = t;
      g.newest_name = time_name;
    }
    type.newest = std::max(type.newest, t);
    index->newest = std::max(index->newest, t);
    g.by_time[time_name] = std::make_shared<const Snapshot>(std::move(snap));
  }
  return std::shared_ptr<const Index>(std::move(index));
}

std::shared_ptr<const SnapshotFs::Index> SnapshotFs::CurrentIndex(bool refresh) {
  std::shared_ptr<const Index> current;
  {
    std::lock_guard lock(index_mu_);
    current = index_;
  }
  auto stale = [&] {
    int64_t age = options_.now_ns() - current->listed_at;
    return age >= std::chrono::duration_cast<std::chrono::nanoseconds>(options_.refresh_after).count();
  };
  if (!refresh || !stale()) return current;
  std::unique_lock refreshing(refresh_mu_, std::try_to_lock);
  if (!refreshing.owns_lock()) return current;  // another thread is listing
  {
    std::lock_guard lock(index_mu_);
    current = index_;
  }
  if (!stale()) return current;
  auto fresh = ListNow();
  if (!fresh.ok()) {
    options_.log("cannot list snapshots: " + fresh.status().message());
    return current;
  }
  std::lock_guard lock(index_mu_);
  index_ = *fresh;
  return index_;
}

Result<std::shared_ptr<const pb::Tree>> SnapshotFs::ReadTree(const std::string& id_bytes) {
  {
    std::lock_guard lock(trees_mu_);
    if (auto* hit = trees_.Find(id_bytes)) return *hit;
  }
  auto id = ObjectId::FromBytes(AsBytes(id_bytes));
  if (!id) return Status::Corruption("directory with a malformed tree id");
  COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo_.ReadTree(*id));
  uint64_t cost = tree.ByteSizeLong() + 160 * static_cast<uint64_t>(tree.entries_size());
  auto shared = std::make_shared<const pb::Tree>(std::move(tree));
  std::lock_guard lock(trees_mu_);
  trees_.Insert(id_bytes, shared, cost);
  return shared;
}

Result<std::shared_ptr<const pb::Tree>> SnapshotFs::TreeOf(const Node& node) {
  if (node.kind == Node::Kind::kSnapshot) return ReadTree(node.snapshot->record.root_tree_id());
  if (node.kind == Node::Kind::kEntry && node.entry.type() == pb::Entry::DIRECTORY) {
    return ReadTree(node.entry.subtree_id());
  }
  return Status::InvalidArgument("not a directory");
}

Attr SnapshotFs::AttrOf(uint64_t ino, const Node& node, const Index& index) const {
  Attr a;
  a.ino = ino;
  struct stat& st = a.st;
  st.st_ino = ino;
  st.st_blksize = 1 << 20;
  if (node.kind == Node::Kind::kEntry) {
    const pb::Entry& e = node.entry;
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
      t = index.newest;
      break;
    case Node::Kind::kType:
      if (auto* type = index.FindType(node.path)) t = type->newest;
      break;
    case Node::Kind::kGroup:
    case Node::Kind::kLatest: {
      std::string group = node.kind == Node::Kind::kGroup
                              ? node.path
                              : node.path.substr(0, node.path.rfind('/'));
      if (auto* g = index.FindGroup(group)) {
        t = g->newest;
        if (node.kind == Node::Kind::kLatest) st.st_size = static_cast<off_t>(g->newest_name.size());
      }
      break;
    }
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
                                              const Index& index) {
  std::string name(name_view);
  auto node = std::make_shared<Node>();
  node->parent = 0;
  node->name = name;
  switch (parent->kind) {
    case Node::Kind::kRoot:
      if (!index.FindType(name)) return Status::NotFound(name);
      node->kind = Node::Kind::kType;
      node->path = name;
      break;
    case Node::Kind::kType: {
      const Index::Type* type = index.FindType(parent->path);
      if (!type || !type->groups.count(name)) return Status::NotFound(name);
      node->kind = Node::Kind::kGroup;
      node->path = parent->path + "/" + name;
      break;
    }
    case Node::Kind::kGroup: {
      const Index::Group* g = index.FindGroup(parent->path);
      if (!g) return Status::NotFound(name);
      node->path = parent->path + "/" + name;
      if (name == "latest") {
        node->kind = Node::Kind::kLatest;
        break;
      }
      auto it = g->by_time.find(name);
      if (it == g->by_time.end()) return Status::NotFound(name);
      node->kind = Node::Kind::kSnapshot;
      node->snapshot = it->second;
      break;
    }
    default:
      return Status::NotFound(name);
  }
  NodePtr made = node;
  return inodes_.Acquire("s:" + node->path, [&] { return made; }, /*pinned=*/true);
}

Result<Attr> SnapshotFs::AcquireChild(uint64_t parent_ino, const Node& parent, const pb::Entry& entry) {
  bool shared = entry.nlink() > 1 && entry.type() != pb::Entry::DIRECTORY;
  std::string key = shared ? "h:" + parent.snapshot->ref.id.hex() + ":" + std::to_string(entry.device()) +
                                 ":" + std::to_string(entry.inode())
                           : "c:" + std::to_string(parent_ino) + "/" + entry.name();
  uint64_t ino = inodes_.Acquire(
      key,
      [&] {
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::kEntry;
        node->parent = parent_ino;
        node->name = entry.name();
        node->snapshot = parent.snapshot;
        node->entry = entry;
        return NodePtr(std::move(node));
      },
      /*pinned=*/false);
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  static const Index kEmpty;
  return AttrOf(ino, *node, kEmpty);
}

Result<Attr> SnapshotFs::Lookup(uint64_t parent_ino, std::string_view name) {
  NodePtr parent = inodes_.Get(parent_ino);
  if (!parent) return Stale();
  if (IsSyntheticDir(parent->kind)) {
    auto index = CurrentIndex(/*refresh=*/true);
    COFFER_ASSIGN_OR_RETURN(uint64_t ino, AcquireSynthetic(parent, name, *index));
    NodePtr node = inodes_.Get(ino);
    if (!node) return Stale();
    return AttrOf(ino, *node, *index);
  }
  if (parent->kind != Node::Kind::kSnapshot && parent->kind != Node::Kind::kEntry) {
    return Status::NotFound(std::string(name));
  }
  COFFER_ASSIGN_OR_RETURN(auto tree, TreeOf(*parent));
  const pb::Entry* entry = model::FindEntry(*tree, name);
  if (!entry) return Status::NotFound(std::string(name));
  return AcquireChild(parent_ino, *parent, *entry);
}

void SnapshotFs::Forget(uint64_t ino, uint64_t n) { inodes_.Forget(ino, n); }

Result<Attr> SnapshotFs::GetAttr(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  bool synthetic = node->kind != Node::Kind::kEntry && node->kind != Node::Kind::kSnapshot;
  auto index = CurrentIndex(/*refresh=*/synthetic);
  return AttrOf(ino, *node, *index);
}

Result<std::string> SnapshotFs::ReadLink(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (node->kind == Node::Kind::kEntry && node->entry.type() == pb::Entry::SYMLINK) {
    return node->entry.symlink_target();
  }
  if (node->kind == Node::Kind::kLatest) {
    auto index = CurrentIndex(/*refresh=*/true);
    const Index::Group* g = index->FindGroup(node->path.substr(0, node->path.rfind('/')));
    if (!g) return Status::NotFound("the group has no snapshots");
    return g->newest_name;
  }
  return Status::InvalidArgument("not a symlink");
}

Result<std::unique_ptr<DirHandle>> SnapshotFs::OpenDir(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (!IsDirectory(*node)) return Status::InvalidArgument("not a directory");
  auto dir = std::make_unique<DirHandle>();
  dir->ino = ino;
  auto add = [&](std::string name, mode_t type) {
    dir->items.push_back(DirItem{std::move(name), type, dir->items.size() + 1});
  };
  add(".", S_IFDIR);
  add("..", S_IFDIR);
  if (IsSyntheticDir(node->kind)) {
    auto index = CurrentIndex(/*refresh=*/true);
    if (node->kind == Node::Kind::kRoot) {
      for (const auto& [name, type] : index->types) add(name, S_IFDIR);
    } else if (node->kind == Node::Kind::kType) {
      if (auto* type = index->FindType(node->path)) {
        for (const auto& [name, g] : type->groups) add(name, S_IFDIR);
      }
    } else if (auto* g = index->FindGroup(node->path)) {
      for (const auto& [name, snap] : g->by_time) add(name, S_IFDIR);
      add("latest", S_IFLNK);
    }
    return dir;
  }
  COFFER_ASSIGN_OR_RETURN(auto tree, TreeOf(*node));
  dir->immutable = true;
  dir->items.reserve(tree->entries_size() + 2);
  for (const pb::Entry& e : tree->entries()) add(e.name(), TypeBits(e.type()));
  return dir;
}

Result<Attr> SnapshotFs::LookupItem(const DirHandle& dir, const DirItem& item) {
  if (item.name == "." || item.name == "..") {
    Attr a;
    a.st.st_mode = item.type;
    return a;
  }
  return Lookup(dir.ino, item.name);
}

std::string SnapshotFs::PathOf(const Node& node) const {
  std::string path = node.name;
  uint64_t parent = node.parent;
  for (int depth = 0; depth < 4096; ++depth) {
    NodePtr p = inodes_.Get(parent);
    if (!p) return "?/" + path;
    if (p->kind != Node::Kind::kEntry) return p->path + "/" + path;
    path = p->name + "/" + path;
    parent = p->parent;
  }
  return path;
}

Result<std::unique_ptr<FileHandle>> SnapshotFs::Open(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (node->kind != Node::Kind::kEntry || node->entry.type() != pb::Entry::FILE) {
    return Status::InvalidArgument("not a regular file");
  }
  auto file = std::make_unique<FileHandle>();
  file->node = node;
  file->starts.reserve(node->entry.extents_size() + 1);
  uint64_t offset = 0;
  file->starts.push_back(0);
  for (const pb::Extent& e : node->entry.extents()) {
    offset += e.size();
    file->starts.push_back(offset);
  }
  file->path = PathOf(*node);
  return file;
}

Result<ReadData> SnapshotFs::Read(const FileHandle& file, uint64_t offset, size_t size) {
  const pb::Entry& entry = file.node->entry;
  ReadData data;
  uint64_t end = std::min<uint64_t>(entry.size(), offset + size);
  if (offset >= end) return data;
  const std::vector<uint8_t>& zeros = Zeros();
  auto add_zeros = [&](uint64_t n) {
    while (n > 0) {
      size_t piece = static_cast<size_t>(std::min<uint64_t>(n, zeros.size()));
      data.iov.push_back({const_cast<uint8_t*>(zeros.data()), piece});
      n -= piece;
    }
  };
  const size_t count = static_cast<size_t>(entry.extents_size());
  // The extent holding `offset`: the last start <= offset.
  size_t i = static_cast<size_t>(std::upper_bound(file.starts.begin(), file.starts.end(), offset) -
                                 file.starts.begin()) - 1;
  uint64_t pos = offset;
  while (pos < end) {
    if (i >= count) {  // past the last extent: a trailing hole
      add_zeros(end - pos);
      break;
    }
    const pb::Extent& extent = entry.extents(static_cast<int>(i));
    uint64_t piece_end = std::min(end, file.starts[i + 1]);
    if (piece_end <= pos) {
      ++i;
      continue;
    }
    if (extent.chunk_id().empty()) {
      add_zeros(piece_end - pos);
    } else {
      auto id = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
      Result<ChunkPtr> chunk = Status::Corruption("malformed chunk id");
      if (id) {
        chunk = chunks_.Get(*id, [this](const ObjectId& cid) {
          return repo_.ReadObject(ObjectKind::kChunk, cid);
        });
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
      uint64_t within = pos - file.starts[i];
      data.iov.push_back({const_cast<uint8_t*>((*chunk)->data() + within),
                          static_cast<size_t>(piece_end - pos)});
      data.keep.push_back(std::move(chunk).value());
    }
    pos = piece_end;
    ++i;
  }
  data.size = static_cast<size_t>(end - offset);
  return data;
}

Result<std::optional<uint64_t>> SnapshotFs::Seek(const FileHandle& file, uint64_t offset, int whence) {
  const pb::Entry& entry = file.node->entry;
  uint64_t size = entry.size();
  if (offset >= size) return std::optional<uint64_t>();
  const size_t count = static_cast<size_t>(entry.extents_size());
  size_t i = static_cast<size_t>(std::upper_bound(file.starts.begin(), file.starts.end(), offset) -
                                 file.starts.begin()) - 1;
  bool want_data = whence == SEEK_DATA;
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return Status::InvalidArgument("bad whence");
  for (; i < count; ++i) {
    const pb::Extent& extent = entry.extents(static_cast<int>(i));
    if (extent.size() == 0) continue;
    bool is_data = !extent.chunk_id().empty();
    if (is_data == want_data) {
      uint64_t at = std::max(offset, file.starts[i]);
      if (at >= size) break;
      return std::optional<uint64_t>(at);
    }
  }
  if (want_data) return std::optional<uint64_t>();  // only holes from here on
  // Past the last extent up to the size is a hole, and EOF counts as one.
  return std::optional<uint64_t>(std::min(size, std::max(offset, file.starts[count])));
}

Result<std::optional<std::string>> SnapshotFs::GetXattr(uint64_t ino, std::string_view name) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  if (node->kind == Node::Kind::kEntry) {
    for (const pb::Xattr& x : node->entry.xattrs()) {
      if (x.name() == name) return std::optional<std::string>(x.value());
    }
  }
  return std::optional<std::string>();
}

Result<std::string> SnapshotFs::ListXattr(uint64_t ino) {
  NodePtr node = inodes_.Get(ino);
  if (!node) return Stale();
  std::string names;
  if (node->kind == Node::Kind::kEntry) {
    for (const pb::Xattr& x : node->entry.xattrs()) {
      names += x.name();
      names.push_back('\0');
    }
  }
  return names;
}

}  // namespace coffer::fs
