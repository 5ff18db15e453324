// A VM's disk in a snapshot, opened the way an administrator would: GPT and
// MBR disk images holding ext4 filesystems (mkfs.ext4 -d over real folders)
// are backed up with --image, the repository is mounted, and each partition
// file of NAME.partitions is loop-mounted read-only from the Coffer mount
// and compared with the folder it was made from (diff -r).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"
#include "tests/testing/fuse.h"

namespace coffer::e2e {
namespace {

using testing::Mounted;
using testing::RandomBytes;
using testing::WriteFile;

constexpr uint64_t kMiB = 1 << 20;

// A partition as sfdisk reads it: the oracle for numbers and places.
struct SfdiskPartition {
  uint32_t number = 0;
  uint64_t offset = 0, size = 0;  // bytes
};

class PartitionMountTest : public CofferTest {
 protected:
  void SetUp() override {
    COFFER_REQUIRE_FUSE();
    if (geteuid() != 0 || access("/dev/loop-control", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "loop mounts need root and loop devices";
    }
    CofferTest::SetUp();
    mnt_ = tmp_ / "mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  }
  void TearDown() override {
    // Loop mounts first: they keep files of the Coffer mount open.
    for (auto it = loop_mounts_.rbegin(); it != loop_mounts_.rend(); ++it) {
      if (Mounted(*it)) RunProcess({"umount", *it});
    }
    if (!mnt_.empty() && Mounted(mnt_)) RunProcess({"fusermount3", "-u", mnt_});
    if (!repo_.empty()) {
      EXPECT_TRUE(KillServersOf(repo_));
    }
  }

  void Run(const std::vector<std::string>& argv) {
    Output o = RunProcess(argv);
    ASSERT_EQ(o.code, 0) << argv[0] << " failed: " << o.all();
  }

  // A folder of a few MB: odd names (spaces, UTF-8, a newline, bytes that
  // are not UTF-8, a leading dash), nested folders, an empty file, a symlink.
  void MakeFolder(const std::string& root, uint64_t seed) {
    ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root + "/dir").c_str(), 0750), 0);
    ASSERT_EQ(mkdir((root + "/dir/sub dir").c_str(), 0700), 0);
    WriteFile(root + "/plain.txt", "seed " + std::to_string(seed) + "\n");
    WriteFile(root + "/name with spaces and ünïcødé ✓.txt", RandomBytes(10000, seed + 1));
    WriteFile(root + "/-leading-dash", "dash");
    WriteFile(root + "/new\nline", "a newline in the name");
    WriteFile(root + "/latin1-\xe9t\xe9", RandomBytes(777, seed + 2));
    WriteFile(root + "/empty", "");
    WriteFile(root + "/big.bin", RandomBytes(3 * kMiB + 12345, seed + 3));
    WriteFile(root + "/dir/sub dir/deep.bin", RandomBytes(1536 * 1024 + 1, seed + 4));
    ASSERT_EQ(symlink("plain.txt", (root + "/link").c_str()), 0);
  }

  // An ext4 filesystem of `size` bytes holding `folder`, written into
  // `image` at `offset`.
  void PutExt4(const std::string& image, uint64_t offset, uint64_t size,
               const std::string& folder) {
    std::string fs = tmp_ / ("fs-" + std::to_string(offset));
    WriteFile(fs, "");
    ASSERT_EQ(truncate(fs.c_str(), static_cast<off_t>(size)), 0);
    Run({"mkfs.ext4", "-q", "-F", "-d", folder, fs});
    Run({"dd", "if=" + fs, "of=" + image, "bs=1M", "seek=" + std::to_string(offset),
         "oflag=seek_bytes", "conv=notrunc,sparse", "status=none"});
    unlink(fs.c_str());
  }

  std::vector<SfdiskPartition> SfdiskSays(const std::string& image) {
    Output o = RunProcess({"sfdisk", "--json", image});
    EXPECT_EQ(o.code, 0) << o.all();
    auto table =
        nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false)["partitiontable"];
    std::vector<SfdiskPartition> parts;
    for (const auto& p : table["partitions"]) {
      const std::string type = p["type"];
      if (type == "5" || type == "f" || type == "85") continue;  // extended: holds no filesystem
      const std::string node = p["node"];
      SfdiskPartition part;
      part.number =
          static_cast<uint32_t>(std::stoul(node.substr(node.find_last_not_of("0123456789") + 1)));
      part.offset = p["start"].get<uint64_t>() * 512;
      part.size = p["size"].get<uint64_t>() * 512;
      parts.push_back(part);
    }
    std::sort(parts.begin(), parts.end(), [](auto& a, auto& b) { return a.number < b.number; });
    return parts;
  }

