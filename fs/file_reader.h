// FileReader: reads the content of files inside snapshots for the mount, one
// open FileHandle at a time, from their extents and the chunks they name.
//
// Offsets: a handle finds the extent at an offset by binary search over
// where its extents start (an ExtentRun); a file of more than 8192 chunks
// keeps its extents in extent parts (store/model/tree_split.h), read
// through the TreeCache as reads and seeks reach them, the last few kept
// by the handle. Holes and the tail past the last extent read as zeros.
//
// Readahead: a handle that reads sequentially has the next chunks opened by
// the ChunkCache's loaders, so opening them overlaps with the reader; a
// handle that reads at random offers the rest of every chunk it had to open
// to the kernel's page cache (KernelCache::Offer), so later reads nearby
// need no request at all.
//
// A handle may show a window of its entry (a partition of a disk image):
// reads, seeks, readahead and offers then count from its `start`.
//
// Thread-safe; a handle may be read by several threads at once.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fs/chunk_cache.h"
#include "fs/kernel_cache.h"
#include "fs/tree_cache.h"

namespace coffer::fs {

// Consecutive extents of a file with the offset of each: all of a file's
// extents, or those of one of its extent parts (a file of more than 8192
// chunks keeps them in parts, read when a read or a seek needs them).
struct ExtentRun {
  const google::protobuf::RepeatedPtrField<pb::Extent>* extents = nullptr;
  TreeObjectPtr part;            // the extent part that owns `extents` (none for a whole file)
  std::vector<uint64_t> starts;  // starts[i]: file offset of extent i; back(): where the run ends
  size_t count() const { return starts.size() - 1; }
  // The extent holding `offset` (which the run covers).
  size_t IndexOf(uint64_t offset) const;
};
using ExtentRunPtr = std::shared_ptr<const ExtentRun>;

// An open file: its entry, its extents (or where each extent part begins),
// and how it has been read so far.
struct FileHandle {
  uint64_t ino = 0;
  pb::Entry entry;  // as stored: extents, or extent parts
  // What the handle shows of the entry's content: all of it, or one
  // partition of a disk image. Reads and seeks count from `start`.
  uint64_t start = 0;
  uint64_t size = 0;
  ExtentRunPtr whole;                 // a file not in parts: all its extents
  std::vector<uint64_t> part_starts;  // a file in parts: where each begins; back(): their end
  std::string path;                   // for log lines: "host/web1/TIME/etc/fstab"

  std::mutex mu;  // guards the read state below
  bool any_read = false;
  uint64_t expected = 0;                 // where a sequential reader reads next
  unsigned sequential_run = 0;           // reads in a row that continued the previous one
  uint64_t readahead_to = 0;             // chunks before this offset were queued for opening
  std::unordered_set<uint64_t> offered;  // start offsets of chunks offered to the kernel
  std::vector<std::pair<size_t, ExtentRunPtr>> recent_parts;  // a file in parts: the last read
};

// The data of one read: iovecs into chunks kept alive by `keep`.
struct ReadData {
  std::vector<ChunkPtr> keep;
  std::vector<struct iovec> iov;
  size_t size = 0;
};

class FileReader {
 public:
  // `chunks`, `trees` and `kernel` must outlive the reader; `kernel` may
  // hold nullptr (no offers). `readahead_bytes`: see FsOptions.
  FileReader(ChunkCache& chunks, TreeCache& trees, uint64_t readahead_bytes,
             std::function<void(const std::string&)> log, const std::atomic<KernelCache*>& kernel);

  // A handle on all of `entry`'s content, inode `ino`; `path` is for logs.
  Result<std::unique_ptr<FileHandle>> Open(uint64_t ino, const pb::Entry& entry, std::string path);
  // Up to `size` bytes from `offset` of what the handle shows.
  Result<ReadData> Read(FileHandle& file, uint64_t offset, size_t size);
  // SEEK_DATA / SEEK_HOLE; nullopt means ENXIO (no data or hole at or after `offset`).
  Result<std::optional<uint64_t>> Seek(FileHandle& file, uint64_t offset, int whence);
  // The bytes [from, to) of the entry's content (not the handle's offsets),
  // without readahead; `offer`: offer the chunks read to the kernel.
  Result<ReadData> ReadContent(FileHandle& file, uint64_t from, uint64_t to, bool offer);

 private:
  void PlanReadahead(FileHandle& file, uint64_t offset, uint64_t end, bool* random);
  void OfferChunk(FileHandle& file, const ExtentRun& run, size_t extent, const ChunkPtr& chunk);
  // The extents around `offset`: nullptr past the last extent (a trailing hole).
  Result<ExtentRunPtr> RunAt(FileHandle& file, uint64_t offset);

  ChunkCache& chunks_;
  TreeCache& trees_;
  const uint64_t readahead_bytes_;
  const std::function<void(const std::string&)> log_;
  const std::atomic<KernelCache*>& kernel_;
};

}  // namespace coffer::fs
