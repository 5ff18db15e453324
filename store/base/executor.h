// Executor: a fixed set of worker threads draining a bounded queue of tasks.
//
// Submit() blocks while the queue is full, which is how a fast producer (the
// directory walk) is held to the pace of the workers and memory stays bounded.
// Tasks must not Submit() to the executor that runs them (that could block
// forever on a full queue). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace coffer {

class Executor {
 public:
  Executor(unsigned threads, size_t queue_capacity);
  ~Executor();  // finishes queued tasks, then joins
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Submit(std::function<void()> task);

  // Runs `fn` on a worker; the future carries its result.
  template <typename Fn>
  auto Async(Fn fn) -> std::future<decltype(fn())> {
    auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::move(fn));
    auto future = task->get_future();
    Submit([task] { (*task)(); });
    return future;
  }

  // Blocks until every task submitted so far has finished.
  void WaitIdle();

  static unsigned DefaultThreads();  // the number of cores, at least 1

 private:
  void WorkerLoop();

  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_, idle_;
  std::deque<std::function<void()>> queue_;
  size_t capacity_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace coffer