  std::vector<std::string> NamesIn(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = opendir(dir.c_str());
    EXPECT_NE(d, nullptr) << dir;
    if (!d) return names;
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  // `ls -ln DIR`: name -> size, as ls prints them.
  std::map<std::string, uint64_t> LsSizes(const std::string& dir) {
    Output o = RunProcess({"ls", "-ln", "--time-style=+%s", dir});
    EXPECT_EQ(o.code, 0) << o.all();
    std::map<std::string, uint64_t> sizes;
    std::istringstream lines(o.out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string mode, links, uid, gid, size, time, name;
      if (!(fields >> mode >> links >> uid >> gid >> size >> time >> name)) continue;  // "total N"
      EXPECT_EQ(mode, "-r--r--r--") << line;
      sizes[name] = std::stoull(size);
    }
    return sizes;
  }

  // Checks NAME.partitions of `image` in the mount against sfdisk, byte for
  // byte against the image, and loop-mounts the partitions in `folders`
  // (number -> the folder its filesystem was made from) to compare them.
  void CheckPartitions(const std::string& image, const std::map<uint32_t, std::string>& folders) {
    const std::string dir = mnt_ + "/" + group_ + "/latest" + image + ".partitions";
    std::vector<SfdiskPartition> expected = SfdiskSays(image);
    ASSERT_FALSE(expected.empty());
    std::vector<std::string> numbers;
    for (const auto& p : expected) numbers.push_back(std::to_string(p.number));
    std::sort(numbers.begin(), numbers.end());
    EXPECT_EQ(NamesIn(dir), numbers) << dir;
    std::map<std::string, uint64_t> sizes = LsSizes(dir);
    for (const auto& p : expected) {
      const std::string name = std::to_string(p.number);
      EXPECT_EQ(sizes[name], p.size) << "ls -l " << dir << ": partition " << name;
      Output same = RunProcess({"cmp", "--ignore-initial=0:" + std::to_string(p.offset),
                                "--bytes=" + std::to_string(p.size), dir + "/" + name, image});
      EXPECT_EQ(same.code, 0) << "partition " << name
                              << " differs from the image's bytes: " << same.all();
    }
    for (const auto& [number, folder] : folders) {
      const std::string target = tmp_ / ("loop-" + std::to_string(loop_mounts_.size()));
      ASSERT_EQ(mkdir(target.c_str(), 0755), 0);
      loop_mounts_.push_back(target);
      Output mount =
          RunProcess({"mount", "-o", "ro,loop", dir + "/" + std::to_string(number), target});
      ASSERT_EQ(mount.code, 0) << mount.all();
      Output diff =
          RunProcess({"diff", "-r", "--no-dereference", "-x", "lost+found", folder, target});
      EXPECT_EQ(diff.code, 0) << "partition " << number << " of " << image << ":\n" << diff.all();
      Output umount = RunProcess({"umount", target});
      EXPECT_EQ(umount.code, 0) << umount.all();
    }
  }

  std::string mnt_;
  std::vector<std::string> loop_mounts_;
};

TEST_F(PartitionMountTest, LoopMountedPartitionsHoldTheGuestsFiles) {
  const std::string a = tmp_ / "guest a", b = tmp_ / "guest-b", c = tmp_ / "guest c",
                    d = tmp_ / "guest d";
  MakeFolder(a, 10);
  MakeFolder(b, 20);
  MakeFolder(c, 30);
  MakeFolder(d, 40);

  // GPT, made by sgdisk: two ext4 filesystems.
  const std::string gpt = tmp_ / "disks/drive-scsi0.img";
  ASSERT_EQ(mkdir((tmp_ / "disks").c_str(), 0755), 0);
  WriteFile(gpt, "");
  ASSERT_EQ(truncate(gpt.c_str(), 64 * kMiB), 0);
  Run({"sgdisk", "-n", "1:2048:+24M", "-c", "1:first fs", "-n", "2:0:+24M", "-c", "2:second fs",
       gpt});
  std::vector<SfdiskPartition> gpt_parts = SfdiskSays(gpt);
  ASSERT_EQ(gpt_parts.size(), 2u);
  PutExt4(gpt, gpt_parts[0].offset, gpt_parts[0].size, a);
  PutExt4(gpt, gpt_parts[1].offset, gpt_parts[1].size, b);

  // MBR, made by sfdisk: ext4 in primary 1 and in logical 6 of extended 2;
  // logical 5 holds other bytes.
  const std::string mbr = tmp_ / "disks/old-disk.img";
  WriteFile(mbr, "");
  ASSERT_EQ(truncate(mbr.c_str(), 64 * kMiB), 0);
  Output sfdisk = RunProcess({"sfdisk", "--quiet", mbr}, {},
                             "label: dos\nstart=2048, size=24M, type=83\nstart=51200, type=5\n"
                             "size=2M, type=82\nsize=24M, type=83\n");
  ASSERT_EQ(sfdisk.code, 0) << sfdisk.all();
  std::vector<SfdiskPartition> mbr_parts = SfdiskSays(mbr);
  ASSERT_EQ(mbr_parts.size(), 3u);
  ASSERT_EQ(mbr_parts[2].number, 6u);
  PutExt4(mbr, mbr_parts[0].offset, mbr_parts[0].size, c);
  WriteFile(tmp_ / "swap", RandomBytes(mbr_parts[1].size, 50));
  Run({"dd", "if=" + tmp_ / "swap", "of=" + mbr, "bs=1M",
       "seek=" + std::to_string(mbr_parts[1].offset), "oflag=seek_bytes", "conv=notrunc",
       "status=none"});
  PutExt4(mbr, mbr_parts[2].offset, mbr_parts[2].size, d);

  Backup({gpt, mbr}, {"--image"});
  Output mount = Coffer({"mount", mnt_});
  ASSERT_EQ(mount.code, 0) << mount.all();

  const std::string disks = mnt_ + "/" + group_ + "/latest" + tmp_.path() + "/disks";
  EXPECT_EQ(NamesIn(disks),
            (std::vector<std::string>{"drive-scsi0.img", "drive-scsi0.img.partitions",
                                      "old-disk.img", "old-disk.img.partitions"}));
  CheckPartitions(gpt, {{1, a}, {2, b}});
  CheckPartitions(mbr, {{1, c}, {6, d}});

  Output umount = CofferRaw({"umount", mnt_});
  EXPECT_EQ(umount.code, 0) << umount.all();
  EXPECT_FALSE(Mounted(mnt_));
}

}  // namespace
}  // namespace coffer::e2e
