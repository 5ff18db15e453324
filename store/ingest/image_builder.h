// ImageBuilder: one disk image stored as a file of fixed, aligned chunks
// (store/chunk/image_chunks.h), whatever order the chunks come in.
//
// A VMA delivers an image's clusters in any order, interleaved with other
// disks; a block device is read in order. In any order, each chunk's id is
// written to its slot in an unnamed temporary file (32 bytes per 64 KiB
// chunk, 1/2048 of the image), and the file's extents are built from those
// slots in one pass at the end; in order, they go straight to the extent
// writer. Either way memory stays flat whatever the image's size.
//
// In any order and given workers, chunks are hashed and sealed on them, a
// few MiB at a time, so that the one thread reading an archive only reads:
// an image whose chunks are all known (a VM's second backup) costs hashing
// only, and hashing in the reader made that thread the whole import.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "store/base/executor.h"
#include "store/base/unique_fd.h"
#include "store/model/tree_split.h"
#include "store/repo/write_session.h"

namespace coffer::ingest {

class ImageBuilder {
 public:
  enum class Order { kAny, kSequential };

  // An image of exactly `size` bytes; chunks not put by Finish() are holes.
  // kAny needs a temporary file (in $TMPDIR, else /tmp), and hands chunks to
  // `hashers` if given (which must outlive the builder; it may serve several).
  static Result<std::unique_ptr<ImageBuilder>> Create(WriteSession& session, uint64_t size,
                                                      Order order, Executor* hashers = nullptr);
  // Waits for the chunks handed to workers.
  ~ImageBuilder();

  // Stores chunk `index`: ImageChunkLength(size, index) bytes. All zeros are
  // a hole and store nothing. kSequential: indices must increase. With
  // workers, an error storing a chunk is returned by a later Put or Finish.
  Status Put(uint64_t index, ByteView data);
  // Sets `entry`'s size and extents (or extent parts); the caller sets the rest.
  Status Finish(pb::Entry* entry);

  uint64_t size() const { return size_; }

 private:
  // Chunks copied for the workers: chunk i is data[starts[i], starts[i + 1]).
  struct HandOff {
    std::vector<uint64_t> indices;
    std::vector<size_t> starts{0};
    Bytes data;
  };
  // A hand-off of this many bytes goes to the workers.
  static constexpr size_t kHandOffBytes = 4 << 20;

  ImageBuilder(WriteSession& session, uint64_t size, Order order, UniqueFd slots,
               Executor* hashers);
  // Hashes and stores `index`'s chunk, then writes its slot (kAny).
  Status StoreInSlot(uint64_t index, ByteView data);
  void SubmitPending();
  // Waits until no hand-off of this builder is left; the first error met.
  Status WaitForHandOffs();
  // Appends holes up to chunk `index` (sequential order).
  Status HolesUpTo(uint64_t index);
  Status AddExtent(uint64_t index, const std::optional<ObjectId>& id);

  WriteSession& session_;
  uint64_t size_;
  Order order_;
  UniqueFd slots_;           // kAny: chunk ids by index; all zeros = a hole
  uint64_t next_index_ = 0;  // kSequential: the first index not yet given
  model::ExtentWriter extents_;
  Executor* hashers_;                 // kAny: workers for chunks, or none
  std::unique_ptr<HandOff> pending_;  // not yet handed to them
  std::mutex handoff_mutex_;
  std::condition_variable handoff_done_;
  size_t handoffs_running_ = 0;
  Status handoff_error_;  // the first a worker met
};

}  // namespace coffer::ingest
