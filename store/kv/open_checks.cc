#include "store/kv/open_checks.h"

#include <fcntl.h>
#include <unistd.h>

#include <rocksdb/convenience.h>
#include <rocksdb/metadata.h>
#include <rocksdb/utilities/options_util.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "store/base/file_io.h"
#include "store/base/unique_fd.h"
#include "store/kv/rocks_status.h"

namespace coffer::kv {
namespace {

namespace fs = std::filesystem;

// The way out, in every message that refuses a damaged database.
constexpr std::string_view kWayOut =
    "; nothing was changed: `coffer repair` rebuilds the database from its files "
    "and keeps the damaged one beside it";

std::string MarkerPath(const std::string& dir) {
  return dir + "/" + kInUseMarkerName;
}

// The number of a file named NNNNNN.EXT with EXT `extension`, or 0.
uint64_t FileNumber(std::string_view name, std::string_view extension) {
  if (!name.ends_with(extension)) return 0;
  std::string_view digits = name.substr(0, name.size() - extension.size());
  uint64_t number = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) return 0;
  return number;
}

std::string JoinNames(const std::vector<std::string>& names) {
  constexpr size_t kShown = 5;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += " and " + std::to_string(names.size() - kShown) + " more";
  return out;
}

}  // namespace

Status DamagedDatabase(const std::string& dir, const std::string& what) {
  return Status::Corruption("the database in " + dir + " is damaged: " + what +
                            std::string(kWayOut));
}

namespace {

Status Damaged(const std::string& dir, const std::string& what) {
  return DamagedDatabase(dir, what);
}

// CURRENT holds "MANIFEST-NNNNNN\n" naming a MANIFEST that is there and not
// empty. RocksDB checks the newline itself but reports a missing MANIFEST as
// a missing file, which would read as "no repository".
Status CheckCurrent(const std::string& dir) {
  std::ifstream in(dir + "/CURRENT", std::ios::binary);
  if (!in) return Damaged(dir, "its CURRENT file cannot be read");
  std::ostringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  if (text.size() > 64 || !text.ends_with('\n')) {
    return Damaged(dir, "its CURRENT file does not name a MANIFEST");
  }
  text.pop_back();
  if (!text.starts_with("MANIFEST-") || FileNumber(text.substr(9), "") == 0) {
    return Damaged(dir, "its CURRENT file does not name a MANIFEST");
  }
  std::error_code error;
  const uintmax_t size = fs::file_size(fs::path(dir) / text, error);
  if (error) return Damaged(dir, "its CURRENT file names " + text + ", which is not there");
  if (size == 0) return Damaged(dir, text + " is empty");
  return Status::Ok();
}

// The newest OPTIONS file parses, with every column family Coffer needs. Its
// values are not used (Coffer passes its own options, and RocksDB writes a
// new OPTIONS file at every open); a file that no longer parses is a sign of
// damage all the same.
Status CheckOptions(const std::string& dir,
                    const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  std::string latest;
  rocksdb::Status s = rocksdb::GetLatestOptionsFileName(dir, rocksdb::Env::Default(), &latest);
  if (s.IsNotFound()) return Status::Ok();  // none yet: written at the first open
  if (!s.ok()) return FromRocks(s, "finding the OPTIONS file of " + dir);
  rocksdb::ConfigOptions config;
  config.ignore_unknown_options = false;
  config.input_strings_escaped = true;
  config.env = rocksdb::Env::Default();
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> found;
  s = rocksdb::LoadOptionsFromFile(config, dir + "/" + latest, &db_options, &found);
  if (!s.ok()) return Damaged(dir, latest + " does not parse (" + s.ToString() + ")");
  std::set<std::string> names;
  for (const auto& d : found) names.insert(d.name);
  for (const auto& d : descriptors) {
    if (!names.count(d.name)) {
      return Damaged(dir, latest + " lacks the column family '" + d.name + "'");
    }
  }
  return Status::Ok();
}

struct LiveFiles {
  std::set<uint64_t> tables;
  std::set<uint64_t> blobs;
};

// The table and blob files the MANIFEST lists, from a read-only open.
Result<LiveFiles> ReadLiveFiles(const std::string& dir, const rocksdb::DBOptions& db_options,
                                const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw,
                                                   /*error_if_wal_file_exists=*/false);
  if (!s.ok()) {
    // A MANIFEST RocksDB cannot read, or one naming a table file that is not
    // there (it opens every table file), is damage; so is anything it calls
    // corruption. A file it cannot open for lack of permission is not.
    Status status = FromRocks(s, "reading the database in " + dir);
    if (status.code() == Code::kCorruption || status.code() == Code::kNotFound) {
      return Damaged(dir, "RocksDB cannot open it (" + s.ToString() + ")");
    }
    return status;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  LiveFiles live;
  std::vector<rocksdb::LiveFileMetaData> tables;
  db->GetLiveFilesMetaData(&tables);
  for (const auto& t : tables) live.tables.insert(t.file_number);
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    rocksdb::ColumnFamilyMetaData meta;
    db->GetColumnFamilyMetaData(h, &meta);
    for (const auto& b : meta.blob_files) live.blobs.insert(b.blob_file_number);
  }
  for (rocksdb::ColumnFamilyHandle* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db->Close().PermitUncheckedError();
  return live;
}

}  // namespace

bool ClosedCleanly(const std::string& dir) {
  std::error_code error;
  return !fs::exists(MarkerPath(dir), error) && !error;
}

Status MarkInUse(const std::string& dir) {
  const std::string path = MarkerPath(dir);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + path);
  const std::string text = "open by pid " + std::to_string(::getpid()) + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    return Status::FromErrno(errno, "write " + path);
  }
  return SyncDirectory(dir);
}

Status MarkClosed(const std::string& dir) {
  const std::string path = MarkerPath(dir);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "remove " + path);
  }
  return SyncDirectory(dir);
}

std::vector<std::string> ListDataFiles(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, error)) {
    std::string name = e.path().filename().string();
    if (FileNumber(name, ".sst") != 0 || FileNumber(name, ".blob") != 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status CheckBeforeOpen(const std::string& dir, const rocksdb::DBOptions& db_options,
                       const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  COFFER_RETURN_IF_ERROR(CheckCurrent(dir));
  COFFER_RETURN_IF_ERROR(CheckOptions(dir, descriptors));
  COFFER_ASSIGN_OR_RETURN(LiveFiles live, ReadLiveFiles(dir, db_options, descriptors));

  std::vector<std::string> unlisted;
  std::set<uint64_t> present_blobs;
  for (const std::string& name : ListDataFiles(dir)) {
    if (uint64_t n = FileNumber(name, ".sst"); n != 0 && !live.tables.count(n)) {
      unlisted.push_back(name);
    }
    if (uint64_t n = FileNumber(name, ".blob"); n != 0) {
      present_blobs.insert(n);
      if (!live.blobs.count(n)) unlisted.push_back(name);
    }
  }
  for (uint64_t n : live.blobs) {
    if (!present_blobs.count(n)) {
      char name[32];
      std::snprintf(name, sizeof name, "%06llu.blob", static_cast<unsigned long long>(n));
      return Damaged(dir, std::string("the blob file ") + name + " it lists is missing");
    }
  }
  if (!unlisted.empty() && ClosedCleanly(dir)) {
    return Damaged(dir, "its MANIFEST does not list " + JoinNames(unlisted) +
                            ", which opening it would delete");
  }
  return Status::Ok();
}

}  // namespace coffer::kv
