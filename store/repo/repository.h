// Repository: the keys, the codecs and an ObjectStore, together.
//
// This is where plaintext meets the blind store: objects are sealed on the
// way in and opened (authenticated, decompressed, checked against their id)
// on the way out. Reading methods are thread-safe; writing goes through a
// WriteSession (write_session.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/status.h"
#include "store/chunk/fastcdc.h"
#include "store/crypto/keys.h"
#include "store/crypto/sealer.h"
#include "store/model/coffer.pb.h"
#include "store/objects/object_store.h"

namespace coffer {

struct InitOptions {
  bool encrypted = true;
  crypto::KdfParams kdf = crypto::KdfParams::Default();
  int zstd_level = 3;
  chunk::ChunkerParams chunker;
  // False for `coffer init --key-file`: the wrapped key is only handed back
  // by Initialize, so the repository holds no key at all.
  bool key_in_repository = true;
};

// Asked only when the repository is encrypted.
using PassphraseFn = std::function<Result<std::string>()>;

struct OpenOptions {
  // Accept a repository whose config says it is unencrypted. The config of
  // such a repository cannot be authenticated (there is no key), so whoever
  // can write the store could have cleared the flag of an encrypted one:
  // without this, Open() refuses it. An encrypted repository opens as usual
  // either way.
  bool allow_unencrypted = false;
  // Appended to that refusal: how the caller's user allows it (e.g. the
  // command line option).
  std::string allow_unencrypted_hint;
  // A wrapped key kept outside the repository (--key-file): the only key
  // tried when given; else the repository's key slots are.
  std::optional<Bytes> wrapped_key;
};

// One of the repository's key slots (store/objects/key_slots.h): the key
// wrapped under one passphrase.
struct KeySlot {
  std::string name;         // "key", "key.1", ...
  unsigned number = 0;      // 0 for "key"
  crypto::KdfParams kdf{};  // its Argon2id parameters, when intact
  Status damage;            // why it cannot be read, if it cannot
  bool opened = false;      // this Repository was opened with it
};

// A snapshot record together with where it is indexed.
//
// A record that fails to open (a damaged seal, a protobuf that does not
// decode, or a record naming another group or time than its index key) is
// still listed, as damaged: `ref` is the index's (group, time and id from the
// store's key and value, all that is known), `record` is empty and `damage`
// says why. Such a snapshot can be named, protected and forgotten, but not
// read. A note that fails to open leaves the snapshot usable: `note` is
// empty and `note_damage` says why.
struct Snapshot {
  SnapshotRef ref;
  pb::Snapshot record;        // empty when damaged()
  bool is_protected = false;  // prune and forget leave it alone
  pb::SnapshotNote note;      // e.g. note.has_last_verify()
  // Its newest needs list (objects/needs_list.h); none if made before those.
  std::optional<ObjectId> needs;
  // kCorruption when the record failed to open, saying why ("snapshot
  // 0123456789ab: authentication failed ...").
  Status damage;
  Status note_damage;  // kCorruption when the note failed to open

  bool damaged() const { return !damage.ok(); }
  // OK, or `damage` naming the snapshot: what a reader of it must stop with.
  Status CheckReadable() const;
  // "host/web1/2026-11-24T02:00:00Z"
  std::string name() const;
};

class Repository {
 public:
  // Writes the wrapped key and the config's authentication code (encrypted
  // repositories), then the config, into an empty store. The wrapped key and
  // the repository id are also handed back in *key when given (required
  // when !options.key_in_repository).
  struct NewKey {
    Bytes wrapped;
    std::string repository_id;
  };
  static Status Initialize(ObjectStore& store, const InitOptions& options,
                           std::string_view passphrase, NewKey* key = nullptr);
  // Opens the repository, trusting its config only once it is authenticated:
  // for an encrypted repository the key is unwrapped and the config checked
  // against meta/config-mac before anything uses it.
  // kUnauthenticated for a wrong passphrase; kCorruption when the config
  // does not match its authentication code or has none, when it claims the
  // repository is unencrypted although a key is stored, or when it claims so
  // and `options.allow_unencrypted` is false; kUnsupported for a newer
  // format (an encrypted repository's version is believed only after the
  // check, so a changed version is damage, not a newer format).
  static Result<std::unique_ptr<Repository>> Open(std::unique_ptr<ObjectStore> store,
                                                  const PassphraseFn& passphrase,
                                                  const OpenOptions& options = {});
  ~Repository();

  // The repository's config as stored, readable without the key and NOT
  // authenticated (only Open() checks it): what a server, which has no key,
  // can know. kNotFound if the store is not initialized.
  static Result<pb::RepoConfig> ReadConfig(ObjectStore& store);

  const pb::RepoConfig& config() const { return config_; }
  const crypto::Sealer& sealer() const { return *sealer_; }
  const chunk::FastCdc& chunker() const { return *chunker_; }
  ObjectStore& store() { return *store_; }

