#include "store/model/tree.h"

#include <gtest/gtest.h>

namespace coffer::model {
namespace {

pb::Tree SampleTree() {
  pb::Tree tree;
  for (const char* name : {"zeta", "alpha", "line\nbreak", "\xff\xfe", "mid"}) {
    pb::Entry* e = tree.add_entries();
    e->set_name(name);
    e->set_type(pb::Entry::FILE);
    e->set_mode(0644);
    e->set_mtime_ns(1'700'000'000'123'456'789);
    pb::Extent* x = e->add_extents();
    x->set_chunk_id(std::string(32, 'c'));
    x->set_size(10);
    pb::Xattr* a = e->add_xattrs();
    a->set_name("user.k");
    a->set_value(std::string("v\0v", 3));
  }
  SortEntries(&tree);
  return tree;
}

TEST(TreeTest, EncodeDecodeEncodeIsIdentical) {
  pb::Tree tree = SampleTree();
  Bytes first = Encode(tree);
  pb::Tree decoded;
  ASSERT_TRUE(Decode(first, &decoded, "tree").ok());
  EXPECT_EQ(Encode(decoded), first);
}

TEST(TreeTest, IdenticalTreesEncodeIdentically) {
  EXPECT_EQ(Encode(SampleTree()), Encode(SampleTree()));
}

TEST(TreeTest, FindsEveryEntryByBinarySearch) {
  pb::Tree tree = SampleTree();
  for (const auto& e : tree.entries()) {
    const pb::Entry* found = FindEntry(tree, e.name());
    ASSERT_NE(found, nullptr) << e.name();
    EXPECT_EQ(found->name(), e.name());
  }
  EXPECT_EQ(FindEntry(tree, "absent"), nullptr);
  EXPECT_EQ(FindEntry(pb::Tree(), "x"), nullptr);
}

// Names, paths and tags are any bytes: as proto3 string fields, text that
// is not UTF-8 encoded but did not decode.
TEST(TreeTest, TextThatIsNotUtf8DecodesAsItWasEncoded) {
  pb::Tree tree;
  pb::Entry* e = tree.add_entries();
  e->set_name("caf\xe9");
  e->set_user("\xe9ric");
  e->set_group("gr\xfcppe");
  pb::Tree tree_back;
  ASSERT_TRUE(Decode(Encode(tree), &tree_back, "tree").ok());
  EXPECT_EQ(tree_back.entries(0).user(), "\xe9ric");
  EXPECT_EQ(tree_back.entries(0).group(), "gr\xfcppe");
  pb::Snapshot record;
  record.set_group("host/a");
  record.add_paths("tmp/caf\xe9");
  record.add_tags("\xff");
  record.set_hostname("h\xf4te");
  record.set_username("\xe9ric");
  pb::Snapshot record_back;
  ASSERT_TRUE(Decode(Encode(record), &record_back, "snapshot").ok());
  EXPECT_EQ(record_back.paths(0), "tmp/caf\xe9");
  EXPECT_EQ(record_back.tags(0), "\xff");
  EXPECT_EQ(record_back.hostname(), "h\xf4te");
}

TEST(TreeTest, GarbageDoesNotDecode) {
  Bytes garbage = {0xff, 0xff, 0xff, 0xff, 0x0f};
  pb::Tree tree;
  Status s = Decode(garbage, &tree, "tree abc");
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("tree abc"), std::string::npos);
}

TEST(TreeTest, SplitsPaths) {
  EXPECT_EQ(SplitPath("/srv//data/"), (std::vector<std::string>{"srv", "data"}));
  EXPECT_TRUE(SplitPath("/").empty());
  EXPECT_TRUE(SplitPath("").empty());
}

TEST(TreeTest, CleansPaths) {
  EXPECT_EQ(CleanPath("/srv//data/"), "srv/data");
  EXPECT_EQ(CleanPath("etc"), "etc");
  EXPECT_EQ(CleanPath("/"), "");
  EXPECT_EQ(CleanPath(""), "");
}

}  // namespace
}  // namespace coffer::model
