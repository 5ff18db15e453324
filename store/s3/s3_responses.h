// The XML bodies an S3 server answers with that Coffer reads: a page of
// ListObjectsV2 and an error. Parsed with expat; anything else in them is
// ignored, as the S3 API asks of clients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/status.h"

namespace coffer::s3 {

struct ListedObject {
  std::string key;
  uint64_t size = 0;
};

struct ListPage {
  std::vector<ListedObject> objects;
  // Present when the listing goes on: the next request's continuation-token.
  std::optional<std::string> next_token;
};

// kCorruption when `xml` is not a ListBucketResult.
Result<ListPage> ParseListPage(std::string_view xml);

struct ErrorBody {
  std::string code;     // "NoSuchBucket", "SlowDown", ...
  std::string message;  // for people
};

// The error an S3 error response's body describes; nullopt when it has none
// (a HEAD answer, a proxy's HTML page).
std::optional<ErrorBody> ParseErrorBody(std::string_view xml);

}  // namespace coffer::s3
