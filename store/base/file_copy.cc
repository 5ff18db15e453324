#include "store/base/file_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

#include "store/base/crash_point.h"
#include "store/base/file_io.h"
#include "store/base/unique_fd.h"

namespace coffer {
namespace {

// The portable fallback of CopyRange, for filesystems or kernels where
// copy_file_range(2) does not apply.
Status CopyRangeByReading(int in, int out, uint64_t offset, uint64_t length,
                          const FileToCopy& file) {
  std::vector<char> buffer(1 << 20);
  while (length > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length, buffer.size()));
    const ssize_t got = pread(in, buffer.data(), want, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + file.from);
    }
    if (got == 0) return Status::Corruption(file.from + " is shorter than expected");
    for (ssize_t put = 0; put < got;) {
      const ssize_t n = pwrite(out, buffer.data() + put, static_cast<size_t>(got - put),
                               static_cast<off_t>(offset + static_cast<uint64_t>(put)));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + file.to);
      }
      put += n;
    }
    offset += static_cast<uint64_t>(got);
    length -= static_cast<uint64_t>(got);
  }
  return Status::Ok();
}

Status CopyRange(int in, int out, uint64_t length, const FileToCopy& file) {
  uint64_t done = 0;
  while (done < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, 1ull << 30));
    const ssize_t n = copy_file_range(in, nullptr, out, nullptr, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Another filesystem, an old kernel, or one that cannot: copy by hand.
      if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) {
        return CopyRangeByReading(in, out, done, length - done, file);
      }
      return Status::FromErrno(errno, "copy " + file.from + " to " + file.to);
    }
    if (n == 0) return Status::Corruption(file.from + " is shorter than expected");
    done += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status CopyOne(const FileToCopy& file) {
  UniqueFd out(open(file.to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return Status::FromErrno(errno, "create " + file.to);
  if (file.contents) {
    COFFER_RETURN_IF_ERROR(WriteAll(out.get(), *file.contents, "write " + file.to));
  } else {
    UniqueFd in(open(file.from.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) return Status::FromErrno(errno, "open " + file.from);
    COFFER_RETURN_IF_ERROR(CopyRange(in.get(), out.get(), file.length, file));
  }
  CrashPoint("folder-copy-file-copied");
  // Writeback starts now, while the other files are copied; fsync waits for it.
  sync_file_range(out.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  return Status::Ok();
}

Status SyncFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open " + path);
  if (fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + path);
  return Status::Ok();
}

// Runs `work(i)` for every i < count on up to `threads` threads; the first error wins.
template <typename Work>
Status ForEachInParallel(size_t count, unsigned threads, Work&& work) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first_error;
  auto drain = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) {
      Status s = work(i);
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = std::move(s);
        next.store(count);
      }
    }
  };
  std::vector<std::thread> pool;
  const unsigned extra = std::min<size_t>(std::max(threads, 1u), count) - (count > 0 ? 1 : 0);
  for (unsigned t = 0; t < extra; ++t) pool.emplace_back(drain);
  drain();
  for (std::thread& t : pool) t.join();
  return first_error;
}

}  // namespace

Status CopyFilesDurably(const std::vector<FileToCopy>& files, unsigned threads) {
  // The largest first, so no thread is left with a big one at the end.
  std::vector<const FileToCopy*> order;
  for (const FileToCopy& f : files) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(),
                   [](const FileToCopy* a, const FileToCopy* b) { return a->length > b->length; });
  COFFER_RETURN_IF_ERROR(
      ForEachInParallel(order.size(), threads, [&](size_t i) { return CopyOne(*order[i]); }));
  COFFER_RETURN_IF_ERROR(
      ForEachInParallel(order.size(), threads, [&](size_t i) { return SyncFile(order[i]->to); }));
  return Status::Ok();
}

}  // namespace coffer
