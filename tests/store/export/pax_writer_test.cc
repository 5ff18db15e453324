// PaxWriter's archives read back by GNU tar 1.34, a reader that shares
// nothing with it: listed with -tvv, extracted as root with ACLs, xattrs and
// holes, the result checked with stat, getxattr, getfattr, getfacl and cmp
// and by tar --compare; and read by libarchive through Coffer's own importer.
#include "store/export/pax_writer.h"
#include "store/export/tar_export.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "store/base/timespec.h"
#include "store/ingest/archive_source.h"
#include "store/ingest/tar_import.h"
#include "store/model/posix_acl.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::exporting {
namespace {

using testing::TempDir;
using Type = TarMember::Type;

constexpr int64_t kSecond = 1'000'000'000;
constexpr uint64_t kMiB = 1 << 20, kGiB = uint64_t{1} << 30;
// 2024-12-06 00:00:00 UTC.
constexpr int64_t kTime = 1'733'443'200 * kSecond;

// A member and the bytes WriteData gets for it: a file's content, or a
// sparse file's data regions one after the other.
struct Member {
  TarMember header;
  std::string data;
};

Member Make(Type type, std::string path, uint32_t mode) {
  Member m;
  m.header.type = type;
  m.header.path = std::move(path);
  m.header.mode = mode;
  m.header.mtime_ns = kTime;
  m.header.ctime_ns = kTime;
  return m;
}
Member File(std::string path, std::string content, uint32_t mode = 0644) {
  Member m = Make(Type::kFile, std::move(path), mode);
  m.header.size = content.size();
  m.data = std::move(content);
  return m;
}
Member Dir(std::string path, uint32_t mode = 0755) {
  return Make(Type::kDirectory, std::move(path), mode);
}
Member Link(Type type, std::string path, std::string target) {
  Member m = Make(type, std::move(path), type == Type::kSymlink ? 0777 : 0644);
  m.header.linkpath = std::move(target);
  return m;
}
Member Device(Type type, std::string path, uint32_t major, uint32_t minor, uint32_t mode = 0660) {
  Member m = Make(type, std::move(path), mode);
  m.header.dev_major = major;
  m.header.dev_minor = minor;
  return m;
}

// A file of `size` bytes whose data is `regions` (offset, bytes) and the
// rest holes. The map is the caller's, as tar_export makes it: a file that
// ends in a hole ends it with an empty region at its size.
Member Sparse(std::string path, uint64_t size,
              const std::vector<std::pair<uint64_t, std::string>>& regions) {
  Member m = Make(Type::kFile, std::move(path), 0644);
  m.header.size = size;
  m.header.sparse_map.emplace();
  for (const auto& [offset, bytes] : regions) {
    m.header.sparse_map->emplace_back(offset, bytes.size());
    m.data += bytes;
  }
  if (regions.empty() || regions.back().first + regions.back().second.size() < size) {
    m.header.sparse_map->emplace_back(size, 0);
  }
  return m;
}

// `prefix` followed by a name of 'x's that makes it `length` bytes long.
std::string PathOfLength(const std::string& prefix, size_t length) {
  return prefix + std::string(length - prefix.size(), 'x');
}

// Writes `members` with PaxWriter, each member's data handed over in
// pieces of up to `piece` bytes, and returns the archive.
std::string WriteArchive(const std::vector<Member>& members, size_t piece = 4093) {
  std::string out;
  PaxWriter writer([&out](ByteView bytes) {
    out.append(AsChars(bytes));
    return Status::Ok();
  });
  for (const Member& m : members) {
    Status begun = writer.Begin(m.header);
    EXPECT_TRUE(begun.ok()) << m.header.path << ": " << begun.ToString();
    for (size_t at = 0; at < m.data.size(); at += piece) {
      Status wrote = writer.WriteData(AsBytes(std::string_view(m.data).substr(at, piece)));
      EXPECT_TRUE(wrote.ok()) << m.header.path << ": " << wrote.ToString();
    }
  }
  Status finished = writer.Finish();
  EXPECT_TRUE(finished.ok()) << finished.ToString();
  EXPECT_EQ(out.size() % 10240, 0u) << "not a whole number of 10240-byte records";
  return out;
}

// Runs GNU tar in the C locale and UTC, so names and times print alike on
// every host; its output (stdout and stderr), and the exit code in `rc`.
std::string RunTar(std::vector<std::string> args, int* rc) {
  args.insert(args.begin(), "tar");
  std::string out;
  *rc = testing::RunCommand(args, &out, {"LC_ALL=C", "TZ=UTC"});
  return out;
}

// A line of a listing with every run of spaces made one: tar aligns its
// columns to the widest entry so far.
std::string Squeezed(const std::string& line) {
  std::string out;
  for (char c : line) {
    if (c != ' ' || out.empty() || out.back() != ' ') out += c;
  }
  return out;
}

// `tar -tvv` of `archive`, a line per member; owners by number unless `names`.
std::vector<std::string> Listing(const std::string& archive, bool names = false) {
  std::vector<std::string> args = {"-tvv", "-f", archive};
  if (!names) args.push_back("--numeric-owner");
  int rc;
  std::istringstream out(RunTar(args, &rc));
  EXPECT_EQ(rc, 0) << out.str();
  std::vector<std::string> lines;
  for (std::string line; std::getline(out, line);) lines.push_back(Squeezed(line));
  return lines;
}

// A member's name as tar lists it in the C locale (quoting style "escape").
std::string Listed(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c >= 0x7f) {
      char octal[5];
      std::snprintf(octal, sizeof octal, "\\%03o", c);
      out += octal;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Extracts `archive` into a new folder `dir` as root, the way vzdump's
// restore runs tar: owners by number, modes, ACLs, every xattr, holes.
// tar must say nothing but that a time before 1970 is "implausibly old":
// any other warning is a difference from what it wrote.
void Extract(const std::string& archive, const std::string& dir) {
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0) << dir;
  int rc;
  std::istringstream out(RunTar({"xpf", archive, "--numeric-owner", "--acls", "--xattrs",
                                 "--xattrs-include=*", "--sparse", "-C", dir},
                                &rc));
  EXPECT_EQ(rc, 0) << out.str();
  for (std::string line; std::getline(out, line);) {
    if (line.find(": implausibly old time stamp ") == std::string::npos)
      ADD_FAILURE() << "tar: " << line;
  }
}

// tar --compare of `archive` against `dir` (modes, owners, mtimes, sizes,
// contents, link targets, devices, ACLs, xattrs): nothing may differ.
void ExpectSameAsExtracted(const std::string& archive, const std::string& dir,
                           const std::vector<std::string>& members = {}) {
  std::vector<std::string> args = {"--compare", "-f",       archive,
                                   "-C",        dir,        "--numeric-owner",
                                   "--acls",    "--xattrs", "--xattrs-include=*"};
  args.insert(args.end(), members.begin(), members.end());
  int rc;
  const std::string out = RunTar(args, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "");
}

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << Listed(path);
  return st;
}

