#include "store/kv/database.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table_properties.h>

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "store/base/file_copy.h"
#include "store/base/file_io.h"
#include "store/kv/fault_injection.h"
#include "store/kv/open_checks.h"
#include "store/kv/rocks_logger.h"
#include "store/kv/rocks_options.h"
#include "store/kv/rocks_status.h"

namespace coffer::kv {

std::string_view ColumnName(Column column) {
  switch (column) {
    case Column::kMeta: return "meta";
    case Column::kChunks: return "chunks";
    case Column::kTrees: return "trees";
    case Column::kSnapshots: return "snapshots";
    case Column::kNeeds: return "needs";
  }
  return "unknown";
}

namespace {

// Chunks and trees are authenticated by whoever opens them (an AEAD tag, or
// the id re-hashed in an unencrypted repository), so RocksDB's checksum over
// every byte read is redundant there; it was a fifth of a server's CPU when
// reading. A flipped bit still surfaces, as kCorruption from opening.
rocksdb::ReadOptions ReadOptionsFor(Column column) {
  rocksdb::ReadOptions options;
  options.verify_checksums = !(column == Column::kChunks || column == Column::kTrees);
  return options;
}

// Every write skips RocksDB's WAL; a synced write is followed by a flush of
// its column family instead (see Durability in database.h for why).
const rocksdb::WriteOptions kNoWal = [] {
  rocksdb::WriteOptions options;
  options.disableWAL = true;
  return options;
}();

// How long a write waits for RocksDB to recover from an earlier full disk.
constexpr auto kResumeWait = std::chrono::seconds(12);

rocksdb::Slice ToSlice(std::string_view s) {
  return {s.data(), s.size()};
}
rocksdb::Slice ToSlice(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The column families RocksDB must find in the directory: its own "default"
// (unused by Coffer) and ours.
std::vector<std::string> ExpectedColumnNames() {
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  for (Column c : kAllColumns) names.emplace_back(ColumnName(c));
  return names;
}

// The smallest string greater than every string starting with `prefix`, or
// nullopt if there is none (empty or all 0xff).
std::optional<std::string> PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<uint8_t>(s.back()) == 0xff) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<uint8_t>(s.back()) + 1);
  return s;
}

}  // namespace

// Owns the RocksDB objects. Members are destroyed in reverse order of
// declaration: column family handles first, then the DB, then the cache it
// uses.
struct Database::Handles {
  struct DbDeleter {
    void operator()(rocksdb::DB* db) const {
      db->Close().PermitUncheckedError();
      delete db;
    }
  };
  // Releases the handles, last opened first, while the DB is still open.
  struct ColumnFamilies {
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;  // [0] is "default"
    void Release() {
      for (auto it = handles.rbegin(); it != handles.rend(); ++it) {
        db->DestroyColumnFamilyHandle(*it).PermitUncheckedError();
      }
      handles.clear();
    }
    ~ColumnFamilies() { Release(); }
  };

  std::string dir;
  // Set when a write or flush failed with an I/O error (a full disk, most
  // often): RocksDB then refuses every write until Resume() succeeds, which
  // the next write tries, so freeing space is enough to go on.
  std::atomic<bool> needs_resume{false};
  // Set for good by any failed write or flush: RocksDB may then have left
  // table or blob files its MANIFEST never got to list, which only the open
  // after an unclean close may delete (open_checks.h).
  std::atomic<bool> saw_write_error{false};
  // Set only under COFFER_IO_FAULT (fault_injection.h); outlives the DB.
  std::unique_ptr<rocksdb::Env> faulty_env;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::unique_ptr<rocksdb::DB, DbDeleter> db;
  ColumnFamilies column_families;

  rocksdb::ColumnFamilyHandle* cf(Column c) const {
    return column_families.handles[1 + static_cast<size_t>(c)];
  }
};

Database::Database(std::unique_ptr<Handles> handles) : handles_(std::move(handles)) {}

Database::~Database() {
  // Only a close that RocksDB reports clean removes the in-use marker
  // (open_checks.h): anything else is treated as a crash at the next open.
  const std::string dir = handles_->dir;
  handles_->column_families.Release();
  uint64_t background_errors = 0;
  handles_->db->GetIntProperty("rocksdb.background-errors", &background_errors);
  const bool closed =
      handles_->db->Close().ok() && !handles_->saw_write_error.load() && background_errors == 0;
  handles_.reset();
  if (closed) (void)MarkClosed(dir);
}

