// An AWS Signature Version 4 check of S3 requests, written from AWS's
// description of the algorithm with OpenSSL's HMAC and SHA-256, so that the
// signatures libcurl makes for Coffer are judged by code they share nothing
// with (the S3 server the tests run, s3rver, checks only the key id).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coffer::testing {

struct SignedRequest {
  std::string method;
  std::string target;  // the request target as sent: "/bucket/key?query"
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, values trimmed
  std::string_view body;
};

// "" when `request` carries a valid AWS4-HMAC-SHA256 signature for the S3
// service made with `secret_key`; otherwise why not, in a few words.
std::string CheckSigV4(const SignedRequest& request, std::string_view secret_key);

}  // namespace coffer::testing
