// Internal to store/kv: RocksDB's info LOG, written so that a full disk
// cannot stop the process.
//
// RocksDB's own logger appends through a WritableFileWriter that remembers a
// failed write; the next append then trips an assertion, and Debian builds
// librocksdb with assertions on, so the first log line after the disk filled
// up aborted the server in the middle of a flush. This logger writes each
// line with one write(2) and drops lines that do not fit: the log is for
// diagnosis, never needed for correctness.
//
// Files: LOG in the database directory, rolled to LOG.old when it passes
// `max_bytes` (and at every open), so it never takes more than twice that.
#pragma once

#include <rocksdb/env.h>

#include <atomic>
#include <cstdarg>
#include <memory>
#include <mutex>
#include <string>

namespace coffer::kv {

class FileInfoLogger final : public rocksdb::Logger {
 public:
  FileInfoLogger(std::string dir, size_t max_bytes);
  ~FileInfoLogger() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  size_t GetLogFileSize() const override { return written_.load(std::memory_order_relaxed); }

 protected:
  rocksdb::Status CloseImpl() override;

 private:
  // Moves LOG to LOG.old and opens a fresh LOG. Holds mu_.
  void RollLocked();

  const std::string path_;
  const size_t max_bytes_;
  std::mutex mu_;
  int fd_ = -1;
  std::atomic<size_t> written_{0};
};

}  // namespace coffer::kv
