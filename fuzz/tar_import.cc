// Archives as `coffer` would import them (store/ingest/tar_import.h): the
// bytes of a file, compressed or not, through ArchiveSource (from memory)
// into a TarImporter over a repository in memory (unencrypted, chunks of
// 64 to 1024 bytes so that small inputs make several). The repository is
// made once; its objects are dropped after each input.
//
// Input: [mode][archive]. Bit 0 of the mode byte: rewrite the checksum of
// every 512-byte block that has the ustar magic, so that mutated tar headers
// get past libarchive's checksum test to the fields behind it.
//
// Properties: an import that fails commits nothing; one that succeeds
// stores trees that are sorted, with valid names and present objects; a
// file's extents add up to its size, its chunks are at most the chunker's
// maximum; the names of a hard link group share one entry and number its
// link count; and importing the same bytes again gives the same root tree.
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "store/ingest/tar_import.h"
#include "store/model/tree.h"

using namespace coffer;

namespace {

// A MemoryStore that also takes writers and snapshots.
class WritableStore : public fuzz::MemoryStore {
 public:
  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>&) override { return ++writers_; }
  Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed, WriteId,
                        const std::optional<ObjectId>& needs) override {
    snapshots.push_back({ref, Bytes(sealed.begin(), sealed.end()), false, {}, needs});
    return Status::Ok();
  }

 private:
  WriteId writers_ = 0;
};

constexpr uint32_t kMaxChunk = 1024;

struct Env {
  WritableStore* store = nullptr;  // owned by the repository
  std::unique_ptr<Repository> repo;
};

Env* MakeEnv() {
  auto* env = new Env;
  auto store = std::make_unique<WritableStore>();
  InitOptions init;
  init.encrypted = false;
  init.chunker = {64, 256, kMaxChunk};
  if (Status s = Repository::Initialize(*store, init, ""); !s.ok()) fuzz::Fail(s.message());
  env->store = store.get();
  OpenOptions open;
  open.allow_unencrypted = true;
  auto repo = Repository::Open(
      std::move(store), [] { return Result<std::string>(std::string()); }, open);
  if (!repo.ok()) fuzz::Fail("cannot open the repository: " + repo.status().message());
  env->repo = std::move(repo).value();
  return env;
}

void FixTarChecksums(Bytes& tar) {
  for (size_t at = 0; at + 512 <= tar.size(); at += 512) {
    uint8_t* h = tar.data() + at;
    if (std::memcmp(h + 257, "ustar", 5) != 0) continue;
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += h[i];
    std::snprintf(reinterpret_cast<char*>(h + 148), 8, "%06o",
                  sum);  // then NUL, and the space stays
  }
}

Result<ingest::BackupResult> Import(Env& env, ByteView archive, int64_t seconds) {
  COFFER_ASSIGN_OR_RETURN(auto source, ingest::ArchiveSource::OpenMemory(archive, "fuzz input"));
  ingest::BackupOptions options;
  options.group = "fuzz/tar";
  options.time_ns = seconds * 1'000'000'000;
  options.threads = 1;
  ingest::TarImporter importer(*env.repo, options, nullptr);
  return importer.Import(*source);
}

// Walks the snapshot's trees without recursion (a tar can nest deep).
void CheckSnapshot(Env& env, const Snapshot& snapshot) {
  std::vector<ObjectId> pending;
  auto root = ObjectId::FromBytes(AsBytes(snapshot.record.root_tree_id()));
  if (!root) fuzz::Fail("a root tree id that is not one");
  pending.push_back(*root);
  struct Group {
    std::string extents;  // the first name's content, encoded
    uint32_t nlink = 0;
    uint32_t names = 0;
  };
  std::map<uint64_t, Group> groups;
  while (!pending.empty()) {
    ObjectId id = pending.back();
    pending.pop_back();
    auto tree = env.repo->ReadTree(id);
    if (!tree.ok()) fuzz::Fail("a stored tree does not read back: " + tree.status().message());
    const pb::Entry* previous = nullptr;
    for (const pb::Entry& e : tree->entries()) {
      if (!model::CheckEntryName(e.name()).ok()) fuzz::Fail("an invalid name: " + e.name());
      if (previous && !(previous->name() < e.name()))
        fuzz::Fail("a tree not sorted, or a name twice");
      previous = &e;
      if (e.type() == pb::Entry::DIRECTORY) {
        auto sub = ObjectId::FromBytes(AsBytes(e.subtree_id()));
        if (!sub) fuzz::Fail("a directory without a subtree");
        pending.push_back(*sub);
        continue;
      }
      if (e.type() == pb::Entry::FILE) {
        uint64_t total = 0;
        for (const pb::Extent& x : e.extents()) {
          total += x.size();
          if (x.chunk_id().empty()) continue;
          if (x.size() == 0 || x.size() > kMaxChunk)
            fuzz::Fail("a chunk of a size the chunker never cuts");
          auto chunk = ObjectId::FromBytes(AsBytes(x.chunk_id()));
          if (!chunk || !env.store->objects.count({ObjectKind::kChunk, *chunk})) {
            fuzz::Fail("an extent names a chunk that is not stored");
          }
        }
        if (total != e.size()) fuzz::Fail("extents that do not add up to the file's size");
      }
      if (e.inode() != 0) {
        pb::Entry content = e;
        content.clear_name();
        std::string encoded = content.SerializeAsString();
        auto [it, first] = groups.try_emplace(e.inode());
        if (first) {
          it->second.extents = encoded;
          it->second.nlink = e.nlink();
        } else if (it->second.extents != encoded) {
          fuzz::Fail("the names of one hard link group differ");
        }
        ++it->second.names;
      }
    }
  }
  for (const auto& [inode, group] : groups) {
    if (group.names != group.nlink || group.names < 2) {
      fuzz::Fail("a hard link group's link count is not its number of names");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = MakeEnv();
  static int64_t seconds = 1;
  if (size < 1) return 0;
  Bytes archive(data + 1, data + size);
  if (data[0] & 1) FixTarChecksums(archive);

  const size_t committed = env->store->snapshots.size();
  auto first = Import(*env, archive, ++seconds);
  if (!first.ok()) {
    if (env->store->snapshots.size() != committed)
      fuzz::Fail("a failed import committed a snapshot");
  } else {
    CheckSnapshot(*env, first->snapshot);
    auto second = Import(*env, archive, ++seconds);
    if (!second.ok())
      fuzz::Fail("the same bytes imported once, then failed: " + second.status().message());
    if (second->snapshot.record.root_tree_id() != first->snapshot.record.root_tree_id()) {
      fuzz::Fail("the same bytes imported twice give different trees");
    }
  }
  env->store->objects.clear();
  env->store->snapshots.clear();
  return 0;
}
