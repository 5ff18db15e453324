#include "store/repo/repository.h"

#include <sodium.h>

#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "store/model/tree_split.h"
#include "store/objects/key_slots.h"
#include "store/objects/meta_keys.h"
#include "store/repo/layout.h"

namespace coffer {
namespace {

Result<pb::RepoConfig> DecodeConfig(ByteView bytes) {
  pb::RepoConfig config;
  COFFER_RETURN_IF_ERROR(model::Decode(bytes, &config, "repository config"));
  return config;
}

// The key slots stored in `store`, in slot order (other "key*" records are
// not slots and are left out).
Result<std::vector<MetaRecord>> StoredKeySlots(ObjectStore& store) {
  COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> records, store.ListMeta(kKeySlotPrefix));
  return OnlyKeySlots(std::move(records));
}

struct OpenedKeys {
  crypto::KeySet keys;
  std::string slot;  // empty: the key file's
};

// The repository's keys, once its config is authenticated with them; or the
// public "keys" of an unencrypted repository if the caller accepts one.
// Every key slot is tried with the one passphrase (Argon2id each, as LUKS
// does), unless a key file's key is given.
Result<OpenedKeys> OpenKeys(ObjectStore& store, const pb::RepoConfig& config, ByteView config_bytes,
                            const PassphraseFn& passphrase, const OpenOptions& options) {
  COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> slots, StoredKeySlots(store));
  COFFER_ASSIGN_OR_RETURN(auto mac, store.GetMeta(kMetaConfigMac));
  if (!config.encrypted()) {
    // Only an encrypted repository has these: the flag was cleared.
    if (!slots.empty() || mac) {
      return Status::Corruption(
          "the repository config says the repository is unencrypted, but it holds an encryption "
          "key: the config was changed by someone without the key, or damaged");
    }
    if (!options.allow_unencrypted) {
      std::string hint =
          options.allow_unencrypted_hint.empty() ? "" : " (" + options.allow_unencrypted_hint + ")";
      return Status::Corruption(
          "the repository claims to be unencrypted, which is refused unless accepted explicitly, "
          "as whoever can write a repository can clear its encryption flag" +
          hint);
    }
    return OpenedKeys{crypto::KeySet::Unencrypted(), ""};
  }
  const bool from_key_file = options.wrapped_key.has_value();
  if (from_key_file) slots = {MetaRecord{"", *options.wrapped_key}};
  if (slots.empty()) {
    return Status::Corruption(
        "the repository holds no key: it was made with --key-file (give --key-file or "
        "COFFER_KEY_FILE), or its key was lost (put an exported copy back with `coffer key "
        "import`)");
  }
  COFFER_ASSIGN_OR_RETURN(std::string pass, passphrase());
  std::optional<OpenedKeys> opened;
  std::vector<std::string> damaged;
  for (const MetaRecord& slot : slots) {
    auto keys = crypto::KeySet::Unwrap(slot.value, pass);
    if (keys.ok()) {
      opened = OpenedKeys{std::move(keys).value(), slot.key};
      break;
    }
    if (keys.status().code() != Code::kUnauthenticated) {
      damaged.push_back((from_key_file ? "the key file" : "key slot " + slot.key) + ": " +
                        keys.status().message());
    }
  }
  sodium_memzero(pass.data(), pass.size());
  if (!opened) {
    if (damaged.empty()) return Status::Unauthenticated("wrong passphrase");
    std::string which;
    for (const std::string& d : damaged) which += (which.empty() ? "" : "; ") + d;
    if (damaged.size() == slots.size()) {
      return Status::Corruption("the repository key is damaged (" + which +
                                "): put an exported copy back with `coffer key import`");
    }
    return Status::Unauthenticated("wrong passphrase (and damaged: " + which + ")");
  }
  if (!mac) {
    return Status::Corruption(
        "the repository config has no authentication code: it was removed by someone without "
        "the key, or damaged");
  }
  if (!opened->keys.ConfigMacMatches(config_bytes, *mac)) {
    return Status::Corruption(
        std::string(from_key_file ? "the key file is another repository's, or " : "") +
        "the repository config does not match its authentication code: it was changed by "
        "someone without the key, or damaged");
  }
  return std::move(*opened);
}

