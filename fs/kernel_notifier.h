// KernelNotifier: the KernelCache of a mounted session. It stores offered
// file data in the kernel's page cache (FUSE_NOTIFY_STORE) and asks the
// kernel to drop names when the inode table is over its share
// (FUSE_NOTIFY_INVAL_ENTRY).
//
// One thread of its own sends the notifications: the kernel may make a
// notification wait for a request in flight (a page that is being read, a
// directory that is being listed), and the threads that answer requests must
// never wait for that. Offers wait in a queue bounded by their bytes; when it
// is full, new offers are dropped (the kernel then simply asks for the data).
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "fs/fuse_includes.h"
#include "fs/snapshot_fs.h"

namespace coffer::fs {

class KernelNotifier : public KernelCache {
 public:
  // `session` and `fs` must remain live while this KernelNotifier is.
  KernelNotifier(struct fuse_session* session, SnapshotFs& fs,
                 uint64_t max_queued_bytes = 4ull << 20);
  // Stops and joins the thread: see Stop().
  ~KernelNotifier() override;
  KernelNotifier(const KernelNotifier&) = delete;
  KernelNotifier& operator=(const KernelNotifier&) = delete;

  void Offer(uint64_t ino, uint64_t offset, ByteView data, ChunkPtr keep) override;
  void Trim() override;

  // Drops what is queued and starts no new notification. The one in progress
  // may wait for a request the kernel sent: once the session's loop has
  // ended, answer requests (FuseSession::ServeOne) until stopped() is true.
  void Stop();
  bool stopped() const;

  uint64_t stored_bytes() const;  // bytes the kernel took so far

 private:
  struct Store {
    uint64_t ino;
    uint64_t offset;
    ByteView data;
    ChunkPtr keep;
  };
  void Run();
  void Send(const Store& store);
  void Evict();

  struct fuse_session* session_;
  SnapshotFs& fs_;
  const uint64_t max_queued_bytes_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Store> stores_;
  uint64_t queued_bytes_ = 0;
  uint64_t stored_bytes_ = 0;
  bool trim_ = false;
  bool stopping_ = false;
  bool done_ = false;   // the thread has left its loop
  std::thread thread_;  // last: it uses everything above
};

}  // namespace coffer::fs
