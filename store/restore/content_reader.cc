#include "store/restore/content_reader.h"

#include <future>
#include <optional>
#include <vector>

#include "store/model/tree_split.h"

namespace coffer::restore {
namespace {

// A window: up to this many chunks or bytes of data per round trip.
constexpr size_t kWindowChunks = 64;
constexpr uint64_t kWindowBytes = 8u << 20;

// The extents of a file in order, reading its extent parts one at a time.
class ExtentCursor {
 public:
  ExtentCursor(Repository& repo, const ObjectId& directory, const pb::Entry& entry)
      : repo_(repo), directory_(directory), entry_(entry) {}

  // The next extent; nullopt after the last.
  Result<std::optional<pb::Extent>> Next() {
    if (entry_.extent_parts_size() == 0) {
      if (next_ >= entry_.extents_size()) return std::optional<pb::Extent>();
      return std::optional<pb::Extent>(entry_.extents(next_++));
    }
    while (next_ >= part_.extents_size()) {
      if (next_part_ >= entry_.extent_parts_size()) return std::optional<pb::Extent>();
      const pb::ExtentPart& ref = entry_.extent_parts(next_part_++);
      auto id = ObjectId::FromBytes(AsBytes(ref.tree_id()));
      if (!id)
        return Status::Corruption("tree " + directory_.short_hex() +
                                  ": a file part with a malformed id");
      Result<pb::Tree> part = repo_.ReadTreeObject(*id);
      if (!part.ok()) return MissingIsDamage(part.status());
      COFFER_RETURN_IF_ERROR(model::CheckExtentPart(directory_, ref, *part));
      part_ = std::move(*part->mutable_entries(0));
      next_ = 0;
    }
    return std::optional<pb::Extent>(part_.extents(next_++));
  }

 private:
  Repository& repo_;
  const ObjectId& directory_;
  const pb::Entry& entry_;
  pb::Entry part_;  // the extents of the part being read
  int next_part_ = 0;
  int next_ = 0;
};

struct Window {
  google::protobuf::RepeatedPtrField<pb::Extent> extents;  // data and holes, in order
  std::vector<ObjectId> ids;                               // of the data extents, in order
  bool last = false;                                       // the file ends after it
};

Result<Window> NextWindow(ExtentCursor& cursor) {
  Window window;
  uint64_t bytes = 0;
  while (window.ids.size() < kWindowChunks && bytes < kWindowBytes) {
    COFFER_ASSIGN_OR_RETURN(std::optional<pb::Extent> extent, cursor.Next());
    if (!extent) {
      window.last = true;
      break;
    }
    if (!extent->chunk_id().empty()) {
      auto id = ObjectId::FromBytes(AsBytes(extent->chunk_id()));
      if (!id) return Status::Corruption("extent with a malformed chunk id");
      window.ids.push_back(*id);
      bytes += extent->size();
    }
    *window.extents.Add() = std::move(*extent);
  }
  return window;
}

using Fetched = Result<std::vector<Result<Bytes>>>;

// The window's chunks, fetched in another thread. The ids are copied: the
// window moves while they are fetched.
std::future<Fetched> Fetch(Repository& repo, const Window& window) {
  return std::async(std::launch::async, [&repo, ids = window.ids]() -> Fetched {
    if (ids.empty()) return std::vector<Result<Bytes>>();
    return repo.ReadObjects(ObjectKind::kChunk, ids);
  });
}

}  // namespace

Status MissingIsDamage(const Status& status) {
  if (status.code() != Code::kNotFound) return status;
  return Status::Corruption(status.message() + " (missing from the repository)");
}

Status CheckChunk(const Result<Bytes>& chunk, const ObjectId& id, uint64_t size) {
  if (!chunk.ok()) return MissingIsDamage(chunk.status());
  if (chunk->size() != size) {
    return Status::Corruption("chunk " + id.short_hex() + " has the wrong size");
  }
  return Status::Ok();
}

Result<uint64_t> VisitFetched(const google::protobuf::RepeatedPtrField<pb::Extent>& extents,
                              uint64_t offset, std::span<const ObjectId> ids,
                              std::span<const Result<Bytes>> chunks, const ContentVisitor& visit) {
  size_t data = 0;
  for (const pb::Extent& extent : extents) {
    ContentPiece piece{offset, extent.size(), {}};
    if (!extent.chunk_id().empty()) {
      if (data >= chunks.size() || data >= ids.size()) {
        return Status::InvalidArgument("fewer chunks than the extents have");
      }
      const ObjectId& id = ids[data];
      const Result<Bytes>& chunk = chunks[data++];
      COFFER_RETURN_IF_ERROR(CheckChunk(chunk, id, extent.size()));
      if (extent.size() == 0) return Status::Corruption("chunk " + id.short_hex() + " is empty");
      piece.data = ByteView(*chunk);
    }
    if (piece.size > 0) COFFER_RETURN_IF_ERROR(visit(piece));
    offset += extent.size();
  }
  return offset;
}

Status ForEachExtent(Repository& repo, const ObjectId& directory, const pb::Entry& entry,
                     const std::function<Status(const pb::Extent& extent)>& visit) {
  ExtentCursor cursor(repo, directory, entry);
  while (true) {
    COFFER_ASSIGN_OR_RETURN(std::optional<pb::Extent> extent, cursor.Next());
    if (!extent) return Status::Ok();
    COFFER_RETURN_IF_ERROR(visit(*extent));
  }
}

Status ReadContent(Repository& repo, const ObjectId& directory, const pb::Entry& entry,
                   const ContentVisitor& visit) {
  if (entry.type() != pb::Entry::FILE) return Status::InvalidArgument("not a regular file");
  ExtentCursor cursor(repo, directory, entry);
  COFFER_ASSIGN_OR_RETURN(Window current, NextWindow(cursor));
  std::future<Fetched> current_chunks = Fetch(repo, current);
  uint64_t offset = 0;
  while (true) {
    // The next window is fetched while this one is handed over.
    std::optional<Window> next;
    std::future<Fetched> next_chunks;
    if (!current.last) {
      Result<Window> window = NextWindow(cursor);
      if (!window.ok()) {
        current_chunks.wait();
        return window.status();
      }
      next = std::move(*window);
      next_chunks = Fetch(repo, *next);
    }
    auto drain = [&next_chunks] {
      if (next_chunks.valid()) next_chunks.wait();
    };
    Fetched chunks = current_chunks.get();
    if (!chunks.ok()) {
      drain();
      return chunks.status();
    }
    Result<uint64_t> after = VisitFetched(current.extents, offset, current.ids, *chunks, visit);
    if (!after.ok()) {
      drain();
      return after.status();
    }
    offset = *after;
    if (!next) break;
    current = std::move(*next);
    current_chunks = std::move(next_chunks);
  }
  if (offset != entry.size()) {
    return Status::Corruption("a file's extents cover " + std::to_string(offset) +
                              " bytes, its size is " + std::to_string(entry.size()));
  }
  return Status::Ok();
}

}  // namespace coffer::restore