// The lowest slot number `slots` does not use.
Result<std::string> FreeKeySlot(ObjectStore& store) {
  COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> slots, StoredKeySlots(store));
  std::vector<bool> used(kMaxKeySlot + 1);
  for (const MetaRecord& slot : slots) used[*KeySlotNumber(slot.key)] = true;
  for (unsigned n = 0; n <= kMaxKeySlot; ++n) {
    if (!used[n]) return KeySlotName(n);
  }
  return Status::FailedPrecondition("all " + std::to_string(kMaxKeySlot + 1) +
                                    " key slots are in use: remove one first");
}

}  // namespace

std::string Snapshot::name() const {
  return ref.group + "/" + model::FormatTime(ref.time_ns);
}

Status Snapshot::CheckReadable() const {
  if (!damaged()) return Status::Ok();
  return Status::Corruption(name() + ": the snapshot record is damaged: " + damage.message());
}

Repository::~Repository() = default;

Status Repository::Initialize(ObjectStore& store, const InitOptions& options,
                              std::string_view passphrase, NewKey* key) {
  if (!options.key_in_repository && (key == nullptr || !options.encrypted)) {
    return Status::InvalidArgument("a key kept outside the repository needs an encrypted one");
  }
  COFFER_RETURN_IF_ERROR(options.chunker.Validate());
  COFFER_ASSIGN_OR_RETURN(auto existing, store.GetMeta(kMetaConfig));
  if (existing) return Status::AlreadyExists("the repository is already initialized");

  pb::RepoConfig config;
  config.set_format_version(kFormatVersion);
  config.set_encrypted(options.encrypted);
  config.set_chunk_min_size(options.chunker.min_size);
  config.set_chunk_avg_size(options.chunker.avg_size);
  config.set_chunk_max_size(options.chunker.max_size);
  config.set_zstd_level(options.zstd_level);
  std::string repo_id(32, '\0');
  randombytes_buf(repo_id.data(), repo_id.size());
  config.set_repository_id(repo_id);

  const Bytes config_bytes = model::Encode(config);
  if (options.encrypted) {
    crypto::KeySet keys = crypto::KeySet::Generate();
    COFFER_ASSIGN_OR_RETURN(Bytes wrapped, keys.Wrap(passphrase, options.kdf));
    if (options.key_in_repository) {
      COFFER_RETURN_IF_ERROR(store.PutMeta(KeySlotName(0), wrapped));
    }
    if (key) *key = NewKey{wrapped, repo_id};
    COFFER_RETURN_IF_ERROR(store.PutMeta(kMetaConfigMac, keys.ConfigMac(config_bytes)));
  }
  // The config goes last: a repository without it is not initialized.
  return store.PutMeta(kMetaConfig, config_bytes);
}

Result<pb::RepoConfig> Repository::ReadConfig(ObjectStore& store) {
  COFFER_ASSIGN_OR_RETURN(auto config_bytes, store.GetMeta(kMetaConfig));
  if (!config_bytes) return Status::NotFound("the repository is not initialized");
  return DecodeConfig(*config_bytes);
}

Result<std::unique_ptr<Repository>> Repository::Open(std::unique_ptr<ObjectStore> store,
                                                     const PassphraseFn& passphrase,
                                                     const OpenOptions& options) {
  std::unique_ptr<Repository> repo(new Repository());
  COFFER_ASSIGN_OR_RETURN(auto config_bytes, store->GetMeta(kMetaConfig));
  if (!config_bytes) return Status::NotFound("the repository is not initialized");
  COFFER_ASSIGN_OR_RETURN(repo->config_, DecodeConfig(*config_bytes));
  // Nothing below may use the config before OpenKeys() vouched for it.
  COFFER_ASSIGN_OR_RETURN(OpenedKeys opened,
                          OpenKeys(*store, repo->config_, *config_bytes, passphrase, options));
  repo->keys_ = std::make_unique<crypto::KeySet>(std::move(opened.keys));
  repo->opened_key_slot_ = std::move(opened.slot);
  if (repo->config_.format_version() != kFormatVersion) {
    return Status::Unsupported("repository format " +
                               std::to_string(repo->config_.format_version()) +
                               " is not supported by this version of Coffer");
  }
  chunk::ChunkerParams params{repo->config_.chunk_min_size(), repo->config_.chunk_avg_size(),
                              repo->config_.chunk_max_size()};
  if (Status valid = params.Validate(); !valid.ok()) {
    return Status::Corruption("the repository config is invalid: " + valid.message());
  }
  repo->sealer_ = std::make_unique<crypto::Sealer>(*repo->keys_, repo->config_.zstd_level());
  repo->chunker_ = std::make_unique<chunk::FastCdc>(repo->keys_->chunker_seed(), params);
  repo->store_ = std::move(store);
  return repo;
}