std::string Xattr(const std::string& path, const std::string& name) {
  std::string value(65536, '\0');
  const ssize_t n = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
  EXPECT_GE(n, 0) << path << " has no " << name;
  value.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return value;
}

std::set<std::string> XattrNames(const std::string& path) {
  std::string names(65536, '\0');
  const ssize_t n = llistxattr(path.c_str(), names.data(), names.size());
  EXPECT_GE(n, 0) << path;
  std::set<std::string> out;
  for (size_t at = 0; n > 0 && at < static_cast<size_t>(n);) {
    const std::string name(names.c_str() + at);
    at += name.size() + 1;
    out.insert(name);
  }
  return out;
}

// Reads `size` bytes of `path` at `offset`.
std::string ReadAt(const std::string& path, uint64_t offset, size_t size) {
  const int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  std::string out(size, '\0');
  const ssize_t n = pread(fd, out.data(), size, static_cast<off_t>(offset));
  close(fd);
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// Where the data after `offset` begins, and where the hole after `offset` begins.
off_t SeekData(const std::string& path, off_t offset, int whence) {
  const int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  const off_t at = lseek(fd, offset, whence);
  close(fd);
  return at;
}

// The file `member` stands for, written at `path` independently of tar:
// its regions at their offsets, the rest left as holes.
void WriteExpected(const Member& member, const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(member.header.size)), 0);
  if (!member.header.sparse_map) {
    ASSERT_EQ(pwrite(fd, member.data.data(), member.data.size(), 0),
              static_cast<ssize_t>(member.data.size()));
  } else {
    size_t taken = 0;
    for (const auto& [offset, length] : *member.header.sparse_map) {
      ASSERT_EQ(pwrite(fd, member.data.data() + taken, length, static_cast<off_t>(offset)),
                static_cast<ssize_t>(length));
      taken += length;
    }
  }
  close(fd);
}

// `cmp` of two files: equal content, holes reading as zeros.
void ExpectSameContent(const std::string& expected, const std::string& actual) {
  std::string out;
  EXPECT_EQ(testing::RunCommand({"cmp", expected, actual}, &out), 0) << out;
}

class PaxWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: tar restores owners and devices only as root";
  }

  // Writes the archive of `members` to a file and returns its path.
  std::string Save(const std::vector<Member>& members, const std::string& name = "archive.tar") {
    const std::string path = tmp_ / name;
    testing::WriteFile(path, WriteArchive(members));
    return path;
  }

  TempDir tmp_;
};

TEST_F(PaxWriterTest, LongAndOddNamesAreExtractedByteForByte) {
  const std::string deep = "./" + std::string(70, 'd') + "/";     // 73 bytes
  const std::string deeper = deep + std::string(120, 'e') + "/";  // 194 bytes
  // Not UTF-8, a newline, and what a record's text must keep: '=', '%', '\\'.
  const std::string odd_long = deep + "odd long\n\xff\xfe name=%\\ ";
  std::vector<Member> members = {
      Dir("./"),
      File(PathOfLength("./name-99-", 99), "99"),
      File(PathOfLength("./name-100-", 100), "100"),
      // Fit the name and prefix fields once split at a '/'.
      File(PathOfLength("./name-101-", 101), "101"),
      Dir(deep),
      File(PathOfLength(deep + "name-160-", 160), "160 split"),
      // Too long for the name field, no '/' to split at: a path record.
      File(PathOfLength("./name-160-", 160), "160 whole"),
      Dir(deeper, 0700),  // a directory in a path record
      File(PathOfLength(deeper + "name-300-", 300), "300"),
      File("./with space and\ttab", "space"),
      File("./new\nline", "newline"),
      File("./latin-1 \xe9t\xe9 and \xff", "not UTF-8"),
      File("./back\\slash", "backslash"),
      File(PathOfLength(odd_long, 220), "odd and long"),
  };
  ASSERT_EQ(members[1].header.path.size(), 99u);
  ASSERT_EQ(members[8].header.path.size(), 300u);
  const std::string archive = Save(members);

  // Listed under their full names, in order.
  int rc;
  std::vector<std::string> names;
  std::istringstream listed(RunTar({"-tf", archive}, &rc));
  ASSERT_EQ(rc, 0) << listed.str();
  for (std::string line; std::getline(listed, line);) names.push_back(line);
  std::vector<std::string> expected_names;
  for (const Member& m : members) expected_names.push_back(Listed(m.header.path));
  EXPECT_EQ(names, expected_names);

  const std::string out = tmp_ / "out";
  Extract(archive, out);
  for (const Member& m : members) {
    SCOPED_TRACE(Listed(m.header.path));
    const struct stat st = Lstat(out + "/" + m.header.path);
    EXPECT_EQ(st.st_mode & 07777, m.header.mode);
    if (m.header.type == Type::kFile) {
      EXPECT_TRUE(S_ISREG(st.st_mode));
      EXPECT_EQ(testing::ReadFile(out + "/" + m.header.path), m.data);
    } else {
      EXPECT_TRUE(S_ISDIR(st.st_mode));
    }
  }
  ExpectSameAsExtracted(archive, out);
}

