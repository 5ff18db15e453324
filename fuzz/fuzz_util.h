// What the fuzz targets share: the fixed keys they seal and open with, a way
// past the AEAD (sealing a fuzz input as the payload), length-prefixed
// records, an in-memory ObjectStore that answers from a fuzz input, and the
// repository the append_only_request target starts from.
//
// Not thread-safe: libFuzzer runs one input at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/crypto/keys.h"
#include "store/crypto/sealer.h"
#include "store/model/coffer.pb.h"
#include "store/objects/object_store.h"

namespace coffer::fuzz {

// The passphrase of FixedWrappedKey(); Argon2id at libsodium's minimum cost.
inline constexpr std::string_view kFixedPassphrase = "coffer fuzz";
// A wrapped key (store/crypto/keys.h) made once by `fuzz_make_corpus
// --new-key`: every seed is sealed under it, so the seeds open.
ByteView FixedWrappedKey();
// FixedWrappedKey() unwrapped; made once per process.
const crypto::KeySet& FixedKeys();
const crypto::KeySet& NoKeys();  // an unencrypted repository's
// Sealers over those, zstd level 3.
// The config `coffer init` writes by default, with a fixed repository id.
pb::RepoConfig DefaultRepoConfig(bool encrypted);
const crypto::Sealer& FixedSealer();
const crypto::Sealer& PlainSealer();

// The sealed object that encrypts `padded` (a payload with its padding, or
// any bytes) under the fixed key, as Sealer::Seal would with a zero nonce:
// what gets the fuzzer past the tag to padding removal and decompression.
Bytes EncryptPadded(ObjectKind kind, const ObjectId& id, bool compressed, ByteView padded);

// Splits `data` into records of [2-byte little-endian length][bytes]; a
// length past the end takes what is left. At most `max` records.
std::vector<ByteView> SplitRecords(ByteView data, size_t max);
// The inverse, for making seeds.
void AppendRecord(Bytes& out, ByteView record);

// An ObjectStore holding what a fuzz input put in it; everything else is
// refused or empty. The repository code under test reads through it.
class MemoryStore : public ObjectStore {
 public:
  std::map<std::string, Bytes, std::less<>> meta;
  std::map<std::pair<ObjectKind, ObjectId>, Bytes> objects;
  std::vector<StoredSnapshot> snapshots;

  Result<std::optional<Bytes>> GetMeta(std::string_view key) override;
  Status PutMeta(std::string_view key, ByteView value) override;
  Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) override;
  Status RemoveKeySlot(std::string_view name) override;
  Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) override;
  Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) override;
  Result<Bytes> Get(ObjectKind kind, const ObjectId& id) override;
  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>&) override;
  Status EndWrite(WriteId) override;
  Status RefreshWriters(std::span<const WriteId>) override;
  Status CommitSnapshot(const SnapshotRef&, ByteView, WriteId,
                        const std::optional<ObjectId>&) override;
  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) override;
  Status DeleteSnapshot(const SnapshotRef&) override;
  Status SetSnapshotProtected(const SnapshotRef&, bool) override;
  Status SetSnapshotNeeds(const SnapshotRef&, const ObjectId&) override;
  Status SetSnapshotNote(const SnapshotRef&, ByteView) override;
  Result<GcStart> BeginGc() override;
  Status AddGcMarks(uint64_t, std::span<const uint64_t>) override;
  Result<GcResult> FinishGc(uint64_t) override;
  Status AbortGc(uint64_t) override;
};

// What the append_only_request target stores before its first input: the
// meta records `coffer init` writes (under FixedWrappedKey()), a few chunks
// and trees, and snapshots in two groups, one protected and one with a note.
// fuzz_make_corpus names them in that target's seeds. Ids are FixedSealer()'s.
struct FixtureObject {
  ObjectKind kind = ObjectKind::kChunk;
  ObjectId id;
  Bytes plaintext;
};
struct FixtureSnapshot {
  SnapshotRef ref;
  Bytes record;  // the pb::Snapshot, plaintext
  bool is_protected = false;
  Bytes note;  // the pb::SnapshotNote, plaintext; empty for none
};
struct AppendOnlyFixture {
  std::vector<std::pair<std::string, Bytes>> meta;  // key, value
  std::vector<FixtureObject> objects;
  // In this order: a protected one, a plain one in the same group, one with
  // a note in another group.
  std::vector<FixtureSnapshot> snapshots;
};
// Made once per process.
const AppendOnlyFixture& TheAppendOnlyFixture();

// Aborts with `what` on stderr: a broken property is a crash to libFuzzer.
[[noreturn]] void Fail(std::string_view what);

}  // namespace coffer::fuzz
