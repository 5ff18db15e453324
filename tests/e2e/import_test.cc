// coffer import and coffer info end to end, as coffer-import(1) and
// coffer-info(1) promise them: folders of vzdump archives made by GNU tar
// with vzdump's flags and by the VMA test writer, compressed by the real
// zstd, gzip and lzop programs; standard input; damaged archives; the side
// files and options that annotate a snapshot.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"
#include "tests/testing/archive_fixtures.h"
#include "tests/testing/vma_test_writer.h"

namespace coffer::e2e {
namespace {

using testing::ReadFile;
using testing::VmaTestCluster;
using testing::VmaTestDevice;
using testing::VmaTestOptions;
using testing::WriteFile;

using Names = std::set<std::string>;

constexpr uint64_t kCluster = testing::vma_layout::kCluster;

// Where vzdump names are read: an hour ahead of UTC in winter, two in summer.
const std::string kBerlin = "TZ=Europe/Berlin";

const Names kImportedFields = {"archive",          "snapshot",    "skipped",     "id",
                               "bytes_read",       "bytes_total", "bytes_added", "files_total",
                               "duration_seconds", "incomplete"};
const Names kSkippedFields = {"archive", "snapshot", "skipped"};

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << line;
    out.push_back(j);
  }
  return out;
}

// Whether --json output says that `archive` was imported (not skipped).
bool SaysImported(const std::string& json_lines, const std::string& archive) {
  for (const nlohmann::json& line : JsonLines(json_lines)) {
    if (line.value("archive", "") == archive && !line.value("skipped", true)) return true;
  }
  return false;
}

Names Keys(const nlohmann::json& object) {
  Names out;
  for (const auto& item : object.items()) out.insert(item.key());
  return out;
}

std::string AsString(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// The position in the decompressed stream the man page promises: "at byte
// N", or "after N decompressed bytes" where the decompressor failed.
bool NamesABytePosition(const std::string& message) {
  return std::regex_search(message, std::regex("byte [0-9]+|[0-9]+ decompressed bytes"));
}

// Two disks whose sizes are not multiples of 64 KiB, with zero blocks and
// all-zero clusters, and both config files; the clusters of both disks
// interleaved in an order shuffled by `order_seed`, as a VMA holds them.
VmaTestOptions TwoDiskVm(uint64_t order_seed, uint8_t uuid_byte) {
  VmaTestOptions vm;
  vm.uuid[0] = uuid_byte;
  vm.devices.push_back(
      {"drive-scsi0", 160 * kCluster + 3 * 4096 + 17, testing::VmaPatternContent(1), {}, 0});
  vm.devices.push_back(
      {"drive-virtio1", 64 * kCluster + 512, testing::VmaPatternContent(2), {}, 0});
  vm.configs.push_back({"qemu-server.conf", Bytes{'b', 'o', 'o', 't', ':', ' ', 'c', '\n'}});
  vm.configs.push_back(
      {"qemu-server.fw", Bytes{'[', 'O', 'P', 'T', 'I', 'O', 'N', 'S', ']', '\n'}});
  std::vector<VmaTestCluster> order;
  for (uint8_t device = 1; device <= 2; ++device) {
    const uint64_t clusters = (vm.devices[device - 1].size + kCluster - 1) / kCluster;
    for (uint64_t i = 0; i < clusters; ++i) order.push_back({device, i, std::nullopt});
  }
  std::shuffle(order.begin(), order.end(), std::mt19937_64(order_seed));
  vm.order = order;
  return vm;
}

uint64_t DiskBytes(const VmaTestOptions& vm) {
  uint64_t total = 0;
  for (const VmaTestDevice& device : vm.devices) total += device.size;
  return total;
}

uint64_t ConfigBytes(const VmaTestOptions& vm) {
  uint64_t total = 0;
  for (const auto& config : vm.configs) total += config.second.size();
  return total;
}

class ImportTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    dump_ = tmp_ / "dump";
    stage_ = tmp_ / "stage";
    ASSERT_EQ(mkdir(dump_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(stage_.c_str(), 0755), 0);
  }

  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  // `coffer import ARGS...`, vzdump names read in Berlin time.
  Output Import(const std::vector<std::string>& args, const std::string& stdin_data = {}) {
    std::vector<std::string> full = {"import"};
    full.insert(full.end(), args.begin(), args.end());
    return Coffer(full, {kBerlin}, stdin_data);
  }

  // `coffer info --json SNAPSHOT`, parsed; fails the test on error.
  nlohmann::json Info(const std::string& snapshot) {
    Output o = Coffer({"info", "--json", snapshot});
    EXPECT_EQ(o.code, 0) << o.all();
    auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << o.out;
    return j.is_object() ? j : nlohmann::json::object();
  }

  Names SnapshotIds() {
    Names out;
    for (const auto& s : Snapshots()) out.insert(s["id"].get<std::string>());
    return out;
  }

  // A small container archived as vzdump does (MakeSmallContainerArchive).
  std::string ContainerArchive(const std::string& name, const std::string& hostname,
                               const std::string& tool, const std::string& folder) {
    return testing::MakeSmallContainerArchive(stage_, name, hostname, tool, folder);
  }

  // A VMA of `vm`, compressed with `tool` ("none", "zstd") by the program
  // and put in `folder` as `name` (".vma" and the compressor's suffix
  // added); the archive's path.
  std::string VmArchive(const std::string& name, const VmaTestOptions& vm, const std::string& tool,
                        const std::string& folder) {
    const std::string vma = stage_ + "/" + name + ".vma";
    WriteFile(vma, AsString(testing::WriteVma(vm).bytes));
    return testing::MoveInto(testing::Compress(vma, tool), folder);
  }

  // Restores `snapshot` and checks that each disk of `vm` is an image of
  // its exact size and bytes, beside the config files.
  void ExpectRestoredVm(const std::string& snapshot, const VmaTestOptions& vm) {
    const std::string target = RestoreAll(snapshot);
    std::vector<std::string> names;
    for (const std::string& path : FilesBelow(target))
      names.push_back(path.substr(target.size() + 1));
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"drive-scsi0.img", "drive-virtio1.img",
                                               "qemu-server.conf", "qemu-server.fw"}));
    for (const VmaTestDevice& device : vm.devices) {
      SCOPED_TRACE(device.name);
      const std::string image = ReadFile(target + "/" + device.name + ".img");
      ASSERT_EQ(image.size(), device.size);
      EXPECT_TRUE(image == AsString(testing::VmaDeviceImage(device))) << "the image's bytes differ";
    }
    for (const auto& [name, content] : vm.configs) {
      EXPECT_EQ(ReadFile(target + "/" + name), AsString(content)) << name;
    }
  }

  std::string dump_;   // a folder as vzdump fills it
  std::string stage_;  // where archives are made before they are put in place
};

