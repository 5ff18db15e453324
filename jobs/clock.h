// The clock seam of the jobs folder: what "now" is, so that schedules,
// catch-up and stale checks are tested with literal times and no waiting.
//
// TimePoint is a whole second of UTC (std::chrono::sys_seconds). SystemClock
// reads the real clock; FakeClock returns what the test set. Both are safe
// to call from several threads (FakeClock's time is atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace coffer::jobs {

using TimePoint = std::chrono::sys_seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The machine's clock, truncated to the second.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

// A clock that stands still until told otherwise.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint now) : seconds_(now.time_since_epoch().count()) {}

  TimePoint Now() const override { return TimePoint(std::chrono::seconds(seconds_.load())); }
  void Set(TimePoint now) { seconds_.store(now.time_since_epoch().count()); }
  void Advance(std::chrono::seconds by) { seconds_.fetch_add(by.count()); }

 private:
  std::atomic<int64_t> seconds_;
};

}  // namespace coffer::jobs