Result<std::unique_ptr<Database>> Database::Create(const std::string& dir) {
  return OpenImpl(dir, /*create=*/true);
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& dir) {
  return OpenImpl(dir, /*create=*/false);
}

Result<std::unique_ptr<Database>> Database::OpenImpl(const std::string& dir, bool create) {
  rocksdb::DBOptions db_options = MakeDbOptions(create);
  std::set<std::string> added_later;  // column families this open adds
  const std::string context = std::string(create ? "creating" : "opening") + " database " + dir;

  // Every RocksDB database has a CURRENT file naming its MANIFEST.
  std::error_code error;
  const bool exists = std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", error);
  if (error) return Status::FromErrno(error.value(), context);
  if (create && exists) return Status::AlreadyExists(context + ": a database is already there");
  if (!create && !exists) {
    // Without CURRENT, RocksDB sees no database; with its files still there
    // it is a damaged one.
    if (!ListDataFiles(dir).empty()) return DamagedDatabase(dir, "its CURRENT file is missing");
    return Status::NotFound(context + ": no database there");
  }
  if (!create) {
    // Reads the MANIFEST without taking the lock: a database of another
    // layout is refused with a clear message before RocksDB opens it.
    std::vector<std::string> found;
    rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, dir, &found);
    if (listed.IsCorruption() || listed.IsNotFound() || listed.IsPathNotFound()) {
      return DamagedDatabase(dir, "its MANIFEST cannot be read (" + listed.ToString() + ")");
    }
    COFFER_RETURN_IF_ERROR(FromRocks(listed, context));
    std::vector<std::string> expected = ExpectedColumnNames();
    std::set<std::string> found_set(found.begin(), found.end());
    for (const std::string& name : expected) {
      if (found_set.count(name)) continue;
      if (name == ColumnName(Column::kNeeds)) {
        added_later.insert(name);  // a database made before needs lists
        continue;
      }
      return DamagedDatabase(dir, "its MANIFEST lacks the column family '" + name + "'");
    }
    if (found_set.size() + added_later.size() != expected.size()) {
      return Status::Unsupported(context + ": it has column families this build does not know");
    }
    db_options.create_missing_column_families = !added_later.empty();
  }

  if (create) {
    std::filesystem::create_directories(dir, error);
    if (error) return Status::FromErrno(error.value(), context);
  }
  db_options.info_log = std::make_shared<FileInfoLogger>(dir, kMaxInfoLogBytes);

  auto handles = std::make_unique<Handles>();
  handles->dir = dir;
  if (std::shared_ptr<rocksdb::FileSystem> faulty = FaultInjectionFromEnvironment()) {
    handles->faulty_env = rocksdb::NewCompositeEnv(faulty);
    db_options.env = handles->faulty_env.get();
  }
  handles->block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors =
      MakeColumnDescriptors(handles->block_cache);
  // Refuses a damaged database before RocksDB could delete any of its files
  // (judged by the column families it has; the open then adds the others).
  if (!create) {
    std::vector<rocksdb::ColumnFamilyDescriptor> present;
    for (const auto& d : descriptors) {
      if (!added_later.count(d.name)) present.push_back(d);
    }
    COFFER_RETURN_IF_ERROR(CheckBeforeOpen(dir, db_options, present));
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_handles;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, descriptors, &cf_handles, &raw);
  if (!s.ok()) return FromRocks(s, context);
  handles->db.reset(raw);
  handles->column_families.db = raw;
  handles->column_families.handles = std::move(cf_handles);
  std::unique_ptr<Database> database(new Database(std::move(handles)));
  COFFER_RETURN_IF_ERROR(MarkInUse(dir));
  return database;
}