TEST_F(PaxWriterTest, OwnersTimesDevicesAndLinksAreExtracted) {
  auto owned = [](std::string path, uint32_t uid, uint32_t gid, std::string user = {},
                  std::string group = {}) {
    Member m = File(std::move(path), "owned");
    m.header.uid = uid;
    m.header.gid = gid;
    m.header.user = std::move(user);
    m.header.group = std::move(group);
    return m;
  };
  auto timed = [](std::string path, int64_t mtime_ns, int64_t ctime_ns) {
    Member m = File(std::move(path), "timed");
    m.header.mtime_ns = mtime_ns;
    m.header.ctime_ns = ctime_ns;
    return m;
  };
  const std::string long_file = PathOfLength("./links/long-", 150);
  const std::string target_100 = PathOfLength("../", 100);
  const std::string target_long = PathOfLength("../some/where\n\xff/", 300);
  // 1960-01-01 00:00:00.25 UTC: before 1970, with a fraction.
  const int64_t k1960 = -315'619'200 * kSecond + 250'000'000;
  std::vector<Member> members = {
      Dir("./"),
      Dir("./owners/"),
      owned("./owners/root", 0, 0, "root", "root"),
      owned("./owners/mapped", 100000, 100000),
      owned("./owners/huge", 3000000000, 3000000001),  // past the 7 octal digits of the field
      owned("./owners/named", 1234, 5678, "alice", "staff"),
      owned("./owners/name-31", 1, 2, std::string(31, 'u'), std::string(31, 'g')),
      owned("./owners/name-40", 3, 4, std::string(40, 'u'), std::string(32, 'g')),  // records
      Dir("./times/"),
      timed("./times/nanoseconds", kTime + 123'456'789, kTime + 987'654'321),
      timed("./times/1960", k1960, kTime),
      timed("./times/half-second-before-1970", -500'000'000, kTime),
      timed("./times/second-before-1970", -kSecond, kTime),
      timed("./times/epoch", 0, 0),
      Dir("./dev/"),
      Device(Type::kCharDevice, "./dev/null", 1, 3, 0666),
      Device(Type::kCharDevice, "./dev/odd", 300, 70000),
      Device(Type::kBlockDevice, "./dev/loop0", 7, 0),
      Device(Type::kBlockDevice, "./dev/big-minor", 259, 1048575),
      Make(Type::kFifo, "./dev/fifo", 0600),
      Dir("./links/"),
      File("./links/target", "linked content"),
      Link(Type::kHardLink, "./links/hard", "./links/target"),
      File(long_file, "long linked content"),
      Link(Type::kHardLink, "./links/hard-to-long", long_file),  // a linkpath record
      Link(Type::kSymlink, "./links/symlink", "target"),
      Link(Type::kSymlink, "./links/symlink-100", target_100),
      Link(Type::kSymlink, "./links/symlink-long", target_long),
  };
  ASSERT_EQ(target_100.size(), 100u);
  const std::string archive = Save(members);

  const std::vector<std::string> numeric = Listing(archive);
  const std::vector<std::string> named = Listing(archive, /*names=*/true);
  ASSERT_EQ(numeric.size(), members.size());
  ASSERT_EQ(named.size(), members.size());
  auto line = [&](const std::vector<std::string>& listing, const std::string& path) {
    for (const std::string& l : listing) {
      if (l.find(" " + Listed(path)) != std::string::npos) return l;
    }
    return "no line for " + path;
  };
  EXPECT_EQ(line(numeric, "./owners/root"), "-rw-r--r-- 0/0 5 2024-12-06 00:00 ./owners/root");
  EXPECT_EQ(line(numeric, "./owners/huge"),
            "-rw-r--r-- 3000000000/3000000001 5 2024-12-06 00:00 ./owners/huge");
  EXPECT_EQ(line(named, "./owners/root"), "-rw-r--r-- root/root 5 2024-12-06 00:00 ./owners/root");
  EXPECT_EQ(line(named, "./owners/mapped"),
            "-rw-r--r-- 100000/100000 5 2024-12-06 00:00 ./owners/mapped");
  EXPECT_EQ(line(named, "./owners/named"),
            "-rw-r--r-- alice/staff 5 2024-12-06 00:00 ./owners/named");
  EXPECT_EQ(line(named, "./owners/name-31"), "-rw-r--r-- " + std::string(31, 'u') + "/" +
                                                 std::string(31, 'g') +
                                                 " 5 2024-12-06 00:00 ./owners/name-31");
  EXPECT_EQ(line(named, "./owners/name-40"), "-rw-r--r-- " + std::string(40, 'u') + "/" +
                                                 std::string(32, 'g') +
                                                 " 5 2024-12-06 00:00 ./owners/name-40");
  EXPECT_EQ(line(numeric, "./times/1960"), "-rw-r--r-- 0/0 5 1960-01-01 00:00 ./times/1960");
  EXPECT_EQ(line(numeric, "./times/second-before-1970"),
            "-rw-r--r-- 0/0 5 1969-12-31 23:59 ./times/second-before-1970");
  EXPECT_EQ(line(numeric, "./dev/null"), "crw-rw-rw- 0/0 1,3 2024-12-06 00:00 ./dev/null");
  EXPECT_EQ(line(numeric, "./dev/odd"), "crw-rw---- 0/0 300,70000 2024-12-06 00:00 ./dev/odd");
  EXPECT_EQ(line(numeric, "./dev/loop0"), "brw-rw---- 0/0 7,0 2024-12-06 00:00 ./dev/loop0");
  EXPECT_EQ(line(numeric, "./dev/fifo"), "prw------- 0/0 0 2024-12-06 00:00 ./dev/fifo");
  EXPECT_EQ(line(numeric, "./links/hard"),
            "hrw-r--r-- 0/0 0 2024-12-06 00:00 ./links/hard link to ./links/target");
  EXPECT_EQ(line(numeric, "./links/hard-to-long"),
            "hrw-r--r-- 0/0 0 2024-12-06 00:00 ./links/hard-to-long link to " + long_file);
  EXPECT_EQ(line(numeric, "./links/symlink-long"),
            "lrwxrwxrwx 0/0 0 2024-12-06 00:00 ./links/symlink-long -> " + Listed(target_long));

  const std::string out = tmp_ / "out";
  Extract(archive, out);
  for (const Member& m : members) {
    SCOPED_TRACE(m.header.path);
    const struct stat st = Lstat(out + "/" + m.header.path);
    EXPECT_EQ(st.st_uid, m.header.uid);
    EXPECT_EQ(st.st_gid, m.header.gid);
    if (m.header.type != Type::kSymlink) {
      EXPECT_EQ(st.st_mode & 07777, m.header.mode);
    }
    if (m.header.type == Type::kFile) {
      EXPECT_EQ(ToNanos(st.st_mtim), m.header.mtime_ns);
      EXPECT_EQ(testing::ReadFile(out + "/" + m.header.path), m.data);
    }
  }
  const struct stat sixty = Lstat(out + "/times/1960");
  EXPECT_EQ(sixty.st_mtim.tv_sec, -315'619'200);
  EXPECT_EQ(sixty.st_mtim.tv_nsec, 250'000'000);
  const struct stat half = Lstat(out + "/times/half-second-before-1970");
  EXPECT_EQ(half.st_mtim.tv_sec, -1);
  EXPECT_EQ(half.st_mtim.tv_nsec, 500'000'000);
  EXPECT_EQ(Lstat(out + "/times/nanoseconds").st_mtim.tv_nsec, 123'456'789);

  EXPECT_TRUE(S_ISCHR(Lstat(out + "/dev/null").st_mode));
  EXPECT_EQ(Lstat(out + "/dev/null").st_rdev, makedev(1, 3));
  EXPECT_EQ(Lstat(out + "/dev/odd").st_rdev, makedev(300, 70000));
  EXPECT_TRUE(S_ISBLK(Lstat(out + "/dev/loop0").st_mode));
  EXPECT_EQ(Lstat(out + "/dev/loop0").st_rdev, makedev(7, 0));
  EXPECT_EQ(Lstat(out + "/dev/big-minor").st_rdev, makedev(259, 1048575));
  EXPECT_TRUE(S_ISFIFO(Lstat(out + "/dev/fifo").st_mode));

  const struct stat target = Lstat(out + "/links/target");
  EXPECT_EQ(target.st_nlink, 2u);
  EXPECT_EQ(Lstat(out + "/links/hard").st_ino, target.st_ino);
  EXPECT_EQ(Lstat(out + "/links/hard-to-long").st_ino, Lstat(out + "/" + long_file).st_ino);
  for (const auto& [link, expected] : std::vector<std::pair<std::string, std::string>>{
           {"symlink", "target"}, {"symlink-100", target_100}, {"symlink-long", target_long}}) {
    std::string read(4096, '\0');
    const ssize_t n = readlink((out + "/links/" + link).c_str(), read.data(), read.size());
    ASSERT_GT(n, 0) << link;
    EXPECT_EQ(read.substr(0, static_cast<size_t>(n)), expected) << link;
  }
  ExpectSameAsExtracted(archive, out);

  // tar keeps no ctime; its record is there as GNU tar writes it.
  const std::string bytes = testing::ReadFile(archive);
  EXPECT_NE(bytes.find("30 ctime=1733443200.987654321\n"), std::string::npos);
  EXPECT_NE(bytes.find("23 mtime=-315619199.75\n"), std::string::npos);
}