// The promise of `coffer import /var/lib/vz/dump` after every vzdump run:
// every archive once, oldest first, at the UTC time of the local time in its
// name, with its notes, protection and log; and again, nothing.
TEST_F(ImportTest, AFolderIsImportedOnceOldestFirstAtTheTimesInItsNames) {
  // By name, the containers would come first; by time, the groups interleave.
  const std::string january =
      ContainerArchive("vzdump-lxc-100-2026_01_15-02_00_00", "january", "gzip", dump_);
  const std::string july =
      ContainerArchive("vzdump-lxc-100-2026_07_15-02_00_00", "july", "lzop", dump_);
  // 2026-10-25 02:30 happens twice in Berlin; the earlier is summer time.
  const std::string october =
      ContainerArchive("vzdump-lxc-100-2026_10_25-02_30_00", "october", "zstd", dump_);
  const VmaTestOptions vm = TwoDiskVm(1, 1);
  const std::string march = VmArchive("vzdump-qemu-101-2026_03_01-03_00_00", vm, "none", dump_);
  const std::string august =
      VmArchive("vzdump-qemu-101-2026_08_01-03_00_00", TwoDiskVm(2, 2), "zstd", dump_);
  ASSERT_TRUE(july.ends_with(".tar.lzo") && january.ends_with(".tar.gz") &&
              october.ends_with(".tar.zst") && march.ends_with(".vma") &&
              august.ends_with(".vma.zst"));

  // What vzdump puts beside its archives.
  WriteFile(july + ".notes", "web server\nsecond line\n");
  WriteFile(july + ".protected", "");
  WriteFile(dump_ + "/vzdump-lxc-100-2026_07_15-02_00_00.log",
            "INFO: starting new backup job\nINFO: done\n");
  WriteFile(august + ".notes", "database VM");
  WriteFile(dump_ + "/vzdump-qemu-101-2026_08_01-03_00_00.log", "INFO: VM 101 done\n");
  // And what must not be imported: archives still being written, and
  // anything that is not an archive.
  WriteFile(dump_ + "/vzdump-lxc-100-2026_11_01-02_00_00.tar.dat", "half an archive");
  WriteFile(dump_ + "/vzdump-qemu-101-2026_11_01-03_00_00.vma.dat", "half an archive");
  WriteFile(dump_ + "/vzdump-lxc-100-2026_11_01-02_00_00.log", "INFO: still running\n");
  WriteFile(dump_ + "/vzdump-lxc-100-2026_11_01-02_00_00.tar.zst.notes", "notes of nothing");
  WriteFile(dump_ + "/README", "not an archive");

  Output first = Import({"--json", dump_});
  ASSERT_EQ(first.code, 0) << first.all();
  const std::vector<nlohmann::json> imported = JsonLines(first.out);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {january, "ct/100/2026-01-15T01:00:00Z"}, {march, "vm/101/2026-03-01T02:00:00Z"},
      {july, "ct/100/2026-07-15T00:00:00Z"},    {august, "vm/101/2026-08-01T01:00:00Z"},
      {october, "ct/100/2026-10-25T00:30:00Z"},
  };
  ASSERT_EQ(imported.size(), expected.size()) << first.out;
  for (size_t i = 0; i < expected.size(); ++i) {
    const nlohmann::json& line = imported[i];
    SCOPED_TRACE(line.dump());
    EXPECT_EQ(Keys(line), kImportedFields);
    EXPECT_EQ(line.value("archive", ""), expected[i].first) << "not oldest first";
    EXPECT_EQ(line.value("snapshot", ""), expected[i].second);
    EXPECT_FALSE(line.value("skipped", true));
    EXPECT_EQ(line.value("id", "").size(), 64u);
    EXPECT_GT(line.value("bytes_read", 0), 0);
    EXPECT_GE(line.value("bytes_total", 0), line.value("bytes_read", 0));
    EXPECT_GT(line.value("files_total", 0), 0);
    EXPECT_TRUE(line["duration_seconds"].is_number());
    EXPECT_FALSE(line.value("incomplete", true));
  }
  // The second VM archive holds the first's disks in another order.
  EXPECT_LT(imported[3].value("bytes_added", ~0ull), DiskBytes(vm) / 100) << imported[3].dump();

  const nlohmann::json listed = Snapshots();
  ASSERT_EQ(listed.size(), expected.size()) << listed.dump();
  for (size_t i = 0; i < expected.size(); ++i) {
    auto s = std::find_if(listed.begin(), listed.end(),
                          [&](const auto& j) { return j["name"] == expected[i].second; });
    ASSERT_NE(s, listed.end()) << expected[i].second << " is not listed";
    EXPECT_EQ((*s)["id"], imported[i]["id"]);
    EXPECT_EQ((*s)["paths"], nlohmann::json::array({expected[i].first}));
    EXPECT_EQ((*s)["protected"], expected[i].first == july) << expected[i].second;
  }

  // Each container archive's own content, read through its compression.
  for (const auto& [snapshot, hostname] : std::vector<std::pair<std::string, std::string>>{
           {"ct/100/2026-01-15T01:00:00Z", "january"},
           {"ct/100/2026-07-15T00:00:00Z", "july"},
           {"ct/100/2026-10-25T00:30:00Z", "october"}}) {
    Output cat = Coffer({"cat", snapshot, "etc/hostname"});
    EXPECT_EQ(cat.code, 0) << cat.all();
    EXPECT_EQ(cat.out, hostname + "\n") << snapshot;
  }

  // Notes, protection and logs from beside the archives, and none where
  // there were none.
  nlohmann::json with_notes = Info("ct/100/2026-07-15T00:00:00Z");
  EXPECT_EQ(with_notes.value("note", ""), "web server\nsecond line\n");
  EXPECT_TRUE(with_notes.value("protected", false));
  Output log = Coffer({"info", "--log", "ct/100/2026-07-15T00:00:00Z"});
  EXPECT_EQ(log.code, 0) << log.all();
  EXPECT_EQ(log.out, "INFO: starting new backup job\nINFO: done\n");
  nlohmann::json vm_info = Info("vm/101/2026-08-01T01:00:00Z");
  EXPECT_EQ(vm_info.value("note", ""), "database VM");
  EXPECT_EQ(vm_info.value("log_bytes", 0), 18);
  Output vm_log = Coffer({"info", "--log", "vm/101/2026-08-01T01:00:00Z"});
  EXPECT_EQ(vm_log.out, "INFO: VM 101 done\n") << vm_log.all();
  for (const char* bare : {"ct/100/2026-01-15T01:00:00Z", "vm/101/2026-03-01T02:00:00Z"}) {
    nlohmann::json info = Info(bare);
    EXPECT_EQ(info.value("note", "?"), "") << bare;
    EXPECT_EQ(info.value("log_bytes", -1), 0) << bare;
    EXPECT_FALSE(info.value("protected", true)) << bare;
  }

  // Again: every archive is already there.
  const Names ids = SnapshotIds();
  Output again = Import({dump_});
  EXPECT_EQ(again.code, 0) << again.all();
  for (const auto& [archive, snapshot] : expected) {
    EXPECT_NE(again.err.find(archive + ": skipped, " + snapshot + " is already in the repository"),
              std::string::npos)
        << again.err;
  }
  Output again_json = Import({"--json", dump_});
  EXPECT_EQ(again_json.code, 0) << again_json.all();
  const std::vector<nlohmann::json> skipped = JsonLines(again_json.out);
  ASSERT_EQ(skipped.size(), expected.size()) << again_json.out;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(Keys(skipped[i]), kSkippedFields) << skipped[i].dump();
    EXPECT_EQ(skipped[i].value("archive", ""), expected[i].first);
    EXPECT_EQ(skipped[i].value("snapshot", ""), expected[i].second);
    EXPECT_TRUE(skipped[i].value("skipped", false));
  }
  EXPECT_EQ(SnapshotIds(), ids);
}

