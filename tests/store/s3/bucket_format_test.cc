#include "store/s3/bucket_format.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <random>

// The largest single allocation since the last reset: a decoder must refuse a
// huge count before it reserves room for it. Replacing the global operator new
// is the only way to see that from outside; it counts, then does what the
// default does.
namespace {
std::atomic<size_t> g_largest_allocation{0};
}  // namespace

void* operator new(size_t size) {
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (size > seen && !g_largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// Not inlined: GCC would otherwise see free() of what `new` returned.
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

namespace coffer::s3 {
namespace {

ObjectId Id(uint32_t n) {
  ObjectId id;
  std::mt19937_64 rng(n);
  for (auto& b : id.bytes) b = static_cast<uint8_t>(rng());
  return id;
}

PackEntry Entry(ObjectKind kind, uint32_t n, uint64_t offset, uint32_t length) {
  return PackEntry{kind, Id(n), offset, length};
}

// Data bytes that hold no trailer magic, so a cut pack cannot end in one.
Bytes Data(size_t size) {
  Bytes data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>('a' + i % 26);
  return data;
}

Bytes Concat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// Three objects of the three kinds a pack holds, filling 100 bytes.
std::vector<PackEntry> ThreeEntries() {
  return {Entry(ObjectKind::kChunk, 1, 0, 30), Entry(ObjectKind::kTree, 2, 30, 40),
          Entry(ObjectKind::kNeeds, 3, 70, 30)};
}

std::vector<IndexedPack> TwoPacks() {
  const std::vector<PackEntry> three = ThreeEntries();
  const Bytes trailer = EncodePackTrailer(three);
  return {IndexedPack{Id(100), 100 + trailer.size(), three},
          IndexedPack{Id(101), 500, {Entry(ObjectKind::kChunk, 4, 0, 480)}},
          IndexedPack{Id(102), 17, {}}};
}

BucketSnapshot FullSnapshot() {
  BucketSnapshot s;
  s.id = Id(7);
  s.is_protected = true;
  s.needs = Id(8);
  s.sealed = Bytes{1, 2, 3, 4, 5};
  s.sealed_note = Bytes{9, 8, 7};
  return s;
}

// The entries of every decoded pack lie in its data.
void ExpectInside(const std::vector<PackEntry>& entries, uint64_t data_size) {
  for (const PackEntry& e : entries) {
    EXPECT_LE(e.offset, data_size);
    EXPECT_LE(e.length, data_size - std::min(e.offset, data_size));
    EXPECT_TRUE(e.kind == ObjectKind::kChunk || e.kind == ObjectKind::kTree ||
                e.kind == ObjectKind::kNeeds);
  }
}

void ExpectCorruption(const Status& status) {
  EXPECT_EQ(status.code(), Code::kCorruption) << status.ToString();
}

// `bytes` with a little-endian `value` written at `at`.
Bytes WithU32(Bytes bytes, size_t at, uint32_t value) {
  for (size_t i = 0; i < 4; ++i) bytes.at(at + i) = static_cast<uint8_t>(value >> (8 * i));
  return bytes;
}

// The changes made to one byte: each bit on its own, all bits, zero.
constexpr int kChanges = 10;
Bytes Changed(const Bytes& bytes, size_t at, int change) {
  Bytes out = bytes;
  const uint8_t b = out[at];
  out[at] = static_cast<uint8_t>(change < 8 ? b ^ (1 << change) : change == 8 ? ~b : 0);
  return out;
}

size_t LargestAllocationDuring(const std::function<void()>& run) {
  g_largest_allocation = 0;
  run();
  return g_largest_allocation.load();
}

TEST(BucketFormatTest, APackDescribesItselfThroughItsTrailer) {
  const std::vector<PackEntry> entries = ThreeEntries();
  const Bytes trailer = EncodePackTrailer(entries);
  // Magic, version, count; three entries; length and magic.
  EXPECT_EQ(trailer.size(), 4u + 1 + 4 + 3 * (1 + 32 + 8 + 4 + 8) + 4 + 4);
  const Bytes pack = Concat(Data(100), trailer);

  Result<std::vector<PackEntry>> decoded = DecodePack(pack);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, entries);
}

TEST(BucketFormatTest, ATrailerIsReadFromThePacksLastBytesAlone) {
  const std::vector<PackEntry> entries = ThreeEntries();
  const Bytes trailer = EncodePackTrailer(entries);
  const Bytes pack = Concat(Data(100), trailer);
  const ByteView whole(pack);

  // The last 8 bytes say how long the trailer is; more bytes say the same.
  for (size_t tail : {kPackTailSize, size_t{20}, pack.size()}) {
    Result<uint32_t> length = PackTrailerLength(whole.last(tail), pack.size());
    ASSERT_TRUE(length.ok()) << tail << ": " << length.status().ToString();
    EXPECT_EQ(*length, trailer.size());
  }
  Result<std::vector<PackEntry>> decoded =
      DecodePackTrailer(whole.last(trailer.size()), pack.size());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, entries);

  // Exactly the trailer: a byte of data more or less is not one.
  ExpectCorruption(DecodePackTrailer(whole.last(trailer.size() + 1), pack.size()).status());
  ExpectCorruption(DecodePackTrailer(whole.last(trailer.size() - 1), pack.size()).status());
  // Fewer than 8 bytes cannot say the length.
  ExpectCorruption(PackTrailerLength(whole.last(kPackTailSize - 1), pack.size()).status());
  // A trailer longer than the pack it is said to end.
  ExpectCorruption(PackTrailerLength(whole.last(kPackTailSize), trailer.size() - 1).status());
  // A pack said to be shorter than it is: the last object no longer fits.
  ExpectCorruption(DecodePackTrailer(whole.last(trailer.size()), pack.size() - 1).status());
}

TEST(BucketFormatTest, AnEmptyPackIsItsTrailerAlone) {
  const Bytes trailer = EncodePackTrailer({});
  EXPECT_EQ(trailer.size(), 17u);
  Result<std::vector<PackEntry>> decoded = DecodePack(trailer);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded->empty());
  ExpectCorruption(DecodePack(ByteView()).status());
}

TEST(BucketFormatTest, AnEmptyObjectMayEndThePacksData) {
  const std::vector<PackEntry> entries = {Entry(ObjectKind::kChunk, 1, 0, 10),
                                          Entry(ObjectKind::kChunk, 2, 10, 0)};
  Result<std::vector<PackEntry>> decoded = DecodePack(Concat(Data(10), EncodePackTrailer(entries)));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, entries);
}

