#include "store/s3/bucket_format.h"

#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <sodium.h>

namespace coffer::s3 {
namespace {

constexpr char kTrailerMagic[4] = {'C', 'F', 'P', 'K'};
constexpr char kIndexMagic[4] = {'C', 'F', 'I', 'X'};
constexpr char kSnapshotMagic[4] = {'C', 'F', 'S', 'N'};
constexpr uint8_t kVersion = 1;
// kind, id, offset, length, checksum
constexpr size_t kEntrySize = 1 + 32 + 8 + 4 + 8;

void PutU32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
// Byte by byte: GCC 12 warns wrongly about a range insert into an empty vector.
void PutId(Bytes& out, const ObjectId& id) {
  for (uint8_t b : id.bytes) out.push_back(b);
}
void PutMagic(Bytes& out, const char (&magic)[4]) {
  for (char c : magic) out.push_back(static_cast<uint8_t>(c));
}

void PutEntry(Bytes& out, const PackEntry& e) {
  out.push_back(static_cast<uint8_t>(e.kind));
  PutId(out, e.id);
  PutU64(out, e.offset);
  PutU32(out, e.length);
  PutU64(out, e.checksum);
}

bool StorableKind(uint8_t kind) {
  return kind == static_cast<uint8_t>(ObjectKind::kChunk) ||
         kind == static_cast<uint8_t>(ObjectKind::kTree) ||
         kind == static_cast<uint8_t>(ObjectKind::kNeeds);
}

// Reads little-endian fields; any read past the end makes ok() false.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  size_t left() const { return bytes_.size() - at_; }
  const uint8_t* Take(size_t n) {
    if (!ok_ || left() < n) {
      ok_ = false;
      return nullptr;
    }
    const uint8_t* p = bytes_.data() + at_;
    at_ += n;
    return p;
  }
  uint8_t U8() {
    const uint8_t* p = Take(1);
    return p ? *p : 0;
  }
  uint32_t U32() {
    const uint8_t* p = Take(4);
    uint32_t v = 0;
    for (int i = 0; p && i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
    return v;
  }
  uint64_t U64() {
    const uint8_t* p = Take(8);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
    return v;
  }
  ObjectId Id() {
    ObjectId id;
    if (const uint8_t* p = Take(32)) std::memcpy(id.bytes.data(), p, 32);
    return id;
  }
  bool Magic(const char (&magic)[4]) {
    const uint8_t* p = Take(4);
    return p && std::memcmp(p, magic, 4) == 0;
  }
  Bytes Blob() {
    const uint32_t n = U32();
    const uint8_t* p = Take(n);
    return p ? Bytes(p, p + n) : Bytes();
  }

 private:
  ByteView bytes_;
  size_t at_ = 0;
  bool ok_ = true;
};

// `count` entries of a pack whose objects take the first `data_size` bytes.
Result<std::vector<PackEntry>> ReadEntries(Reader& in, uint32_t count, uint64_t data_size,
                                           std::string_view what) {
  if (count > kMaxPackEntries || in.left() / kEntrySize < count) {
    return Status::Corruption(std::string(what) +
                              " is damaged: it lists more objects than it holds");
  }
  std::vector<PackEntry> entries(count);
  for (PackEntry& e : entries) {
    const uint8_t kind = in.U8();
    e.id = in.Id();
    e.offset = in.U64();
    e.length = in.U32();
    e.checksum = in.U64();
    if (!StorableKind(kind)) {
      return Status::Corruption(std::string(what) + " is damaged: an object of unknown kind " +
                                std::to_string(kind));
    }
    e.kind = static_cast<ObjectKind>(kind);
    if (e.offset > data_size || e.length > data_size - e.offset) {
      return Status::Corruption(std::string(what) + " is damaged: an object lies outside its pack");
    }
  }
  return entries;
}

}  // namespace

uint64_t ObjectChecksum(ByteView sealed) {
  uint8_t digest[16];
  crypto_generichash(digest, sizeof digest, sealed.data(), sealed.size(), nullptr, 0);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{digest[i]} << (8 * i);
  return v;
}

ObjectId ContentId(ByteView bytes) {
  ObjectId id;
  crypto_generichash(id.bytes.data(), id.bytes.size(), bytes.data(), bytes.size(), nullptr, 0);
  return id;
}

// Trailer: magic, version, count, the entries, then its own length and the
// magic again as the pack's last 8 bytes, where a reader starts.
Bytes EncodePackTrailer(std::span<const PackEntry> entries) {
  Bytes out;
  PutMagic(out, kTrailerMagic);
  out.push_back(kVersion);
  PutU32(out, static_cast<uint32_t>(entries.size()));
  for (const PackEntry& e : entries) PutEntry(out, e);
  PutU32(out, static_cast<uint32_t>(out.size() + 8));
  PutMagic(out, kTrailerMagic);
  return out;
}

Result<uint32_t> PackTrailerLength(ByteView last_bytes, uint64_t pack_size) {
  if (last_bytes.size() < kPackTailSize || pack_size < kPackTailSize ||
      std::memcmp(last_bytes.data() + last_bytes.size() - 4, kTrailerMagic, 4) != 0) {
    return Status::Corruption("a pack has no trailer: it is cut short or damaged");
  }
  Reader end(last_bytes.subspan(last_bytes.size() - 8, 4));
  const uint32_t trailer_size = end.U32();
  // Magic, version and count before the entries; length and magic after.
  if (trailer_size < 9 + 8 || trailer_size > pack_size) {
    return Status::Corruption("a pack's trailer has a bad length");
  }
  return trailer_size;
}

Result<std::vector<PackEntry>> DecodePackTrailer(ByteView trailer, uint64_t pack_size) {
  COFFER_ASSIGN_OR_RETURN(uint32_t trailer_size, PackTrailerLength(trailer, pack_size));
  if (trailer_size != trailer.size())
    return Status::Corruption("a pack's trailer has a bad length");
  const uint64_t data_size = pack_size - trailer_size;
  Reader in(trailer.subspan(0, trailer_size - 8));
  if (!in.Magic(kTrailerMagic) || in.U8() != kVersion) {
    return Status::Corruption("a pack's trailer is damaged or of an unknown version");
  }
  const uint32_t count = in.U32();
  COFFER_ASSIGN_OR_RETURN(std::vector<PackEntry> entries,
                          ReadEntries(in, count, data_size, "a pack's trailer"));
  if (!in.ok() || in.left() != 0) return Status::Corruption("a pack's trailer has a bad length");
  return entries;
}

Result<std::vector<PackEntry>> DecodePack(ByteView pack) {
  COFFER_ASSIGN_OR_RETURN(uint32_t trailer_size, PackTrailerLength(pack, pack.size()));
  return DecodePackTrailer(pack.subspan(pack.size() - trailer_size), pack.size());
}

Bytes EncodeIndex(std::span<const IndexedPack> packs) {
  Bytes out;
  PutMagic(out, kIndexMagic);
  out.push_back(kVersion);
  PutU32(out, static_cast<uint32_t>(packs.size()));
  for (const IndexedPack& p : packs) {
    PutId(out, p.pack);
    PutU64(out, p.size);
    PutU32(out, static_cast<uint32_t>(p.entries.size()));
    for (const PackEntry& e : p.entries) PutEntry(out, e);
  }
  return out;
}

Result<std::vector<IndexedPack>> DecodeIndex(ByteView index) {
  Reader in(index);
  if (!in.Magic(kIndexMagic) || in.U8() != kVersion) {
    return Status::Corruption("an index is damaged or of an unknown version");
  }
  const uint32_t count = in.U32();
  // Each pack takes at least its id, size and count.
  if (!in.ok() || in.left() / (32 + 8 + 4) < count) {
    return Status::Corruption("an index is damaged: it lists more packs than it holds");
  }
  std::vector<IndexedPack> packs(count);
  for (IndexedPack& p : packs) {
    p.pack = in.Id();
    p.size = in.U64();
    const uint32_t entries = in.U32();
    if (!in.ok()) break;
    COFFER_ASSIGN_OR_RETURN(p.entries, ReadEntries(in, entries, p.size, "an index"));
  }
  if (!in.ok() || in.left() != 0) return Status::Corruption("an index is damaged: a bad length");
  return packs;
}

Bytes EncodeSnapshot(const BucketSnapshot& snapshot) {
  Bytes out;
  PutMagic(out, kSnapshotMagic);
  out.push_back(kVersion);
  PutId(out, snapshot.id);
  out.push_back(static_cast<uint8_t>((snapshot.is_protected ? 1 : 0) | (snapshot.needs ? 2 : 0)));
  if (snapshot.needs) PutId(out, *snapshot.needs);
  PutU32(out, static_cast<uint32_t>(snapshot.sealed.size()));
  out.insert(out.end(), snapshot.sealed.begin(), snapshot.sealed.end());
  PutU32(out, static_cast<uint32_t>(snapshot.sealed_note.size()));
  out.insert(out.end(), snapshot.sealed_note.begin(), snapshot.sealed_note.end());
  return out;
}

Result<BucketSnapshot> DecodeSnapshot(ByteView record) {
  Reader in(record);
  BucketSnapshot s;
  if (!in.Magic(kSnapshotMagic) || in.U8() != kVersion) {
    return Status::Corruption(
        "a snapshot record in the bucket is damaged or of an unknown version");
  }
  s.id = in.Id();
  const uint8_t flags = in.U8();
  if (flags & ~3) return Status::Corruption("a snapshot record in the bucket has unknown flags");
  s.is_protected = flags & 1;
  if (flags & 2) s.needs = in.Id();
  s.sealed = in.Blob();
  s.sealed_note = in.Blob();
  if (!in.ok() || in.left() != 0) {
    return Status::Corruption("a snapshot record in the bucket is damaged: a bad length");
  }
  return s;
}

std::string PackName(const ObjectId& pack) {
  const std::string hex = pack.hex();
  return "packs/" + hex.substr(0, 2) + "/" + hex;
}

std::string IndexName(const ObjectId& index) {
  return "index/" + index.hex();
}

std::string SnapshotFolder(std::string_view group) {
  return fmt::format("snapshots/{}/", group);
}

namespace {
// Times are stored shifted by 2^63, so that names of times before 1970 sort
// before later ones too.
constexpr uint64_t kTimeBias = uint64_t{1} << 63;
}  // namespace

std::string SnapshotName(std::string_view group, int64_t time_ns) {
  return fmt::format("snapshots/{}/{:020}", group, static_cast<uint64_t>(time_ns) + kTimeBias);
}

std::optional<std::pair<std::string, int64_t>> ParseSnapshotName(std::string_view name) {
  constexpr std::string_view kFolder = "snapshots/";
  if (name.rfind(kFolder, 0) != 0) return std::nullopt;
  name.remove_prefix(kFolder.size());
  const size_t slash = name.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::string_view time = name.substr(slash + 1);
  uint64_t biased = 0;
  auto [end, error] = std::from_chars(time.data(), time.data() + time.size(), biased);
  if (error != std::errc() || end != time.data() + time.size() || time.size() != 20) {
    return std::nullopt;
  }
  return std::make_pair(std::string(name.substr(0, slash)),
                        static_cast<int64_t>(biased - kTimeBias));
}

}  // namespace coffer::s3