TEST_F(PaxWriterTest, HolesAreExtractedAsHoles) {
  auto random = [](size_t size, uint64_t seed) { return testing::RandomBytes(size, seed); };
  const uint64_t big_size = 9 * kGiB + 4096;  // past the 8 GiB of a ustar size field
  // Regions enough for a map of several blocks, at offsets that are not
  // whole blocks. Every region but the last is a whole number of blocks
  // long, as GNU tar's own are (see the disabled test below).
  std::vector<std::pair<uint64_t, std::string>> many_regions;
  for (uint64_t i = 0; i < 100; ++i) {
    many_regions.emplace_back(i * 600 * 1024 + 1, random(i < 99 ? 512 * (1 + i % 3) : 77, 100 + i));
  }
  std::vector<Member> members = {
      Dir("./"),
      Sparse("./big.img", big_size,
             {{0, random(4096, 1)}, {5 * kGiB, random(8192, 2)}, {9 * kGiB, random(4096, 3)}}),
      Sparse("./ends-in-hole", 3 * kMiB, {{0, random(8192, 4)}, {kMiB + 512, random(100, 5)}}),
      Sparse("./begins-with-hole", 2 * kMiB + 10,
             {{kMiB, random(4096, 6)}, {2 * kMiB, random(10, 7)}}),
      Sparse("./all-hole", 10 * kMiB, {}),
      Sparse("./many-regions", 64 * kMiB, many_regions),
      File("./after", "the member after the sparse ones"),
  };
  ASSERT_EQ(members[4].header.sparse_map->size(), 1u);  // only the final (size, 0)
  ASSERT_EQ(members[2].header.sparse_map->back(), (std::pair<uint64_t, uint64_t>{3 * kMiB, 0}));
  const std::string archive = Save(members);
  size_t data_bytes = 0;
  for (const Member& m : members) data_bytes += m.data.size();
  EXPECT_LT(testing::ReadFile(archive).size(), data_bytes + (64 << 10))
      << "holes were written as data";

  const std::vector<std::string> listing = Listing(archive);
  ASSERT_EQ(listing.size(), members.size());
  EXPECT_EQ(listing[1], "-rw-r--r-- 0/0 9663680512 2024-12-06 00:00 ./big.img");
  EXPECT_EQ(listing[2], "-rw-r--r-- 0/0 3145728 2024-12-06 00:00 ./ends-in-hole");
  EXPECT_EQ(listing[4], "-rw-r--r-- 0/0 10485760 2024-12-06 00:00 ./all-hole");

  const std::string out = tmp_ / "out";
  Extract(archive, out);
  // The big one by its regions and holes: a cmp would read 9 GiB of zeros.
  const std::string big = out + "/big.img";
  const struct stat big_stat = Lstat(big);
  EXPECT_EQ(static_cast<uint64_t>(big_stat.st_size), big_size);
  EXPECT_LT(static_cast<uint64_t>(big_stat.st_blocks) * 512, kMiB);
  size_t taken = 0;
  for (const auto& [offset, length] : *members[1].header.sparse_map) {
    EXPECT_EQ(ReadAt(big, offset, length), members[1].data.substr(taken, length)) << offset;
    taken += length;
  }
  EXPECT_EQ(SeekData(big, 0, SEEK_HOLE), 4096);
  EXPECT_EQ(SeekData(big, 4096, SEEK_DATA), static_cast<off_t>(5 * kGiB));
  EXPECT_EQ(SeekData(big, 5 * kGiB, SEEK_HOLE), static_cast<off_t>(5 * kGiB + 8192));
  EXPECT_EQ(SeekData(big, 5 * kGiB + 8192, SEEK_DATA), static_cast<off_t>(9 * kGiB));

  for (size_t i = 2; i < members.size(); ++i) {
    SCOPED_TRACE(members[i].header.path);
    const std::string expected = tmp_ / ("expected-" + std::to_string(i));
    WriteExpected(members[i], expected);
    const std::string extracted = out + "/" + members[i].header.path;
    EXPECT_EQ(Lstat(extracted).st_size, static_cast<off_t>(members[i].header.size));
    ExpectSameContent(expected, extracted);
  }
  EXPECT_EQ(Lstat(out + "/all-hole").st_blocks, 0);
  EXPECT_EQ(SeekData(out + "/begins-with-hole", 0, SEEK_DATA), static_cast<off_t>(kMiB));
  EXPECT_EQ(SeekData(out + "/ends-in-hole", kMiB + 512, SEEK_HOLE),
            static_cast<off_t>(kMiB + 4096));
  ExpectSameAsExtracted(
      archive, out,
      {"./ends-in-hole", "./begins-with-hole", "./all-hole", "./many-regions", "./after"});
}