TEST(BucketFormatTest, AnEntryPastThePacksDataIsRefused) {
  const Bytes data = Data(100);
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const std::vector<PackEntry> bad[] = {
      {Entry(ObjectKind::kChunk, 1, 90, 11)},
      {Entry(ObjectKind::kChunk, 1, 101, 0)},
      {Entry(ObjectKind::kChunk, 1, 0, 101)},
      // Inside the pack, but over its own trailer.
      {Entry(ObjectKind::kChunk, 1, 95, 20)},
      // offset + length wraps around to a small number.
      {Entry(ObjectKind::kChunk, 1, kMax - 1, 5)},
      {Entry(ObjectKind::kChunk, 1, 0, 50), Entry(ObjectKind::kTree, 2, kMax, 1)},
  };
  for (const auto& entries : bad) {
    ExpectCorruption(DecodePack(Concat(data, EncodePackTrailer(entries))).status());
  }
  // The same entries are refused in an index of a pack of 100 bytes.
  for (const auto& entries : bad) {
    const IndexedPack pack{Id(9), 100, entries};
    ExpectCorruption(DecodeIndex(EncodeIndex({&pack, 1})).status());
  }
}

TEST(BucketFormatTest, OnlyChunksTreesAndNeedsListsArePacked) {
  for (int kind : {0, 3, 4, 6, 9, 255}) {
    SCOPED_TRACE(kind);
    const std::vector<PackEntry> entries = {Entry(ObjectKind::kChunk, 1, 0, 10),
                                            Entry(static_cast<ObjectKind>(kind), 2, 10, 10)};
    ExpectCorruption(DecodePack(Concat(Data(20), EncodePackTrailer(entries))).status());
    const IndexedPack pack{Id(9), 20, entries};
    ExpectCorruption(DecodeIndex(EncodeIndex({&pack, 1})).status());
  }
}

