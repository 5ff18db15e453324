#include "store/kv/fault_injection.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace coffer::kv {
namespace {

enum class FaultKind { kWriteEio, kWriteNoSpace, kReadEio };

struct FaultSpec {
  FaultKind kind;
  uint64_t nth = 0;
  bool persistent = false;
};

FaultSpec ParseSpec(std::string_view text) {
  FaultSpec spec{};
  const size_t colon = text.find(':');
  std::string_view kind = text.substr(0, colon);
  if (kind == "write-eio")
    spec.kind = FaultKind::kWriteEio;
  else if (kind == "write-enospc")
    spec.kind = FaultKind::kWriteNoSpace;
  else if (kind == "read-eio")
    spec.kind = FaultKind::kReadEio;
  std::string count(colon == std::string_view::npos ? "" : text.substr(colon + 1));
  if (!count.empty() && count.back() == '+') {
    spec.persistent = true;
    count.pop_back();
  }
  char* end = nullptr;
  spec.nth = std::strtoull(count.c_str(), &end, 10);
  const bool kind_ok = kind == "write-eio" || kind == "write-enospc" || kind == "read-eio";
  if (!kind_ok || count.empty() || *end != '\0' || spec.nth == 0) {
    std::fprintf(stderr, "coffer: COFFER_IO_FAULT='%.*s' is not KIND:N or KIND:N+\n",
                 static_cast<int>(text.size()), text.data());
    std::abort();
  }
  return spec;
}

// Counts operations of the spec's kind and says which must fail.
class FaultPlan {
 public:
  explicit FaultPlan(FaultSpec spec) : spec_(spec) {}
  bool writes() const { return spec_.kind != FaultKind::kReadEio; }

  rocksdb::IOStatus Next(bool is_write) {
    if (is_write != writes()) return rocksdb::IOStatus::OK();
    const uint64_t n = ++count_;
    if (n < spec_.nth || (n > spec_.nth && !spec_.persistent)) return rocksdb::IOStatus::OK();
    // Tells the campaign the fault fired (an operation may end before the Nth).
    if (n == spec_.nth)
      std::fprintf(stderr, "coffer: COFFER_IO_FAULT fired at operation %llu\n",
                   static_cast<unsigned long long>(n));
    if (spec_.kind == FaultKind::kWriteNoSpace) {
      return rocksdb::IOStatus::NoSpace("injected fault", "No space left on device");
    }
    return rocksdb::IOStatus::IOError("injected fault", "Input/output error");
  }

 private:
  const FaultSpec spec_;
  std::atomic<uint64_t> count_{0};
};

class FaultyWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultPlan& plan)
      : FSWritableFileOwnerWrapper(std::move(file)), plan_(plan) {}
  using IOOptions = rocksdb::IOOptions;
  using IODebugContext = rocksdb::IODebugContext;

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const IOOptions& o,
                           IODebugContext* d) override {
    auto s = plan_.Next(true);
    return s.ok() ? target()->Append(data, o, d) : s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const IOOptions& o,
                           const rocksdb::DataVerificationInfo& v, IODebugContext* d) override {
    auto s = plan_.Next(true);
    return s.ok() ? target()->Append(data, o, v, d) : s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const IOOptions& o, IODebugContext* d) override {
    auto s = plan_.Next(true);
    return s.ok() ? target()->PositionedAppend(data, offset, o, d) : s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const IOOptions& o, const rocksdb::DataVerificationInfo& v,
                                     IODebugContext* d) override {
    auto s = plan_.Next(true);
    return s.ok() ? target()->PositionedAppend(data, offset, o, v, d) : s;
  }
  rocksdb::IOStatus Sync(const IOOptions& o, IODebugContext* d) override {
    auto s = plan_.Next(true);
    return s.ok() ? target()->Sync(o, d) : s;
  }
  rocksdb::IOStatus Fsync(const IOOptions& o, IODebugContext* d) override {
    auto s = plan_.Next(true);
    return s.ok() ? target()->Fsync(o, d) : s;
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t n, const IOOptions& o,
                              IODebugContext* d) override {
    auto s = plan_.Next(true);
    return s.ok() ? target()->RangeSync(offset, n, o, d) : s;
  }

 private:
  FaultPlan& plan_;
};

class FaultyRandomAccessFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  FaultyRandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile> file, FaultPlan& plan)
      : FSRandomAccessFileOwnerWrapper(std::move(file)), plan_(plan) {}

  rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& o,
                         rocksdb::Slice* result, char* scratch,
                         rocksdb::IODebugContext* d) const override {
    auto s = plan_.Next(false);
    return s.ok() ? target()->Read(offset, n, o, result, scratch, d) : s;
  }
  rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                              const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    auto s = plan_.Next(false);
    if (s.ok()) return target()->MultiRead(reqs, num_reqs, o, d);
    for (size_t i = 0; i < num_reqs; ++i) reqs[i].status = s;
    return s;
  }

 private:
  FaultPlan& plan_;
};

class FaultySequentialFile final : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  FaultySequentialFile(std::unique_ptr<rocksdb::FSSequentialFile> file, FaultPlan& plan)
      : FSSequentialFileOwnerWrapper(std::move(file)), plan_(plan) {}

  rocksdb::IOStatus Read(size_t n, const rocksdb::IOOptions& o, rocksdb::Slice* result,
                         char* scratch, rocksdb::IODebugContext* d) override {
    auto s = plan_.Next(false);
    return s.ok() ? target()->Read(n, o, result, scratch, d) : s;
  }

 private:
  FaultPlan& plan_;
};

class FaultInjectingFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectingFileSystem(FaultSpec spec)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), plan_(spec) {}
  const char* Name() const override { return "CofferFaultInjectingFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    auto s = target()->NewWritableFile(f, o, r, d);
    if (s.ok()) *r = std::make_unique<FaultyWritableFile>(std::move(*r), plan_);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    auto s = target()->ReopenWritableFile(f, o, r, d);
    if (s.ok()) *r = std::make_unique<FaultyWritableFile>(std::move(*r), plan_);
    return s;
  }
  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* d) override {
    auto s = target()->NewRandomAccessFile(f, o, r, d);
    if (s.ok()) *r = std::make_unique<FaultyRandomAccessFile>(std::move(*r), plan_);
    return s;
  }
  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* d) override {
    auto s = target()->NewSequentialFile(f, o, r, d);
    if (s.ok()) *r = std::make_unique<FaultySequentialFile>(std::move(*r), plan_);
    return s;
  }

 private:
  FaultPlan plan_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> FaultInjectionFromEnvironment() {
  // One file system per process: the count runs across every open.
  static const std::shared_ptr<rocksdb::FileSystem> fs =
      []() -> std::shared_ptr<rocksdb::FileSystem> {
    const char* env = std::getenv("COFFER_IO_FAULT");
    if (env == nullptr || *env == '\0') return nullptr;
    return std::make_shared<FaultInjectingFileSystem>(ParseSpec(env));
  }();
  return fs;
}

}  // namespace coffer::kv
