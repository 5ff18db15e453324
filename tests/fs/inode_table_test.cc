#include "fs/inode_table.h"

#include <gtest/gtest.h>

namespace coffer::fs {
namespace {

NodePtr Entry(const std::string& name, pb::Entry::Type type = pb::Entry::FILE) {
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::kEntry;
  node->type = type;
  node->parent = InodeTable::kRootIno;
  node->name = name;
  return node;
}

uint64_t Add(InodeTable& table, const std::string& name, pb::Entry::Type type = pb::Entry::FILE) {
  return table.Acquire(
      "c:" + name, [&] { return Entry(name, type); }, /*pinned=*/false);
}

std::vector<std::string> Names(const std::vector<Eviction>& evictions) {
  std::vector<std::string> names;
  for (const Eviction& e : evictions) names.push_back(e.name);
  return names;
}

TEST(InodeTableTest, SameKeySameInodeUntilForgotten) {
  InodeTable table;
  uint64_t a = Add(table, "a");
  EXPECT_EQ(Add(table, "a"), a);
  EXPECT_EQ(table.Peek("c:a"), a);
  table.Forget(a, 1);
  EXPECT_NE(table.Get(a), nullptr) << "looked up twice, forgotten once";
  table.Forget(a, 1);
  EXPECT_EQ(table.Get(a), nullptr);
  EXPECT_EQ(table.Peek("c:a"), 0u);
  EXPECT_NE(Add(table, "a"), a) << "inode numbers are never reused";
}

TEST(InodeTableTest, BytesFollowTheNodes) {
  InodeTable table;
  uint64_t empty = table.bytes();
  uint64_t a = Add(table, "a-name-longer-than-fifteen-bytes");
  uint64_t one = table.bytes() - empty;
  EXPECT_GT(one, sizeof(Node));
  Add(table, "b");
  EXPECT_GT(table.bytes(), empty + one);
  table.Forget(a, 1);
  EXPECT_LT(table.bytes(), empty + one + one);
}

TEST(InodeTableTest, UnderTheBudgetNothingIsOffered) {
  InodeTable table;
  for (int i = 0; i < 10; ++i) Add(table, "f" + std::to_string(i));
  EXPECT_TRUE(table.TakeEvictions(table.bytes(), 100).empty());
}

TEST(InodeTableTest, OffersOldestFilesFirstDownToThreeQuartersOfTheBudget) {
  InodeTable table;
  uint64_t base = table.bytes();
  for (int i = 0; i < 8; ++i) Add(table, "f" + std::to_string(i));
  uint64_t per_node = (table.bytes() - base) / 8;
  // A budget of four nodes over the root: three quarters of it is three nodes.
  uint64_t budget = base + 4 * per_node;
  std::vector<Eviction> out = table.TakeEvictions(budget, 100);
  EXPECT_EQ(Names(out), (std::vector<std::string>{"f0", "f1", "f2", "f3", "f4"}));
  EXPECT_EQ(out[0].parent, InodeTable::kRootIno);
  EXPECT_TRUE(table.TakeEvictions(budget, 100).empty()) << "offered ones are not offered twice";
  for (const Eviction& e : out) table.Forget(e.ino, 1);
  EXPECT_LE(table.bytes(), budget);
}

TEST(InodeTableTest, DirectoriesAreNeverOfferedAndUsedNodesGetASecondChance) {
  InodeTable table;
  uint64_t base = table.bytes();
  Add(table, "dir", pb::Entry::DIRECTORY);
  Add(table, "f0");
  Add(table, "f1");
  Add(table, "f0");  // looked up again: it goes to the back once
  uint64_t per_node = (table.bytes() - base) / 3;
  std::vector<Eviction> out = table.TakeEvictions(base + per_node, 100);
  EXPECT_EQ(Names(out), (std::vector<std::string>{"f1", "f0"}));
}

TEST(InodeTableTest, AnOfferedNodeLookedUpAgainIsACandidateAgain) {
  InodeTable table;
  uint64_t base = table.bytes();
  uint64_t f0 = Add(table, "f0");
  uint64_t per_node = table.bytes() - base;
  Add(table, "f1");
  auto first = table.TakeEvictions(base + per_node, 100);
  ASSERT_EQ(Names(first), (std::vector<std::string>{"f0", "f1"}));
  EXPECT_EQ(Add(table, "f0"), f0) << "the kernel kept it (an open file): same inode";
  EXPECT_EQ(Names(table.TakeEvictions(base, 100)), (std::vector<std::string>{"f0"}));
}

}  // namespace
}  // namespace coffer::fs
