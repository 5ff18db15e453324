#include "tools/object_storage.h"

#include <fmt/format.h>

#include "tools/units.h"

namespace coffer::tools {
namespace {

// Pack sizes --pack-size accepts: a pack holds at least one largest chunk.
constexpr uint64_t kMinPackSize = 1 << 20;
constexpr uint64_t kMaxPackSize = 256 << 20;

}  // namespace

Result<std::unique_ptr<s3::S3ObjectStore>> OpenBucket(const std::string& address,
                                                      const std::string& pack_size) {
  COFFER_ASSIGN_OR_RETURN(s3::S3Location location, s3::ParseS3Address(address));
  s3::S3StoreOptions options;
  if (!pack_size.empty()) {
    Result<uint64_t> size = ParseSize(pack_size);
    if (!size.ok() || *size < kMinPackSize || *size > kMaxPackSize) {
      return Status::InvalidArgument("--pack-size " + pack_size +
                                     ": expected a size from 1M to 256M, like 16M");
    }
    options.pack_size = *size;
  }
  COFFER_ASSIGN_OR_RETURN(s3::S3Settings settings, s3::LoadS3Settings(s3::ProcessEnvironment()));
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<s3::S3ObjectStore> bucket,
                          s3::S3ObjectStore::Open(settings, location, options));
  // Every command that opens a bucket says so, not sync alone.
  for (const std::string& damaged : bucket->counts().damaged_indexes) {
    fmt::print(stderr, "coffer: {} (ignored: its packs are read from their own trailers)\n",
               damaged);
  }
  return bucket;
}

}  // namespace coffer::tools
