// The MBR and GPT parser over images made by real tools (sfdisk, sgdisk,
// mkfs.ext4), checked against what sfdisk itself reads from them; then the
// same images damaged byte by byte.
#include "fs/partition_table.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/testing/fs_fixtures.h"

namespace coffer::fs {
namespace {

using testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

// A partition as sfdisk reads it.
struct Expected {
  uint32_t number = 0;
  uint64_t start = 0;  // sectors
  uint64_t size = 0;   // sectors
  std::string type;    // MBR: hex byte ("83"); GPT: type GUID, lowercase
  std::string uuid, name;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads from a file, and remembers where it was asked to read.
struct FileReader {
  int fd = -1;
  std::vector<std::pair<uint64_t, size_t>> reads;
  ReadAt Callback() {
    return [this](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
      reads.emplace_back(offset, out.size());
      ssize_t n = pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
      if (n < 0) return Status::FromErrno(errno, "pread");
      return static_cast<size_t>(n);
    };
  }
};

class PartitionTableTest : public ::testing::Test {
 protected:
  // A sparse file of `size` bytes.
  std::string NewImage(const std::string& name, uint64_t size) {
    std::string path = tmp_ / name;
    int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    EXPECT_GE(fd, 0) << path;
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    close(fd);
    return path;
  }

  // Runs a tool that must succeed.
  void Run(const std::vector<std::string>& argv, const std::string& input = {}) {
    std::string out;
    int code = testing::RunCommand(argv, &out, {}, input);
    ASSERT_EQ(code, 0) << argv[0] << " failed (" << code << "): " << out
                       << (code == 127
                               ? "\n(scripts/dev.sh deps installs fdisk, gdisk and e2fsprogs)"
                               : "");
  }

  // What sfdisk reads from `image` (a file or a device): its partitions,
  // without extended ones, numbered by the digits that end each node's name.
  std::vector<Expected> SfdiskSays(const std::string& image, bool* gpt = nullptr) {
    std::string out;
    EXPECT_EQ(testing::RunCommand({"sfdisk", "--json", image}, &out), 0) << out;
    // Warnings (a protective MBR's size) come on the same stream, before the JSON.
    size_t open = out.find('{'), close = out.rfind('}');
    if (open == std::string::npos || close == std::string::npos) {
      ADD_FAILURE() << "sfdisk printed no table: " << out;
      return {};
    }
    auto table = nlohmann::json::parse(out.substr(open, close - open + 1))["partitiontable"];
    if (gpt) *gpt = table["label"] == "gpt";
    std::vector<Expected> parts;
    for (const auto& p : table["partitions"]) {
      Expected e;
      std::string node = p["node"];
      size_t digits = node.find_last_not_of("0123456789") + 1;
      e.number = static_cast<uint32_t>(std::stoul(node.substr(digits)));
      e.start = p["start"];
      e.size = p["size"];
      e.type = Lower(p["type"]);
      if (e.type == "5" || e.type == "f" || e.type == "85") continue;  // extended
      if (p.contains("uuid")) e.uuid = Lower(p["uuid"]);
      if (p.contains("name")) e.name = p["name"];
      parts.push_back(e);
    }
    return parts;
  }

  Result<std::optional<PartitionTable>> Parse(const std::string& image) {
    reader_ = FileReader{};
    reader_.fd = open(image.c_str(), O_RDONLY);
    EXPECT_GE(reader_.fd, 0) << image;
    struct stat st;
    EXPECT_EQ(fstat(reader_.fd, &st), 0);
    auto table = ReadPartitionTable(static_cast<uint64_t>(st.st_size), reader_.Callback());
    close(reader_.fd);
    return table;
  }

  // The table, which must parse.
  PartitionTable MustParse(const std::string& image) {
    auto table = Parse(image);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    EXPECT_TRUE(table.ok() && table->has_value()) << "no partition table found";
    return table.ok() && table->has_value() ? **table : PartitionTable{};
  }

  // The status of a parse that must fail.
  Status MustRefuse(const std::string& image) {
    auto table = Parse(image);
    EXPECT_FALSE(table.ok()) << "a table was accepted";
    return table.ok() ? Status::Ok() : table.status();
  }

  void ExpectSame(const PartitionTable& table, const std::vector<Expected>& expected,
                  uint64_t sector = 512) {
    ASSERT_EQ(table.partitions.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const Partition& p = table.partitions[i];
      const Expected& e = expected[i];
      EXPECT_EQ(p.number, e.number) << i;
      EXPECT_EQ(p.offset, e.start * sector) << "partition " << e.number;
      EXPECT_EQ(p.size, e.size * sector) << "partition " << e.number;
      if (table.kind == PartitionTable::Kind::kMbr) {
        EXPECT_EQ(p.mbr_type, std::stoul(e.type, nullptr, 16)) << "partition " << e.number;
      } else {
        EXPECT_EQ(p.type_guid, e.type) << "partition " << e.number;
        EXPECT_EQ(p.guid, e.uuid) << "partition " << e.number;
        EXPECT_EQ(p.name, e.name) << "partition " << e.number;
      }
    }
  }

