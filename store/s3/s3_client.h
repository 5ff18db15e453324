// A client of one S3 bucket: put, get (whole or a range), delete and list,
// over libcurl, whose built-in AWS Signature Version 4 signs every request.
//
// Transient failures are retried with exponential backoff and jitter: a
// connection refused, reset or dropped mid-answer, a timeout, and the
// answers 500, 502, 503, 504, 429 and RequestTimeout. Everything else is
// answered at once, as a Status saying what the server said:
//   kNotFound          the bucket does not exist;
//   kPermissionDenied  the credentials are unknown or not allowed;
//   kIoError           the server could not be reached in the end, or
//                      answered something Coffer does not expect.
//
// Thread-safety: every method may be called from many threads at once (each
// request takes a connection from a small pool).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/status.h"
#include "store/s3/s3_responses.h"
#include "store/s3/s3_settings.h"

namespace coffer::s3 {

struct RetryPolicy {
  int attempts = 8;  // tries in all, the first included
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{8000};
};

class S3Client {
 public:
  S3Client(S3Settings settings, std::string bucket, RetryPolicy retry = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // OK if the bucket exists and the credentials may list it.
  Status CheckBucket();
  Status Put(const std::string& key, ByteView body);
  // nullopt if there is no such object.
  Result<std::optional<Bytes>> Get(const std::string& key);
  // Exactly `length` bytes at `offset`; kNotFound if there is no such object.
  Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length);
  // OK also if there was no such object (S3's own answer).
  Status Delete(const std::string& key);
  // Every object whose key starts with `prefix`, in key order.
  Result<std::vector<ListedObject>> List(const std::string& prefix);

  // Requests tried again after a transient failure, since the start.
  uint64_t retries() const { return retries_.load(); }
  // "s3://BUCKET" at the endpoint, for messages.
  std::string Describe() const;

 private:
  struct Request;
  struct Response {
    long status = 0;
    Bytes body;
  };
  struct Handle;

  Result<Response> Perform(const Request& request);
  Result<Response> PerformOnce(Handle& handle, const Request& request, bool* transient);
  std::string UrlFor(const std::string& key, const std::string& query) const;
  std::unique_ptr<Handle> TakeHandle();
  void ReturnHandle(std::unique_ptr<Handle> handle);
  Status ErrorFor(const Response& response, const std::string& what) const;
  static bool MissingBucket(const Response& response);

  const S3Settings settings_;
  const std::string bucket_;
  const RetryPolicy retry_;
  std::atomic<uint64_t> retries_{0};
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Handle>> pool_;
};

}  // namespace coffer::s3
