// S3rver: a real S3-compatible server for tests, the npm package s3rver
// 3.7.1 run as a child process on a free loopback port. Objects live as
// files under the data folder, so a restart keeps them.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace coffer::testing {

class S3rver {
 public:
  // s3rver knows one account; it checks only the key id (another one gets
  // 403 InvalidAccessKeyId), not the signature made with the secret.
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";
  static constexpr const char* kRegion = "us-east-1";
  static constexpr const char* kDefaultBinary = "/opt/coffer-s3rver/node_modules/.bin/s3rver";

  // kDefaultBinary if it is executable, else $COFFER_S3RVER if that is;
  // "" when s3rver is not installed (a test then skips and says so).
  static std::string Binary();

  // Runs s3rver on a free port of 127.0.0.1 with `data_dir` (created if
  // absent) and the given buckets created, and returns once it answers for
  // every bucket. nullptr, with the reason in *why_not, if the binary is
  // missing or the server did not come up within 20 s.
  //
  // If the test process dies without running the destructor, the kernel
  // ends the server too (PR_SET_PDEATHSIG). That signal follows the thread
  // that called Start or Restart, so that thread must outlive the server
  // (GoogleTest's main thread does).
  static std::unique_ptr<S3rver> Start(const std::string& data_dir,
                                       const std::vector<std::string>& buckets,
                                       std::string* why_not);

  // Stops the server (SIGTERM to its process group, SIGKILL after 5 s).
  ~S3rver();
  S3rver(const S3rver&) = delete;
  S3rver& operator=(const S3rver&) = delete;

  int port() const { return port_; }
  std::string endpoint() const;  // "http://127.0.0.1:PORT"

  // Stops the server, as if it went away: connections to the port are then
  // refused. True if it stopped on SIGTERM (or was not running).
  bool Stop();
  // Starts it again on the same port and data folder (objects kept) and
  // waits until it answers, as Start does. False, with the reason in
  // *why_not if given, if it did not come up.
  bool Restart(std::string* why_not = nullptr);

 private:
  S3rver(std::string binary, std::string data_dir, std::vector<std::string> buckets, int port);
  bool Launch(std::string* why_not);

  std::string binary_;
  std::string data_dir_;
  std::vector<std::string> buckets_;
  int port_ = 0;
  pid_t pid_ = -1;
  int log_fd_ = -1;  // the child's stdout and stderr, read when it fails
};

}  // namespace coffer::testing