  // Overwrites bytes of `image` at `offset`.
  void Patch(const std::string& image, uint64_t offset, const std::string& bytes) {
    int fd = open(image.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(bytes.size()));
    close(fd);
  }
  void Flip(const std::string& image, uint64_t offset) {
    std::string byte = testing::ReadFile(image).substr(offset, 1);
    Patch(image, offset, std::string(1, static_cast<char>(byte[0] ^ 0x40)));
  }
  static std::string Le32(uint32_t v) {
    std::string bytes(4, '\0');
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(v >> (8 * i));
    return bytes;
  }

  // A 32 MiB MBR disk: two primaries, an extended partition (3) holding
  // three logical ones (5, 6, 7), and a primary 4 after it.
  std::string MbrWithLogicals() {
    std::string image = NewImage("mbr.img", 32 * kMiB);
    Run({"sfdisk", "--quiet", image},
        "label: dos\n"
        "start=2048, size=4096, type=83\n"
        "start=6144, size=2048, type=82\n"
        "start=8192, size=40960, type=5\n"
        "start=10240, size=4096, type=83\n"
        "start=16384, size=8192, type=7\n"
        "start=26624, size=2048, type=c\n");
    Run({"sfdisk", "--quiet", "--append", image}, "start=51200, size=8192, type=83\n");
    return image;
  }

  // A 16 MiB GPT disk made by sgdisk: entries 1, 3 and 128 in use, with
  // names (one not ASCII) and different types.
  std::string GptWithGaps() {
    std::string image = NewImage("gpt.img", 16 * kMiB);
    Run({"sgdisk", "-n", "1:2048:+1M", "-t", "1:8300", "-c", "1:root fs", "-n", "3:0:+2M", "-t",
         "3:0700", "-c", "3:données ✓", "-n", "128:0:+1M", "-t", "128:ef00", image});
    return image;
  }

