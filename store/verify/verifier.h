// Verifier: proves that snapshots restore, without writing anything.
//
// Every object reachable from the chosen snapshots is fetched, opened
// (authenticated), decompressed and its id recomputed: the work of a full
// restore. Each distinct object is checked once however many snapshots share
// it; a tree already walked is not walked again. Chunks are checked on worker
// threads while the calling thread walks the trees.
//
// A sample (sample_percent < 100) checks every tree and a share of the
// chunks, chosen by hashing each id with a per-run seed: uniform over the
// repository, and the same choice for the same seed.
//
// A damaged (kCorruption) or missing (kNotFound) object does not stop the
// run; when there are any, a second walk names the snapshot paths that use
// them. Neither does a damaged snapshot record (Snapshot::damaged()): it
// cannot be walked, and is reported by name. A damaged tree hides everything below it, which
// therefore goes unchecked. Any other error (the server went away) ends the run with it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "store/repo/repository.h"

namespace coffer::verify {

struct VerifyOptions {
  double sample_percent = 100;  // share of data chunks checked, 0..100; trees always
  uint64_t seed = 0;            // picks the sample; 0: a random one
  unsigned threads = 0;         // chunk checkers; 0: two per core
};

struct VerifyProgress {
  std::atomic<uint64_t> objects{0};   // distinct objects checked so far
  std::atomic<uint64_t> bytes{0};     // their plaintext bytes
  std::atomic<uint64_t> damaged{0};   // damaged or missing objects found
  std::atomic<bool> locating{false};  // naming the paths that use damaged objects
};

// One place where a snapshot uses an object.
struct ObjectUse {
  std::string snapshot;  // "host/web1/2026-11-24T02:00:00Z"
  std::string path;      // "/etc/nginx/nginx.conf"; a tree: the directory it lists
  std::string ToString() const { return snapshot + ":" + path; }  // name:/path
};

struct DamagedObject {
  static constexpr size_t kMaxUses = 1000;  // further uses are only counted

  ObjectKind kind = ObjectKind::kChunk;
  ObjectId id;
  Status status;  // kCorruption (damaged) or kNotFound (missing)
  std::vector<ObjectUse> uses;
  uint64_t more_uses = 0;  // uses beyond kMaxUses

  bool missing() const { return status.code() == Code::kNotFound; }
};

// What one snapshot's verification found. Counts are per reference, as a
// restore reads them: a chunk used by two files counts twice.
struct SnapshotVerdict {
  Snapshot snapshot;
  uint64_t objects_checked = 0;
  uint64_t bytes_checked = 0;    // plaintext
  uint64_t damaged_objects = 0;  // distinct damaged or missing objects it uses
  bool ok() const { return damaged_objects == 0; }
};

struct VerifyResult {
  uint64_t trees_checked = 0;              // distinct
  uint64_t chunks_checked = 0;             // distinct
  uint64_t bytes_checked = 0;              // plaintext of the distinct objects checked
  bool sampled = false;                    // only a share of the chunks was checked
  uint64_t seed = 0;                       // the seed of the sample
  std::vector<DamagedObject> damaged;      // ordered by kind, then id
  std::vector<SnapshotVerdict> snapshots;  // in the order given, damaged records left out
  std::vector<Snapshot> damaged_records;   // records that do not open, in the order given

  uint64_t objects_checked() const { return trees_checked + chunks_checked; }
  bool ok() const { return damaged.empty() && damaged_records.empty(); }
};

class Verifier {
 public:
  // `repo` and `progress` (may be null) must remain live while the Verifier is in use.
  Verifier(Repository& repo, VerifyOptions options, VerifyProgress* progress = nullptr);

  // Verifies `snapshots` (duplicates are verified once; damaged records are
  // set aside in `damaged_records`). Damage is reported
  // in the result; the status is an error only when the run could not go on.
  Result<VerifyResult> Verify(const std::vector<Snapshot>& snapshots);

 private:
  Repository& repo_;
  VerifyOptions options_;
  VerifyProgress* progress_;
  VerifyProgress own_progress_;
};

// Whether a sample of `percent` with `seed` checks the chunk `id`.
bool SampleTakes(const ObjectId& id, double percent, uint64_t seed);

// Whether `snapshot` is due for verification: never verified, or last
// verified (well or not) more than `max_age_ns` before `now_ns`.
bool DueForVerification(const Snapshot& snapshot, int64_t now_ns, int64_t max_age_ns);

// Stores each verified snapshot's outcome (time `now_ns`) in its note.
Status RecordVerifications(Repository& repo, const VerifyResult& result, int64_t now_ns);

}  // namespace coffer::verify
