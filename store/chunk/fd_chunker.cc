#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "store/chunk/fastcdc.h"

namespace coffer::chunk {
namespace {

// Room for several maximal chunks, so the tail moved by compaction (always
// shorter than max_size) is small next to the bytes read per refill.
constexpr size_t kMinBufferSize = 8 * 1024 * 1024;
constexpr size_t kBufferMaxChunks = 2;
// One pread asks for at most this much, so the kernel's readahead keeps up.
constexpr size_t kReadBlock = 4 * 1024 * 1024;

}  // namespace

FdChunker::FdChunker(const FastCdc& cdc, int fd, uint64_t offset, uint64_t length)
    : cdc_(cdc), fd_(fd), next_offset_(offset), remaining_(length) {
  if (length == 0) {
    input_done_ = true;
    return;
  }
  // Advice only: a failure (e.g. on a pipe) is not an error here; pread
  // reports it. A range one pread reads whole gains nothing from it, and most
  // files are such: one system call less per file.
  if (length > kReadBlock) {
    (void)posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                        POSIX_FADV_SEQUENTIAL);
  }
}

Result<std::optional<ByteView>> FdChunker::Next() {
  for (;;) {
    if (begin_ == end_ && input_done_) return std::optional<ByteView>();
    ByteView pending(buf_.get() + begin_, end_ - begin_);
    size_t len = cdc_.NextBoundary(pending, input_done_);
    if (len > 0) {
      begin_ += len;
      return std::optional<ByteView>(pending.first(len));
    }
    // NextBoundary wants more bytes only while pending < max_size, and Fill
    // either ends the input or leaves at least max_size pending: no livelock.
    COFFER_RETURN_IF_ERROR(Fill());
  }
}

Status FdChunker::Fill() {
  if (!buf_) {
    // Small ranges (most files) get a buffer of their own size, not 16 MiB.
    const size_t wanted = std::max(kMinBufferSize, kBufferMaxChunks * cdc_.params().max_size);
    capacity_ = static_cast<size_t>(std::min<uint64_t>(wanted, remaining_));
    buf_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
  }
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (end_ < capacity_ && remaining_ > 0) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>({capacity_ - end_, remaining_, kReadBlock}));
    ssize_t got = ::pread(fd_, buf_.get() + end_, want, static_cast<off_t>(next_offset_));
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read");
    }
    if (got == 0) {  // the file shrank below the range: chunk what we have
      remaining_ = 0;
      break;
    }
    end_ += static_cast<size_t>(got);
    next_offset_ += static_cast<uint64_t>(got);
    remaining_ -= static_cast<uint64_t>(got);
    bytes_read_ += static_cast<uint64_t>(got);
  }
  if (remaining_ == 0) input_done_ = true;
  return Status::Ok();
}

}  // namespace coffer::chunk