TEST_F(ImportTest, AVmRestoresAsItsDisksAndTheNextArchiveOfThemAddsAlmostNothing) {
  const VmaTestOptions vm = TwoDiskVm(1, 1);
  const std::string first = VmArchive("vzdump-qemu-101-2026_12_01-03_00_00", vm, "none", dump_);
  Output o = Import({"--json", first});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_GT(JsonLines(o.out).at(0).value("bytes_added", 0u), DiskBytes(vm) / 4);
  ExpectRestoredVm("vm/101/2026-12-01T02:00:00Z", vm);

  // The next day: the same disks, another uuid and cluster order, and
  // compressed. Every cluster is placed by disk and position, so none is new.
  const VmaTestOptions next_day = TwoDiskVm(2, 2);
  const std::string second =
      VmArchive("vzdump-qemu-101-2026_12_02-03_00_00", next_day, "zstd", dump_);
  Output again = Import({"--json", second});
  ASSERT_EQ(again.code, 0) << again.all();
  const nlohmann::json summary = JsonLines(again.out).at(0);
  EXPECT_LT(summary.value("bytes_added", ~0ull), DiskBytes(vm) / 1000) << summary.dump();
  ExpectRestoredVm("vm/101/2026-12-02T02:00:00Z", next_day);
}

TEST_F(ImportTest, AContainerRestoresAsTheContainerWas) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: devices, foreign owners, file capabilities";
  const std::string root = stage_ + "/rootfs";
  const std::string config = stage_ + "/vzdump-tmp";
  const std::string tar = stage_ + "/vzdump-lxc-105-2026_12_01-02_00_05.tar";
  testing::MakeContainerRoot(root);
  testing::MakeVzdumpConfig(config);
  testing::MakeVzdumpTar(config, root, tar);
  const std::string archive = testing::MoveInto(testing::Compress(tar, "zstd"), dump_);
  Output o = Import({archive});
  ASSERT_EQ(o.code, 0) << o.all();
  const std::string target = RestoreAll("ct/105/2026-12-01T01:00:05Z");

  // Every field of every entry; store/ingest's tar_import_test looks
  // deeper (holes, block devices, ctimes). Beyond the root: vzdump's files.
  EXPECT_EQ(testing::CompareTrees(root, target, /*compare_owners=*/true),
            (std::vector<std::string>{"unexpected: etc/vzdump", "unexpected: etc/vzdump/pct.conf",
                                      "unexpected: etc/vzdump/pct.fw"}));
  EXPECT_EQ(ReadFile(target + "/etc/vzdump/pct.conf"), ReadFile(config + "/etc/vzdump/pct.conf"));
  struct stat tool {};
  ASSERT_EQ(lstat((target + "/usr/bin/tool").c_str(), &tool), 0);
  EXPECT_EQ(tool.st_nlink, 3u);

  // ACLs as getfacl lists them, vzdump's folder aside.
  std::vector<std::string> acls = testing::AclListing(target), want = testing::AclListing(root);
  std::erase_if(acls, [](const std::string& l) { return l.starts_with("# file: etc/vzdump"); });
  std::sort(acls.begin(), acls.end());
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(acls == want) << "getfacl -R lists different ACLs";

  // GNU tar finds nothing different.
  std::string out;
  int rc = testing::RunCommand(
      {"tar", "--compare", "--file=" + tar, "--directory=" + target, "--numeric-owner", "--acls",
       "--xattrs", "--xattrs-include=user.*", "--xattrs-include=security.capability"},
      &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "");
}