// GNU tar 1.34 reads every data region of a sparse file but the last in
// whole 512-byte blocks (sparse.c, sparse_extract_region): a map with a
// 5000-byte first region would have it take 5120 bytes and extract the
// second region from the wrong ones. PaxWriter refuses such a map; the
// exporter widens regions to whole blocks first (WholeBlockRegions).
TEST_F(PaxWriterTest, ADataRegionThatIsNotWholeBlocksIsRefused) {
  Member odd =
      Sparse("./odd", 3 * kMiB,
             {{0, testing::RandomBytes(5000, 4)}, {kMiB + 512, testing::RandomBytes(100, 5)}});
  PaxWriter writer([](ByteView) { return Status::Ok(); });
  Status begun = writer.Begin(odd.header);
  EXPECT_EQ(begun.code(), Code::kInvalidArgument) << begun.ToString();
}

TEST_F(PaxWriterTest, RegionsWidenedToWholeBlocksAreExtractedByGnuTar) {
  // Regions as an archive with an unusual map could leave a stored file's
  // holes: odd lengths and starts, two that widen into one.
  const std::vector<std::pair<uint64_t, uint64_t>> stored = {
      {100, 5000}, {5200, 10}, {6000, 10}, {7000, 10}, {kMiB + 700, 100}, {2 * kMiB + 1, 3}};
  const uint64_t size = 3 * kMiB;
  const auto widened = WholeBlockRegions(stored, size);
  // 0..5120, joined by 5120..5632 and 5632..6144; 6656..7168 stays apart.
  const std::vector<std::pair<uint64_t, uint64_t>> expected_map = {
      {0, 6144}, {6656, 512}, {kMiB + 512, 512}, {2 * kMiB, 512}};
  EXPECT_EQ(widened, expected_map);
  // The file: random bytes in the stored regions, zeros elsewhere, and the
  // widened regions' bytes are what the archive holds.
  std::string content(size, '\0');
  for (size_t i = 0; i < stored.size(); ++i) {
    const std::string bytes = testing::RandomBytes(stored[i].second, 10 + static_cast<int>(i));
    content.replace(stored[i].first, bytes.size(), bytes);
  }
  std::vector<std::pair<uint64_t, std::string>> regions;
  for (const auto& [at, length] : widened) regions.emplace_back(at, content.substr(at, length));
  std::vector<Member> members = {Dir("./"), Sparse("./widened", size, regions),
                                 File("./after", "the member after the sparse one")};
  const std::string archive = Save(members);
  const std::string out = tmp_ / "out";
  Extract(archive, out);
  const std::string expected = tmp_ / "expected";
  WriteExpected(members[1], expected);
  ExpectSameContent(expected, out + "/widened");
  EXPECT_EQ(testing::ReadFile(out + "/widened"), content);
  EXPECT_EQ(testing::ReadFile(out + "/after"), "the member after the sparse one");
}

