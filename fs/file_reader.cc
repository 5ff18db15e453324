#include "fs/file_reader.h"

#include <unistd.h>

#include <algorithm>

#include "store/model/tree_split.h"

namespace coffer::fs {

namespace {

constexpr uint64_t kPage = 4096;

uint64_t ExtentSize(const pb::Extent& extent) {
  return extent.size();
}

const std::vector<uint8_t>& Zeros() {
  static const std::vector<uint8_t> zeros(1 << 20, 0);
  return zeros;
}

}  // namespace

FileReader::FileReader(ChunkCache& chunks, TreeCache& trees, uint64_t readahead_bytes,
                       std::function<void(const std::string&)> log,
                       const std::atomic<KernelCache*>& kernel)
    : chunks_(chunks),
      trees_(trees),
      readahead_bytes_(readahead_bytes),
      log_(std::move(log)),
      kernel_(kernel) {}

Result<std::unique_ptr<FileHandle>> FileReader::Open(uint64_t ino, const pb::Entry& entry,
                                                     std::string path) {
  auto file = std::make_unique<FileHandle>();
  file->ino = ino;
  file->entry = entry;
  file->path = std::move(path);
  file->size = entry.size();
  if (file->entry.extent_parts_size() > 0) {
    if (file->entry.extents_size() > 0) {
      return Status::Corruption(file->path + ": has both extents and extent parts");
    }
    file->part_starts = Starts(file->entry.extent_parts(), 0,
                               [](const pb::ExtentPart& part) { return part.size(); });
    return file;
  }
  auto whole = std::make_shared<ExtentRun>();
  whole->extents = &file->entry.extents();  // the handle outlives its runs
  whole->starts = Starts(*whole->extents, 0, ExtentSize);
  file->whole = std::move(whole);
  return file;
}

size_t ExtentRun::IndexOf(uint64_t offset) const {
  return ItemHolding(starts, offset);
}

Result<ExtentRunPtr> FileReader::RunAt(FileHandle& file, uint64_t offset) {
  if (file.whole) return offset < file.whole->starts.back() ? file.whole : nullptr;
  const std::vector<uint64_t>& starts = file.part_starts;
  if (offset >= starts.back()) return ExtentRunPtr();
  const size_t k = ItemHolding(starts, offset);
  {
    std::lock_guard lock(file.mu);
    for (const auto& [index, run] : file.recent_parts) {
      if (index == k) return run;
    }
  }
  const pb::ExtentPart& ref = file.entry.extent_parts(static_cast<int>(k));
  auto part_id = ObjectId::FromBytes(AsBytes(ref.tree_id()));
  if (!part_id) {
    return Status::Corruption(file.path + ": extent part " + std::to_string(k) +
                              " has a malformed id");
  }
  COFFER_ASSIGN_OR_RETURN(TreeObjectPtr part, trees_.Read(*part_id));
  COFFER_RETURN_IF_ERROR(model::CheckExtentPart(*part_id, ref, part->tree).WithContext(file.path));
  auto run = std::make_shared<ExtentRun>();
  run->part = part;
  run->extents = &part->tree.entries(0).extents();
  run->starts = Starts(*run->extents, starts[k], ExtentSize);
  std::lock_guard lock(file.mu);
  // The part being read and the one read ahead into; older ones go.
  constexpr size_t kRecentParts = 3;
  if (file.recent_parts.size() >= kRecentParts) file.recent_parts.erase(file.recent_parts.begin());
  file.recent_parts.emplace_back(k, run);
  return ExtentRunPtr(std::move(run));
}

void FileReader::PlanReadahead(FileHandle& file, uint64_t offset, uint64_t end, bool* random) {
  // The kernel's own readahead sends several reads at once, so they may
  // arrive a little out of order: near the expected offset counts as sequential.
  constexpr uint64_t kSlack = 2ull << 20;
  uint64_t from, to;
  {
    std::lock_guard lock(file.mu);
    bool continues = file.any_read
                         ? offset + kSlack >= file.expected && offset <= file.expected + kSlack
                         : offset == file.start;
    file.any_read = true;
    file.sequential_run = continues ? file.sequential_run + 1 : 0;
    file.expected = continues ? std::max(file.expected, end) : end;
    *random = !continues;
    if (!continues || readahead_bytes_ == 0) return;
    from = std::max(end, file.readahead_to);
    to = std::min<uint64_t>(file.start + file.size, end + readahead_bytes_);
    if (from >= to) return;
    file.readahead_to = to;
  }
  struct Ahead {
    ObjectId id;
    uint64_t bytes;
    uint64_t start;  // in the entry
  };
  std::vector<Ahead> ahead;
  for (uint64_t at = from; at < to;) {
    Result<ExtentRunPtr> run = RunAt(file, at);
    if (!run.ok() || !*run) break;  // errors are left for the read that needs the chunk
    const ExtentRun& r = **run;
    for (size_t i = r.IndexOf(at); i < r.count() && r.starts[i] < to; ++i) {
      const pb::Extent& extent = (*r.extents)[static_cast<int>(i)];
      auto id = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
      if (id && !chunks_.Has(*id)) ahead.push_back({*id, extent.size(), r.starts[i]});
    }
    at = r.starts.back();
  }
  for (const Ahead& chunk : ahead) {
    if (chunks_.Prefetch(chunk.id, chunk.bytes) == ChunkCache::Prefetched::kQueueFull) {
      // The rest is planned again by the next read, once the queue has room.
      std::lock_guard lock(file.mu);
      file.readahead_to = std::min(file.readahead_to, std::max(chunk.start, end));
      break;
    }
  }
}

void FileReader::OfferChunk(FileHandle& file, const ExtentRun& run, size_t extent,
                            const ChunkPtr& chunk) {
  KernelCache* kernel = kernel_.load();
  if (!kernel) return;
  const uint64_t chunk_start = run.starts[extent];
  {
    std::lock_guard lock(file.mu);
    // Offering a chunk twice is only wasted work: start afresh rather than
    // let a random reader of a huge file grow the set without end.
    constexpr size_t kMaxRemembered = 1 << 16;
    if (file.offered.size() >= kMaxRemembered) file.offered.clear();
    if (!file.offered.insert(chunk_start).second) return;
  }
  // What the handle shows of the chunk, in the handle's offsets (a
  // partition starts anywhere in its image).
  const uint64_t start = std::max(chunk_start, file.start) - file.start;
  const uint64_t stop = std::min(run.starts[extent + 1], file.start + file.size) - file.start;
  // Only whole pages: the kernel keeps a page only when it gets all of it
  // (or everything up to the end of the file).
  uint64_t first = (start + kPage - 1) / kPage * kPage;
  uint64_t last = stop == file.size ? stop : stop / kPage * kPage;
  if (first >= last) return;
  ByteView data(chunk->data() + (file.start + first - chunk_start),
                static_cast<size_t>(last - first));
  kernel->Offer(file.ino, first, data, chunk);
}

Result<ReadData> FileReader::Read(FileHandle& file, uint64_t offset, size_t size) {
  if (offset >= file.size || size == 0) return ReadData();
  const uint64_t from = file.start + offset;
  const uint64_t to = file.start + std::min<uint64_t>(file.size, offset + size);
  bool random = false;
  PlanReadahead(file, from, to, &random);
  return ReadContent(file, from, to, random);
}

Result<ReadData> FileReader::ReadContent(FileHandle& file, uint64_t offset, uint64_t end,
                                         bool offer) {
  ReadData data;
  const std::vector<uint8_t>& zeros = Zeros();
  auto add_zeros = [&](uint64_t n) {
    while (n > 0) {
      size_t piece = static_cast<size_t>(std::min<uint64_t>(n, zeros.size()));
      data.iov.push_back({const_cast<uint8_t*>(zeros.data()), piece});
      n -= piece;
    }
  };
  uint64_t pos = offset;
  while (pos < end) {
    COFFER_ASSIGN_OR_RETURN(ExtentRunPtr run, RunAt(file, pos));
    if (!run) {  // past the last extent: a trailing hole
      add_zeros(end - pos);
      break;
    }
    const uint64_t run_began_at = pos;
    for (size_t i = run->IndexOf(pos); pos < end && i < run->count(); ++i) {
      const pb::Extent& extent = (*run->extents)[static_cast<int>(i)];
      uint64_t piece_end = std::min(end, run->starts[i + 1]);
      if (piece_end <= pos) continue;
      if (extent.chunk_id().empty()) {
        add_zeros(piece_end - pos);
      } else {
        auto id = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
        Result<ChunkPtr> chunk = Status::Corruption("malformed chunk id");
        if (id) {
          chunk = chunks_.Get(*id);
          if (chunk.ok() && (*chunk)->size() != extent.size()) {
            chunk = Status::Corruption("chunk " + id->short_hex() + " has the wrong size");
          }
        }
        if (!chunk.ok()) {
          std::string what = id ? id->hex() : std::string("(malformed id)");
          const char* kind =
              chunk.status().code() == Code::kCorruption ? "damaged chunk" : "cannot read chunk";
          log_(std::string(kind) + " " + what + " in " + file.path + ": " +
               chunk.status().message());
          // A chunk the repository no longer has (damage, or a gc after the
          // snapshot was forgotten) is EIO to the reader, not ENOENT: the
          // file is there, its data is not.
          if (chunk.status().code() == Code::kNotFound) {
            return Status::IoError(chunk.status().message());
          }
          return chunk.status();
        }
        uint64_t within = pos - run->starts[i];
        data.iov.push_back({const_cast<uint8_t*>((*chunk)->data() + within),
                            static_cast<size_t>(piece_end - pos)});
        if (offer) OfferChunk(file, *run, i, *chunk);
        data.keep.push_back(std::move(chunk).value());
      }
      pos = piece_end;
    }
    if (pos == run_began_at)
      return Status::Corruption(file.path + ": its extents do not cover its size");
  }
  data.size = static_cast<size_t>(end - offset);
  return data;
}

Result<std::optional<uint64_t>> FileReader::Seek(FileHandle& file, uint64_t offset, int whence) {
  if (offset >= file.size) return std::optional<uint64_t>();
  bool want_data = whence == SEEK_DATA;
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return Status::InvalidArgument("bad whence");
  // In the entry's offsets: the handle shows [begin, end) of it.
  const uint64_t begin = file.start, end = file.start + file.size, from = begin + offset;
  uint64_t at = from;
  while (at < end) {
    COFFER_ASSIGN_OR_RETURN(ExtentRunPtr run, RunAt(file, at));
    if (!run) break;
    for (size_t i = run->IndexOf(at); i < run->count() && run->starts[i] < end; ++i) {
      const pb::Extent& extent = (*run->extents)[static_cast<int>(i)];
      if (extent.size() == 0) continue;
      bool is_data = !extent.chunk_id().empty();
      if (is_data == want_data)
        return std::optional<uint64_t>(std::max(from, run->starts[i]) - begin);
    }
    if (run->starts.back() <= at) break;
    at = run->starts.back();
  }
  if (want_data) return std::optional<uint64_t>();  // only holes from here on
  // Past the last extent up to the size is a hole, and EOF counts as one.
  return std::optional<uint64_t>(std::min(end, std::max(from, at)) - begin);
}

}  // namespace coffer::fs
