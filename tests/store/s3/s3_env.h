// A copy in object storage as a test environment: an S3ObjectStore on a real
// S3 server (s3rver, tests/testing/s3rver.h) that this environment starts
// and stops. Packs are small here, so a test's few objects span several.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/s3/s3_object_store.h"
#include "tests/testing/fs_fixtures.h"
#include "tests/testing/s3rver.h"

namespace coffer::testing {

inline constexpr const char* kTestBucket = "coffer-test";

// Settings that reach `endpoint` with s3rver's account.
inline s3::S3Settings S3rverSettings(const std::string& endpoint) {
  s3::S3Settings settings;
  settings.endpoint = endpoint;
  settings.access_key_id = S3rver::kAccessKey;
  settings.secret_access_key = S3rver::kSecretKey;
  settings.path_style = true;
  return settings;
}

// Small packs and indexes after every two, and quick retries.
inline s3::S3StoreOptions SmallPackOptions() {
  s3::S3StoreOptions options;
  options.pack_size = 64 << 10;
  options.packs_per_index = 2;
  options.retry.first_backoff = std::chrono::milliseconds(5);
  options.retry.max_backoff = std::chrono::milliseconds(50);
  return options;
}

class S3Env {
 public:
  static constexpr const char* kName = "S3";
  S3Env() {
    server_ = S3rver::Start(tmp_ / "s3", {kTestBucket}, &why_not_);
    if (server_) Open();
  }
  // False when there is no S3 server to test against (s3rver not installed).
  bool ready() const { return server_ != nullptr; }
  const std::string& why_not() const { return why_not_; }

  ObjectStore& store() { return *store_; }
  s3::S3ObjectStore& bucket() { return *store_; }
  S3rver& server() { return *server_; }
  // A new client of the same copy: what another machine reading it sees.
  void Reopen() {
    store_.reset();
    Open();
  }

 private:
  void Open() {
    auto opened = s3::S3ObjectStore::Open(S3rverSettings(server_->endpoint()),
                                          s3::S3Location{kTestBucket, "copy"}, SmallPackOptions());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  TempDir tmp_;
  std::string why_not_;
  std::unique_ptr<S3rver> server_;
  std::unique_ptr<s3::S3ObjectStore> store_;
};

}  // namespace coffer::testing
