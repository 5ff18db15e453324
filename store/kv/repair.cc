#include "store/kv/repair.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/sst_file_reader.h>

#include <cerrno>
#include <filesystem>
#include <set>

#include "store/base/file_io.h"
#include "store/base/unique_fd.h"
#include "store/kv/blob_file.h"
#include "store/kv/database.h"
#include "store/kv/open_checks.h"
#include "store/kv/rocks_logger.h"
#include "store/kv/rocks_options.h"
#include "store/kv/rocks_status.h"

namespace coffer::kv {
namespace {

namespace fs = std::filesystem;

constexpr size_t kObjectIdBytes = 32;  // every chunk key is an object id

// Step 1: every regular file of `dir` into `keep_dir`, by hard link where
// the filesystem allows (no space used: RocksDB never writes a file again
// once written, it only creates and deletes them).
Status KeepCopy(const std::string& dir, const std::string& keep_dir) {
  std::error_code error;
  if (fs::exists(keep_dir, error)) {
    return Status::AlreadyExists(keep_dir + " already exists");
  }
  if (::mkdir(keep_dir.c_str(), 0700) != 0) return Status::FromErrno(errno, "create " + keep_dir);
  for (const fs::directory_entry& e : fs::directory_iterator(dir, error)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    const std::string from = dir + "/" + name, to = keep_dir + "/" + name;
    if (::link(from.c_str(), to.c_str()) == 0) continue;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
      return Status::FromErrno(errno, "link " + from + " to " + to);
    }
    fs::copy_file(from, to, error);
    if (error) return Status::FromErrno(error.value(), "copy " + from + " to " + to);
  }
  if (error) return Status::FromErrno(error.value(), "list " + dir);
  return SyncDirectory(keep_dir);
}

bool IsBlobFile(const std::string& name) {
  return name.ends_with(".blob");
}
bool IsTableFile(const std::string& name) {
  return name.ends_with(".sst");
}
bool IsOptionsFile(const std::string& name) {
  return name.starts_with("OPTIONS-");
}

// Whether a table file holds entries of the chunks column family (its
// properties say); an unreadable one is left to RepairDB, which sets it
// aside.
bool IsChunkTable(const std::string& path) {
  rocksdb::SstFileReader reader{rocksdb::Options()};
  if (!reader.Open(path).ok()) return false;
  auto properties = reader.GetTableProperties();
  return properties && properties->column_family_name == ColumnName(Column::kChunks);
}

struct MovedAside {
  std::vector<std::string> blob_files;
  std::vector<std::string> chunk_tables;
};

// Step 2: the blob files, the chunks' table files and the OPTIONS files
// leave the database folder (step 1 kept them).
Result<MovedAside> MoveAside(const std::string& dir) {
  MovedAside moved;
  std::error_code error;
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, error)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  if (error) return Status::FromErrno(error.value(), "list " + dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    if (IsBlobFile(name)) {
      moved.blob_files.push_back(name);
    } else if (IsTableFile(name) && IsChunkTable(path)) {
      moved.chunk_tables.push_back(name);
    } else if (!IsOptionsFile(name)) {
      continue;
    }
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "remove " + path);
  }
  COFFER_RETURN_IF_ERROR(SyncDirectory(dir));
  return moved;
}

std::set<std::string> LostFiles(const std::string& dir) {
  std::set<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& e : fs::directory_iterator(dir + "/lost", error)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

// A read-only mapping of a whole file.
class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
    MappedFile file;
    file.size_ = static_cast<size_t>(st.st_size);
    if (file.size_ == 0) return file;
    void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) return Status::FromErrno(errno, "map " + path);
    file.data_ = static_cast<const uint8_t*>(p);
    ::madvise(p, file.size_, MADV_SEQUENTIAL);
    return file;
  }
  MappedFile(MappedFile&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(other.size_) {}
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  ByteView bytes() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Whether a value read from a chunks table file is a reference into a blob
// file rather than a chunk: RocksDB's blob index (db/blob/blob_index.h),
// type 1, then the file number, offset and size as varints, then the
// compression byte. SstFileReader hands such entries over as they are. A
// chunk stored inline is shorter than 4 KiB; a reference names at least
// that much, so a chunk that happens to parse as one (a few bytes of an
// unencrypted repository) would also have to claim a size it cannot have.
bool IsBlobReference(ByteView value) {
  constexpr uint8_t kBlobIndexType = 1;
  if (value.empty() || value.size() > 32 || value[0] != kBlobIndexType) return false;
  size_t pos = 1;
  uint64_t fields[3] = {0, 0, 0};
  for (uint64_t& field : fields) {
    int shift = 0;
    for (;;) {
      if (pos >= value.size() || shift > 63) return false;
      const uint8_t byte = value[pos++];
      field |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
      shift += 7;
    }
  }
  return pos + 1 == value.size() && fields[2] >= kMinBlobBytes;
}

// Step 4a: chunks from the kept blob files.
Status PutBackFromBlobFiles(Database& db, const std::string& keep_dir,
                            const std::vector<std::string>& blob_files, RepairReport& report) {
  for (const std::string& name : blob_files) {
    COFFER_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(keep_dir + "/" + name));
    Status put_status;
    auto summary = ReadBlobFile(file.bytes(), [&](ByteView key, ByteView value) {
      if (!put_status.ok() || key.size() != kObjectIdBytes) return;
      std::string_view id = AsChars(key);
      if (db.Get(Column::kChunks, id).ok()) return;
      put_status = db.Put(Column::kChunks, id, value, Durability::kBuffered);
      if (put_status.ok()) ++report.chunks_put_back;
    });
    if (!summary.ok()) {
      report.bad_blob_files.push_back(name);
      continue;
    }
    COFFER_RETURN_IF_ERROR(put_status);
    ++report.blob_files;
    report.damaged_blob_records += summary->damaged_records;
    report.unreadable_blob_bytes += summary->unreadable_bytes;
    // Bounded memory: the chunks of one blob file at a time in memtables.
    COFFER_RETURN_IF_ERROR(db.Flush({Column::kChunks}));
  }
  return Status::Ok();
}