Result<std::vector<KeySlot>> Repository::ListKeySlots() {
  COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> stored, StoredKeySlots(*store_));
  std::vector<KeySlot> slots;
  for (const MetaRecord& record : stored) {
    KeySlot slot;
    slot.name = record.key;
    slot.number = *KeySlotNumber(record.key);
    auto kdf = crypto::KeySet::WrappedParams(record.value);
    if (kdf.ok()) {
      slot.kdf = *kdf;
    } else {
      slot.damage = kdf.status();
    }
    slot.opened = record.key == opened_key_slot_;
    slots.push_back(std::move(slot));
  }
  return slots;
}

Result<std::string> Repository::AddKeySlot(std::string_view passphrase, crypto::KdfParams kdf) {
  COFFER_ASSIGN_OR_RETURN(Bytes wrapped, WrapKey(passphrase, kdf));
  COFFER_ASSIGN_OR_RETURN(std::string name, FreeKeySlot(*store_));
  COFFER_RETURN_IF_ERROR(store_->PutMeta(name, wrapped));
  return name;
}

Status Repository::RemoveKeySlot(std::string_view name) {
  return store_->RemoveKeySlot(name);
}

Result<Bytes> Repository::WrapKey(std::string_view passphrase, crypto::KdfParams kdf) const {
  return keys_->Wrap(passphrase, kdf);
}

Result<Bytes> Repository::ExportKey() const {
  return keys_->ExportRecord(AsBytes(config_.repository_id()));
}

Result<std::string> Repository::ImportKey(ObjectStore& store, ByteView record,
                                          std::string_view passphrase, crypto::KdfParams kdf,
                                          Bytes* wrapped_key) {
  COFFER_ASSIGN_OR_RETURN(auto config_bytes, store.GetMeta(kMetaConfig));
  if (!config_bytes) return Status::NotFound("the repository is not initialized");
  COFFER_ASSIGN_OR_RETURN(pb::RepoConfig config, DecodeConfig(*config_bytes));
  if (!config.encrypted()) {
    return Status::InvalidArgument("the repository is unencrypted: it has no key to put back");
  }
  COFFER_ASSIGN_OR_RETURN(crypto::KeySet::Imported imported, crypto::KeySet::ImportRecord(record));
  const std::string id(imported.repository_id.begin(), imported.repository_id.end());
  if (id != config.repository_id()) {
    return Status::InvalidArgument("the key is repository " + ToHex(AsBytes(id)).substr(0, 16) +
                                   "...'s, not this repository's (" +
                                   ToHex(AsBytes(config.repository_id())).substr(0, 16) + "...)");
  }
  COFFER_ASSIGN_OR_RETURN(auto mac, store.GetMeta(kMetaConfigMac));
  if (!mac || !imported.keys.ConfigMacMatches(*config_bytes, *mac)) {
    return Status::Corruption(
        "the key names this repository but does not match its config's authentication code: "
        "the config was changed by someone without the key, or damaged");
  }
  COFFER_ASSIGN_OR_RETURN(Bytes wrapped, imported.keys.Wrap(passphrase, kdf));
  if (wrapped_key) {
    *wrapped_key = std::move(wrapped);
    return std::string();
  }
  COFFER_ASSIGN_OR_RETURN(std::string name, FreeKeySlot(store));
  COFFER_RETURN_IF_ERROR(store.PutMeta(name, wrapped));
  return name;
}

