// What every way into a snapshot ends with (a directory walk, a stream, a tar
// or a VMA): the record made from the options, the root tree and the
// statistics, committed once every object is stored.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "store/ingest/archiver.h"
#include "store/repo/write_session.h"

namespace coffer::ingest {

// Flushes `session` first: the record carries what was stored. `stats` are
// the caller's counts; what the session added and the time since `start`
// are filled in here.
Result<Snapshot> CommitRecord(WriteSession& session, const BackupOptions& options,
                              const ObjectId& root, std::vector<std::string> paths,
                              const std::optional<SnapshotRef>& parent, bool incomplete,
                              pb::SnapshotStats stats, std::chrono::steady_clock::time_point start);

}  // namespace coffer::ingest