// `vzdump 101 --stdout | coffer import --group vm/101 -`.
TEST_F(ImportTest, StandardInputIsImportedIntoTheGroupGiven) {
  const VmaTestOptions vm = TwoDiskVm(3, 3);
  const std::string vma = AsString(testing::WriteVma(vm).bytes);
  Output o = Import({"--json", "--group", "vm/101", "-"}, vma);
  ASSERT_EQ(o.code, 0) << o.all();
  const nlohmann::json summary = JsonLines(o.out).at(0);
  EXPECT_EQ(summary.value("archive", ""), "standard input");
  EXPECT_TRUE(summary.value("snapshot", "").starts_with("vm/101/")) << summary.dump();
  EXPECT_EQ(summary.value("bytes_total", 0u), DiskBytes(vm) + ConfigBytes(vm));
  ExpectRestoredVm("vm/101/latest", vm);
}

TEST_F(ImportTest, WithoutAGroupStandardInputAndOtherNamesAreUsageErrors) {
  const VmaTestOptions vm = TwoDiskVm(3, 3);
  const std::string vma = AsString(testing::WriteVma(vm).bytes);
  Output piped = Import({"-"}, vma);
  EXPECT_EQ(piped.code, 2) << piped.all();
  EXPECT_EQ(std::count(piped.err.begin(), piped.err.end(), '\n'), 1) << piped.err;
  EXPECT_NE(piped.err.find("standard input"), std::string::npos) << piped.err;
  EXPECT_NE(piped.err.find("--group"), std::string::npos) << piped.err;
  // Refused before the archives given with it are imported.
  VmArchive("vzdump-qemu-101-2026_12_01-03_00_00", vm, "none", dump_);
  Output with_folder = Import({dump_, "-"}, vma);
  EXPECT_EQ(with_folder.code, 2) << with_folder.all();
  EXPECT_TRUE(Snapshots().empty());

  const std::string renamed = stage_ + "/guest-101.vma";
  WriteFile(renamed, vma);
  Output named = Import({renamed});
  EXPECT_EQ(named.code, 2) << named.all();
  EXPECT_NE(named.err.find(renamed), std::string::npos) << named.err;
  EXPECT_NE(named.err.find("--group"), std::string::npos) << named.err;
  EXPECT_TRUE(Snapshots().empty());

  // Given a group, any name is imported, at the --time given.
  Output grouped = Import({"--group", "vm/101", "--time", "2026-12-01T10:00:00Z", renamed});
  EXPECT_EQ(grouped.code, 0) << grouped.all();
  EXPECT_EQ(Snapshots().at(0).value("name", ""), "vm/101/2026-12-01T10:00:00Z");
}