  TempDir tmp_;
  FileReader reader_;
};

TEST_F(PartitionTableTest, MbrPrimaryAndLogicalPartitionsAreNumberedAsLinuxDoes) {
  std::string image = MbrWithLogicals();
  std::vector<Expected> expected = SfdiskSays(image);
  std::sort(expected.begin(), expected.end(), [](auto& a, auto& b) { return a.number < b.number; });
  PartitionTable table = MustParse(image);
  EXPECT_EQ(table.kind, PartitionTable::Kind::kMbr);
  EXPECT_EQ(table.sector_size, 512u);
  std::vector<uint32_t> numbers;
  for (const Partition& p : table.partitions) numbers.push_back(p.number);
  EXPECT_EQ(numbers, (std::vector<uint32_t>{1, 2, 4, 5, 6, 7})) << "3 is the extended partition";
  ExpectSame(table, expected);
}

TEST_F(PartitionTableTest, GptEntriesAreNumberedByIndexWithNamesAndTypes) {
  std::string image = GptWithGaps();
  bool gpt = false;
  std::vector<Expected> expected = SfdiskSays(image, &gpt);
  ASSERT_TRUE(gpt);
  PartitionTable table = MustParse(image);
  EXPECT_EQ(table.kind, PartitionTable::Kind::kGpt);
  EXPECT_FALSE(table.from_backup);
  ExpectSame(table, expected);
  ASSERT_EQ(table.partitions.size(), 3u);
  EXPECT_EQ(table.partitions[1].number, 3u);
  EXPECT_EQ(table.partitions[1].name, "données ✓");
  EXPECT_EQ(table.partitions[2].number, 128u);
  EXPECT_EQ(table.partitions[2].type_guid, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
      << "an EFI system partition";
  // An intact primary: the backup at the end is never read.
  for (const auto& [offset, size] : reader_.reads) EXPECT_LE(offset + size, 34u * 512) << offset;
}

TEST_F(PartitionTableTest, SfdisksGptWithAShortEntryArray) {
  std::string image = NewImage("short.img", 8 * kMiB);
  Run({"sfdisk", "--quiet", image},
      "label: gpt\ntable-length: 4\n"
      "size=2048, name=alpha\n"
      "size=4096, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap\n");
  PartitionTable table = MustParse(image);
  EXPECT_EQ(table.kind, PartitionTable::Kind::kGpt);
  ExpectSame(table, SfdiskSays(image));
  EXPECT_EQ(table.partitions.size(), 2u);
}

TEST_F(PartitionTableTest, HybridMbrMeansTheGpt) {
  std::string image = GptWithGaps();
  Run({"sgdisk", "-h", "1", image});  // partition 1 in the MBR too, beside the protective entry
  PartitionTable table = MustParse(image);
  EXPECT_EQ(table.kind, PartitionTable::Kind::kGpt);
  EXPECT_EQ(table.partitions.size(), 3u);
}

TEST_F(PartitionTableTest, DamagedPrimaryGptHeaderFallsBackToTheBackup) {
  std::string image = GptWithGaps();
  PartitionTable intact = MustParse(image);
  Flip(image, 512 + 56);  // the disk GUID, under the header's CRC
  PartitionTable table = MustParse(image);
  EXPECT_TRUE(table.from_backup);
  EXPECT_NE(table.primary_damage.find("CRC"), std::string::npos) << table.primary_damage;
  ASSERT_EQ(table.partitions.size(), intact.partitions.size());
  for (size_t i = 0; i < table.partitions.size(); ++i) {
    EXPECT_EQ(table.partitions[i].number, intact.partitions[i].number);
    EXPECT_EQ(table.partitions[i].offset, intact.partitions[i].offset);
    EXPECT_EQ(table.partitions[i].size, intact.partitions[i].size);
    EXPECT_EQ(table.partitions[i].name, intact.partitions[i].name);
  }
}

TEST_F(PartitionTableTest, DamagedPrimaryEntriesFallBackToTheBackup) {
  std::string image = GptWithGaps();
  Flip(image, 1024 + 56);  // the first entry's name
  PartitionTable table = MustParse(image);
  EXPECT_TRUE(table.from_backup);
  EXPECT_NE(table.primary_damage.find("entry array"), std::string::npos) << table.primary_damage;
  ASSERT_EQ(table.partitions.size(), 3u);
  EXPECT_EQ(table.partitions[0].name, "root fs") << "the backup's entries, undamaged";
}

TEST_F(PartitionTableTest, APrimaryGptWithoutItsSignatureFallsBackToTheBackup) {
  std::string image = GptWithGaps();
  Patch(image, 512, std::string(512, '\0'));
  PartitionTable table = MustParse(image);
  EXPECT_TRUE(table.from_backup);
  EXPECT_EQ(table.partitions.size(), 3u);
}

TEST_F(PartitionTableTest, BothGptHeadersDamagedIsRefused) {
  std::string image = GptWithGaps();
  Flip(image, 512 + 56);
  Flip(image, 16 * kMiB - 512 + 56);
  Status s = MustRefuse(image);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("backup"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, BothGptEntryArraysDamagedIsRefused) {
  std::string image = GptWithGaps();
  Flip(image, 1024 + 40);                         // the first entry's last sector, primary
  Flip(image, 16 * kMiB - 512 - 128 * 128 + 40);  // the same in the backup's array
  Status s = MustRefuse(image);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("entry array fails its CRC"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, AGptImageCutShortIsRefused) {
  std::string image = GptWithGaps();
  ASSERT_EQ(truncate(image.c_str(), 8 * kMiB), 0);  // the backup and partition 128 are gone
  Status s = MustRefuse(image);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
}

TEST_F(PartitionTableTest, MbrPartitionPastTheImagesEndIsRefused) {
  std::string image = NewImage("cut.img", 16 * kMiB);
  Run({"sfdisk", "--quiet", image},
      "label: dos\nstart=2048, size=8192, type=83\nstart=10240, type=83\n");
  MustParse(image);
  ASSERT_EQ(truncate(image.c_str(), 12 * kMiB), 0);
  Status s = MustRefuse(image);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("partition 2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("past the image's end"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, ExtendedPartitionPastTheImagesEndIsRefused) {
  std::string image = MbrWithLogicals();
  ASSERT_EQ(truncate(image.c_str(), 20 * kMiB), 0);  // inside the extended partition and primary 4
  Status s = MustRefuse(image);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("past the image's end"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, OverlappingMbrPartitionsAreRefused) {
  std::string image = MbrWithLogicals();
  Patch(image, 446 + 16 + 8, Le32(4096));  // partition 2 now starts inside partition 1
  Status s = MustRefuse(image);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("partition 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("overlap"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, APartitionOverTheMbrIsRefused) {
  std::string image = MbrWithLogicals();
  Patch(image, 446 + 8, Le32(0));  // partition 1 from sector 0
  Status s = MustRefuse(image);
  EXPECT_NE(s.message().find("the MBR"), std::string::npos) << s.message();
}

// sfdisk puts each EBR 2048 sectors before its logical partition.
constexpr uint64_t kEbrOf6 = 16384 - 2048;

TEST_F(PartitionTableTest, LogicalPartitionOutsideItsExtendedPartitionIsRefused) {
  std::string image = MbrWithLogicals();
  ASSERT_EQ(testing::ReadFile(image).substr(kEbrOf6 * 512 + 510, 2), "\x55\xaa") << "no EBR there";
  Patch(image, kEbrOf6 * 512 + 446 + 12,
        Le32(40000));  // partition 6 now runs past the extended one
  Status s = MustRefuse(image);
  EXPECT_NE(s.message().find("partition 6"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("outside extended partition 3"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, EbrChainThatLoopsIsRefused) {
  std::string image = MbrWithLogicals();
  Patch(image, kEbrOf6 * 512 + 446 + 16 + 8, Le32(0));  // 6's link points back at the first EBR
  Status s = MustRefuse(image);
  EXPECT_NE(s.message().find("loops"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, EbrLinkOutsideTheExtendedPartitionIsRefused) {
  std::string image = MbrWithLogicals();
  Patch(image, kEbrOf6 * 512 + 446 + 16 + 8, Le32(50000));
  Status s = MustRefuse(image);
  EXPECT_NE(s.message().find("links to sector"), std::string::npos) << s.message();
}

TEST_F(PartitionTableTest, ImagesWithoutATableHaveNone) {
  std::string zeros = NewImage("zeros.img", 4 * kMiB);
  auto none = Parse(zeros);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  std::string ext4 = NewImage("ext4.img", 8 * kMiB);
  Run({"mkfs.ext4", "-q", "-F", ext4});
  auto fs = Parse(ext4);
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  EXPECT_FALSE(fs->has_value()) << "a filesystem is not a partitioned disk";

  // A boot sector whose entries have boot flags other than 0 and 0x80: a
  // filesystem's boot code, not partition entries.
  std::string boot = NewImage("boot.img", 1 * kMiB);
  Patch(boot, 446, std::string(64, 'x') + "\x55\xaa");
  auto code = Parse(boot);
  ASSERT_TRUE(code.ok());
  EXPECT_FALSE(code->has_value());

  std::string tiny = NewImage("tiny.img", 300);
  auto small = Parse(tiny);
  ASSERT_TRUE(small.ok());
  EXPECT_FALSE(small->has_value());
}

TEST_F(PartitionTableTest, ReadErrorsArePassedOn) {
  std::string image = GptWithGaps();
  int fd = open(image.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  for (int fail_at = 0; fail_at < 3; ++fail_at) {
    int calls = 0;
    auto table = ReadPartitionTable(
        16 * kMiB, [&](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
          if (calls++ == fail_at) return Status::IoError("the disk is gone");
          return static_cast<size_t>(pread(fd, out.data(), out.size(), static_cast<off_t>(offset)));
        });
    ASSERT_FALSE(table.ok()) << "read " << fail_at << " failed unnoticed";
    EXPECT_EQ(table.status().code(), Code::kIoError);
    EXPECT_EQ(table.status().message(), "the disk is gone");
  }
  // An image shorter than its stated size, whose backup GPT must be read.
  Flip(image, 512 + 56);
  auto cut =
      ReadPartitionTable(32 * kMiB, [&](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
        ssize_t n = pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
        return static_cast<size_t>(std::max<ssize_t>(0, n));
      });
  EXPECT_EQ(cut.status().code(), Code::kIoError) << cut.status().ToString();
  close(fd);
}

// A disk with 4 KiB logical sectors: its GPT counts in 4 KiB sectors, with
// the header at byte 4096. Made through a loop device with such sectors,
// so only as root where loop devices exist.
TEST_F(PartitionTableTest, GptOfA4KSectorDisk) {
  if (geteuid() != 0 || access("/dev/loop-control", R_OK | W_OK) != 0) {
    GTEST_SKIP() << "needs root and loop devices";
  }
  std::string image = NewImage("4k.img", 32 * kMiB);
  std::string device;
  ASSERT_EQ(
      testing::RunCommand({"losetup", "--find", "--show", "--sector-size", "4096", image}, &device),
      0)
      << device;
  device.erase(device.find_last_not_of("\n") + 1);
  std::string out;
  int made = testing::RunCommand(
      {"sgdisk", "-n", "1:0:+4M", "-c", "1:four k", "-n", "2:0:+8M", device}, &out);
  std::vector<Expected> expected = SfdiskSays(device);
  EXPECT_EQ(testing::RunCommand({"losetup", "--detach", device}, &out), 0) << out;
  ASSERT_EQ(made, 0) << out;

  PartitionTable table = MustParse(image);
  EXPECT_EQ(table.sector_size, 4096u);
  ExpectSame(table, expected, 4096);
  EXPECT_EQ(table.partitions.at(0).name, "four k");

  Flip(image, 4096 + 56);  // the primary header: the backup is the last 4 KiB sector
  PartitionTable backup = MustParse(image);
  EXPECT_TRUE(backup.from_backup);
  ExpectSame(backup, expected, 4096);
}

}  // namespace
}  // namespace coffer::fs
