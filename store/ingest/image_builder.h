// ImageBuilder: one disk image stored as a file of fixed, aligned chunks
// (store/chunk/image_chunks.h), whatever order the chunks come in.
//
// A VMA delivers an image's clusters in any order, interleaved with other
// disks; a block device is read in order. In any order, each chunk's id is
// written to its slot in an unnamed temporary file (32 bytes per 64 KiB
// chunk, 1/2048 of the image), and the file's extents are built from those
// slots in one pass at the end; in order, they go straight to the extent
// writer. Either way memory stays flat whatever the image's size.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "store/base/unique_fd.h"
#include "store/model/tree_split.h"
#include "store/repo/write_session.h"

namespace coffer::ingest {

class ImageBuilder {
 public:
  enum class Order { kAny, kSequential };

  // An image of exactly `size` bytes; chunks not put by Finish() are holes.
  // kAny needs a temporary file (in $TMPDIR, else /tmp).
  static Result<std::unique_ptr<ImageBuilder>> Create(WriteSession& session, uint64_t size,
                                                      Order order);

  // Stores chunk `index`: ImageChunkLength(size, index) bytes. All zeros are
  // a hole and store nothing. kSequential: indices must increase.
  Status Put(uint64_t index, ByteView data);
  // Sets `entry`'s size and extents (or extent parts); the caller sets the rest.
  Status Finish(pb::Entry* entry);

  uint64_t size() const { return size_; }

 private:
  ImageBuilder(WriteSession& session, uint64_t size, Order order, UniqueFd slots);
  // Appends holes up to chunk `index` (sequential order).
  Status HolesUpTo(uint64_t index);
  Status AddExtent(uint64_t index, const std::optional<ObjectId>& id);

  WriteSession& session_;
  uint64_t size_;
  Order order_;
  UniqueFd slots_;          // kAny: chunk ids by index; all zeros = a hole
  uint64_t next_index_ = 0; // kSequential: the first index not yet given
  model::ExtentWriter extents_;
};

}  // namespace coffer::ingest
