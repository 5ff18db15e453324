// Conversions between struct timespec and the nanoseconds since the epoch in
// which Coffer stores times (negative before 1970).
#pragma once

#include <time.h>

#include <cstdint>

namespace coffer {

inline int64_t ToNanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline struct timespec ToTimespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  if (ts.tv_nsec < 0) {  // division truncates toward zero; tv_nsec must not be negative
    ts.tv_nsec += 1'000'000'000;
    --ts.tv_sec;
  }
  return ts;
}

}  // namespace coffer