  // Fetches and opens an object: kNotFound if missing, kCorruption if damaged.
  Result<Bytes> ReadObject(ObjectKind kind, const ObjectId& id,
                           crypto::IdCheck check = crypto::IdCheck::kIfUnencrypted);
  // A directory's whole tree, its parts joined if it was split
  // (model/tree_split.h).
  Result<pb::Tree> ReadTree(const ObjectId& id);
  // One tree object as stored: possibly an index of parts.
  Result<pb::Tree> ReadTreeObject(const ObjectId& id,
                                  crypto::IdCheck check = crypto::IdCheck::kIfUnencrypted);

  // Ordered by group, then time; damaged records included (see Snapshot).
  // Fails only when the store cannot list.
  Result<std::vector<Snapshot>> ListSnapshots(std::string_view group = {});
  // Resolves GROUP/TIME, GROUP/latest or an id prefix (model/snapshot_name.h)
  // against the index, so a damaged record is found too (by its index id for
  // a prefix): callers that read it check Snapshot::CheckReadable().
  Result<Snapshot> FindSnapshot(std::string_view name);
  // The newest intact snapshot of `group`, if any: what a backup builds on.
  Result<std::optional<Snapshot>> LatestSnapshot(std::string_view group);

  // Marks `snapshot` as kept by prune and forget (or no longer).
  Status SetProtected(const Snapshot& snapshot, bool is_protected);
  // Deletes the snapshot record (not its objects: that is gc's job), damaged
  // or not: by its index key. kFailedPrecondition if it is protected.
  Status Forget(const Snapshot& snapshot);
  // Remembers the outcome of a verification in the snapshot's note.
  Status RecordVerification(const Snapshot& snapshot, const pb::VerifyRecord& record);
  // Changes the snapshot's note with `change` and stores it; a damaged note
  // is replaced by what `change` makes of an empty one.
  Status UpdateNote(const Snapshot& snapshot,
                    const std::function<void(pb::SnapshotNote& note)>& change);

  // The key slots, intact or damaged, in slot order.
  Result<std::vector<KeySlot>> ListKeySlots();
  // Wraps the key under `passphrase` into the lowest free slot; its name.
  // kFailedPrecondition when all kMaxKeySlot + 1 are used.
  Result<std::string> AddKeySlot(std::string_view passphrase, crypto::KdfParams kdf);
  // ObjectStore::RemoveKeySlot: never the last slot.
  Status RemoveKeySlot(std::string_view name);
  // The slot this repository was opened with; empty when opened with a key
  // file (OpenOptions::wrapped_key).
  const std::string& opened_key_slot() const { return opened_key_slot_; }
  // The key wrapped under `passphrase`, stored nowhere (for key files).
  Result<Bytes> WrapKey(std::string_view passphrase, crypto::KdfParams kdf) const;
  // The key itself, for safe keeping (crypto::KeySet::ExportRecord).
  Result<Bytes> ExportKey() const;
  // Puts an exported key back into `store`, which need not open otherwise
  // (its key slots may be lost or damaged): checks that the key is the
  // repository's (its id, then the config's authentication code), wraps it
  // under `passphrase` and stores it in the lowest free slot, whose name it
  // returns; or, when `wrapped_key` is given, hands it back there and stores
  // nothing. kInvalidArgument for another repository's key or an
  // unencrypted repository, kCorruption when the config does not match it.
  static Result<std::string> ImportKey(ObjectStore& store, ByteView record,
                                       std::string_view passphrase, crypto::KdfParams kdf,
                                       Bytes* wrapped_key = nullptr);

  // The entry at `path` ("" or "/" is the root, a synthetic directory).
  // The snapshot's damage if it is damaged.
  Result<pb::Entry> LookupPath(const Snapshot& snapshot, std::string_view path);

  // ReadObject() of every id with one ObjectStore::GetMany(): one answer per
  // id, in order, kNotFound or kCorruption for that object alone. Any other
  // error fails the whole call. Every object is in memory at once: callers
  // bound their batches.
  Result<std::vector<Result<Bytes>>> ReadObjects(
      ObjectKind kind, std::span<const ObjectId> ids,
      crypto::IdCheck check = crypto::IdCheck::kIfUnencrypted);
  // The same, handing each answer to `use` (in order, with its index) as soon
  // as it is opened: beyond the sealed batch, one plaintext at a time is in
  // memory. A whole-call error may come after some answers were handed over.
  using ObjectVisitor = std::function<void(size_t index, Result<Bytes> object)>;
  Status ReadObjects(ObjectKind kind, std::span<const ObjectId> ids, crypto::IdCheck check,
                     const ObjectVisitor& use);

 private:
  Repository() = default;

  std::unique_ptr<ObjectStore> store_;
  pb::RepoConfig config_;
  std::unique_ptr<crypto::KeySet> keys_;
  std::string opened_key_slot_;
  std::unique_ptr<crypto::Sealer> sealer_;
  std::unique_ptr<chunk::FastCdc> chunker_;
};

}  // namespace coffer
