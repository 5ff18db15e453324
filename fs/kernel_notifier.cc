#include "fs/kernel_notifier.h"

#include <algorithm>

namespace coffer::fs {

namespace {

// Stores go out in pieces of at most this size (the most a read may ask for).
constexpr size_t kMaxStore = 1u << 20;
// Names dropped per round, between which queued stores get their turn.
constexpr size_t kEvictionsPerRound = 256;

}  // namespace

KernelNotifier::KernelNotifier(struct fuse_session* session, SnapshotFs& fs,
                               uint64_t max_queued_bytes)
    : session_(session), fs_(fs), max_queued_bytes_(max_queued_bytes), thread_([this] { Run(); }) {}

KernelNotifier::~KernelNotifier() {
  Stop();
  thread_.join();
}

void KernelNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stores_.clear();
    queued_bytes_ = 0;
  }
  wake_.notify_all();
}

bool KernelNotifier::stopped() const {
  std::lock_guard lock(mu_);
  return done_;
}

void KernelNotifier::Offer(uint64_t ino, uint64_t offset, ByteView data, ChunkPtr keep) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queued_bytes_ + data.size() > max_queued_bytes_) return;
    queued_bytes_ += data.size();
    stores_.push_back(Store{ino, offset, data, std::move(keep)});
  }
  wake_.notify_one();
}

void KernelNotifier::Trim() {
  {
    std::lock_guard lock(mu_);
    if (trim_) return;
    trim_ = true;
  }
  wake_.notify_one();
}

uint64_t KernelNotifier::stored_bytes() const {
  std::lock_guard lock(mu_);
  return stored_bytes_;
}

void KernelNotifier::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || trim_ || !stores_.empty(); });
    if (stopping_) break;
    if (!stores_.empty()) {
      Store store = std::move(stores_.front());
      stores_.pop_front();
      queued_bytes_ -= store.data.size();
      lock.unlock();
      Send(store);
      store.keep.reset();  // before the lock: the chunk may be freed here
      lock.lock();
      continue;
    }
    trim_ = false;
    lock.unlock();
    Evict();
    lock.lock();
  }
  done_ = true;
}

void KernelNotifier::Send(const Store& store) {
  uint64_t sent = 0;
  while (sent < store.data.size()) {
    size_t piece = std::min<size_t>(kMaxStore, store.data.size() - sent);
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(piece);
    buf.buf[0].mem = const_cast<uint8_t*>(store.data.data() + sent);
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    // Fails when the kernel forgot the inode meanwhile: then nobody needs it.
    if (fuse_lowlevel_notify_store(session_, store.ino, static_cast<off_t>(store.offset + sent),
                                   &buf, static_cast<enum fuse_buf_copy_flags>(0)) != 0) {
      break;
    }
    sent += piece;
  }
  std::lock_guard lock(mu_);
  stored_bytes_ += sent;
}

void KernelNotifier::Evict() {
  for (;;) {
    std::vector<Eviction> evictions = fs_.TakeEvictions(kEvictionsPerRound);
    for (const Eviction& e : evictions) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      // ENOENT: the kernel dropped the name already; its forget is on the way.
      (void)fuse_lowlevel_notify_inval_entry(session_, e.parent, e.name.data(), e.name.size());
    }
    if (evictions.size() < kEvictionsPerRound) return;
    std::lock_guard lock(mu_);
    if (stopping_ || !stores_.empty()) {  // let the stores through, then go on
      trim_ = true;
      return;
    }
  }
}

}  // namespace coffer::fs
