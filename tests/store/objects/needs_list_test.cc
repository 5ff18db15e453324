#include "store/objects/needs_list.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace coffer {
namespace {

NeededObject Obj(ObjectKind kind, uint32_t n) {
  NeededObject o;
  o.kind = kind;
  // Spread over the id space like real ids, deterministically.
  std::mt19937_64 rng(n);
  for (auto& b : o.id.bytes) b = static_cast<uint8_t>(rng());
  return o;
}

NeedsSet Set(uint32_t from, uint32_t to) {
  NeedsSet set;
  for (uint32_t n = from; n < to; ++n) {
    set.push_back(Obj(n % 5 == 0 ? ObjectKind::kTree : ObjectKind::kChunk, n));
  }
  std::sort(set.begin(), set.end());
  return set;
}

// An in-memory store of lists, as the tests' stand-in for ObjectStore::Get.
struct Lists {
  std::map<ObjectId, Bytes> stored;
  void Put(const std::vector<EncodedNeedsList>& lists) {
    for (const auto& l : lists) stored[l.id] = l.bytes;
  }
  ReadNeedsListFn reader() {
    return [this](const ObjectId& id) -> Result<Bytes> {
      auto it = stored.find(id);
      if (it == stored.end()) return Status::NotFound("absent");
      return it->second;
    };
  }
};

TEST(NeedsListTest, EncodesAndDecodesExactly) {
  NeedsList list;
  list.base = Obj(ObjectKind::kChunk, 999).id;
  list.added = Set(0, 10);
  list.removed = Set(10, 13);
  Bytes bytes = EncodeNeedsList(list);
  EXPECT_EQ(bytes.size(), 2u + 32 + 4 + 10 * 33 + 4 + 3 * 33);
  auto decoded = DecodeNeedsList(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->base, list.base);
  EXPECT_EQ(decoded->added, list.added);
  EXPECT_EQ(decoded->removed, list.removed);

  NeedsList no_base;
  Bytes empty = EncodeNeedsList(no_base);
  EXPECT_EQ(empty, (Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  ASSERT_TRUE(DecodeNeedsList(empty).ok());
  EXPECT_FALSE(DecodeNeedsList(empty)->base.has_value());
}

TEST(NeedsListTest, RefusesEveryMalformedList) {
  NeedsList list;
  list.base = Obj(ObjectKind::kChunk, 1).id;
  list.added = Set(0, 4);
  list.removed = Set(4, 6);
  const Bytes good = EncodeNeedsList(list);
  const size_t added_at = 2 + 32 + 4;
  auto refused = [](Bytes bytes, std::string_view why) {
    auto decoded = DecodeNeedsList(bytes);
    EXPECT_EQ(decoded.status().code(), Code::kCorruption) << why;
    EXPECT_NE(decoded.status().message().find(why), std::string::npos)
        << decoded.status().message();
  };
  Bytes b = good;
  b[0] = 2;
  refused(b, "unknown version 2");
  b = good;
  b[1] = 3;
  refused(b, "unknown flags");
  for (size_t cut :
       {size_t{0}, size_t{1}, size_t{20}, added_at - 1, added_at + 40, good.size() - 1}) {
    refused(Bytes(good.begin(), good.begin() + static_cast<long>(cut)), "cut short");
  }
  b = good;
  b.push_back(0);
  refused(b, "bytes after its end");
  b = good;
  b[added_at] = 7;  // the first entry's kind
  refused(b, "unknown kind 7");
  b = good;
  std::swap_ranges(b.begin() + added_at, b.begin() + added_at + 33, b.begin() + added_at + 33);
  refused(b, "added entries are not sorted");
  // A repeat is not sorted either.
  b = good;
  std::copy(b.begin() + added_at, b.begin() + added_at + 33, b.begin() + added_at + 33);
  refused(b, "not sorted");
  // A count beyond the limit is refused before anything is allocated.
  b = good;
  b[added_at - 4] = 0xff;
  b[added_at - 3] = 0xff;
  b[added_at - 2] = 0xff;
  b[added_at - 1] = 0x7f;
  refused(b, "more than 65536 entries");

  NeedsList both;
  both.added = Set(0, 3);
  both.removed = {both.added[1]};
  refused(EncodeNeedsList(both), "both adds and removes");
}

TEST(NeedsListTest, AWholeSetIsCutIntoListsOfAtMostTheLimit) {
  const NeedsSet set = Set(0, 2 * NeedsList::kMaxEntries + 10);
  auto lists = PlanNeedsLists(set, nullptr);
  ASSERT_EQ(lists.size(), 3u);
  for (const auto& l : lists) {
    EXPECT_EQ(NeedsListId(l.bytes), l.id);
    EXPECT_LE(DecodeNeedsList(l.bytes)->added.size(), NeedsList::kMaxEntries);
  }
  EXPECT_FALSE(DecodeNeedsList(lists[0].bytes)->base.has_value());
  EXPECT_EQ(DecodeNeedsList(lists[2].bytes)->base, lists[1].id);
  Lists store;
  store.Put(lists);
  auto chain = ReadNeedsChain(lists.back().id, store.reader());
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->set, set);
  EXPECT_EQ(chain->lists, 3u);
  EXPECT_EQ(chain->entries, set.size());
  EXPECT_EQ(chain->ids.front(), lists.back().id);
}

TEST(NeedsListTest, AChildIsWrittenAsItsDifferenceFromItsParent) {
  Lists store;
  const NeedsSet parent_set = Set(0, 1000);
  auto parent_lists = PlanNeedsLists(parent_set, nullptr);
  store.Put(parent_lists);
  auto parent = ReadNeedsChain(parent_lists.back().id, store.reader());
  ASSERT_TRUE(parent.ok());

  // Ten objects gone, twenty new.
  NeedsSet child_set = Set(10, 1020);
  auto child_lists = PlanNeedsLists(child_set, &*parent);
  ASSERT_EQ(child_lists.size(), 1u);
  auto delta = DecodeNeedsList(child_lists[0].bytes);
  EXPECT_EQ(delta->base, parent_lists.back().id);
  EXPECT_EQ(delta->added, Set(1000, 1020));
  EXPECT_EQ(delta->removed, Set(0, 10));
  store.Put(child_lists);
  auto child = ReadNeedsChain(child_lists.back().id, store.reader());
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  EXPECT_EQ(child->set, child_set);
  EXPECT_EQ(child->lists, 2u);

  // Nothing changed: no list, the parent's chain stands for the child.
  EXPECT_TRUE(PlanNeedsLists(child_set, &*child).empty());
}

TEST(NeedsListTest, AChainReadOnTopOfAKnownOneReadsOnlyItsNewLists) {
  Lists store;
  auto first = PlanNeedsLists(Set(0, 300), nullptr);
  store.Put(first);
  auto known = ReadNeedsChain(first.back().id, store.reader());
  auto second = PlanNeedsLists(Set(5, 310), &*known);
  store.Put(second);
  // The known chain's lists are gone: only the new one can be read.
  for (const auto& l : first) store.stored.erase(l.id);
  EXPECT_FALSE(ReadNeedsChain(second.back().id, store.reader()).ok());
  auto chain = ReadNeedsChain(second.back().id, store.reader(), &*known);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->set, Set(5, 310));
  EXPECT_EQ(chain->lists, 2u);
  EXPECT_EQ(chain->entries, 300u + 15u);
  EXPECT_EQ(chain->ids, (std::vector<ObjectId>{second.back().id, first.back().id}));
}

TEST(NeedsListTest, ALongOrWastefulChainIsWrittenAfresh) {
  Lists store;
  NeedsSet set = Set(0, 100);
  auto lists = PlanNeedsLists(set, nullptr);
  store.Put(lists);
  ObjectId head = lists.back().id;
  // One new object per backup: a delta each time, until the chain is
  // kMaxDeltaLists long; then the whole set again.
  for (uint32_t n = 100; n < 100 + kMaxDeltaLists; ++n) {
    auto chain = ReadNeedsChain(head, store.reader());
    ASSERT_TRUE(chain.ok());
    set.push_back(Obj(ObjectKind::kChunk, n));
    std::sort(set.begin(), set.end());
    lists = PlanNeedsLists(set, &*chain);
    ASSERT_EQ(lists.size(), 1u);
    const bool afresh = chain->lists == kMaxDeltaLists;
    EXPECT_EQ(DecodeNeedsList(lists[0].bytes)->base.has_value(), !afresh) << n;
    store.Put(lists);
    head = lists.back().id;
  }
  auto chain = ReadNeedsChain(head, store.reader());
  EXPECT_EQ(chain->set, set);
  EXPECT_EQ(chain->lists, 1u);

  EXPECT_EQ(chain->entries, set.size());
}

TEST(NeedsListTest, AChainCarryingMoreThanTwiceItsSetIsWrittenAfresh) {
  Lists store;
  const NeedsSet first = Set(0, 70'000);
  auto lists = PlanNeedsLists(first, nullptr);
  store.Put(lists);
  auto chain = ReadNeedsChain(lists.back().id, store.reader());
  ASSERT_TRUE(chain.ok());
  // Everything replaced: the chain would carry 210,000 entries for 70,000.
  const NeedsSet other = Set(200'000, 270'000);
  lists = PlanNeedsLists(other, &*chain);
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_FALSE(DecodeNeedsList(lists[0].bytes)->base.has_value());
  // A small set gets some slack: a whole replacement is still a difference.
  const NeedsSet small = Set(0, 100);
  lists = PlanNeedsLists(small, nullptr);
  store.Put(lists);
  chain = ReadNeedsChain(lists.back().id, store.reader());
  lists = PlanNeedsLists(Set(1000, 1100), &*chain);
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_TRUE(DecodeNeedsList(lists[0].bytes)->base.has_value());
}

TEST(NeedsListTest, ADamagedMissingOrInconsistentChainIsCorruption) {
  Lists store;
  auto base = PlanNeedsLists(Set(0, 50), nullptr);
  store.Put(base);
  auto chain = ReadNeedsChain(base.back().id, store.reader());
  auto child = PlanNeedsLists(Set(10, 60), &*chain);
  store.Put(child);
  auto expect = [&](std::string_view why) {
    auto read = ReadNeedsChain(child.back().id, store.reader());
    EXPECT_EQ(read.status().code(), Code::kCorruption);
    EXPECT_NE(read.status().message().find(why), std::string::npos) << read.status().message();
  };
  ASSERT_TRUE(ReadNeedsChain(child.back().id, store.reader()).ok());

  // A flipped bit in the base list.
  store.stored[base.back().id][40] ^= 1;
  expect("does not match its id");
  store.stored[base.back().id][40] ^= 1;
  // The base list gone.
  Bytes kept = store.stored[base.back().id];
  store.stored.erase(base.back().id);
  expect("is missing");
  store.stored[base.back().id] = kept;

  // A list that removes what its base never held, stored under its own id.
  NeedsList bad;
  bad.base = base.back().id;
  bad.removed = Set(100, 101);
  Bytes bytes = EncodeNeedsList(bad);
  store.stored[NeedsListId(bytes)] = bytes;
  auto read = ReadNeedsChain(NeedsListId(bytes), store.reader());
  EXPECT_NE(read.status().message().find("removes objects its base does not need"),
            std::string::npos);
  // ... and one that adds what it held.
  NeedsList again;
  again.base = base.back().id;
  again.added = Set(0, 1);
  bytes = EncodeNeedsList(again);
  store.stored[NeedsListId(bytes)] = bytes;
  read = ReadNeedsChain(NeedsListId(bytes), store.reader());
  EXPECT_NE(read.status().message().find("adds objects its base already needs"), std::string::npos);
}

}  // namespace
}  // namespace coffer