// Each damaged archive: exit 5, the file and a byte position named, and
// nothing committed.
TEST_F(ImportTest, ADamagedArchiveIsNamedWithAPositionAndNothingOfItIsCommitted) {
  ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "good", "zstd", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);
  const Names before = SnapshotIds();
  ASSERT_EQ(before.size(), 1u);

  const std::string tar_zst =
      ReadFile(ContainerArchive("vzdump-lxc-100-2026_12_02-02_00_00", "cut", "zstd", stage_));
  const testing::VmaTestArchive vma = testing::WriteVma(TwoDiskVm(1, 1));
  Bytes flipped = vma.bytes;
  ASSERT_GE(vma.extents.size(), 3u);
  flipped.at(vma.extents[2] + testing::vma_layout::kExtentBlockCount) ^= 0x01;
  const std::string vma_zst =
      ReadFile(VmArchive("vzdump-qemu-101-2026_12_02-03_00_00", TwoDiskVm(1, 1), "zstd", stage_));

  const std::vector<std::pair<std::string, std::string>> damaged = {
      {"vzdump-lxc-100-2026_12_03-02_00_00.tar.zst", tar_zst.substr(0, tar_zst.size() / 2)},
      {"vzdump-qemu-101-2026_12_03-03_00_00.vma", AsString(flipped)},
      {"vzdump-qemu-101-2026_12_04-03_00_00.vma.zst", vma_zst.substr(0, vma_zst.size() / 2)},
  };
  for (const auto& [name, bytes] : damaged) {
    SCOPED_TRACE(name);
    const std::string path = stage_ + "/" + name;
    WriteFile(path, bytes);
    Output o = Import({path});
    EXPECT_EQ(o.code, 5) << o.all();
    EXPECT_NE(o.err.find(path), std::string::npos) << o.err;
    EXPECT_TRUE(NamesABytePosition(o.err)) << o.err;
    EXPECT_EQ(o.err.find(path), o.err.rfind(path)) << "the file is named twice: " << o.err;
    EXPECT_EQ(SnapshotIds(), before);
  }
}

