// The snapshot index and snapshot records: the index key and value decoder
// (store/objects/snapshot_key.h), then Repository::ListSnapshots over them
// (opening and decoding each record and note, and checking that the record
// names the snapshot it is indexed under, else listing it as damaged), as
// every command lists snapshots.
//
// Input: [mode] then records (fuzz_util.h) in threes: index key, index value
// (32-byte id, sealed record), sealed note (empty: none). Mode bit 0: an
// unencrypted repository; bit 1: the record and note are plaintexts (an
// encoded pb::Snapshot and pb::SnapshotNote) that the target seals first,
// under the id the record hashes to, so they pass the tag; bit 2: the first
// snapshot is protected.
#include "fuzz/fuzz_util.h"
#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "store/objects/snapshot_key.h"
#include "store/repo/repository.h"

using namespace coffer;

namespace {

struct Opened {
  fuzz::MemoryStore* store;  // owned by repo
  std::unique_ptr<Repository> repo;
};

Opened OpenRepository(bool encrypted) {
  auto store = std::make_unique<fuzz::MemoryStore>();
  InitOptions options;
  options.encrypted = encrypted;
  pb::RepoConfig config;
  config.set_format_version(1);
  config.set_encrypted(encrypted);
  config.set_chunk_min_size(options.chunker.min_size);
  config.set_chunk_avg_size(options.chunker.avg_size);
  config.set_chunk_max_size(options.chunker.max_size);
  config.set_zstd_level(3);
  store->meta["config"] = model::Encode(config);
  if (encrypted) {
    ByteView key = fuzz::FixedWrappedKey();
    store->meta["key"] = Bytes(key.begin(), key.end());
    store->meta["config-mac"] = fuzz::FixedKeys().ConfigMac(store->meta["config"]);
  }
  fuzz::MemoryStore* raw = store.get();
  OpenOptions open;
  open.allow_unencrypted = true;
  auto repo = Repository::Open(
      std::move(store), [] { return Result<std::string>(std::string(fuzz::kFixedPassphrase)); },
      open);
  if (!repo.ok()) fuzz::Fail("cannot open the repository: " + repo.status().message());
  return {raw, std::move(repo).value()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Opened encrypted = OpenRepository(true);
  static Opened unencrypted = OpenRepository(false);
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  Opened& opened = (mode & 1) ? unencrypted : encrypted;
  const bool seal = (mode & 2) != 0;
  const crypto::Sealer& sealer = (mode & 1) ? fuzz::PlainSealer() : fuzz::FixedSealer();

  const std::vector<ByteView> records = fuzz::SplitRecords({data + 1, size - 1}, 3 * 16);
  opened.store->snapshots.clear();
  for (size_t i = 0; i + 1 < records.size(); i += 3) {
    const std::string_view key = AsChars(records[i]);
    Bytes value(records[i + 1].begin(), records[i + 1].end());
    const ByteView note = i + 2 < records.size() ? records[i + 2] : ByteView();
    Result<StoredSnapshot> stored = DecodeSnapshot(key, value);
    if (!stored.ok()) {
      if (stored.status().code() != Code::kCorruption)
        fuzz::Fail("DecodeSnapshot: not kCorruption");
      continue;
    }
    // What the decoder accepts, the store could have written.
    if (!CheckSnapshotGroup(stored->ref.group).ok())
      fuzz::Fail("decoded a group the store refuses");
    if (SnapshotKey(stored->ref.group, stored->ref.time_ns) != key)
      fuzz::Fail("the key does not round-trip");
    if (seal) {
      stored->ref.id = sealer.IdOf(stored->sealed);
      Result<Bytes> record = sealer.Seal(ObjectKind::kSnapshot, stored->ref.id, stored->sealed);
      if (!record.ok()) return 0;  // too large
      stored->sealed = std::move(record).value();
      if (!note.empty()) {
        Result<Bytes> sealed_note = sealer.Seal(ObjectKind::kSnapshotNote, stored->ref.id, note);
        if (!sealed_note.ok()) return 0;
        stored->sealed_note = std::move(sealed_note).value();
      }
    } else {
      stored->sealed_note.assign(note.begin(), note.end());
    }
    stored->is_protected = i == 0 && (mode & 4) != 0;
    opened.store->snapshots.push_back(std::move(stored).value());
  }

  Result<std::vector<Snapshot>> listed = opened.repo->ListSnapshots();
  if (!listed.ok()) {
    if (listed.status().code() != Code::kCorruption) {
      fuzz::Fail("ListSnapshots: not kCorruption: " + listed.status().message());
    }
    return 0;
  }
  for (const Snapshot& s : *listed) {
    if (s.damaged()) {
      if (s.damage.code() != Code::kCorruption) fuzz::Fail("damage that is not kCorruption");
      if (s.record.ByteSizeLong() != 0) fuzz::Fail("a damaged snapshot with a record");
      continue;
    }
    if (s.record.group() != s.ref.group || s.record.time_ns() != s.ref.time_ns) {
      fuzz::Fail("a snapshot listed under another name than its record's");
    }
    (void)s.name();
    (void)model::ValidateGroup(s.ref.group);
    (void)ObjectId::FromBytes(AsBytes(s.record.root_tree_id()));
  }
  return 0;
}
