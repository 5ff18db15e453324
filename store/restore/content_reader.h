// Reading a stored file's content in order, for writers that stream it
// (`coffer export`): data as it is opened, holes as holes.
//
// Chunks are fetched a window at a time (one round trip to the server per
// window), the next window while the current one is handed over. A file
// whose extents are kept in parts (a disk image, model/tree_split.h) is read
// part by part: memory stays bounded whatever the file's size.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "store/base/object_id.h"
#include "store/repo/repository.h"

namespace coffer::restore {

// One run of a file's content: `size` bytes at `offset`.
struct ContentPiece {
  uint64_t offset = 0;
  uint64_t size = 0;
  ByteView data;  // the bytes; empty for a hole (zeros, not stored)
  bool hole() const { return data.empty(); }
};

using ContentVisitor = std::function<Status(const ContentPiece& piece)>;

// Hands every piece of FILE entry `entry` to `visit`, in file order, and
// stops at the first error `visit` returns. `directory` is the id of the
// tree holding the entry, for messages. A missing or damaged chunk or part,
// or extents that do not add up to the entry's size, is kCorruption.
Status ReadContent(Repository& repo, const ObjectId& directory, const pb::Entry& entry,
                   const ContentVisitor& visit);

// An object the snapshot names but the repository lacks is damage (exit 4),
// not a path that is not there.
Status MissingIsDamage(const Status& status);
// Whether a fetched chunk is the `size` bytes its extent says: damage if not.
Status CheckChunk(const Result<Bytes>& chunk, const ObjectId& id, uint64_t size);

// Hands `extents`, which begin at file offset `offset`, to `visit` as
// pieces, the data ones with their chunks: `chunks[i]`, fetched for
// `ids[i]`, is the i-th extent that has one. What ReadContent does with
// each window, for a caller that fetched the chunks itself (several small
// files in one round trip). A missing, damaged, empty or wrongly sized chunk
// is kCorruption. Returns the offset after the extents.
Result<uint64_t> VisitFetched(const google::protobuf::RepeatedPtrField<pb::Extent>& extents,
                              uint64_t offset, std::span<const ObjectId> ids,
                              std::span<const Result<Bytes>> chunks, const ContentVisitor& visit);

// Hands every extent of FILE entry `entry` to `visit` in file order,
// reading its extent parts one at a time, without fetching any chunk.
Status ForEachExtent(Repository& repo, const ObjectId& directory, const pb::Entry& entry,
                     const std::function<Status(const pb::Extent& extent)>& visit);

}  // namespace coffer::restore
