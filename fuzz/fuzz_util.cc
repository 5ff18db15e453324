#include "fuzz/fuzz_util.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "store/model/coffer.pb.h"
#include "store/model/tree.h"

namespace coffer::fuzz {
namespace {

// Made by `fuzz_make_corpus --new-key`: version 1, opslimit 1, memlimit 8 KiB.
constexpr uint8_t kFixedWrappedKey[] = {
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x63, 0x3c, 0x26, 0x85, 0x06, 0x0c, 0x72, 0xfd, 0x92, 0x7e, 0x23, 0x10, 0x16, 0x2b, 0xa9,
    0xf0, 0x44, 0x7a, 0xfe, 0xcc, 0xcd, 0x44, 0xe8, 0x71, 0x2e, 0x4d, 0x6a, 0xed, 0x07, 0xf8, 0x9e,
    0x32, 0x63, 0xa1, 0x8e, 0xf0, 0x6d, 0x01, 0xa2, 0x3e, 0x8b, 0x0b, 0x2e, 0x5b, 0x40, 0xbd, 0x27,
    0x4e, 0x94, 0xa6, 0xbc, 0x81, 0xef, 0x40, 0x12, 0x15, 0x93, 0x30, 0xf6, 0xc0, 0xc6, 0xfb, 0xca,
    0x97, 0x90, 0xf4, 0x92, 0x50, 0xa2, 0xe8, 0xf8, 0x0f, 0x7c, 0x18, 0x33, 0x86, 0x1a, 0x4c, 0xc2,
    0x43, 0x79, 0xcd, 0xb2, 0x44, 0xa2, 0xdf, 0x93, 0x56, 0x00, 0xa5, 0x59, 0xd1, 0x33, 0xef, 0xaf,
    0x9f, 0x5c, 0x06, 0x90, 0x9a, 0xeb, 0xdf, 0x66, 0xe6,
};
static_assert(sizeof kFixedWrappedKey == 121);

}  // namespace

ByteView FixedWrappedKey() {
  return {kFixedWrappedKey, sizeof kFixedWrappedKey};
}

const crypto::KeySet& FixedKeys() {
  static const crypto::KeySet* keys = [] {
    Result<crypto::KeySet> unwrapped = crypto::KeySet::Unwrap(FixedWrappedKey(), kFixedPassphrase);
    if (!unwrapped.ok()) Fail("the fixed key does not unwrap: " + unwrapped.status().message());
    return new crypto::KeySet(std::move(unwrapped).value());
  }();
  return *keys;
}

const crypto::KeySet& NoKeys() {
  static const crypto::KeySet* keys = new crypto::KeySet(crypto::KeySet::Unencrypted());
  return *keys;
}

const crypto::Sealer& FixedSealer() {
  static const crypto::Sealer* sealer = new crypto::Sealer(FixedKeys(), 3);
  return *sealer;
}

const crypto::Sealer& PlainSealer() {
  static const crypto::Sealer* sealer = new crypto::Sealer(NoKeys(), 3);
  return *sealer;
}

Bytes EncryptPadded(ObjectKind kind, const ObjectId& id, bool compressed, ByteView padded) {
  // The sealed layout of store/crypto/sealer.h, nonce all zeros.
  constexpr size_t kHeader = 2 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  const uint8_t flags =
      crypto::Sealer::kFlagEncrypted | (compressed ? crypto::Sealer::kFlagCompressed : 0);
  Bytes out(kHeader + padded.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  out[0] = crypto::Sealer::kFormatVersion;
  out[1] = flags;
  uint8_t ad[3 + ObjectId::kSize] = {crypto::Sealer::kFormatVersion, flags,
                                     static_cast<uint8_t>(kind)};
  std::memcpy(ad + 3, id.bytes.data(), ObjectId::kSize);
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kHeader, nullptr, padded.data(),
                                             padded.size(), ad, sizeof ad, nullptr, out.data() + 2,
                                             FixedKeys().data_key().data());
  return out;
}

std::vector<ByteView> SplitRecords(ByteView data, size_t max) {
  std::vector<ByteView> records;
  while (data.size() >= 2 && records.size() < max) {
    size_t n = data[0] | (size_t{data[1]} << 8);
    data = data.subspan(2);
    n = std::min(n, data.size());
    records.push_back(data.first(n));
    data = data.subspan(n);
  }
  return records;
}

void AppendRecord(Bytes& out, ByteView record) {
  if (record.size() > 0xffff) Fail("a seed record above 64 KiB");
  out.push_back(static_cast<uint8_t>(record.size()));
  out.push_back(static_cast<uint8_t>(record.size() >> 8));
  out.insert(out.end(), record.begin(), record.end());
}

Result<std::optional<Bytes>> MemoryStore::GetMeta(std::string_view key) {
  auto it = meta.find(key);
  if (it == meta.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}
Status MemoryStore::PutMeta(std::string_view key, ByteView value) {
  meta[std::string(key)] = Bytes(value.begin(), value.end());
  return Status::Ok();
}
Result<std::vector<MetaRecord>> MemoryStore::ListMeta(std::string_view prefix) {
  std::vector<MetaRecord> records;
  for (auto it = meta.lower_bound(prefix); it != meta.end() && it->first.starts_with(prefix);
       ++it) {
    records.push_back({it->first, it->second});
  }
  return records;
}
Status MemoryStore::RemoveKeySlot(std::string_view name) {
  auto it = meta.find(name);
  if (it == meta.end()) return Status::NotFound("absent");
  meta.erase(it);
  return Status::Ok();
}
Result<std::vector<bool>> MemoryStore::Contains(ObjectKind kind, std::span<const ObjectId> ids) {
  std::vector<bool> out;
  for (const ObjectId& id : ids) out.push_back(objects.count({kind, id}) > 0);
  return out;
}
Status MemoryStore::Put(ObjectKind kind, const ObjectId& id, ByteView sealed) {
  objects[{kind, id}] = Bytes(sealed.begin(), sealed.end());
  return Status::Ok();
}
Result<Bytes> MemoryStore::Get(ObjectKind kind, const ObjectId& id) {
  auto it = objects.find({kind, id});
  if (it == objects.end()) return Status::NotFound(std::string(KindName(kind)) + " is absent");
  return it->second;
}
Result<WriteId> MemoryStore::BeginWrite(const std::optional<SnapshotRef>&) {
  return Status::Unsupported("read only");
}
Status MemoryStore::EndWrite(WriteId) {
  return Status::Ok();
}
Status MemoryStore::RefreshWriters(std::span<const WriteId>) {
  return Status::Ok();
}
Status MemoryStore::CommitSnapshot(const SnapshotRef&, ByteView, WriteId,
                                   const std::optional<ObjectId>&) {
  return Status::Unsupported("read only");
}
Result<std::vector<StoredSnapshot>> MemoryStore::ListSnapshots(std::string_view group) {
  std::vector<StoredSnapshot> out;
  for (const StoredSnapshot& s : snapshots) {
    if (group.empty() || s.ref.group == group) out.push_back(s);
  }
  return out;
}
Status MemoryStore::DeleteSnapshot(const SnapshotRef&) {
  return Status::Unsupported("read only");
}
Status MemoryStore::SetSnapshotProtected(const SnapshotRef&, bool) {
  return Status::Unsupported("read only");
}
Status MemoryStore::SetSnapshotNeeds(const SnapshotRef&, const ObjectId&) {
  return Status::NotFound("no such snapshot");
}

Status MemoryStore::SetSnapshotNote(const SnapshotRef&, ByteView) {
  return Status::Unsupported("read only");
}
Result<GcStart> MemoryStore::BeginGc() {
  return Status::Unsupported("read only");
}
Status MemoryStore::AddGcMarks(uint64_t, std::span<const uint64_t>) {
  return Status::Unsupported("read only");
}
Result<GcResult> MemoryStore::FinishGc(uint64_t) {
  return Status::Unsupported("read only");
}
Status MemoryStore::AbortGc(uint64_t) {
  return Status::Ok();
}

namespace {

Bytes BytesOf(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

FixtureObject MakeFixtureObject(ObjectKind kind, Bytes plaintext) {
  const ObjectId id = FixedSealer().IdOf(plaintext);
  return FixtureObject{kind, id, std::move(plaintext)};
}

std::string IdString(const ObjectId& id) {
  return std::string(AsChars(id.view()));
}

}  // namespace

pb::RepoConfig DefaultRepoConfig(bool encrypted) {
  pb::RepoConfig config;
  config.set_format_version(1);
  config.set_encrypted(encrypted);
  config.set_chunk_min_size(256 << 10);
  config.set_chunk_avg_size(1 << 20);
  config.set_chunk_max_size(4 << 20);
  config.set_zstd_level(3);
  config.set_repository_id(std::string(32, '\x42'));
  return config;
}

const AppendOnlyFixture& TheAppendOnlyFixture() {
  static const AppendOnlyFixture* fixture = [] {
    auto* f = new AppendOnlyFixture;
    // The records `coffer init` writes (repository.cc): config, its code, the key.
    const Bytes config_bytes = model::Encode(DefaultRepoConfig(/*encrypted=*/true));
    f->meta.emplace_back("key", Bytes(FixedWrappedKey().begin(), FixedWrappedKey().end()));
    f->meta.emplace_back("config-mac", FixedKeys().ConfigMac(config_bytes));
    f->meta.emplace_back("config", config_bytes);

    // Two files' chunks, the folder that holds them and the root above it.
    const FixtureObject readme =
        MakeFixtureObject(ObjectKind::kChunk, BytesOf("Coffer keeps this safe.\n"));
    const FixtureObject data_a = MakeFixtureObject(ObjectKind::kChunk, Bytes(4096, 0xa5));
    const FixtureObject data_b = MakeFixtureObject(ObjectKind::kChunk, Bytes(1000, 0x5a));
    pb::Tree docs;
    pb::Entry* file = docs.add_entries();
    file->set_name("data.bin");
    file->set_mode(0644);
    file->set_size(5096);
    for (const FixtureObject* chunk : {&data_a, &data_b}) {
      pb::Extent* extent = file->add_extents();
      extent->set_chunk_id(IdString(chunk->id));
      extent->set_size(chunk->plaintext.size());
    }
    file = docs.add_entries();
    file->set_name("readme.txt");
    file->set_mode(0644);
    file->set_size(readme.plaintext.size());
    pb::Extent* extent = file->add_extents();
    extent->set_chunk_id(IdString(readme.id));
    extent->set_size(readme.plaintext.size());
    const FixtureObject docs_tree = MakeFixtureObject(ObjectKind::kTree, model::Encode(docs));
    pb::Tree root;
    pb::Entry* dir = root.add_entries();
    dir->set_name("docs");
    dir->set_type(pb::Entry::DIRECTORY);
    dir->set_mode(0755);
    dir->set_subtree_id(IdString(docs_tree.id));
    const FixtureObject root_tree = MakeFixtureObject(ObjectKind::kTree, model::Encode(root));
    f->objects = {readme, data_a, data_b, docs_tree, root_tree};

    auto snapshot = [&](const std::string& group, int64_t seconds, bool is_protected,
                        std::string_view comment) {
      pb::Snapshot record;
      record.set_version(1);
      record.set_group(group);
      record.set_time_ns(seconds * 1'000'000'000);
      record.set_root_tree_id(IdString(root_tree.id));
      record.add_paths("srv/docs");
      record.set_hostname("web1");
      record.set_username("root");
      FixtureSnapshot s;
      s.record = model::Encode(record);
      s.ref = SnapshotRef{group, record.time_ns(), FixedSealer().IdOf(s.record)};
      s.is_protected = is_protected;
      if (!comment.empty()) {
        pb::SnapshotNote note;
        note.set_comment(std::string(comment));
        note.mutable_last_verify()->set_time_ns((seconds + 3600) * 1'000'000'000);
        note.mutable_last_verify()->set_ok(true);
        s.note = model::Encode(note);
      }
      f->snapshots.push_back(std::move(s));
    };
    snapshot("host/web1", 1'795'485'600, /*is_protected=*/true, "");
    snapshot("host/web1", 1'795'489'200, /*is_protected=*/false, "");
    snapshot("ct/101", 1'795'485'600, /*is_protected=*/false, "before the upgrade");
    return f;
  }();
  return *fixture;
}

void Fail(std::string_view what) {
  std::fprintf(stderr, "fuzz property broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace coffer::fuzz