TEST(BucketFormatTest, HugeCountsAreRefusedWithoutAllocating) {
  constexpr size_t kSmall = 64 * 1024;
  // Where the counts are: after magic and version; in an index, the first
  // pack's after the index's count, the pack's id and its size.
  constexpr size_t kCountAt = 5;
  constexpr size_t kFirstPackCountAt = 9 + 32 + 8;
  for (uint32_t count : {uint32_t{0xffffffff}, kMaxPackEntries, kMaxPackEntries + 1}) {
    SCOPED_TRACE(count);
    const Bytes pack =
        Concat(Data(100), WithU32(EncodePackTrailer(ThreeEntries()), kCountAt, count));
    EXPECT_LT(LargestAllocationDuring([&] { ExpectCorruption(DecodePack(pack).status()); }),
              kSmall);
    for (size_t at : {kCountAt, kFirstPackCountAt}) {
      const Bytes index = WithU32(EncodeIndex(TwoPacks()), at, count);
      EXPECT_LT(LargestAllocationDuring([&] { ExpectCorruption(DecodeIndex(index).status()); }),
                kSmall);
    }
  }
  // Just over the most a pack may hold, with the bytes for them present.
  std::vector<PackEntry> many(kMaxPackEntries + 1, Entry(ObjectKind::kChunk, 1, 0, 0));
  ExpectCorruption(DecodePack(EncodePackTrailer(many)).status());
  many.pop_back();
  EXPECT_TRUE(DecodePack(EncodePackTrailer(many)).ok());

  // A snapshot whose sealed record says it is 4 GiB long.
  const Bytes record = WithU32(EncodeSnapshot(FullSnapshot()), 4 + 1 + 32 + 1 + 32, 0xffffffff);
  EXPECT_LT(LargestAllocationDuring([&] { ExpectCorruption(DecodeSnapshot(record).status()); }),
            kSmall);
}

TEST(BucketFormatTest, AnIndexSaysWhereTheObjectsOfSeveralPacksAre) {
  const std::vector<IndexedPack> packs = TwoPacks();
  const Bytes index = EncodeIndex(packs);
  Result<std::vector<IndexedPack>> decoded = DecodeIndex(index);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, packs);

  Result<std::vector<IndexedPack>> empty = DecodeIndex(EncodeIndex({}));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
}

TEST(BucketFormatTest, AnIndexWithBytesAfterItsLastPackIsRefused) {
  Bytes index = EncodeIndex(TwoPacks());
  index.push_back(0);
  ExpectCorruption(DecodeIndex(index).status());
  // A trailer is no index, nor an index a trailer.
  ExpectCorruption(DecodeIndex(EncodePackTrailer(ThreeEntries())).status());
  ExpectCorruption(DecodePack(EncodeIndex(TwoPacks())).status());
}

