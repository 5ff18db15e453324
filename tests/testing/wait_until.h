// The tests' one way to wait for a condition another process or thread
// makes true: a line in a log, a listening port, a process gone.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace coffer::testing {

// Asks `condition` every few milliseconds until it holds or `timeout` has
// passed; whether it held. The condition reads state the other side makes
// visible, so the wait ends when that happens: the timeout only bounds a
// wait for something that never comes (it is no guess of how long anything
// takes), and should be generous.
inline bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  constexpr std::chrono::milliseconds kPollInterval{10};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace coffer::testing
