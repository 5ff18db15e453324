// ObjectStore: the blind store of sealed objects and the snapshot index.
//
// It keeps opaque sealed bytes by (kind, id) and sealed snapshot records by
// (group, time). It never sees a key or plaintext: sealing and opening happen
// in the Repository above it. Commands hold this interface and never know
// whether they got the in-process RocksDB implementation or a remote one.
//
// Thread-safety: every method may be called concurrently from many threads.
//
// Durability contract: Put() may buffer. CommitSnapshot() first makes every
// object put before it durable, then writes the record durably, so a snapshot
// is never visible before what it references.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"

namespace coffer {

// Where a snapshot record lives in the index. The group and time are visible
// to the store (as in Proxmox Backup Server) so that listing is a range scan.
struct SnapshotRef {
  std::string group;   // "host/web1", "ct/101", ...
  int64_t time_ns = 0; // snapshot time, nanoseconds since the Unix epoch, UTC
  ObjectId id;         // id of the plaintext snapshot record
  auto operator<=>(const SnapshotRef&) const = default;
};

struct StoredSnapshot {
  SnapshotRef ref;
  Bytes sealed;  // the sealed snapshot record
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Repository-wide settings (format version, config, wrapped keys).
  // Returns nullopt when the key is absent.
  virtual Result<std::optional<Bytes>> GetMeta(std::string_view key) = 0;
  // Written durably before returning.
  virtual Status PutMeta(std::string_view key, ByteView value) = 0;

  // For each id, whether an object of `kind` with that id is stored.
  virtual Result<std::vector<bool>> Contains(ObjectKind kind,
                                             std::span<const ObjectId> ids) = 0;
  // Stores `sealed` under (kind, id), replacing any value there. Callers put
  // only ids that Contains() reported absent; two sealings of one id are
  // equivalent, so a race between two writers of one id is harmless.
  virtual Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) = 0;
  // kNotFound if absent; kCorruption if the database itself reports damage.
  virtual Result<Bytes> Get(ObjectKind kind, const ObjectId& id) = 0;

  // Makes everything put so far durable, then writes the record durably.
  virtual Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record) = 0;
  // Snapshots of `group` (all groups when empty), ordered by group, then time.
  virtual Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) = 0;
  // kNotFound if no such snapshot.
  virtual Status DeleteSnapshot(const SnapshotRef& ref) = 0;
};

}  // namespace coffer