// libarchive says nothing about a pax header cut short; the message still
// says what is wrong, not "unknown error".
TEST_F(ImportTest, APaxHeaderCutShortSaysTheArchiveIsDamagedOrCutShort) {
  const std::string folder = stage_ + "/pax";
  ASSERT_EQ(mkdir(folder.c_str(), 0755), 0);
  WriteFile(folder + "/a", "a\n");
  const std::string full = stage_ + "/pax.tar";
  std::string out;
  ASSERT_EQ(testing::RunCommand({"tar", "--format=pax", "-cf", full, "-C", folder, "."}, &out), 0)
      << out;
  const std::string cut = stage_ + "/vzdump-lxc-305-2026_12_01-02_00_00.tar";
  WriteFile(cut, ReadFile(full).substr(0, 512));  // the pax header's own header only
  Output o = Import({cut});
  EXPECT_EQ(o.code, 5) << o.all();
  EXPECT_NE(o.err.find("damaged or cut short"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("unknown"), std::string::npos) << o.err;
  EXPECT_TRUE(SnapshotIds().empty());
}

// One --group for a folder of two guests: archives of the same second went
// to one snapshot name, and the second was "already in the repository".
TEST_F(ImportTest, AnotherGuestsArchiveOfTheSameTimeInOneGroupIsRefusedNotSkipped) {
  const std::string first =
      ContainerArchive("vzdump-lxc-101-2026_12_01-02_00_00", "first", "zstd", dump_);
  const std::string second =
      ContainerArchive("vzdump-lxc-102-2026_12_01-02_00_00", "second", "gzip", dump_);
  Output o = Import({"--json", "--group", "host/pve", dump_});
  EXPECT_EQ(o.code, 1) << o.all();
  EXPECT_TRUE(SaysImported(o.out, first)) << o.all();
  EXPECT_NE(o.err.find(second + ": not imported: host/pve/2026-12-01T01:00:00Z holds another "
                                "archive (vzdump-lxc-101-2026_12_01-02_00_00.tar.zst)"),
            std::string::npos)
      << o.err;
  // The same archive again, from another folder: skipped.
  const std::string again = stage_ + "/vzdump-lxc-101-2026_12_01-02_00_00.tar.zst";
  WriteFile(again, ReadFile(first));
  Output repeated = Import({"--group", "host/pve", again});
  EXPECT_EQ(repeated.code, 0) << repeated.all();
  EXPECT_NE(repeated.err.find("skipped"), std::string::npos) << repeated.all();
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(ImportTest, ADamagedArchiveInAFolderLeavesTheOthersImported) {
  const std::string good =
      ContainerArchive("vzdump-lxc-100-2026_12_02-02_00_00", "good", "gzip", dump_);
  const std::string bad =
      ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "bad", "gzip", stage_);
  const std::string whole = ReadFile(bad);
  const std::string cut = dump_ + bad.substr(bad.rfind('/'));
  WriteFile(cut, whole.substr(0, whole.size() - 100));

  Output o = Import({"--json", dump_});
  EXPECT_EQ(o.code, 5) << o.all();
  EXPECT_NE(o.err.find(cut), std::string::npos) << o.err;
  EXPECT_TRUE(SaysImported(o.out, good)) << o.out;
  EXPECT_FALSE(SaysImported(o.out, cut)) << o.out;
  // --json has a line for the failed archive too, with its message and code.
  bool failure_line = false;
  std::istringstream lines(o.out);
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("archive", "") == cut) {
      failure_line = j.value("exit_code", 0) == 5 && !j.value("error", "").empty();
    }
  }
  EXPECT_TRUE(failure_line) << o.out;
  const nlohmann::json listed = Snapshots();
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0].value("name", ""), "ct/100/2026-12-02T01:00:00Z");
}

