// The records of a repository copy in object storage (store/s3/bucket_format.h),
// which Coffer reads from a bucket it may not trust: a whole pack, a pack's
// trailer read on its own from the pack's size and last bytes, an index, a
// snapshot record, and a snapshot's name.
//
// Input: the bytes of the record (all decoders get all of it). For the
// trailer read on its own, the input is the end of a pack of its own size,
// then of a pack 2^(first byte % 40) bytes longer, as a listing may say.
#include <algorithm>

#include "fuzz/fuzz_util.h"
#include "store/s3/bucket_format.h"

using namespace coffer;
using namespace coffer::s3;

namespace {

bool Same(const Bytes& a, ByteView b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

void CheckInside(const std::vector<PackEntry>& entries, uint64_t data_size, std::string_view what) {
  for (const PackEntry& e : entries) {
    if (e.offset > data_size || e.length > data_size - e.offset) {
      fuzz::Fail(std::string(what) + ": an entry outside its pack");
    }
    if (e.kind != ObjectKind::kChunk && e.kind != ObjectKind::kTree &&
        e.kind != ObjectKind::kNeeds) {
      fuzz::Fail(std::string(what) + ": an entry of a kind packs do not hold");
    }
  }
}

void ExpectCorruption(const Status& status, std::string_view what) {
  if (status.code() != Code::kCorruption) {
    fuzz::Fail(std::string(what) + ": a refusal that is not kCorruption: " + status.ToString());
  }
}

// The trailer read as the object store reads it: the last 8 bytes, then
// the whole trailer, of a pack of `pack_size` bytes that ends in `tail`.
Result<std::vector<PackEntry>> ReadTrailer(ByteView tail, uint64_t pack_size) {
  if (tail.size() < kPackTailSize) return Status::Corruption("short");
  COFFER_ASSIGN_OR_RETURN(uint32_t length, PackTrailerLength(tail.last(kPackTailSize), pack_size));
  if (length < 17 || length > pack_size) fuzz::Fail("PackTrailerLength: a length out of bounds");
  if (length > tail.size()) return Status::Corruption("longer than the input");
  Result<std::vector<PackEntry>> entries = DecodePackTrailer(tail.last(length), pack_size);
  if (!entries.ok()) return entries;
  CheckInside(*entries, pack_size - length, "DecodePackTrailer");
  // One encoding: the entries encode to the trailer they were read from.
  if (!Same(EncodePackTrailer(*entries), tail.last(length))) {
    fuzz::Fail("DecodePackTrailer: the entries encode to another trailer");
  }
  return entries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);

  Result<std::vector<PackEntry>> pack = DecodePack(input);
  if (pack.ok()) {
    const Bytes trailer = EncodePackTrailer(*pack);
    if (trailer.size() > size || !Same(trailer, input.last(trailer.size()))) {
      fuzz::Fail("DecodePack: the entries encode to another trailer");
    }
    CheckInside(*pack, size - trailer.size(), "DecodePack");
  } else {
    ExpectCorruption(pack.status(), "DecodePack");
  }

  // Read from its end alone, the whole pack gives the same entries.
  Result<std::vector<PackEntry>> tail = ReadTrailer(input, size);
  if (tail.ok() != pack.ok() || (tail.ok() && *tail != *pack)) {
    fuzz::Fail("the trailer read alone and the whole pack disagree");
  }
  if (!tail.ok()) ExpectCorruption(tail.status(), "a trailer read alone");
  if (size > 0) {
    const uint64_t longer_size = size + (uint64_t{1} << (data[0] % 40));
    Result<std::vector<PackEntry>> longer = ReadTrailer(input, longer_size);
    if (!longer.ok()) ExpectCorruption(longer.status(), "a trailer of a longer pack");
  }

  Result<std::vector<IndexedPack>> index = DecodeIndex(input);
  if (index.ok()) {
    for (const IndexedPack& p : *index) CheckInside(p.entries, p.size, "DecodeIndex");
    if (!Same(EncodeIndex(*index), input)) {
      fuzz::Fail("DecodeIndex: the packs encode to another index");
    }
  } else {
    ExpectCorruption(index.status(), "DecodeIndex");
  }

  Result<BucketSnapshot> snapshot = DecodeSnapshot(input);
  if (snapshot.ok()) {
    if (!Same(EncodeSnapshot(*snapshot), input)) {
      fuzz::Fail("DecodeSnapshot: the record encodes to other bytes");
    }
  } else {
    ExpectCorruption(snapshot.status(), "DecodeSnapshot");
  }

  const std::string_view name = AsChars(input);
  if (auto parsed = ParseSnapshotName(name)) {
    if (parsed->first.empty()) fuzz::Fail("ParseSnapshotName: an empty group");
    if (SnapshotName(parsed->first, parsed->second) != name) {
      fuzz::Fail("ParseSnapshotName: the name does not round-trip");
    }
    const std::string folder = SnapshotFolder(parsed->first);
    if (name.rfind(folder, 0) != 0) fuzz::Fail("a snapshot's name is not in its group's folder");
  }
  return 0;
}