Status Database::ResumeIfNeeded() {
  if (!handles_->needs_resume.load()) return Status::Ok();
  // After a full disk RocksDB's SstFileManager polls the free space (every
  // 5 s) and recovers by itself once there is room for its buffer; until
  // then Resume() answers Busy. So wait a little for that, then give up with
  // the error: a write should not hang on a full disk.
  const auto give_up = std::chrono::steady_clock::now() + kResumeWait;
  for (;;) {
    rocksdb::Status s = handles_->db->Resume();
    if (s.ok()) break;
    if (!s.IsBusy() || std::chrono::steady_clock::now() > give_up) {
      return Status::NoSpace("the repository's disk was full and has not enough room yet (" +
                             s.ToString() + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  handles_->needs_resume = false;
  return Status::Ok();
}

Status Database::Written(const rocksdb::Status& s, std::string_view context) {
  if (s.IsIOError() || s.IsNoSpace()) handles_->needs_resume = true;
  if (!s.ok()) handles_->saw_write_error = true;
  return FromRocks(s, context);
}

Status Database::Put(Column column, std::string_view key, ByteView value, Durability durability) {
  COFFER_RETURN_IF_ERROR(ResumeIfNeeded());
  COFFER_RETURN_IF_ERROR(
      Written(handles_->db->Put(kNoWal, handles_->cf(column), ToSlice(key), ToSlice(value)),
              std::string("put to ") + std::string(ColumnName(column))));
  return durability == Durability::kSynced ? FlushNow(column) : Status::Ok();
}

Status Database::Delete(Column column, std::string_view key, Durability durability) {
  COFFER_RETURN_IF_ERROR(ResumeIfNeeded());
  COFFER_RETURN_IF_ERROR(Written(handles_->db->Delete(kNoWal, handles_->cf(column), ToSlice(key)),
                                 std::string("delete from ") + std::string(ColumnName(column))));
  return durability == Durability::kSynced ? FlushNow(column) : Status::Ok();
}

Result<Bytes> Database::Get(Column column, std::string_view key) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      handles_->db->Get(ReadOptionsFor(column), handles_->cf(column), ToSlice(key), &value);
  if (!s.ok()) return FromRocks(s, std::string("get from ") + std::string(ColumnName(column)));
  const auto* data = reinterpret_cast<const uint8_t*>(value.data());
  return Bytes(data, data + value.size());
}

void Database::GetMany(Column column, std::span<const std::string_view> keys,
                       const ValueVisitor& use, bool verify_checksums) {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (std::string_view key : keys) slices.push_back(ToSlice(key));
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  rocksdb::ReadOptions options = ReadOptionsFor(column);
  if (verify_checksums) options.verify_checksums = true;
  handles_->db->MultiGet(options, handles_->cf(column), keys.size(), slices.data(), values.data(),
                         statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i].ok()) {
      use(i, FromRocks(statuses[i], "get from " + std::string(ColumnName(column))));
      continue;
    }
    use(i, ByteView(reinterpret_cast<const uint8_t*>(values[i].data()), values[i].size()));
    values[i].Reset();  // unpins the block or frees the blob as soon as it is used
  }
}

// Contains: RocksDB 7.8 has no way to ask "is this key present" without
// fetching its value; for a blob value that is a read of the whole blob.
// KeyMayExist() is no help: it is a Get() restricted to kBlockCacheTier that
// also copies the value into a std::string. So we do that Get ourselves,
// into a PinnableSlice:
//   - OK: present (found in a memtable, or fully cached);
//   - NotFound: absent, decided from memtables, bloom filters (held in memory
//     by the table readers) and cached blocks alone, without any disk read;
//   - Incomplete: an index/data block or the blob is not cached, so we
//     cannot tell; only then a full Get() decides, which reads the blob.
// So an absent id (the common case during a backup) costs no I/O, and a
// present one at most one blob read. One Get per key, not a MultiGet: a
// MultiGet would hold every present value of the batch in memory at once.
namespace {

// Whether a cache-only Get stopped because the key's value is in a blob file:
// the key was found, and only reading its value would have taken I/O. A
// full Get would read and checksum the whole value (a chunk of up to MiBs)
// just to say it is there: a second import of a VM read its disks' every
// chunk back this way. RocksDB says so only in the message of its
// Incomplete status (BlobSource::GetBlob, 7.8); should that wording change,
// this answers false and Contains falls back to the full Get, slower but
// still right.
bool FoundInBlobFile(const rocksdb::Status& s) {
  const char* state = s.getState();
  return state != nullptr &&
         std::string_view(state).find("Cannot read blob") != std::string_view::npos;
}

}  // namespace

