// kv::Database: the repository's RocksDB database, its column families and
// their options. store/kv is the only code in Coffer that includes RocksDB
// headers; everything above it sees keys, values and coffer::Status.
//
// Column families (all created by Create(), never added later):
//   meta       repository settings: format version, config, wrapped keys
//   chunks     object id -> sealed chunk. BlobDB: values >= 4 KiB live in blob
//              files; no compression (values are compressed and encrypted)
//   trees      object id -> sealed tree; no compression
//   snapshots  snapshot key -> snapshot value (encoded by store/objects)
// chunks and trees carry 10-bit bloom filters so a lookup of an absent key
// costs no disk read; all share one 32 MiB LRU block cache.
//
// Durability: the write ordering the whole product rests on.
//   - Durability::kBuffered writes (chunks, trees) skip the WAL: they are
//     large, and writing them twice (WAL, then blob file) halves throughput.
//     They live only in memory until their column family is flushed; a crash
//     before that loses them.
//   - Flush(columns) writes those memtables to SST and blob files, syncs them,
//     their directory and the MANIFEST, and returns only then.
//   - Durability::kSynced writes (meta, snapshots) are flushed the same way,
//     their column family alone, before the call returns.
//   Nothing goes through RocksDB's WAL. A WAL append that failed (a full
//   disk) leaves RocksDB 7.8 appending to the failed file again after
//   Resume(), which asserts (fatal in Debian's build); a flush that fails
//   is recovered from cleanly. A synced write costs ~1.5 ms instead of
//   ~0.3 ms, paid once per commit, forget or note.
//   One difference remains: a synced write whose flush fails (a full disk)
//   is reported as failed but stays in the memtable, and becomes durable if
//   RocksDB later recovers and flushes it before the process ends. A commit
//   flushes the snapshot's objects first, so such a snapshot is complete;
//   it is simply there although the backup said otherwise. (Ingesting each
//   synced write as a file would avoid that, but RocksDB 7.8 asserts in
//   IngestExternalFile's error path on a full disk.)
// A snapshot commit is: Flush({kChunks, kTrees, kNeeds}), then the needs
// pointer and the snapshot record with kSynced. So after a SIGKILL or power loss at any point,
// every visible snapshot's objects are on disk; objects written after the last commit may be lost,
// which is harmless because nothing references them.
//
// Thread-safety: every method may be called concurrently from many threads.
// Only one Database (in any process) may have a directory open at a time;
// Open() of a directory in use fails with kBusy.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace rocksdb {
class Status;
}

namespace coffer::kv {

// The column families. Their names are written to disk: never rename.
// kNeeds came later: opening a database made without it adds it.
enum class Column : uint8_t { kMeta = 0, kChunks = 1, kTrees = 2, kSnapshots = 3, kNeeds = 4 };
inline constexpr size_t kColumnCount = 5;
inline constexpr Column kAllColumns[kColumnCount] = {Column::kMeta, Column::kChunks, Column::kTrees,
                                                     Column::kSnapshots, Column::kNeeds};
// "meta", "chunks", "trees", "snapshots", "needs".
std::string_view ColumnName(Column column);

enum class Durability {
  kBuffered,  // no WAL: durable only after Flush() of its column family
  kSynced,    // on disk (flushed and synced) before the call returns
};

// Called for each entry of a Scan(); return false to stop early. The views
// are valid only during the call.
using ScanVisitor = std::function<bool(std::string_view key, ByteView value)>;

class Database {
 public:
  // Creates a new database in `dir` (created if missing) with every column
  // family. kAlreadyExists if `dir` already holds a database.
  static Result<std::unique_ptr<Database>> Create(const std::string& dir);
  // Opens an existing database. kNotFound if `dir` holds none; kBusy if
  // another Database, in this process or another, has it open.
  static Result<std::unique_ptr<Database>> Open(const std::string& dir);