TEST(BucketFormatTest, ASnapshotRecordKeepsItsFlagsNeedsAndNote) {
  BucketSnapshot plain;
  plain.id = Id(1);
  plain.sealed = Bytes{42};
  BucketSnapshot with_needs = plain;
  with_needs.needs = Id(2);
  BucketSnapshot with_note = plain;
  with_note.sealed_note = Bytes(300, 0x5e);
  BucketSnapshot protected_only = plain;
  protected_only.is_protected = true;
  for (const BucketSnapshot& s : {plain, with_needs, with_note, protected_only, FullSnapshot()}) {
    const Bytes record = EncodeSnapshot(s);
    Result<BucketSnapshot> decoded = DecodeSnapshot(record);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(EncodeSnapshot(plain).size(), 4u + 1 + 32 + 1 + 4 + 1 + 4);
  EXPECT_EQ(EncodeSnapshot(with_needs).size(), EncodeSnapshot(plain).size() + 32);
}

TEST(BucketFormatTest, ASnapshotRecordWithUnknownFlagsOrBytesAfterItIsRefused) {
  for (int flags : {4, 8, 0x80, 0xff}) {
    Bytes record = EncodeSnapshot(FullSnapshot());
    record[4 + 1 + 32] = static_cast<uint8_t>(flags);
    ExpectCorruption(DecodeSnapshot(record).status());
  }
  Bytes record = EncodeSnapshot(FullSnapshot());
  record.push_back(0);
  ExpectCorruption(DecodeSnapshot(record).status());
}

TEST(BucketFormatTest, EveryByteOfATrailerMatters) {
  const std::vector<PackEntry> original = {Entry(ObjectKind::kChunk, 1, 0, 12),
                                           Entry(ObjectKind::kTree, 2, 12, 8)};
  const Bytes data = Data(20);
  const Bytes trailer = EncodePackTrailer(original);
  size_t decoded_count = 0;
  for (size_t at = 0; at < trailer.size(); ++at) {
    for (int change = 0; change < kChanges; ++change) {
      Bytes damaged = Changed(trailer, at, change);
      if (damaged == trailer) continue;
      const Bytes pack = Concat(data, damaged);
      SCOPED_TRACE(::testing::Message() << "byte " << at << " change " << change);
      Result<std::vector<PackEntry>> decoded = DecodePack(pack);
      if (!decoded.ok()) {
        ExpectCorruption(decoded.status());
        continue;
      }
      ++decoded_count;
      EXPECT_NE(*decoded, original);
      ExpectInside(*decoded, pack.size() - damaged.size());
      // One encoding: what decodes is what was there.
      EXPECT_EQ(EncodePackTrailer(*decoded), damaged);
    }
  }
  // Ids, most offset and length bits, kinds 1, 2 and 5 decode.
  EXPECT_GT(decoded_count, 0u);
}

TEST(BucketFormatTest, EveryByteOfAnIndexMatters) {
  const std::vector<IndexedPack> original = {
      IndexedPack{Id(100), 40, {Entry(ObjectKind::kChunk, 1, 0, 12)}},
      IndexedPack{Id(101), 30, {Entry(ObjectKind::kNeeds, 2, 5, 8)}}};
  const Bytes index = EncodeIndex(original);
  size_t decoded_count = 0;
  for (size_t at = 0; at < index.size(); ++at) {
    for (int change = 0; change < kChanges; ++change) {
      Bytes damaged = Changed(index, at, change);
      if (damaged == index) continue;
      SCOPED_TRACE(::testing::Message() << "byte " << at << " change " << change);
      Result<std::vector<IndexedPack>> decoded = DecodeIndex(damaged);
      if (!decoded.ok()) {
        ExpectCorruption(decoded.status());
        continue;
      }
      ++decoded_count;
      EXPECT_NE(*decoded, original);
      for (const IndexedPack& p : *decoded) ExpectInside(p.entries, p.size);
      EXPECT_EQ(EncodeIndex(*decoded), damaged);
    }
  }
  EXPECT_GT(decoded_count, 0u);
}

TEST(BucketFormatTest, EveryByteOfASnapshotRecordMatters) {
  for (const BucketSnapshot& original : {FullSnapshot(), [] {
                                           BucketSnapshot s;
                                           s.id = Id(3);
                                           s.sealed = Bytes{1, 2};
                                           return s;
                                         }()}) {
    const Bytes record = EncodeSnapshot(original);
    for (size_t at = 0; at < record.size(); ++at) {
      for (int change = 0; change < kChanges; ++change) {
        Bytes damaged = Changed(record, at, change);
        if (damaged == record) continue;
        SCOPED_TRACE(::testing::Message() << "byte " << at << " change " << change);
        Result<BucketSnapshot> decoded = DecodeSnapshot(damaged);
        if (!decoded.ok()) {
          ExpectCorruption(decoded.status());
          continue;
        }
        EXPECT_NE(*decoded, original);
        EXPECT_EQ(EncodeSnapshot(*decoded), damaged);
      }
    }
  }
}

TEST(BucketFormatTest, ACutRecordIsDamagedAtEveryLength) {
  const Bytes pack = Concat(Data(100), EncodePackTrailer(ThreeEntries()));
  for (size_t n = 0; n < pack.size(); ++n) {
    SCOPED_TRACE(n);
    // Cut at the end, as an interrupted upload; and at the start, as a
    // range read that began too late.
    ExpectCorruption(DecodePack(ByteView(pack).first(n)).status());
    ExpectCorruption(DecodePack(ByteView(pack).last(n)).status());
  }
  const Bytes index = EncodeIndex(TwoPacks());
  for (size_t n = 0; n < index.size(); ++n) {
    SCOPED_TRACE(n);
    ExpectCorruption(DecodeIndex(ByteView(index).first(n)).status());
  }
  BucketSnapshot no_note = FullSnapshot();
  no_note.sealed_note.clear();
  for (const BucketSnapshot& s : {FullSnapshot(), no_note}) {
    const Bytes record = EncodeSnapshot(s);
    for (size_t n = 0; n < record.size(); ++n) {
      SCOPED_TRACE(n);
      ExpectCorruption(DecodeSnapshot(ByteView(record).first(n)).status());
    }
  }
}

TEST(BucketFormatTest, PacksAndIndexesAreNamedByTheirUnkeyedBlake2b) {
  const std::string_view abc = "abc";
  EXPECT_EQ(ContentId(AsBytes(abc)).hex(),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  ASSERT_GE(sodium_init(), 0);
  for (const Bytes& bytes : {Bytes(), Data(1000), EncodeIndex(TwoPacks())}) {
    ObjectId expected;
    crypto_generichash(expected.bytes.data(), expected.bytes.size(), bytes.data(), bytes.size(),
                       nullptr, 0);
    EXPECT_EQ(ContentId(bytes), expected);
  }
}

TEST(BucketFormatTest, NamesSpreadPacksOverFoldersByTheirFirstByte) {
  const ObjectId id = Id(5);
  const std::string hex = id.hex();
  EXPECT_EQ(PackName(id), "packs/" + hex.substr(0, 2) + "/" + hex);
  EXPECT_EQ(IndexName(id), "index/" + hex);
  ObjectId zero;
  EXPECT_EQ(PackName(zero), "packs/00/" + std::string(64, '0'));
}

TEST(BucketFormatTest, ASnapshotNameHoldsItsGroupAndItsTimeInTwentyDigits) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(SnapshotFolder("host/web"), "snapshots/host/web/");
  // The time plus 2^63, zero-padded.
  EXPECT_EQ(SnapshotName("host/web", 1'795'485'600'123'456'789),
            "snapshots/host/web/11018857636978232597");
  EXPECT_EQ(SnapshotName("g", 0), "snapshots/g/09223372036854775808");
  EXPECT_EQ(SnapshotName("g", -1), "snapshots/g/09223372036854775807");
  EXPECT_EQ(SnapshotName("g", kMin), "snapshots/g/00000000000000000000");
  EXPECT_EQ(SnapshotName("g", kMax), "snapshots/g/18446744073709551615");
  // Names sort by time, before 1970 too.
  const int64_t times[] = {kMin, -1'000'000'000, -1, 0, 1, 999, 1000, kMax};
  for (size_t i = 1; i < std::size(times); ++i) {
    EXPECT_LT(SnapshotName("g", times[i - 1]), SnapshotName("g", times[i])) << times[i];
  }

  for (int64_t time : times) {
    for (std::string_view group : {"g", "host/web", "a b/c.d"}) {
      auto parsed = ParseSnapshotName(SnapshotName(group, time));
      ASSERT_TRUE(parsed.has_value()) << SnapshotName(group, time);
      EXPECT_EQ(parsed->first, group);
      EXPECT_EQ(parsed->second, time);
    }
  }
}

TEST(BucketFormatTest, NamesThatAreNoSnapshotsAreNotParsed) {
  for (std::string_view name : {
           "snapshots/g/0922337203685477580",    // 19 digits
           "snapshots/g/092233720368547758080",  // 21 digits
           "snapshots/g/",
           "snapshots/09223372036854775808",    // no group
           "snapshots//09223372036854775808",   // an empty group
           "snapshots/g/-0000000000000000001",  // a sign
           "snapshots/g/-0000000000000000000",
           "snapshots/g/+0000000000000000001",
           "snapshots/g/ 0000000000000000001",
           "snapshots/g/0922337203685477580x",   // junk in the 20 characters
           "snapshots/g/09223372036854775808x",  // junk after them
           "snapshots/g/09223372036854775808/",
           "snapshots/g/18446744073709551616",  // past 2^64 - 1
           "snapshots/g/99999999999999999999",
           "snapshot/g/09223372036854775808",
           "index/09223372036854775808",
           "",
       }) {
    EXPECT_FALSE(ParseSnapshotName(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace coffer::s3
