// Restore tests: a random sample of a snapshot's files restored to a scratch
// folder on this machine, read back from disk and compared with what the
// snapshot says; the scratch folder is removed afterwards, failure or not.
//
// Why here and not in store/restore/: this is a check of a snapshot, like
// the Verifier, whose outcome is recorded in the snapshot's note beside
// verify's; it is a client of the restore code (restore::Restorer for whole
// files, restore::RestoreRange for pieces of disk images), exactly the code
// `coffer restore` runs, so what it tests is the real restore path. The
// restore code knows nothing of checking.
//
// What it proves beyond `coffer verify`: the bytes come back through the
// writer to a real filesystem at the right offsets with the right length,
// and modes, owners (as root), times, xattrs and symlink targets are set.
// Content is compared without reading the store a second time: each extent
// read back from disk is hashed with the repository's keyed id function and
// must equal the chunk id the snapshot names (a hole must read as zeros;
// holes may come back as data, layout is not compared).
//
// The sample: regular files and symlinks (fifos and devices hold no content
// to restore), chosen uniformly by reservoir sampling over the tree walk with
// a seeded generator, so memory is bounded by the sample and one seed picks
// the same files again. A disk image (a file of a vm/ group, or one of at
// least `image_min_size`) is checked by a few random ranges instead of whole.
// A sampled file with several hard links is restored as one link.
//
// Not thread-safe; one call runs on the calling thread (the Restorer's own
// writer thread aside).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/repo/repository.h"

namespace coffer::verify {

struct RestoreTestOptions {
  uint64_t files = 50;                          // sample size, unless `percent` is set
  std::optional<double> percent;                // share of the files, (0, 100]; rounded up
  uint64_t image_ranges = 4;                    // ranges checked in each sampled disk image
  uint64_t range_size = 1u << 20;               // each at least this long (whole extents)
  uint64_t image_min_size = uint64_t{1} << 30;  // from this size a file is an image
  uint64_t seed = 0;                            // chooses the sample; 0: a random one
  // Where the scratch folder is made (a fresh coffer-restore-test.XXXXXX,
  // mode 0700, inside it): "" for $TMPDIR, else /var/tmp (on disk, where
  // /tmp may be memory).
  std::string scratch_parent;
  // Restore and compare owners; needs root. Unset: when running as root.
  std::optional<bool> owners;
};

struct RestoreTestMismatch {
  std::string path;  // in the snapshot: "/etc/nginx/nginx.conf"
  std::string what;  // "mode 0600, the snapshot says 0644"
  Status status;     // the restore's error, if it failed; kCorruption: damaged data
};

struct RestoreTestResult {
  uint64_t population = 0;      // regular files and symlinks in the snapshot
  uint64_t files_checked = 0;   // sampled: files, symlinks and images
  uint64_t images_checked = 0;  // of those, disk images checked by ranges
  uint64_t ranges_checked = 0;
  uint64_t bytes_checked = 0;                   // read back from disk
  std::vector<std::string> sample;              // the sampled paths, in tree order
  std::vector<RestoreTestMismatch> mismatches;  // in sample order
  uint64_t seed = 0;
  int64_t duration_ns = 0;
  std::string scratch;       // the scratch folder used
  std::string scratch_left;  // non-empty: it could not be removed, and why

  bool ok() const { return mismatches.empty(); }
  // Some mismatch is a damaged or missing stored object.
  bool damaged() const;
};

// Restores a sample of `snapshot` and compares it. Mismatches and failed
// restores of sampled files are reported in the result; the status is an
// error only when the test could not run (a damaged snapshot record, no
// scratch folder, the server went away).
Result<RestoreTestResult> RunRestoreTest(Repository& repo, const Snapshot& snapshot,
                                         const RestoreTestOptions& options);

// Stores the outcome (finished at `now_ns`) in the snapshot's note, beside
// its last verification.
Status RecordRestoreTest(Repository& repo, const Snapshot& snapshot,
                         const RestoreTestResult& result, int64_t now_ns);

// Whether `entry` in a snapshot of `group` is checked as a disk image.
bool IsDiskImage(std::string_view group, const pb::Entry& entry, uint64_t image_min_size);

}  // namespace coffer::verify