  // Closes the database: column families first, then the DB. A clean close
  // flushes buffered writes (RocksDB does so for memtables without a WAL);
  // only a crash loses them.
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Stores `value` under `key`, replacing any value there.
  Status Put(Column column, std::string_view key, ByteView value, Durability durability);
  // Deletes `key`; deleting an absent key is not an error.
  Status Delete(Column column, std::string_view key, Durability durability);
  // kNotFound if `key` is absent.
  Result<Bytes> Get(Column column, std::string_view key);
  // Get() of every key in one RocksDB MultiGet (one pass over the memtables
  // and files for the whole batch), handing `use` an answer per key, in
  // order: a view of the value as RocksDB holds it (valid until `use`
  // returns), or why there is none. Every value is in memory at once:
  // callers bound their batches.
  // `verify_checksums` makes RocksDB check every block and blob record read
  // even in the columns whose values the key authenticates (chunks, trees),
  // which are otherwise read without.
  using ValueVisitor = std::function<void(size_t index, Result<ByteView> value)>;
  void GetMany(Column column, std::span<const std::string_view> keys, const ValueVisitor& use,
               bool verify_checksums = false);
  // For each key, whether it is present. Absent keys are answered from the
  // memtables and bloom filters without disk reads; see database.cc.
  Result<std::vector<bool>> Contains(Column column, std::span<const std::string_view> keys);
  // Visits, in key order, every entry whose key starts with `prefix` (every
  // entry when `prefix` is empty). Stops at the first error.
  Status Scan(Column column, std::string_view prefix, const ScanVisitor& visit);

  // Visits every key of `column` in order, without handing out values (garbage
  // collection needs only the keys). Stops at the first error or when `visit`
  // returns false.
  Status ScanKeys(Column column, const std::function<bool(std::string_view key)>& visit);

  // Rewrites every file of `columns` so that deleted entries and the blob
  // values only they referenced stop taking disk space. Slow: the whole column
  // is read and written again. Used by garbage collection after a sweep.
  Status CompactAll(std::initializer_list<Column> columns);

  // Makes every buffered write to `columns` made before the call durable
  // (see the ordering above). Waits for the flush to finish.
  Status Flush(std::initializer_list<Column> columns);

  // Estimated bytes on disk of all column families (SST and blob files).
  Result<uint64_t> ApproximateSizeBytes();

  // Copies the database as it is now into `new_dir`, which must not exist,
  // as a database Open() opens: the memtables are flushed, then every live
  // file is copied while RocksDB deletes none (a Checkpoint's method, but
  // always copies, never hard links, so the copy shares no file with this
  // database), each file and the folder fsynced before this returns. Writes
  // may go on meanwhile; the copy has those made before the call. On error
  // nothing is left at `new_dir`.
  struct CopyReport {
    uint64_t files = 0;
    uint64_t bytes = 0;
  };
  Result<CopyReport> CopyTo(const std::string& new_dir);

  // Keys of `column` in its table files (flushed ones), counted from the
  // files' properties without reading them, for columns whose keys are
  // written once and deleted at most once (objects). Exact while no deletion
  // awaits compaction (gc compacts after it deletes, so only a gc stopped
  // half-way leaves some); otherwise it may be low by a few.
  Result<uint64_t> CountEntries(Column column);

  struct Handles;  // RocksDB objects; defined in database.cc

 private:
  explicit Database(std::unique_ptr<Handles> handles);
  // After a failed write, asks RocksDB to leave its read-only error state.
  Status ResumeIfNeeded();
  // Writes `column`'s memtable to disk and syncs it, waiting for that.
  Status FlushNow(Column column);
  // Maps the status of a write, noting an I/O error for ResumeIfNeeded().
  Status Written(const rocksdb::Status& s, std::string_view context);
  static Result<std::unique_ptr<Database>> OpenImpl(const std::string& dir, bool create);

  std::unique_ptr<Handles> handles_;
};

}  // namespace coffer::kv
