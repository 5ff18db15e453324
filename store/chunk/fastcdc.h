// Content-defined chunking for Coffer: the keyed FastCDC boundary finder
// (FastCdc) and a reader that splits a byte range of an open file with it
// (FdChunker).
//
// Thread safety: FastCdc is immutable after construction and may be shared by
// any number of threads. FdChunker is not thread-safe; use one per file.
//
// Chunk boundaries are part of the repository format: they decide which chunk
// ids a file produces, hence deduplication across snapshots. Changing the gear
// table derivation or the boundary rule in fastcdc.cc therefore costs every
// existing repository its deduplication; version it if it must ever change.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::chunk {

struct ChunkerParams {
  uint32_t min_size = 256 * 1024;
  uint32_t avg_size = 1024 * 1024;  // power of two
  uint32_t max_size = 4 * 1024 * 1024;

  // OK iff min < avg < max <= 8 MiB and avg is a power of two >= 64 (smaller
  // averages leave the easy mask with too few bits to be random).
  Status Validate() const;
};

// Content-defined chunking: FastCDC (Xia et al. 2016, normalized chunking
// level 2) with a gear table derived from a secret seed, so boundaries do not
// reveal content to someone without the key. Immutable after construction;
// thread-safe.
class FastCdc {
 public:
  // `seed` should be the repository's 32-byte chunker subkey (any length is
  // accepted; it is hashed). `params` must satisfy params.Validate(); the
  // constructor asserts it, so validate user input first.
  FastCdc(ByteView seed, ChunkerParams params);

  // Length of the first chunk of `data`. Returns 0 if `data` is empty, or if no
  // boundary lies in `data`, data.size() < max_size and !at_end: the caller must
  // then supply more bytes (starting at the same chunk start). Otherwise returns
  // a length in (0, min(data.size(), max_size)]; with at_end the rest (if it
  // holds no boundary and is at most max_size) is one chunk.
  // The result depends only on the bytes from data[0] up to the boundary.
  size_t NextBoundary(ByteView data, bool at_end) const;

  const ChunkerParams& params() const { return params_; }

 private:
  ChunkerParams params_;
  uint64_t mask_small_;  // harder to match: used before avg_size
  uint64_t mask_large_;  // easier to match: used from avg_size on
  std::array<uint64_t, 256> gear_;
};

// Splits the byte range [offset, offset+length) of an open file into chunks,
// reading with pread into an internal buffer (posix_fadvise SEQUENTIAL).
// Not thread-safe; one per file. Stops early (no error) if the file is shorter
// than the range (it shrank during the backup). Does not own `fd`.
// `cdc` must remain live while this FdChunker is in use.
class FdChunker {
 public:
  FdChunker(const FastCdc& cdc, int fd, uint64_t offset, uint64_t length);

  // The next chunk, valid until the next call; nullopt at the end of the range.
  // I/O errors come back as Status (Status::FromErrno with the path-free
  // message "read"); add the path with WithContext.
  Result<std::optional<ByteView>> Next();

  // Bytes read from the file so far (at most `length`).
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  // Moves the unconsumed tail to the front and reads until the buffer is full,
  // the range is exhausted or the file ends.
  Status Fill();

  const FastCdc& cdc_;
  int fd_;
  uint64_t next_offset_;  // file offset of the next pread
  uint64_t remaining_;    // bytes of the range not yet read
  bool input_done_ = false;
  uint64_t bytes_read_ = 0;

  std::unique_ptr<uint8_t[]> buf_;  // allocated on first need
  size_t capacity_ = 0;
  size_t begin_ = 0;  // start of the unconsumed bytes in buf_
  size_t end_ = 0;    // end of the valid bytes in buf_
};

}  // namespace coffer::chunk
