#include "store/model/posix_acl.h"

#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <tuple>

#include "tests/testing/fs_fixtures.h"

namespace coffer::model {

// Field-wise, for EXPECT_EQ on whole vectors.
bool operator==(const AclEntry& a, const AclEntry& b) {
  return std::tie(a.tag, a.perm, a.id) == std::tie(b.tag, b.perm, b.id);
}
void PrintTo(const AclEntry& e, std::ostream* os) {
  *os << "{tag " << e.tag << ", perm " << e.perm << ", id " << e.id << "}";
}

namespace {

// An access ACL with every tag, in the kernel's order.
std::vector<AclEntry> SortedAcl() {
  return {{kAclUserObj, 6, kAclUndefinedId},  {kAclUser, 5, 1000},  {kAclUser, 4, 3000000000},
          {kAclGroupObj, 7, kAclUndefinedId}, {kAclGroup, 6, 2000}, {kAclMask, 4, kAclUndefinedId},
          {kAclOther, 0, kAclUndefinedId}};
}

// Little-endian bytes, as the layout is written out in the kernel's header.
std::string Le(uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
  return out;
}
std::string Entry(uint16_t tag, uint16_t perm, uint32_t id) {
  return Le(tag, 2) + Le(perm, 2) + Le(id, 4);
}

TEST(PosixAclTest, TheEncodingIsTheKernelLayout) {
  const std::string expected = Le(2, 4) + Entry(0x01, 6, 0xffffffff) + Entry(0x02, 5, 1000) +
                               Entry(0x02, 4, 3000000000) + Entry(0x04, 7, 0xffffffff) +
                               Entry(0x08, 6, 2000) + Entry(0x10, 4, 0xffffffff) +
                               Entry(0x20, 0, 0xffffffff);
  EXPECT_EQ(EncodeAclXattr(SortedAcl()), expected);
  auto decoded = DecodeAclXattr(expected);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, SortedAcl());
}

TEST(PosixAclTest, EntriesAreSortedByTagThenId) {
  std::vector<AclEntry> shuffled = {SortedAcl()[6], SortedAcl()[2], SortedAcl()[4], SortedAcl()[0],
                                    SortedAcl()[5], SortedAcl()[1], SortedAcl()[3]};
  EXPECT_EQ(EncodeAclXattr(shuffled), EncodeAclXattr(SortedAcl()));
  // By id as a number, not as bytes: 3000000000 is 0xb2d05e00, 1000 is 0x3e8.
  auto decoded = DecodeAclXattr(EncodeAclXattr({{kAclUser, 1, 3000000000}, {kAclUser, 2, 1000}}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, (std::vector<AclEntry>{{kAclUser, 2, 1000}, {kAclUser, 1, 3000000000}}));
}

TEST(PosixAclTest, AnEmptyAclIsTheVersionAlone) {
  EXPECT_EQ(EncodeAclXattr({}), Le(2, 4));
  auto decoded = DecodeAclXattr(Le(2, 4));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

// The kernel's own bytes: setfacl sets an ACL, getxattr returns its value.
TEST(PosixAclTest, WhatTheKernelStoresDecodesAndEncodesBackToTheSameBytes) {
  testing::TempDir tmp;
  const std::string file = tmp / "f";
  testing::WriteFile(file, "acl");
  std::string out;
  ASSERT_EQ(
      testing::RunCommand(
          {"setfacl", "-m", "u:1000:r-x,u:3000000000:r,g::rwx,g:2000:rw,m::r,o::-", file}, &out),
      0)
      << out;
  std::string value(4096, '\0');
  const ssize_t n =
      lgetxattr(file.c_str(), std::string(kAccessAclXattr).c_str(), value.data(), value.size());
  ASSERT_GT(n, 0) << "no access ACL: does the filesystem support ACLs?";
  value.resize(static_cast<size_t>(n));
  auto decoded = DecodeAclXattr(value);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, SortedAcl());
  EXPECT_EQ(EncodeAclXattr(*decoded), value);
}

TEST(PosixAclTest, WhatIsNotAnAclIsRefused) {
  const std::string good = EncodeAclXattr(SortedAcl());
  struct Case {
    const char* what;
    std::string value;
  };
  std::string bad_tag = good, bad_perm = good, perm_high_byte = good;
  bad_tag[4 + 8 * 3] = 0x03;          // between user (2) and group_obj (4)
  bad_perm[4 + 8 * 1 + 2] = 8;        // beyond rwx
  perm_high_byte[4 + 8 * 1 + 3] = 1;  // perm 0x0105
  std::string tag_high_byte = good;
  tag_high_byte[4 + 1] = 0x01;  // tag 0x0101
  for (const Case& c :
       {Case{"empty", ""}, Case{"short version", Le(2, 3)}, Case{"version 1", Le(1, 4)},
        Case{"version 3", Le(3, 4) + Entry(1, 6, 0xffffffff)},
        Case{"version in the wrong byte order", std::string("\0\0\0\2", 4)},
        Case{"short entry", good.substr(0, good.size() - 1)}, Case{"trailing bytes", good + "x"},
        Case{"a partial second entry", good + Le(0x20, 2)}, Case{"tag 3", bad_tag},
        Case{"tag 0", Le(2, 4) + Entry(0, 0, 0)}, Case{"tag 0x40", Le(2, 4) + Entry(0x40, 0, 0)},
        Case{"tag with a high byte", tag_high_byte}, Case{"perm 8", bad_perm},
        Case{"perm with a high byte", perm_high_byte}}) {
    SCOPED_TRACE(c.what);
    auto decoded = DecodeAclXattr(c.value);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), Code::kCorruption) << decoded.status().ToString();
  }
  // Each permission bit and tag alone is fine.
  for (uint16_t tag : {kAclUserObj, kAclUser, kAclGroupObj, kAclGroup, kAclMask, kAclOther}) {
    for (uint16_t perm = 0; perm <= 7; ++perm) {
      EXPECT_TRUE(DecodeAclXattr(Le(2, 4) + Entry(tag, perm, 7)).ok()) << tag << " " << perm;
    }
  }
}

}  // namespace
}  // namespace coffer::model
