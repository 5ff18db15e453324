#include "store/ingest/image_builder.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "store/chunk/image_chunks.h"

namespace coffer::ingest {
namespace {

using chunk::ImageChunkCount;
using chunk::ImageChunkLength;
using chunk::kImageChunkSize;

constexpr size_t kSlotSize = ObjectId::kSize;

Result<UniqueFd> OpenSlotFile() {
  const char* dir = std::getenv("TMPDIR");
  std::string folder = dir && *dir ? dir : "/tmp";
  // Unnamed: nothing is left behind if the import dies.
  int fd = open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    std::string name = folder + "/coffer-image-XXXXXX";
    fd = mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) unlink(name.c_str());
  }
  if (fd < 0) return Status::FromErrno(errno, "create a temporary file in " + folder);
  return UniqueFd(fd);
}

Status WriteAll(int fd, const uint8_t* data, size_t size, uint64_t offset) {
  while (size > 0) {
    ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "write the image's chunk list");
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ImageBuilder>> ImageBuilder::Create(WriteSession& session, uint64_t size,
                                                           Order order, Executor* hashers) {
  UniqueFd slots;
  if (order == Order::kAny) {
    COFFER_ASSIGN_OR_RETURN(slots, OpenSlotFile());
  } else {
    hashers = nullptr;  // in order, extents are written as chunks come
  }
  return std::unique_ptr<ImageBuilder>(
      new ImageBuilder(session, size, order, std::move(slots), hashers));
}

ImageBuilder::ImageBuilder(WriteSession& session, uint64_t size, Order order, UniqueFd slots,
                           Executor* hashers)
    : session_(session),
      size_(size),
      order_(order),
      slots_(std::move(slots)),
      extents_([&session](const pb::Tree& part) { return session.AddTree(part); }),
      hashers_(hashers) {}

ImageBuilder::~ImageBuilder() {
  (void)WaitForHandOffs();
}

Status ImageBuilder::Put(uint64_t index, ByteView data) {
  if (index >= ImageChunkCount(size_)) {
    return Status::InvalidArgument("chunk " + std::to_string(index) + " is past the image's end");
  }
  if (data.size() != ImageChunkLength(size_, index)) {
    return Status::InvalidArgument("chunk " + std::to_string(index) + " has " +
                                   std::to_string(data.size()) + " bytes, not " +
                                   std::to_string(ImageChunkLength(size_, index)));
  }
  if (order_ == Order::kAny) {
    if (!hashers_) return StoreInSlot(index, data);
    {
      std::lock_guard lock(handoff_mutex_);
      if (!handoff_error_.ok()) return handoff_error_;
    }
    // A copy: the caller's bytes are valid only until it reads on.
    if (!pending_) pending_ = std::make_unique<HandOff>();
    pending_->indices.push_back(index);
    pending_->data.insert(pending_->data.end(), data.begin(), data.end());
    pending_->starts.push_back(pending_->data.size());
    if (pending_->data.size() >= kHandOffBytes) SubmitPending();
    return Status::Ok();
  }
  if (index < next_index_) {
    return Status::InvalidArgument("chunk " + std::to_string(index) + " came out of order");
  }
  std::optional<ObjectId> id;
  if (!chunk::IsAllZero(data)) {
    COFFER_ASSIGN_OR_RETURN(id, session_.AddChunk(data));
  }
  COFFER_RETURN_IF_ERROR(HolesUpTo(index));
  COFFER_RETURN_IF_ERROR(AddExtent(index, id));
  next_index_ = index + 1;
  return Status::Ok();
}

Status ImageBuilder::StoreInSlot(uint64_t index, ByteView data) {
  if (chunk::IsAllZero(data)) return Status::Ok();  // the slot stays zero: a hole
  // Sealed in this thread when its batch fills: a worker hands off no further.
  COFFER_ASSIGN_OR_RETURN(ObjectId id, session_.AddChunk(data, /*background=*/hashers_ == nullptr));
  return WriteAll(slots_.get(), id.bytes.data(), kSlotSize, index * kSlotSize);
}

void ImageBuilder::SubmitPending() {
  std::shared_ptr<HandOff> handoff = std::move(pending_);
  {
    std::lock_guard lock(handoff_mutex_);
    ++handoffs_running_;
  }
  hashers_->Submit([this, handoff] {
    Status status;
    for (size_t i = 0; i < handoff->indices.size() && status.ok(); ++i) {
      ByteView chunk(handoff->data.data() + handoff->starts[i],
                     handoff->starts[i + 1] - handoff->starts[i]);
      status = StoreInSlot(handoff->indices[i], chunk);
    }
    std::lock_guard lock(handoff_mutex_);
    if (handoff_error_.ok()) handoff_error_ = status;
    --handoffs_running_;
    handoff_done_.notify_all();
  });
}

Status ImageBuilder::WaitForHandOffs() {
  std::unique_lock lock(handoff_mutex_);
  handoff_done_.wait(lock, [this] { return handoffs_running_ == 0; });
  return handoff_error_;
}

Status ImageBuilder::HolesUpTo(uint64_t index) {
  for (; next_index_ < index; ++next_index_) {
    COFFER_RETURN_IF_ERROR(AddExtent(next_index_, std::nullopt));
  }
  return Status::Ok();
}

Status ImageBuilder::AddExtent(uint64_t index, const std::optional<ObjectId>& id) {
  pb::Extent extent;
  if (id) extent.set_chunk_id(id->bytes.data(), id->bytes.size());
  extent.set_size(ImageChunkLength(size_, index));
  return extents_.Add(std::move(extent));
}

Status ImageBuilder::Finish(pb::Entry* entry) {
  const uint64_t count = ImageChunkCount(size_);
  if (order_ == Order::kSequential) {
    COFFER_RETURN_IF_ERROR(HolesUpTo(count));
    return extents_.Finish(entry);
  }
  if (pending_) SubmitPending();
  COFFER_RETURN_IF_ERROR(WaitForHandOffs());
  // The slots in order, a block at a time; past the file's end is all holes.
  constexpr uint64_t kSlotsPerRead = 4096;
  std::vector<uint8_t> block(kSlotsPerRead * kSlotSize);
  for (uint64_t first = 0; first < count; first += kSlotsPerRead) {
    const uint64_t n = std::min(kSlotsPerRead, count - first);
    size_t got = 0;
    while (got < n * kSlotSize) {
      ssize_t r = pread(slots_.get(), block.data() + got, n * kSlotSize - got,
                        static_cast<off_t>(first * kSlotSize + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::FromErrno(errno, "read the image's chunk list");
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    std::fill(block.begin() + static_cast<ptrdiff_t>(got), block.end(), 0);
    for (uint64_t i = 0; i < n; ++i) {
      ByteView slot(block.data() + i * kSlotSize, kSlotSize);
      std::optional<ObjectId> id;
      if (!chunk::IsAllZero(slot)) id = ObjectId::FromBytes(slot);
      COFFER_RETURN_IF_ERROR(AddExtent(first + i, id));
    }
  }
  return extents_.Finish(entry);
}

}  // namespace coffer::ingest