// As for a damaged archive, the others given are still imported: a cron
// job's second dump folder on a share that is not mounted.
TEST_F(ImportTest, APathThatIsNotThereLeavesTheOthersImported) {
  const std::string good =
      ContainerArchive("vzdump-lxc-100-2026_12_02-02_00_00", "good", "none", dump_);
  const std::string missing_folder = tmp_ / "not-mounted";
  const std::string missing_archive = tmp_ / "vzdump-lxc-100-2026_12_03-02_00_00.tar";
  Output o = Import({"--json", missing_folder, dump_, missing_archive});
  EXPECT_EQ(o.code, 1) << o.all();
  EXPECT_NE(o.err.find(missing_folder + ": No such file or directory"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find(missing_archive + ": No such file or directory"), std::string::npos)
      << o.err;
  EXPECT_TRUE(SaysImported(o.out, good)) << o.out;
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(ImportTest, ANameThatSaysTheOtherFormatIsDamage) {
  const std::string tar =
      ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "none", stage_);
  const std::string vma =
      VmArchive("vzdump-qemu-101-2026_12_01-03_00_00", TwoDiskVm(1, 1), "none", stage_);
  const std::string tar_named_vma = stage_ + "/vzdump-qemu-101-2026_12_02-03_00_00.vma";
  const std::string vma_named_tar = stage_ + "/vzdump-lxc-100-2026_12_02-02_00_00.tar";
  ASSERT_EQ(rename(tar.c_str(), tar_named_vma.c_str()), 0);
  ASSERT_EQ(rename(vma.c_str(), vma_named_tar.c_str()), 0);
  for (const std::string& path : {tar_named_vma, vma_named_tar}) {
    Output o = Import({path});
    EXPECT_EQ(o.code, 5) << o.all();
    EXPECT_NE(o.err.find(path), std::string::npos) << o.err;
  }
  EXPECT_TRUE(Snapshots().empty());
}

// What a vzdump that failed at once leaves: an archive of no bytes.
TEST_F(ImportTest, AnEmptyArchiveIsNoArchive) {
  const std::string empty = dump_ + "/vzdump-lxc-100-2026_12_01-02_00_00.tar.zst";
  WriteFile(empty, "");
  Output file = Import({empty});
  EXPECT_EQ(file.code, 5) << file.all();
  EXPECT_NE(file.err.find(empty), std::string::npos) << file.err;
  Output piped = Import({"--group", "vm/101", "-"}, "");
  EXPECT_EQ(piped.code, 5) << piped.all();
  EXPECT_NE(piped.err.find("standard input"), std::string::npos) << piped.err;
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(ImportTest, TimeNoteAndLogNameOneSnapshot) {
  ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "one", "none", dump_);
  ContainerArchive("vzdump-lxc-100-2026_12_02-02_00_00", "two", "none", dump_);
  WriteFile(stage_ + "/job.log", "a log\n");
  for (const auto& options :
       std::vector<std::vector<std::string>>{{"--time", "2026-12-05T00:00:00Z"},
                                             {"--note", "a note"},
                                             {"--log", stage_ + "/job.log"}}) {
    std::vector<std::string> args = options;
    args.push_back(dump_);
    Output o = Import(args);
    EXPECT_EQ(o.code, 2) << options[0] << ": " << o.all();
    EXPECT_NE(o.err.find(options[0]), std::string::npos) << o.err;
  }
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(ImportTest, OptionsComeBeforeTheFilesBesideTheArchive) {
  const std::string archive =
      ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "zstd", dump_);
  WriteFile(archive + ".notes", "notes from vzdump");
  WriteFile(dump_ + "/vzdump-lxc-100-2026_12_01-02_00_00.log", "vzdump's log\n");
  WriteFile(stage_ + "/job.log", "the job's own log\n");
  Output o = Import({"--note", "given on the command line", "--log", stage_ + "/job.log",
                     "--protect", "--tag", "weekly", "--tag", "offsite", archive});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_NE(o.err.find(archive + ": snapshot ct/100/2026-12-01T01:00:00Z saved (id "),
            std::string::npos)
      << o.err;
  const nlohmann::json info = Info("ct/100/2026-12-01T01:00:00Z");
  EXPECT_EQ(info.value("note", ""), "given on the command line");
  EXPECT_TRUE(info.value("protected", false));
  EXPECT_EQ(info["tags"], nlohmann::json::array({"weekly", "offsite"}));
  Output log = Coffer({"info", "--log", "ct/100/2026-12-01T01:00:00Z"});
  EXPECT_EQ(log.out, "the job's own log\n") << log.all();

  // Protected: forget leaves it.
  Output forget = Coffer({"forget", "ct/100/2026-12-01T01:00:00Z"});
  EXPECT_NE(forget.code, 0) << forget.all();
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(ImportTest, OfALogLongerThan4MiBItsEndIsKept) {
  const std::string archive =
      ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "zstd", dump_);
  const std::string log =
      std::string(1000, 'a') + std::string((4 << 20) - 20, 'b') + "INFO: Finished Backup";
  WriteFile(dump_ + "/vzdump-lxc-100-2026_12_01-02_00_00.log", log);
  Output o = Import({archive});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_NE(o.err.find("its last 4.0 MiB are kept"), std::string::npos) << o.err;
  Output kept = Coffer({"info", "--log", "ct/100/2026-12-01T01:00:00Z"});
  EXPECT_EQ(kept.code, 0) << kept.err;
  EXPECT_EQ(kept.out.size(), 4u << 20);
  EXPECT_TRUE(kept.out == log.substr(log.size() - (4 << 20))) << "not the log's last 4 MiB";
}

TEST_F(ImportTest, InfoShowsTheNoteAndTheLogAndEveryFieldOfItsManPage) {
  const std::string archive =
      ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "zstd", dump_);
  WriteFile(archive + ".notes", "first line\nsecond line\n");
  WriteFile(dump_ + "/vzdump-lxc-100-2026_12_01-02_00_00.log", std::string(3000, 'x'));
  ContainerArchive("vzdump-lxc-100-2026_12_02-02_00_00", "bare", "zstd", dump_);
  ASSERT_EQ(Import({"--tag", "daily", dump_}).code, 0);
  const std::string name = "ct/100/2026-12-01T01:00:00Z";

  Output text = Coffer({"info", name});
  ASSERT_EQ(text.code, 0) << text.all();
  EXPECT_NE(text.out.find("snapshot   " + name + "\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("paths      " + archive + "\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("tags       daily\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("note       first line\n           second line\n"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("log        2.9 KiB (coffer info --log " + name + " prints it)\n"),
            std::string::npos)
      << text.out;

  const nlohmann::json info = Info(name);
  EXPECT_EQ(Keys(info), (Names{"name",        "id",
                               "group",       "time",
                               "tree",        "hostname",
                               "username",    "paths",
                               "tags",        "files",
                               "bytes",       "bytes_read",
                               "bytes_added", "duration_seconds",
                               "incomplete",  "protected",
                               "note",        "log_bytes",
                               "note_damage", "last_restore_test"}));
  EXPECT_EQ(info.value("name", ""), name);
  EXPECT_EQ(info.value("group", ""), "ct/100");
  EXPECT_EQ(info.value("time", ""), "2026-12-01T01:00:00Z");
  EXPECT_EQ(info["paths"], nlohmann::json::array({archive}));
  EXPECT_EQ(info.value("files", 0), 5) << "pct.conf, pct.fw, hostname and data.bin under two names";
  EXPECT_EQ(info.value("log_bytes", 0), 3000);
  EXPECT_TRUE(info["note_damage"].is_null());
  const nlohmann::json listed = Snapshots();
  auto listed_snapshot =
      std::find_if(listed.begin(), listed.end(), [&](const auto& s) { return s["name"] == name; });
  ASSERT_NE(listed_snapshot, listed.end()) << listed.dump();
  EXPECT_EQ(info.value("id", ""), listed_snapshot->value("id", "?"));

  Output log = Coffer({"info", "--log", name});
  EXPECT_EQ(log.code, 0) << log.all();
  EXPECT_EQ(log.out, std::string(3000, 'x'));
  Output no_log = Coffer({"info", "--log", "ct/100/2026-12-02T01:00:00Z"});
  EXPECT_EQ(no_log.code, 1) << no_log.all();
  EXPECT_EQ(no_log.out, "");
  EXPECT_NE(no_log.err.find("has no log"), std::string::npos) << no_log.err;

  Output missing = Coffer({"info", "ct/100/2026-12-03T01:00:00Z"});
  EXPECT_EQ(missing.code, 1) << missing.all();
  Output malformed = Coffer({"info", "ct/100/yesterday"});
  EXPECT_EQ(malformed.code, 2) << malformed.all();
}

}  // namespace
}  // namespace coffer::e2e
