#include "store/ingest/commit_record.h"

namespace coffer::ingest {

Result<Snapshot> CommitRecord(WriteSession& session, const BackupOptions& options,
                              const ObjectId& root, std::vector<std::string> paths,
                              const std::optional<SnapshotRef>& parent, bool incomplete,
                              pb::SnapshotStats stats,
                              std::chrono::steady_clock::time_point start) {
  pb::Snapshot record;
  record.set_version(1);
  record.set_group(options.group);
  record.set_time_ns(options.time_ns);
  record.set_root_tree_id(root.bytes.data(), root.bytes.size());
  for (auto& p : paths) record.add_paths(std::move(p));
  for (const auto& t : options.tags) record.add_tags(t);
  record.set_hostname(options.hostname);
  record.set_username(options.username);
  if (parent) record.set_parent_id(parent->id.bytes.data(), parent->id.bytes.size());
  record.set_incomplete(incomplete);
  COFFER_RETURN_IF_ERROR(session.Flush());
  stats.set_bytes_added(session.stats().bytes_added);
  stats.set_chunks_added(session.stats().chunks_added);
  stats.set_duration_ns(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
  *record.mutable_stats() = std::move(stats);
  return session.Commit(record);
}

}  // namespace coffer::ingest