Result<std::vector<bool>> Database::Contains(Column column,
                                             std::span<const std::string_view> keys) {
  rocksdb::ColumnFamilyHandle* cf = handles_->cf(column);
  rocksdb::ReadOptions cache_only;
  cache_only.read_tier = rocksdb::kBlockCacheTier;
  const rocksdb::ReadOptions full;
  std::vector<bool> present(keys.size(), false);
  rocksdb::PinnableSlice value;
  for (size_t i = 0; i < keys.size(); ++i) {
    value.Reset();
    rocksdb::Status s = handles_->db->Get(cache_only, cf, ToSlice(keys[i]), &value);
    if (s.IsIncomplete() && FoundInBlobFile(s)) {
      present[i] = true;
      continue;
    }
    if (s.IsIncomplete()) {
      value.Reset();
      s = handles_->db->Get(full, cf, ToSlice(keys[i]), &value);
    }
    if (s.ok()) {
      present[i] = true;
    } else if (!s.IsNotFound()) {
      return FromRocks(s, std::string("lookup in ") + std::string(ColumnName(column)));
    }
  }
  return present;
}

Status Database::Scan(Column column, std::string_view prefix, const ScanVisitor& visit) {
  rocksdb::ReadOptions options;
  std::optional<std::string> upper = PrefixSuccessor(prefix);
  rocksdb::Slice upper_slice;
  if (upper) {
    upper_slice = ToSlice(*upper);
    options.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(options, handles_->cf(column)));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    rocksdb::Slice v = it->value();
    if (!visit(std::string_view(k.data(), k.size()),
               ByteView(reinterpret_cast<const uint8_t*>(v.data()), v.size()))) {
      break;
    }
  }
  return FromRocks(it->status(), std::string("scan of ") + std::string(ColumnName(column)));
}

Status Database::ScanKeys(Column column, const std::function<bool(std::string_view)>& visit) {
  rocksdb::ReadOptions options;
  options.fill_cache = false;  // one pass over everything: keep the cache for the hot set
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(options, handles_->cf(column)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!visit(std::string_view(k.data(), k.size()))) break;
  }
  return FromRocks(it->status(), std::string("key scan of ") + std::string(ColumnName(column)));
}

Status Database::CompactAll(std::initializer_list<Column> columns) {
  rocksdb::CompactRangeOptions options;
  // Rewrite the last level too: that is where deleted entries' old versions sit.
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  // Relocate every live blob value, so blob files of deleted values go away.
  options.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
  options.blob_garbage_collection_age_cutoff = 1.0;
  COFFER_RETURN_IF_ERROR(ResumeIfNeeded());
  for (Column c : columns) {
    COFFER_RETURN_IF_ERROR(
        Written(handles_->db->CompactRange(options, handles_->cf(c), nullptr, nullptr),
                std::string("compaction of ") + std::string(ColumnName(c))));
  }
  return Status::Ok();
}

namespace {

// The columns whose flushes are small and whose keys rarely overlap from one
// flush to the next (a snapshot's name and time, its meta records, a needs
// list or two per commit). Leveled compaction moves each such file down
// whole instead of merging it, so a repository of 2,000 snapshots had 2,000
// files in each, all opened (cold: two seconds) whenever its server started.
bool GrowsByTinyFiles(Column column) {
  return column == Column::kMeta || column == Column::kSnapshots || column == Column::kNeeds;
}
// Past this many files such a column is merged into one, if it is small
// enough for that to be quick (a large needs column has large flushes,
// which overlap and are merged by ordinary compactions).
constexpr uint64_t kMergeFilesAbove = 32;
constexpr uint64_t kMergeBytesBelow = 256 * kMiB;

// Best effort: the flush before it is what a commit needs; a failed merge is
// tried again after a later flush.
void MergeTinyFiles(rocksdb::DB& db, Column column, rocksdb::ColumnFamilyHandle* cf) {
  if (!GrowsByTinyFiles(column)) return;
  rocksdb::ColumnFamilyMetaData meta;
  db.GetColumnFamilyMetaData(cf, &meta);
  if (meta.file_count <= kMergeFilesAbove || meta.size >= kMergeBytesBelow) return;
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  (void)db.CompactRange(options, cf, nullptr, nullptr);
}

}  // namespace

