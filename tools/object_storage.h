// Opening a copy in object storage (s3://BUCKET/PREFIX) for a command, with
// the endpoint and credentials from the AWS environment and files
// (store/s3/s3_settings.h).
#pragma once

#include <memory>
#include <string>

#include "store/base/status.h"
#include "store/s3/s3_object_store.h"

namespace coffer::tools {

// `pack_size`: --pack-size as given ("" for the default of 16M).
Result<std::unique_ptr<s3::S3ObjectStore>> OpenBucket(const std::string& address,
                                                      const std::string& pack_size = "");

}  // namespace coffer::tools