TEST_F(PaxWriterTest, AFileOver8GiBHasItsSizeInARecord) {
  // 9 GiB of data, not of holes: written into an archive that is itself
  // sparse (zeros are skipped), listed by tar, which seeks past the data.
  const std::string archive = tmp_ / "big.tar";
  const int fd = open(archive.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const Bytes zeros(kMiB, 0);
  uint64_t written = 0;
  PaxWriter writer([&](ByteView bytes) {
    if (bytes.data() == zeros.data()) {
      EXPECT_GE(lseek(fd, static_cast<off_t>(bytes.size()), SEEK_CUR), 0);
    } else {
      EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    }
    written += bytes.size();
    return Status::Ok();
  });
  Member big = File("./big", "");
  big.header.size = 9 * kGiB + 1;
  ASSERT_TRUE(writer.Begin(big.header).ok());
  for (uint64_t i = 0; i < 9 * 1024; ++i) ASSERT_TRUE(writer.WriteData(zeros).ok());
  ASSERT_TRUE(writer.WriteData(AsBytes(std::string_view("!"))).ok());
  const Member after = File("./after", "after the big one");
  ASSERT_TRUE(writer.Begin(after.header).ok());
  ASSERT_TRUE(writer.WriteData(AsBytes(after.data)).ok());
  ASSERT_TRUE(writer.Finish().ok());
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(written)), 0);
  close(fd);
  EXPECT_EQ(written % 10240, 0u);

  const std::vector<std::string> listing = Listing(archive);
  ASSERT_EQ(listing.size(), 2u);
  EXPECT_EQ(listing[0], "-rw-r--r-- 0/0 9663676417 2024-12-06 00:00 ./big");
  EXPECT_EQ(listing[1], "-rw-r--r-- 0/0 17 2024-12-06 00:00 ./after");
  // The member after it starts where tar expects: its content reads back.
  int rc;
  const std::string content = RunTar({"-xOf", archive, "./after"}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(content, after.data);
}