Result<Bytes> Repository::ReadObject(ObjectKind kind, const ObjectId& id, crypto::IdCheck check) {
  auto sealed = store_->Get(kind, id);
  if (!sealed.ok()) {
    return sealed.status().WithContext(std::string(KindName(kind)) + " " + id.short_hex());
  }
  return sealer_->Open(kind, id, *sealed, check);
}

Result<pb::Tree> Repository::ReadTreeObject(const ObjectId& id, crypto::IdCheck check) {
  COFFER_ASSIGN_OR_RETURN(Bytes plain, ReadObject(ObjectKind::kTree, id, check));
  pb::Tree tree;
  COFFER_RETURN_IF_ERROR(model::Decode(plain, &tree, "tree " + id.short_hex()));
  return tree;
}

Result<pb::Tree> Repository::ReadTree(const ObjectId& id) {
  // An unsplit tree (almost all) comes back from AssembleTree as it is.
  COFFER_ASSIGN_OR_RETURN(pb::Tree stored, ReadTreeObject(id));
  return model::AssembleTree(id, std::move(stored),
                             [this](const ObjectId& part) { return ReadTreeObject(part); });
}

namespace {

// Opens one indexed record; what fails to open is returned as damage, so one
// damaged record never hides the others.
Snapshot OpenStoredSnapshot(const crypto::Sealer& sealer, const StoredSnapshot& s) {
  Snapshot snap;
  snap.ref = s.ref;
  snap.is_protected = s.is_protected;
  snap.needs = s.needs;
  Status opened = [&]() -> Status {
    COFFER_ASSIGN_OR_RETURN(Bytes plain, sealer.Open(ObjectKind::kSnapshot, s.ref.id, s.sealed));
    COFFER_RETURN_IF_ERROR(model::Decode(plain, &snap.record, "snapshot " + s.ref.id.short_hex()));
    // The index is visible to the store; trust only what the sealed record says.
    if (snap.record.group() != s.ref.group || snap.record.time_ns() != s.ref.time_ns) {
      return Status::Corruption(
          "snapshot " + s.ref.id.short_hex() + " is indexed under the wrong name (it names " +
          snap.record.group() + "/" + model::FormatTime(snap.record.time_ns()) + ")");
    }
    return Status::Ok();
  }();
  if (!opened.ok()) {
    snap.record.Clear();
    snap.damage = Status::Corruption(opened.message());
    return snap;
  }
  if (!s.sealed_note.empty()) {
    Status note = [&]() -> Status {
      COFFER_ASSIGN_OR_RETURN(Bytes plain,
                              sealer.Open(ObjectKind::kSnapshotNote, s.ref.id, s.sealed_note));
      return model::Decode(plain, &snap.note, "note of snapshot " + s.ref.id.short_hex());
    }();
    if (!note.ok()) {
      snap.note.Clear();
      snap.note_damage = Status::Corruption(note.message());
    }
  }
  return snap;
}

}  // namespace

Result<std::vector<Snapshot>> Repository::ListSnapshots(std::string_view group) {
  COFFER_ASSIGN_OR_RETURN(auto stored, store_->ListSnapshots(group));
  std::vector<Snapshot> out;
  out.reserve(stored.size());
  for (const StoredSnapshot& s : stored) out.push_back(OpenStoredSnapshot(*sealer_, s));
  return out;
}

Result<std::optional<Snapshot>> Repository::LatestSnapshot(std::string_view group) {
  COFFER_RETURN_IF_ERROR(model::ValidateGroup(group));
  COFFER_ASSIGN_OR_RETURN(auto snaps, ListSnapshots(group));
  // A damaged newest record cannot be built on: its tree is unknown.
  while (!snaps.empty() && snaps.back().damaged()) snaps.pop_back();
  if (snaps.empty()) return std::optional<Snapshot>();
  return std::optional<Snapshot>(std::move(snaps.back()));
}

Result<Snapshot> Repository::FindSnapshot(std::string_view name) {
  COFFER_ASSIGN_OR_RETURN(model::SnapshotSelector sel, model::ParseSnapshotName(name));
  using Kind = model::SnapshotSelector::Kind;
  COFFER_ASSIGN_OR_RETURN(auto snaps, ListSnapshots(sel.kind == Kind::kIdPrefix ? "" : sel.group));
  // Matched against the index (group, time and id as the store keeps them),
  // never against the record, so that a damaged record can be named too.
  std::vector<model::IndexedSnapshot> listed;
  for (const Snapshot& s : snaps) listed.push_back({s.ref.group, s.ref.time_ns, s.ref.id.hex()});
  COFFER_ASSIGN_OR_RETURN(size_t found, model::SelectSnapshot(sel, name, listed));
  return std::move(snaps[found]);
}

