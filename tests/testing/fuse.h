// The tests' one way to require FUSE: a test that mounts starts with
// COFFER_REQUIRE_FUSE(), and is skipped, saying why, where it cannot mount.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace coffer::testing {

// Why FUSE mounts cannot work here, or "" if they can: /dev/fuse must exist
// and open for reading and writing (a container may list it and refuse it).
inline std::string FuseUnavailable() {
  const int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open it: ") + std::strerror(errno);
  ::close(fd);
  return "";
}

}  // namespace coffer::testing

// Skips the test (from its body or SetUp) when FUSE mounts cannot work here.
// A macro because GTEST_SKIP returns from the function it is written in.
#define COFFER_REQUIRE_FUSE()                                                             \
  do {                                                                                    \
    if (const std::string coffer_fuse_unavailable = ::coffer::testing::FuseUnavailable(); \
        !coffer_fuse_unavailable.empty()) {                                               \
      GTEST_SKIP() << "needs /dev/fuse: " << coffer_fuse_unavailable;                     \
    }                                                                                     \
  } while (false)