TEST_F(PaxWriterTest, XattrsAndAclsAreExtracted) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  Member binary = File("./xattrs", "xattrs");
  binary.header.records = {{"SCHILY.xattr.user.all-bytes", all_bytes},
                           {"SCHILY.xattr.user.nul", std::string(1, '\0')},
                           {"SCHILY.xattr.user.nuls", std::string("a\0b\0\0c\n=", 8)},
                           {"SCHILY.xattr.user.text", "plain"}};
  std::vector<Member> members = {Dir("./"), binary};
  // Records whose length crosses from two digits to three and from three to
  // four: each "LENGTH KEY=VALUE\n" counts its own digits.
  for (size_t length : {75, 76, 77, 974, 975, 976}) {
    Member m = File("./xattr-" + std::to_string(length), "sized");
    m.header.records = {{"SCHILY.xattr.user.k", std::string(length, 'v')}};
    members.push_back(m);
  }
  // A mask narrower than the group entry: the mode's group bits are the mask.
  Member acl_file = File("./acl-file", "acl", 0640);
  acl_file.header.records = {
      {"SCHILY.acl.access",
       "user::rw-,user:1000:r-x,group::rwx,group:2000:rw-,mask::r--,other::---"}};
  members.push_back(acl_file);
  Member acl_dir = Dir("./acl-dir/", 0770);
  acl_dir.header.records = {
      {"SCHILY.acl.access", "user::rwx,user:1000:rwx,group::r-x,mask::rwx,other::---"},
      {"SCHILY.acl.default", "user::rwx,group::r-x,group:2000:rwx,mask::rwx,other::r-x"}};
  members.push_back(acl_dir);
  const std::string archive = Save(members);

  const std::string out = tmp_ / "out";
  Extract(archive, out);
  const std::string xattrs = out + "/xattrs";
  EXPECT_EQ(XattrNames(xattrs),
            (std::set<std::string>{"user.all-bytes", "user.nul", "user.nuls", "user.text"}));
  EXPECT_EQ(Xattr(xattrs, "user.all-bytes"), all_bytes);
  EXPECT_EQ(Xattr(xattrs, "user.nul"), std::string(1, '\0'));
  EXPECT_EQ(Xattr(xattrs, "user.nuls"), std::string("a\0b\0\0c\n=", 8));
  std::string out_text;
  ASSERT_EQ(testing::RunCommand(
                {"getfattr", "--absolute-names", "--only-values", "-n", "user.all-bytes", xattrs},
                &out_text),
            0);
  EXPECT_EQ(out_text, all_bytes);
  for (size_t length : {75, 76, 77, 974, 975, 976}) {
    EXPECT_EQ(Xattr(out + "/xattr-" + std::to_string(length), "user.k"), std::string(length, 'v'))
        << length;
  }

  const struct stat acl_stat = Lstat(out + "/acl-file");
  EXPECT_EQ(acl_stat.st_mode & 0777, 0640u) << "the group bits are not the mask";
  std::string facl;
  ASSERT_EQ(
      testing::RunCommand(
          {"getfacl", "--absolute-names", "--numeric", "--omit-header", out + "/acl-file"}, &facl),
      0)
      << facl;
  EXPECT_EQ(facl,
            "user::rw-\n"
            "user:1000:r-x\t#effective:r--\n"
            "group::rwx\t#effective:r--\n"
            "group:2000:rw-\t#effective:r--\n"
            "mask::r--\n"
            "other::---\n\n");
  ASSERT_EQ(
      testing::RunCommand(
          {"getfacl", "--absolute-names", "--numeric", "--omit-header", out + "/acl-dir"}, &facl),
      0)
      << facl;
  EXPECT_EQ(facl,
            "user::rwx\n"
            "user:1000:rwx\n"
            "group::r-x\n"
            "mask::rwx\n"
            "other::---\n"
            "default:user::rwx\n"
            "default:group::r-x\n"
            "default:group:2000:rwx\n"
            "default:mask::rwx\n"
            "default:other::r-x\n\n");
  EXPECT_EQ(Lstat(out + "/acl-dir").st_mode & 0777, 0770u);
  // The listing has the header's mode: the mask in the group bits.
  const std::vector<std::string> listing = Listing(archive);
  EXPECT_NE(
      std::find(listing.begin(), listing.end(), "-rw-r----- 0/0 3 2024-12-06 00:00 ./acl-file"),
      listing.end());
  ExpectSameAsExtracted(archive, out);
}

TEST_F(PaxWriterTest, DataLongerOrShorterThanTheHeaderSaysIsRefused) {
  std::string out;
  auto append = [&out](ByteView bytes) {
    out.append(AsChars(bytes));
    return Status::Ok();
  };
  {
    PaxWriter writer(append);
    ASSERT_TRUE(writer.Begin(File("./f", "0123456789").header).ok());
    EXPECT_EQ(writer.WriteData(AsBytes(std::string_view("0123456789x"))).code(),
              Code::kInvalidArgument);
    ASSERT_TRUE(writer.WriteData(AsBytes(std::string_view("01234"))).ok());
    EXPECT_EQ(writer.WriteData(AsBytes(std::string_view("567890"))).code(), Code::kInvalidArgument);
    ASSERT_TRUE(writer.WriteData(AsBytes(std::string_view("56789"))).ok());
    EXPECT_EQ(writer.WriteData(AsBytes(std::string_view("!"))).code(), Code::kInvalidArgument);
    EXPECT_TRUE(writer.Finish().ok());
  }
  {
    // Short data: neither the next member nor the end may come.
    PaxWriter writer(append);
    ASSERT_TRUE(writer.Begin(File("./f", "0123456789").header).ok());
    ASSERT_TRUE(writer.WriteData(AsBytes(std::string_view("01234"))).ok());
    EXPECT_EQ(writer.Begin(File("./g", "").header).code(), Code::kInvalidArgument);
    EXPECT_EQ(writer.Finish().code(), Code::kInvalidArgument);
  }
  {
    // A sparse file's data is its regions' bytes, not its size.
    PaxWriter writer(append);
    const std::string block(512, 'a');
    const Member sparse = Sparse("./s", kMiB, {{512, block}, {5120, "de"}});
    ASSERT_TRUE(writer.Begin(sparse.header).ok());
    EXPECT_EQ(writer.WriteData(AsBytes(block + "def")).code(), Code::kInvalidArgument);
    ASSERT_TRUE(writer.WriteData(AsBytes(block)).ok());
    EXPECT_EQ(writer.Finish().code(), Code::kInvalidArgument);
  }
  {
    // Members other than files have no data.
    PaxWriter writer(append);
    for (const Member& m : {Dir("./d/"), Link(Type::kSymlink, "./l", "t"),
                            Make(Type::kFifo, "./p", 0644), Link(Type::kHardLink, "./h", "./f")}) {
      ASSERT_TRUE(writer.Begin(m.header).ok());
      EXPECT_EQ(writer.WriteData(AsBytes(std::string_view("x"))).code(), Code::kInvalidArgument)
          << m.header.path;
    }
    EXPECT_TRUE(writer.WriteData({}).ok());
  }
}