Status Repository::SetProtected(const Snapshot& snapshot, bool is_protected) {
  return store_->SetSnapshotProtected(snapshot.ref, is_protected).WithContext(snapshot.name());
}

Status Repository::Forget(const Snapshot& snapshot) {
  return store_->DeleteSnapshot(snapshot.ref).WithContext(snapshot.name());
}

Status Repository::RecordVerification(const Snapshot& snapshot, const pb::VerifyRecord& record) {
  return UpdateNote(snapshot,
                    [&record](pb::SnapshotNote& note) { *note.mutable_last_verify() = record; });
}

Status Repository::UpdateNote(const Snapshot& snapshot,
                              const std::function<void(pb::SnapshotNote& note)>& change) {
  COFFER_RETURN_IF_ERROR(snapshot.CheckReadable());
  pb::SnapshotNote note = snapshot.note;  // empty when it was damaged
  change(note);
  // Sealed under the snapshot's id with its own kind: the store can neither
  // read the note nor move it to another snapshot unnoticed.
  COFFER_ASSIGN_OR_RETURN(
      Bytes sealed, sealer_->Seal(ObjectKind::kSnapshotNote, snapshot.ref.id, model::Encode(note)));
  return store_->SetSnapshotNote(snapshot.ref, sealed).WithContext(snapshot.name());
}

Result<pb::Entry> Repository::LookupPath(const Snapshot& snapshot, std::string_view path) {
  COFFER_RETURN_IF_ERROR(snapshot.CheckReadable());
  pb::Entry entry;
  entry.set_type(pb::Entry::DIRECTORY);
  entry.set_mode(0755);
  entry.set_mtime_ns(snapshot.ref.time_ns);
  entry.set_ctime_ns(snapshot.ref.time_ns);
  entry.set_subtree_id(snapshot.record.root_tree_id());
  for (const std::string& part : model::SplitPath(path)) {
    if (entry.type() != pb::Entry::DIRECTORY) {
      return Status::NotFound("'" + std::string(path) + "' is not in " + snapshot.name());
    }
    auto id = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
    if (!id) return Status::Corruption("directory with a malformed tree id");
    COFFER_ASSIGN_OR_RETURN(pb::Tree tree, ReadTree(*id));
    const pb::Entry* child = model::FindEntry(tree, part);
    if (child == nullptr) {
      return Status::NotFound("'" + std::string(path) + "' is not in " + snapshot.name());
    }
    entry = *child;
  }
  return entry;
}

Result<std::vector<Result<Bytes>>> Repository::ReadObjects(ObjectKind kind,
                                                           std::span<const ObjectId> ids,
                                                           crypto::IdCheck check) {
  std::vector<Result<Bytes>> out;
  out.reserve(ids.size());
  COFFER_RETURN_IF_ERROR(ReadObjects(
      kind, ids, check, [&](size_t, Result<Bytes> object) { out.push_back(std::move(object)); }));
  return out;
}

Status Repository::ReadObjects(ObjectKind kind, std::span<const ObjectId> ids,
                               crypto::IdCheck check, const ObjectVisitor& use) {
  size_t answered = 0;
  COFFER_RETURN_IF_ERROR(store_->GetMany(kind, ids, [&](size_t i, Result<ByteView> sealed) {
    if (i != answered || i >= ids.size()) return;  // a store's bug: counted below
    ++answered;
    if (!sealed.ok()) {
      use(i, sealed.status().WithContext(std::string(KindName(kind)) + " " + ids[i].short_hex()));
      return;
    }
    use(i, sealer_->Open(kind, ids[i], *sealed, check));
  }));
  if (answered != ids.size()) {
    return Status::IoError("the store answered " + std::to_string(answered) + " of " +
                           std::to_string(ids.size()) + " objects");
  }
  return Status::Ok();
}

}  // namespace coffer