Status Database::Flush(std::initializer_list<Column> columns) {
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  for (Column c : columns) cfs.push_back(handles_->cf(c));
  rocksdb::FlushOptions options;
  options.wait = true;
  // Flushing now matters more than avoiding a short write stall.
  options.allow_write_stall = true;
  COFFER_RETURN_IF_ERROR(ResumeIfNeeded());
  COFFER_RETURN_IF_ERROR(Written(handles_->db->Flush(options, cfs), "flush"));
  for (Column c : columns) MergeTinyFiles(*handles_->db, c, handles_->cf(c));
  return Status::Ok();
}

Status Database::FlushNow(Column column) {
  rocksdb::FlushOptions options;
  options.wait = true;
  options.allow_write_stall = true;
  COFFER_RETURN_IF_ERROR(Written(handles_->db->Flush(options, handles_->cf(column)),
                                 "writing " + std::string(ColumnName(column))));
  MergeTinyFiles(*handles_->db, column, handles_->cf(column));
  return Status::Ok();
}

Result<uint64_t> Database::ApproximateSizeBytes() {
  uint64_t total = 0;
  for (Column c : kAllColumns) {
    for (const std::string& property :
         {std::string("rocksdb.live-sst-files-size"), rocksdb::DB::Properties::kLiveBlobFileSize}) {
      uint64_t value = 0;
      if (!handles_->db->GetIntProperty(handles_->cf(c), property, &value)) {
        return Status::IoError("size of " + std::string(ColumnName(c)) + ": no property " +
                               property);
      }
      total += value;
    }
  }
  return total;
}

Result<Database::CopyReport> Database::CopyTo(const std::string& new_dir) {
  if (mkdir(new_dir.c_str(), 0700) != 0) return Status::FromErrno(errno, "create " + new_dir);
  rocksdb::DB& db = *handles_->db;
  CopyReport report;
  Status copied = [&]() -> Status {
    COFFER_RETURN_IF_ERROR(ResumeIfNeeded());
    COFFER_RETURN_IF_ERROR(FromRocks(db.DisableFileDeletions(), "copying " + handles_->dir));
    std::vector<rocksdb::LiveFileStorageInfo> live;
    // Flushes first (wal_size_for_flush 0), so the copy's WAL is short.
    rocksdb::Status listed =
        db.GetLiveFilesStorageInfo(rocksdb::LiveFilesStorageInfoOptions(), &live);
    std::vector<FileToCopy> files;
    for (const rocksdb::LiveFileStorageInfo& file : live) {
      FileToCopy copy;
      copy.from = file.directory + "/" + file.relative_filename;
      copy.to = new_dir + "/" + file.relative_filename;
      copy.length = file.size;
      if (!file.replacement_contents.empty()) copy.contents = file.replacement_contents;
      report.files++;
      report.bytes += file.size;
      files.push_back(std::move(copy));
    }
    Status status = listed.ok() ? CopyFilesDurably(files, 4)
                                : FromRocks(listed, "listing the files of " + handles_->dir);
    // The deletions held back meanwhile happen now.
    db.EnableFileDeletions(/*force=*/false).PermitUncheckedError();
    COFFER_RETURN_IF_ERROR(status);
    return SyncDirectory(new_dir);
  }();
  if (!copied.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(new_dir, ignored);
    return copied;
  }
  return report;
}

Result<uint64_t> Database::CountEntries(Column column) {
  rocksdb::TablePropertiesCollection tables;
  COFFER_RETURN_IF_ERROR(
      FromRocks(handles_->db->GetPropertiesOfAllTables(handles_->cf(column), &tables),
                "counting " + std::string(ColumnName(column))));
  uint64_t entries = 0, deletions = 0;
  for (const auto& [name, properties] : tables) {
    entries += properties->num_entries;
    deletions += properties->num_deletions;
  }
  // A file's entries include its deletions, and each deletion stands for an
  // entry written before it.
  return entries >= 2 * deletions ? entries - 2 * deletions : 0;
}

}  // namespace coffer::kv
