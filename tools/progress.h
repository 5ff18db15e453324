// ProgressLine: one status line on stderr, redrawn four times a second while
// a command runs, and only when stderr is a terminal (logs stay clean).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace coffer::tools {

class ProgressLine {
 public:
  // `render` is called from the progress thread; it must be thread-safe.
  ProgressLine(bool enabled, std::function<std::string()> render);
  ~ProgressLine();  // stops and clears the line
  void Stop();

 private:
  void Loop();

  std::function<std::string()> render_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// True when progress should be drawn: stderr is a terminal and not --quiet.
bool ProgressWanted(bool quiet);

}  // namespace coffer::tools