TEST_F(PaxWriterTest, TheArchiveEndsWithTwoZeroBlocksInWholeRecords) {
  // Nothing but the end: one record of zeros.
  EXPECT_EQ(WriteArchive({}), std::string(10240, '\0'));

  // A member takes an extended header, its records, its header and its
  // data's blocks; the end two more blocks, then zeros to the record.
  for (const auto& [data_blocks, archive_size] :
       std::vector<std::pair<size_t, size_t>>{{15, 10240}, {16, 20480}, {35, 20480}, {36, 30720}}) {
    SCOPED_TRACE(data_blocks);
    // One byte short of whole blocks: the last block is padded.
    const std::string content = testing::RandomBytes(data_blocks * 512 - 1, data_blocks);
    const std::string archive = WriteArchive({File("./f", content)});
    ASSERT_EQ(archive.size(), archive_size);
    const size_t end = (3 + data_blocks) * 512;
    EXPECT_EQ(archive.substr(end - 1), std::string(archive.size() - end + 1, '\0'));
    const std::string path = tmp_ / "padded.tar";
    testing::WriteFile(path, archive);
    int rc;
    EXPECT_EQ(RunTar({"-xOf", path}, &rc), content);  // and no warning of a lone zero block
    EXPECT_EQ(rc, 0);
  }
}

// Coffer's own importer (libarchive through ArchiveSource) reads what
// PaxWriter writes, field by field, ctime included.
TEST_F(PaxWriterTest, CoffersImporterReadsTheArchive) {
  const std::string long_name = PathOfLength("./dir/long \n\xff-", 230);
  Member sparse = Sparse("./dir/sparse", 3 * kMiB, {{kMiB, testing::RandomBytes(70000, 1)}});
  Member owned = File("./dir/owned", "owned by a mapped id", 0640);
  owned.header.uid = 3000000000;
  owned.header.gid = 100000;
  // Before 1970 in whole seconds: libarchive misreads a fraction there
  // (TarImportTest.DISABLED_ATimeBefore1970WithAFractionIsTheOneGnuTarExtracts).
  owned.header.mtime_ns = -315'619'200 * kSecond;
  owned.header.ctime_ns = kTime + 987'654'321;
  owned.header.records = {
      {"SCHILY.xattr.user.binary", std::string("\0\x01\xff\n=", 5)},
      {"SCHILY.acl.access", "user::rw-,user:1000:r-x,group::rwx,mask::r--,other::---"}};
  std::vector<Member> members = {
      Dir("./"),
      Dir("./dir/"),
      owned,
      File(long_name, "long"),
      Link(Type::kHardLink, "./dir/second-name", long_name),
      Link(Type::kSymlink, "./dir/symlink", PathOfLength("../../", 150)),
      Device(Type::kBlockDevice, "./dir/loop0", 7, 0),
      sparse,
  };
  const std::string archive = Save(members);

  std::unique_ptr<Repository> repo = testing::InitAndOpen(tmp_ / "repo");
  ASSERT_NE(repo, nullptr);
  auto source = ingest::ArchiveSource::Open(archive);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  ingest::BackupOptions options;
  options.group = "ct/100";
  options.time_ns = kTime;
  auto imported = ingest::TarImporter(*repo, options, nullptr).Import(**source);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  for (const auto& e : imported->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  const Snapshot& snapshot = imported->snapshot;
  auto lookup = [&](const std::string& member) {
    auto entry = repo->LookupPath(snapshot, member.substr(2));
    EXPECT_TRUE(entry.ok()) << Listed(member) << ": " << entry.status().ToString();
    return entry.ok() ? *entry : pb::Entry();
  };

  const pb::Entry o = lookup("./dir/owned");
  EXPECT_EQ(o.uid(), 3000000000u);
  EXPECT_EQ(o.gid(), 100000u);
  EXPECT_EQ(o.mode(), 0640u);
  EXPECT_EQ(o.mtime_ns(), owned.header.mtime_ns);
  EXPECT_EQ(o.ctime_ns(), owned.header.ctime_ns);
  std::map<std::string, std::string> xattrs;
  for (const pb::Xattr& x : o.xattrs()) xattrs[x.name()] = x.value();
  EXPECT_EQ(xattrs, (std::map<std::string, std::string>{
                        {"user.binary", std::string("\0\x01\xff\n=", 5)},
                        {std::string(model::kAccessAclXattr),
                         model::EncodeAclXattr({{model::kAclUserObj, 6, model::kAclUndefinedId},
                                                {model::kAclUser, 5, 1000},
                                                {model::kAclGroupObj, 7, model::kAclUndefinedId},
                                                {model::kAclMask, 4, model::kAclUndefinedId},
                                                {model::kAclOther, 0, model::kAclUndefinedId}})}}));

  const pb::Entry first = lookup(long_name), second = lookup("./dir/second-name");
  EXPECT_EQ(first.size(), 4u);
  EXPECT_EQ(first.nlink(), 2u);
  EXPECT_NE(first.inode(), 0u);
  EXPECT_EQ(second.inode(), first.inode());
  EXPECT_EQ(lookup("./dir/symlink").symlink_target(), PathOfLength("../../", 150));
  const pb::Entry loop = lookup("./dir/loop0");
  EXPECT_EQ(loop.type(), pb::Entry::BLOCK_DEVICE);
  EXPECT_EQ(loop.rdev(), makedev(7, 0));

  // The sparse file: a hole, its data, a hole.
  const pb::Entry s = lookup("./dir/sparse");
  EXPECT_EQ(s.size(), 3 * kMiB);
  ASSERT_GE(s.extents_size(), 3);
  EXPECT_TRUE(s.extents(0).chunk_id().empty());
  EXPECT_EQ(s.extents(0).size(), kMiB);
  EXPECT_FALSE(s.extents(1).chunk_id().empty());
  const pb::Extent& last = s.extents(s.extents_size() - 1);
  EXPECT_TRUE(last.chunk_id().empty());
  EXPECT_EQ(last.size(), 2 * kMiB - 70000);
}

}  // namespace
}  // namespace coffer::exporting
