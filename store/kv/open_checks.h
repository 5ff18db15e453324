// Internal to store/kv: what Database::Open checks before RocksDB may open a
// database for writing, so that an open never deletes data.
//
// RocksDB trusts its MANIFEST: a table or blob file the MANIFEST does not
// list is obsolete to it, and the open deletes it. A MANIFEST cut short by a
// damaged disk (a lost tail reads like a writer that stopped mid-record)
// therefore turned into deleted snapshots and a clean exit. So before the
// real open:
//   - CURRENT must name a MANIFEST that is there, and the newest OPTIONS
//     file must parse with every column family (Coffer passes its own
//     options, but a damaged OPTIONS file is a sign of a damaged folder);
//   - the database is opened read-only (which deletes and writes nothing but
//     its info log) and its live files are compared with the folder: a
//     listed file that is missing is damage; a table or blob file that is
//     not listed is damage if the last process that had the database open
//     closed it cleanly, since a clean close leaves no obsolete files.
// After a crash, unlisted files are expected (a flush or compaction that did
// not finish, inputs of one that did but were not deleted yet) and RocksDB
// deletes them as always. The in-use marker (COFFER-IN-USE in the database
// folder) tells the two apart: written and synced after each successful
// open, removed after each clean close.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <string>
#include <vector>

#include "store/base/status.h"

namespace coffer::kv {

// The name of the in-use marker inside the database folder. RocksDB ignores
// files whose names it does not know.
inline constexpr const char* kInUseMarkerName = "COFFER-IN-USE";

// Whether the last process that opened the database for writing closed it
// (no marker), or died with it open.
bool ClosedCleanly(const std::string& dir);
// Writes the marker with this process's id and syncs it and the folder.
Status MarkInUse(const std::string& dir);
// Removes the marker and syncs the folder; called after a clean close.
Status MarkClosed(const std::string& dir);

// kCorruption: "the database in DIR is damaged: WHAT", with the way out.
Status DamagedDatabase(const std::string& dir, const std::string& what);

// kCorruption naming the damaged file, or OK. `descriptors` are the column
// families the database must have, with the options Coffer opens them with.
Status CheckBeforeOpen(const std::string& dir, const rocksdb::DBOptions& db_options,
                       const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors);

// Table (NNNNNN.sst) and blob (NNNNNN.blob) files in `dir`, by name.
std::vector<std::string> ListDataFiles(const std::string& dir);

}  // namespace coffer::kv