// Step 4b: the small chunks, stored inline in the chunks' table files; the
// entries that point into blob files are already back, or lost.
Status PutBackFromTables(Database& db, const std::string& keep_dir,
                         const std::vector<std::string>& chunk_tables, RepairReport& report) {
  std::set<std::string> lost;
  for (const std::string& name : chunk_tables) {
    rocksdb::SstFileReader reader{rocksdb::Options()};
    if (!reader.Open(keep_dir + "/" + name).ok()) {
      report.set_aside.push_back(name);
      continue;
    }
    std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      ByteView value(reinterpret_cast<const uint8_t*>(it->value().data()), it->value().size());
      if (key.size() != kObjectIdBytes || db.Get(Column::kChunks, key).ok()) continue;
      if (IsBlobReference(value)) {
        lost.emplace(key);
        continue;
      }
      COFFER_RETURN_IF_ERROR(db.Put(Column::kChunks, key, value, Durability::kBuffered));
      lost.erase(std::string(key));
      ++report.chunks_put_back;
    }
    if (!it->status().ok()) report.set_aside.push_back(name + " (" + it->status().ToString() + ")");
    ++report.chunk_tables;
    COFFER_RETURN_IF_ERROR(db.Flush({Column::kChunks}));
  }
  report.lost_chunks = lost.size();
  return Status::Ok();
}

// RepairDB creates only the column families it found data of; an empty
// one (a repository without trees yet) must exist for the database to open.
Status CreateMissingColumnFamilies(
    const std::string& dir, rocksdb::DBOptions db_options,
    const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  db_options.create_missing_column_families = true;
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  COFFER_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw),
                                   "opening the repaired database " + dir));
  std::unique_ptr<rocksdb::DB> db(raw);
  for (rocksdb::ColumnFamilyHandle* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  return FromRocks(db->Close(), "closing the repaired database " + dir);
}

}  // namespace

Result<RepairReport> RepairDatabase(const std::string& dir, const std::string& keep_dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return Status::NotFound("no database at " + dir);
  RepairReport report;
  COFFER_RETURN_IF_ERROR(KeepCopy(dir, keep_dir));
  COFFER_ASSIGN_OR_RETURN(MovedAside moved, MoveAside(dir));
  const std::set<std::string> lost_before = LostFiles(dir);

  rocksdb::DBOptions db_options = MakeDbOptions(/*create=*/false);
  db_options.info_log = std::make_shared<FileInfoLogger>(dir, kMaxInfoLogBytes);
  auto block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  const auto descriptors = MakeColumnDescriptors(block_cache);
  COFFER_RETURN_IF_ERROR(
      FromRocks(rocksdb::RepairDB(dir, db_options, descriptors), "repairing " + dir));
  COFFER_RETURN_IF_ERROR(CreateMissingColumnFamilies(dir, db_options, descriptors));
  for (const std::string& name : LostFiles(dir)) {
    if (!lost_before.count(name)) report.set_aside.push_back(name);
  }
  // The rebuilt MANIFEST lists every file there: nothing is left for the
  // open to delete, and the marker of whatever crashed no longer applies.
  COFFER_RETURN_IF_ERROR(MarkClosed(dir));

  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(dir));
  for (const std::string& name : ListDataFiles(dir)) {
    if (IsTableFile(name)) ++report.table_files;
  }
  COFFER_RETURN_IF_ERROR(PutBackFromBlobFiles(*db, keep_dir, moved.blob_files, report));
  COFFER_RETURN_IF_ERROR(PutBackFromTables(*db, keep_dir, moved.chunk_tables, report));
  return report;
}

}  // namespace coffer::kv
