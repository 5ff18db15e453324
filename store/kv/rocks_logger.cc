#include "store/kv/rocks_logger.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <pthread.h>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

namespace coffer::kv {

FileInfoLogger::FileInfoLogger(std::string dir, size_t max_bytes)
    : path_(std::move(dir) + "/LOG"), max_bytes_(max_bytes) {
  std::lock_guard lock(mu_);
  RollLocked();
}

FileInfoLogger::~FileInfoLogger() {
  if (!closed_) {
    closed_ = true;
    CloseImpl();
  }
}

rocksdb::Status FileInfoLogger::CloseImpl() {
  std::lock_guard lock(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return rocksdb::Status::OK();
}

void FileInfoLogger::RollLocked() {
  if (fd_ >= 0) ::close(fd_);
  ::rename(path_.c_str(), (path_ + ".old").c_str());  // none yet is fine
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  written_.store(0, std::memory_order_relaxed);
}

void FileInfoLogger::Logv(const char* format, va_list ap) {
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

void FileInfoLogger::Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < GetInfoLogLevel()) return;
  // The same line shape as RocksDB's: local time to the microsecond, thread.
  timeval now;
  gettimeofday(&now, nullptr);
  tm local;
  localtime_r(&now.tv_sec, &local);
  char prefix[64];
  int prefix_len = std::snprintf(
      prefix, sizeof prefix, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %lx ", local.tm_year + 1900,
      local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
      static_cast<long>(now.tv_usec), static_cast<unsigned long>(pthread_self()));
  std::vector<char> line(512);
  va_list copy;
  va_copy(copy, ap);
  int body = std::vsnprintf(line.data() + prefix_len, line.size() - prefix_len, format, copy);
  va_end(copy);
  if (body < 0) return;
  if (static_cast<size_t>(prefix_len + body + 2) > line.size()) {
    line.resize(prefix_len + body + 2);
    va_copy(copy, ap);
    std::vsnprintf(line.data() + prefix_len, line.size() - prefix_len, format, copy);
    va_end(copy);
  }
  std::copy(prefix, prefix + prefix_len, line.data());
  size_t len = prefix_len + body;
  if (line[len - 1] != '\n') line[len++] = '\n';

  std::lock_guard lock(mu_);
  if (written_.load(std::memory_order_relaxed) + len > max_bytes_) RollLocked();
  if (fd_ < 0) return;
  // A short or failed write (ENOSPC) loses this line, nothing else.
  ssize_t n = ::write(fd_, line.data(), len);
  if (n > 0) written_.fetch_add(static_cast<size_t>(n), std::memory_order_relaxed);
}

}  // namespace coffer::kv
