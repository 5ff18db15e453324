// coffer export end to end, as coffer-export(1) promises it: the archive of
// a container or VM, read back by what Proxmox VE restores with (GNU tar
// with pct restore's flags, the zstd and gzip programs), by an independent
// reading of the VMA layout and by coffer import; the names and places
// vzdump uses; the notes and log beside the archive; and the refusals.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"
#include "tests/testing/archive_fixtures.h"
#include "tests/testing/vma_test_writer.h"

extern char** environ;

namespace coffer::e2e {
namespace {

using testing::ReadFile;
using testing::VmaTestCluster;
using testing::VmaTestDevice;
using testing::VmaTestOptions;
using testing::WriteFile;
namespace vma_layout = testing::vma_layout;

using Lines = std::vector<std::string>;

constexpr uint64_t kCluster = vma_layout::kCluster;
constexpr uint64_t kBlock = vma_layout::kBlock;

// vzdump names are local time: an hour ahead of UTC in winter, two in summer.
const std::string kBerlin = "TZ=Europe/Berlin";

std::string AsString(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

Lines SplitLines(const std::string& text) {
  Lines out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The names in `dir`, sorted: what an export left there, .dat files included.
Lines Listing(const std::string& dir) {
  Lines names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// What the first bytes say a file is: "zstd", "gzip", "tar", "vma" or "?".
std::string Kind(const std::string& bytes) {
  if (bytes.starts_with("\x28\xb5\x2f\xfd")) return "zstd";
  if (bytes.starts_with("\x1f\x8b")) return "gzip";
  if (bytes.starts_with(std::string("VMA\0", 4))) return "vma";
  if (bytes.size() >= 263 && bytes.compare(257, 5, "ustar") == 0) return "tar";
  return "?";
}
std::string KindOfFile(const std::string& path) {
  return Kind(ReadFile(path));
}

// `path` decompressed by the zstd or gzip program its magic asks for.
std::string Decompressed(const std::string& path) {
  const std::string kind = KindOfFile(path);
  const std::string out = path + ".decompressed";
  if (kind == "zstd") {
    testing::MustRun({"zstd", "-d", "-q", "-f", path, "-o", out});
  } else if (kind == "gzip") {
    testing::MustRun({"sh", "-c", "gzip -dc \"$0\" > \"$1\"", path, out});
  } else {
    return ReadFile(path);
  }
  std::string bytes = ReadFile(out);
  unlink(out.c_str());
  return bytes;
}

int64_t UtcSeconds(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm));
}

// A VM whose disks are `devices` (sizes not multiples of 64 KiB; pattern
// content with zero blocks and all-zero clusters), with both config files,
// the clusters of all disks interleaved in an order shuffled by `seed`, and
// a ctime a few seconds after the time in its vzdump name, as vzdump's are.
VmaTestOptions ShuffledVm(std::vector<VmaTestDevice> devices, uint64_t seed, int64_t ctime) {
  VmaTestOptions vm;
  vm.uuid[0] = static_cast<uint8_t>(seed);
  vm.ctime = ctime;
  vm.devices = std::move(devices);
  vm.configs.push_back({"qemu-server.conf", Bytes{'b', 'o', 'o', 't', ':', ' ', 'c', '\n'}});
  vm.configs.push_back(
      {"qemu-server.fw", Bytes{'[', 'O', 'P', 'T', 'I', 'O', 'N', 'S', ']', '\n'}});
  std::vector<VmaTestCluster> order;
  for (size_t d = 0; d < vm.devices.size(); ++d) {
    const uint64_t clusters = (vm.devices[d].size + kCluster - 1) / kCluster;
    for (uint64_t i = 0; i < clusters; ++i)
      order.push_back({static_cast<uint8_t>(d + 1), i, std::nullopt});
  }
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  vm.order = order;
  return vm;
}

std::vector<VmaTestDevice> TwoDisks() {
  return {{"drive-scsi0", 160 * kCluster + 3 * kBlock + 17, testing::VmaPatternContent(1), {}, 0},
          {"drive-virtio1", 64 * kCluster + 512, testing::VmaPatternContent(2), {}, 0}};
}

// The third disk is all zeros: every one of its clusters is listed, none stored.
std::vector<VmaTestDevice> ThreeDisks() {
  return {{"drive-scsi0", 97 * kCluster + 5 * kBlock, testing::VmaPatternContent(3), {}, 0},
          {"drive-efidisk0", 540672, testing::VmaPatternContent(4), {}, 0},
          {"drive-scsi1", 5 * kCluster + 1000, nullptr, {}, 0}};
}

// A VMA read with nothing but the layout in vma_test_writer.h (and its MD5,
// which is OpenSSL's): what the archive says, and every rule it breaks.
struct VmaContent {
  std::map<std::string, uint64_t> device_sizes;
  std::map<std::string, std::string> images;  // by device name, the device's size
  std::map<std::string, std::string> configs;
  int64_t ctime = 0;
  Lines problems;
};

uint64_t Be(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<uint8_t>(b.at(at + i));
  return v;
}

VmaContent ReadVmaIndependently(const std::string& vma) {
  VmaContent out;
  auto problem = [&](const std::string& what) { out.problems.push_back(what); };
  if (vma.size() < vma_layout::kHeaderFixed || !vma.starts_with(std::string("VMA\0", 4))) {
    problem("no VMA magic");
    return out;
  }
  if (Be(vma, vma_layout::kVersion, 4) != 1) problem("version is not 1");
  const std::string uuid = vma.substr(vma_layout::kUuid, 16);
  out.ctime = static_cast<int64_t>(Be(vma, vma_layout::kCtime, 8));
  const size_t blob_at = Be(vma, vma_layout::kBlobBufferOffset, 4);
  const size_t blob_size = Be(vma, vma_layout::kBlobBufferSize, 4);
  const size_t header_size = Be(vma, vma_layout::kHeaderSize, 4);
  if (header_size > vma.size() || blob_at + blob_size > header_size || header_size % 512 != 0) {
    problem("header and blob buffer sizes do not fit");
    return out;
  }
  Bytes header(vma.begin(), vma.begin() + static_cast<ptrdiff_t>(header_size));
  testing::ResealVmaHeader(header);
  if (AsString(header).compare(vma_layout::kHeaderMd5, 16, vma, vma_layout::kHeaderMd5, 16) != 0) {
    problem("the header's MD5 is wrong");
  }
  // A blob record: two bytes of length, little-endian, then the bytes.
  auto blob = [&](size_t offset) -> std::string {
    if (offset == 0 || offset + 2 > blob_size) return {};
    const size_t at = blob_at + offset;
    const size_t length = static_cast<uint8_t>(vma[at]) | size_t{static_cast<uint8_t>(vma[at + 1])}
                                                              << 8;
    if (offset + 2 + length > blob_size) return {};
    return vma.substr(at + 2, length);
  };
  auto name = [&](size_t offset) {
    std::string text = blob(offset);
    if (text.empty() || text.back() != '\0') problem("a name that is not NUL-terminated");
    if (!text.empty()) text.pop_back();
    return text;
  };
  for (size_t i = 0; i < 256; ++i) {
    const size_t name_at = Be(vma, vma_layout::ConfigName(i), 4);
    if (name_at == 0) continue;
    out.configs[name(name_at)] = blob(Be(vma, vma_layout::ConfigData(i), 4));
  }
  std::map<uint8_t, std::string> names;
  std::map<uint8_t, std::vector<bool>> seen;
  for (size_t id = 1; id < 256; ++id) {
    const size_t name_at = Be(vma, vma_layout::DeviceInfo(id), 4);
    if (name_at == 0) continue;
    const std::string device = name(name_at);
    const uint64_t size = Be(vma, vma_layout::DeviceInfo(id) + 8, 8);
    names[static_cast<uint8_t>(id)] = device;
    out.device_sizes[device] = size;
    out.images[device].assign((size + kCluster - 1) / kCluster * kCluster, '\0');
    seen[static_cast<uint8_t>(id)].assign((size + kCluster - 1) / kCluster, false);
  }
  for (size_t at = header_size; at < vma.size();) {
    if (at + vma_layout::kExtentHeader > vma.size() || vma.compare(at, 4, "VMAE") != 0) {
      problem("no extent at byte " + std::to_string(at));
      return out;
    }
    Bytes extent(vma.begin() + static_cast<ptrdiff_t>(at),
                 vma.begin() + static_cast<ptrdiff_t>(at + vma_layout::kExtentHeader));
    testing::ResealVmaExtent(extent, 0);
    if (AsString(extent).compare(vma_layout::kExtentMd5, 16, vma, at + vma_layout::kExtentMd5,
                                 16) != 0) {
      problem("the MD5 of the extent at byte " + std::to_string(at) + " is wrong");
    }
    if (vma.compare(at + vma_layout::kExtentUuid, 16, uuid) != 0)
      problem("an extent of another uuid");
    const size_t blocks = Be(vma, at + vma_layout::kExtentBlockCount, 2);
    size_t data = at + vma_layout::kExtentHeader;
    if (data + blocks * kBlock > vma.size()) {
      problem("an extent past the end");
      return out;
    }
    size_t used = 0;
    for (size_t slot = 0; vma_layout::ExtentSlot(slot) + 8 <= vma_layout::kExtentHeader; ++slot) {
      const uint64_t info = Be(vma, at + vma_layout::ExtentSlot(slot), 8);
      if (info == 0) continue;
      const uint16_t mask = static_cast<uint16_t>(info >> 48);
      const uint8_t id = static_cast<uint8_t>(info >> 32);
      const uint64_t cluster = info & 0xffffffff;
      if (!names.count(id) || cluster >= seen[id].size()) {
        problem("a cluster of no device, or past its end");
        continue;
      }
      if (seen[id][cluster])
        problem("cluster " + std::to_string(cluster) + " of " + names[id] + " twice");
      seen[id][cluster] = true;
      for (size_t b = 0; b < kCluster / kBlock; ++b) {
        if (!(mask >> b & 1)) continue;
        if (used == blocks) {
          problem("a mask with more blocks than its extent holds");
          break;
        }
        const std::string block = vma.substr(data + used * kBlock, kBlock);
        ++used;
        if (block.find_first_not_of('\0') == std::string::npos) problem("a zero block is stored");
        out.images[names[id]].replace(cluster * kCluster + b * kBlock, kBlock, block);
      }
    }
    if (used != blocks) problem("an extent whose masks do not add up to its block count");
    at = data + blocks * kBlock;
  }
  for (const auto& [id, clusters] : seen) {
    if (std::find(clusters.begin(), clusters.end(), false) != clusters.end()) {
      problem("clusters of " + names[id] + " missing");
    }
  }
  for (auto& [device, image] : out.images) image.resize(out.device_sizes[device]);
  return out;
}

// Runs `argv` with standard output on a new pseudo-terminal (standard error
// kept apart), as when a person types the command; draining the terminal so
// that a command that writes there anyway finishes.
Output RunOnTerminal(const std::vector<std::string>& argv,
                     const std::vector<std::string>& extra_env) {
  Output result;
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    ADD_FAILURE() << "no pseudo-terminal: " << std::strerror(errno);
    return result;
  }
  const std::string terminal = ptsname(master);
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(master);
    return result;
  }
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "COFFER_", 7) != 0 && std::strncmp(*e, "TZ=", 3) != 0) env.push_back(*e);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    const int tty = open(terminal.c_str(), O_RDWR);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(tty, 1);
    dup2(err[1], 2);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(err[1]);
  bool tty_open = true, err_open = true;
  char buf[65536];
  while (tty_open || err_open) {
    pollfd fds[2] = {{tty_open ? master : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) {
      const ssize_t n = read(master, buf, sizeof buf);
      if (n > 0)
        result.out.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR)
        tty_open = false;  // EIO: the command has closed it
    }
    if (fds[1].revents) {
      const ssize_t n = read(err[0], buf, sizeof buf);
      if (n > 0)
        result.err.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR)
        err_open = false;
    }
  }
  close(master);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return result;
}

class ExportTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    repos_.push_back(repo_);
    dump_ = tmp_ / "dump";
    stage_ = tmp_ / "stage";
    out_ = tmp_ / "out";
    cwd_ = tmp_ / "cwd";
    for (const std::string* dir : {&dump_, &stage_, &out_, &cwd_})
      ASSERT_EQ(mkdir(dir->c_str(), 0755), 0);
  }

  void TearDown() override {
    for (const std::string& repo : repos_) EXPECT_TRUE(KillServersOf(repo));
  }

  // Makes a new repository at `path` and uses it from now on.
  void UseNewRepository(const std::string& path) {
    repo_ = path;
    repos_.push_back(path);
    Output init = Coffer({"init", "--kdf-ops", "1", "--kdf-memory", "8K"});
    ASSERT_EQ(init.code, 0) << init.all();
  }

  // `coffer import ARGS...`, vzdump names read in Berlin time.
  Output Import(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"import"};
    full.insert(full.end(), args.begin(), args.end());
    return Coffer(full, {kBerlin});
  }

  // `coffer export ARGS...` run in the folder `dir` (cwd_ by default), in
  // the time zone `tz`.
  Output Export(const std::vector<std::string>& args, const std::string& tz = kBerlin,
                std::string dir = {}) {
    if (dir.empty()) dir = cwd_;
    std::vector<std::string> argv = {
        "sh", "-c", "cd \"$0\" && exec \"$@\"", dir, COFFER_BINARY, "-r", repo_, "export"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env = PassEnv();
    env.push_back(tz);
    return RunProcess(argv, env);
  }

  // `coffer info --json SNAPSHOT`, parsed; fails the test on error.
  nlohmann::json Info(const std::string& snapshot) {
    Output o = Coffer({"info", "--json", snapshot});
    EXPECT_EQ(o.code, 0) << o.all();
    auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << o.out;
    return j.is_object() ? j : nlohmann::json::object();
  }

  // The root tree id `info --json` reports: equal trees, equal files and metadata.
  std::string Tree(const std::string& snapshot) {
    const std::string tree = Info(snapshot).value("tree", "");
    EXPECT_EQ(tree.size(), 64u) << snapshot << " has no tree id in info --json";
    return tree;
  }

  // Where two snapshots' `ls -R --json` listings differ (not every field of
  // a tree: no inode numbers, link counts, ctimes or xattrs), to say why
  // two trees differ.
  std::string ListingDifference(const std::string& a, const std::string& b) {
    Output x = Coffer({"ls", "-R", "--json", a}), y = Coffer({"ls", "-R", "--json", b});
    const Lines xs = SplitLines(x.out), ys = SplitLines(y.out);
    const std::set<std::string> in_a(xs.begin(), xs.end()), in_b(ys.begin(), ys.end());
    std::string out;
    int shown = 0;
    for (const std::string& line : in_a) {
      if (!in_b.count(line) && shown++ < 8) out += "\n  only in " + a + ": " + line;
    }
    for (const std::string& line : in_b) {
      if (!in_a.count(line) && shown++ < 16) out += "\n  only in " + b + ": " + line;
    }
    return out.empty() ? "\n  ls -R --json lists no difference (inode numbers, link counts, ctimes "
                         "or xattrs?)"
                       : out;
  }

  // A small container archived as vzdump does (MakeSmallContainerArchive).
  std::string ContainerArchive(const std::string& name, const std::string& hostname,
                               const std::string& tool, const std::string& folder) {
    return testing::MakeSmallContainerArchive(stage_, name, hostname, tool, folder);
  }

  // A VMA of `vm` as `name` (".vma" and the compressor's suffix added) in `folder`.
  std::string VmArchive(const std::string& name, const VmaTestOptions& vm, const std::string& tool,
                        const std::string& folder) {
    const std::string vma = stage_ + "/" + name + ".vma";
    WriteFile(vma, AsString(testing::WriteVma(vm).bytes));
    return testing::MoveInto(testing::Compress(vma, tool), folder);
  }

  // The awkward container root of archive_fixtures.h, archived by GNU tar
  // with vzdump's flags and imported as ct/104/2026-12-01T01:00:00Z.
  struct Container {
    std::string root, config, tar, snapshot;
  };
  Container ImportedAwkwardContainer() {
    Container ct;
    ct.root = stage_ + "/rootfs";
    ct.config = stage_ + "/vzdump-tmp";
    ct.tar = stage_ + "/vzdump-lxc-104-2026_12_01-02_00_00.tar";
    testing::MakeContainerRoot(ct.root);
    testing::MakeVzdumpConfig(ct.config);
    testing::MakeVzdumpTar(ct.config, ct.root, ct.tar);
    const std::string archive = dump_ + "/vzdump-lxc-104-2026_12_01-02_00_00.tar.zst";
    testing::MustRun({"zstd", "-q", "-f", ct.tar, "-o", archive});
    Output o = Import({archive});
    EXPECT_EQ(o.code, 0) << o.all();
    ct.snapshot = "ct/104/2026-12-01T01:00:00Z";
    return ct;
  }

  // Imports `vm` as vm/VMID at 2026-12-01 03:00 Berlin time, exports it,
  // and checks the export by reading it independently and by importing it
  // again.
  void ExpectVmRoundTrip(const VmaTestOptions& vm, const std::string& vmid) {
    const std::string name = "vzdump-qemu-" + vmid + "-2026_12_01-03_00_00";
    const std::string snapshot = "vm/" + vmid + "/2026-12-01T02:00:00Z";
    Output imported = Import({VmArchive(name, vm, "zstd", dump_)});
    ASSERT_EQ(imported.code, 0) << imported.all();
    const std::string tree = Tree(snapshot);

    Output o = Export({snapshot, "-o", out_});
    ASSERT_EQ(o.code, 0) << o.all();
    const std::string exported = out_ + "/" + name + ".vma.zst";
    ASSERT_EQ(Listing(out_), Lines{name + ".vma.zst"});
    EXPECT_EQ(KindOfFile(exported), "zstd");

    const VmaContent content = ReadVmaIndependently(Decompressed(exported));
    for (const std::string& problem : content.problems) ADD_FAILURE() << problem;
    // Import made the archive's time the files' mtime; export makes it back.
    EXPECT_EQ(content.ctime, vm.ctime);
    std::map<std::string, uint64_t> sizes;
    for (const VmaTestDevice& device : vm.devices) sizes[device.name] = device.size;
    EXPECT_EQ(content.device_sizes, sizes);
    for (const VmaTestDevice& device : vm.devices) {
      auto image = content.images.find(device.name);
      ASSERT_NE(image, content.images.end()) << device.name;
      EXPECT_TRUE(image->second == AsString(testing::VmaDeviceImage(device)))
          << device.name << ": the exported disk's bytes differ";
    }
    std::map<std::string, std::string> configs;
    for (const auto& [config, bytes] : vm.configs) configs[config] = AsString(bytes);
    EXPECT_EQ(content.configs, configs);

    // Imported again, the same disks and configs, their times included.
    Output again = Import({"--group", "vm/9" + vmid, exported});
    ASSERT_EQ(again.code, 0) << again.all();
    const std::string copy = "vm/9" + vmid + "/2026-12-01T02:00:00Z";
    EXPECT_EQ(Tree(copy), tree) << ListingDifference(snapshot, copy);
  }

  std::vector<std::string> repos_;
  std::string dump_;   // a folder as vzdump fills it
  std::string stage_;  // where archives are made before they are put in place
  std::string out_;    // an empty folder to export into
  std::string cwd_;    // the exports' current directory, empty at first
};

// tar ... --compare, the export against a folder; its output.
Output TarCompare(const std::string& archive, const std::string& dir,
                  const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"tar",    "--compare", "--numeric-owner",
                                   "--acls", "--xattrs",  "--xattrs-include=*",
                                   "-f",     archive,     "-C",
                                   dir};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Output o;
  o.code = testing::RunCommand(argv, &o.out);
  return o;
}

// Extracts `archive` as pct restore does (pve-container's
// restore_tar_archive, its tar flags) into the new folder `target`; the
// differences from `root`, sorted.
Lines PctRestoreDifferences(const std::string& archive, const std::string& root,
                            const std::string& target) {
  EXPECT_EQ(mkdir(target.c_str(), 0755), 0);
  std::string out;
  const int rc = testing::RunCommand({"tar",
                                      "xpf",
                                      archive,
                                      "--totals",
                                      "--one-file-system",
                                      "-p",
                                      "--sparse",
                                      "--numeric-owner",
                                      "--acls",
                                      "--xattrs",
                                      "--xattrs-include=user.*",
                                      "--xattrs-include=security.capability",
                                      "--warning=no-file-ignored",
                                      "--warning=no-xattr-write",
                                      "-C",
                                      target,
                                      "--skip-old-files",
                                      "--anchored",
                                      "--exclude",
                                      "./dev/*"},
                                     &out);
  EXPECT_EQ(rc, 0) << out;
  for (const std::string& line : SplitLines(out)) EXPECT_FALSE(line.starts_with("tar: ")) << line;
  Lines differences = testing::CompareTrees(root, target, /*compare_owners=*/true);
  std::sort(differences.begin(), differences.end());
  return differences;
}

// The member names of a tar archive, in order, as GNU tar lists them.
Lines TarMembers(const std::string& archive) {
  return SplitLines(testing::MustRun({"tar", "-tf", archive}));
}

TEST_F(ExportTest, AContainerImportedAgainFromItsExportIsTheSameTreeWhateverTheCompression) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: devices, foreign owners, file capabilities";
  const Container ct = ImportedAwkwardContainer();
  const std::string tree = Tree(ct.snapshot);
  const std::string name = "vzdump-lxc-104-2026_12_01-02_00_00";

  struct Case {
    std::string compress, extension, kind, group;
  };
  std::string first_export;
  for (const Case& c : std::vector<Case>{{"zstd", ".tar.zst", "zstd", "ct/204"},
                                         {"gzip", ".tar.gz", "gzip", "ct/205"},
                                         {"none", ".tar", "tar", "ct/206"}}) {
    SCOPED_TRACE(c.compress);
    const std::string dir = tmp_ / ("export-" + c.compress);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    Output o = Export({ct.snapshot, "-o", dir, "--compress", c.compress});
    ASSERT_EQ(o.code, 0) << o.all();
    const std::string exported = dir + "/" + name + c.extension;
    EXPECT_EQ(Listing(dir), Lines{name + c.extension});
    EXPECT_EQ(KindOfFile(exported), c.kind);
    if (first_export.empty()) first_export = exported;

    // The same time, another group: nothing but the group differs.
    Output again = Import({"--group", c.group, exported});
    ASSERT_EQ(again.code, 0) << again.all();
    const std::string copy = c.group + "/2026-12-01T01:00:00Z";
    EXPECT_EQ(Tree(copy), tree) << ListingDifference(ct.snapshot, copy);
  }

  // Exported again from its own import, the archive holds the same members
  // with the same metadata.
  const std::string second = tmp_ / "second";
  ASSERT_EQ(mkdir(second.c_str(), 0755), 0);
  Output o = Export({"ct/204/2026-12-01T01:00:00Z", "-o", second});
  ASSERT_EQ(o.code, 0) << o.all();
  const std::string second_export = second + "/vzdump-lxc-204-2026_12_01-02_00_00.tar.zst";
  const auto listing = [](const std::string& archive) {
    return testing::MustRun({"tar", "-tvv", "--numeric-owner", "--full-time", "-f", archive});
  };
  const std::string first_listing = listing(first_export), second_listing = listing(second_export);
  EXPECT_FALSE(first_listing.empty());
  EXPECT_TRUE(first_listing == second_listing) << "tar -tvv lists the two exports differently:\n"
                                               << first_listing << "\n---\n"
                                               << second_listing;
}

TEST_F(ExportTest, GnuTarFindsTheSourceRootInTheExportAndPctRestoreExtractsIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: devices, foreign owners, file capabilities";
  const Container ct = ImportedAwkwardContainer();
  Output o = Export({ct.snapshot, "-o", out_ + "/"});
  ASSERT_EQ(o.code, 0) << o.all();
  const std::string exported = out_ + "/vzdump-lxc-104-2026_12_01-02_00_00.tar.zst";
  ASSERT_EQ(KindOfFile(exported), "zstd");

  // The config first, where pct restore looks for it, as in vzdump's own.
  const Lines members = TarMembers(exported), original = TarMembers(ct.tar);
  const Lines head = {"./etc/vzdump/pct.conf", "./etc/vzdump/pct.fw", "./"};
  ASSERT_GE(original.size(), 3u);
  ASSERT_EQ(Lines(original.begin(), original.begin() + 3), head) << "the fixture's archive changed";
  ASSERT_GE(members.size(), 3u);
  EXPECT_EQ(Lines(members.begin(), members.begin() + 3), head);
  // Every member of the original, and nothing else but etc/vzdump itself
  // (a directory the original only implies).
  auto normalized = [](const Lines& names) {
    std::set<std::string> out;
    for (std::string n : names) {
      if (n.size() > 2 && n.back() == '/') n.pop_back();
      out.insert(n);
    }
    return out;
  };
  std::set<std::string> extra;
  const std::set<std::string> exported_names = normalized(members),
                              original_names = normalized(original);
  std::set_difference(exported_names.begin(), exported_names.end(), original_names.begin(),
                      original_names.end(), std::inserter(extra, extra.end()));
  extra.erase("./etc/vzdump");
  EXPECT_TRUE(extra.empty()) << "members the original does not have, first: " << *extra.begin();
  std::set<std::string> lost;
  std::set_difference(original_names.begin(), original_names.end(), exported_names.begin(),
                      exported_names.end(), std::inserter(lost, lost.end()));
  EXPECT_TRUE(lost.empty()) << "members the export does not have, first: " << *lost.begin();

  // GNU tar finds no difference from the container's root, nor from the
  // config files vzdump put first.
  Output compared = TarCompare(exported, ct.root, {"--anchored", "--exclude=./etc/vzdump"});
  EXPECT_EQ(compared.code, 0) << compared.out;
  EXPECT_EQ(compared.out, "");
  Output config = TarCompare(exported, ct.config, {"./etc/vzdump/pct.conf", "./etc/vzdump/pct.fw"});
  EXPECT_EQ(config.code, 0) << config.out;
  EXPECT_EQ(config.out, "");

  // pct restore's extraction into an empty folder gives the container as it
  // was, and as vzdump's own archive gives it: without /dev, which pct
  // leaves to LXC, and with the etc that pct.conf made first, whose
  // metadata --skip-old-files then keeps from the later ./etc/ member.
  const Lines expected = {
      "missing: dev/loop0",           "missing: dev/null",      "missing: dev/odd",
      "mtime differs: etc",           "unexpected: etc/vzdump", "unexpected: etc/vzdump/pct.conf",
      "unexpected: etc/vzdump/pct.fw"};
  ASSERT_EQ(PctRestoreDifferences(ct.tar, ct.root, tmp_ / "original-restored"), expected)
      << "GNU tar extracts vzdump's own archive differently";
  const std::string target = tmp_ / "pct-restore";
  EXPECT_EQ(PctRestoreDifferences(exported, ct.root, target), expected);
  EXPECT_EQ(ReadFile(target + "/etc/vzdump/pct.conf"),
            ReadFile(ct.config + "/etc/vzdump/pct.conf"));

  // What CompareTrees checks, once more by name.
  struct stat tool {
  }, alias{}, sbin_tool{}, sparse{}, all_hole{};
  ASSERT_EQ(lstat((target + "/usr/bin/tool").c_str(), &tool), 0);
  ASSERT_EQ(lstat((target + "/usr/bin/tool-alias").c_str(), &alias), 0);
  ASSERT_EQ(lstat((target + "/usr/sbin/tool").c_str(), &sbin_tool), 0);
  EXPECT_EQ(tool.st_ino, alias.st_ino);
  EXPECT_EQ(tool.st_ino, sbin_tool.st_ino);
  EXPECT_EQ(tool.st_nlink, 3u);
  ASSERT_EQ(lstat((target + "/var/lib/disk.img").c_str(), &sparse), 0);
  EXPECT_EQ(sparse.st_size, (64 << 20) + 123);
  EXPECT_LT(sparse.st_blocks * 512, 1 << 20) << "the 40 MiB hole was written as data";
  ASSERT_EQ(lstat((target + "/var/lib/all-hole").c_str(), &all_hole), 0);
  EXPECT_LE(all_hole.st_blocks * 512, 64 << 10) << "a file of holes was written as data";

  // ACLs as getfacl lists them, the folders pct leaves out aside.
  auto acls_without = [](Lines listings, const std::vector<std::string>& prefixes) {
    std::erase_if(listings, [&](const std::string& l) {
      return std::any_of(prefixes.begin(), prefixes.end(),
                         [&](const std::string& p) { return l.starts_with(p); });
    });
    std::sort(listings.begin(), listings.end());
    return listings;
  };
  EXPECT_TRUE(acls_without(testing::AclListing(target), {"# file: etc/vzdump"}) ==
              acls_without(testing::AclListing(ct.root), {"# file: dev/"}))
      << "getfacl -R lists different ACLs";
}

TEST_F(ExportTest, AVmOfTwoDisksComesBackAsItsDisksAndConfigs) {
  ExpectVmRoundTrip(ShuffledVm(TwoDisks(), 1, UtcSeconds(2026, 12, 1, 2, 0, 7)), "101");
}

TEST_F(ExportTest, AVmOfThreeDisksOneAllZerosComesBackAsItsDisksAndConfigs) {
  ExpectVmRoundTrip(ShuffledVm(ThreeDisks(), 2, UtcSeconds(2026, 12, 1, 2, 0, 9)), "102");
}

// Without -o: vzdump's name in the current directory, its time the
// snapshot's in local time, its extension the compression's.
TEST_F(ExportTest, TheDefaultNameIsVzdumpsInLocalTime) {
  ContainerArchive("vzdump-lxc-100-2026_07_15-02_00_00", "summer", "none", dump_);
  VmArchive("vzdump-qemu-101-2026_01_15-03_00_00",
            ShuffledVm(TwoDisks(), 3, UtcSeconds(2026, 1, 15, 2, 0, 5)), "none", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);

  struct Case {
    std::vector<std::string> args;
    std::string tz, name, kind;
  };
  const std::vector<Case> cases = {
      {{"ct/100/latest"}, kBerlin, "vzdump-lxc-100-2026_07_15-02_00_00.tar.zst", "zstd"},
      {{"ct/100/latest", "--compress", "gzip"},
       "TZ=UTC",
       "vzdump-lxc-100-2026_07_15-00_00_00.tar.gz",
       "gzip"},
      {{"ct/100/latest", "--compress", "none"},
       "TZ=Asia/Tokyo",
       "vzdump-lxc-100-2026_07_15-09_00_00.tar",
       "tar"},
      {{"vm/101/latest"}, kBerlin, "vzdump-qemu-101-2026_01_15-03_00_00.vma.zst", "zstd"},
      {{"vm/101/latest", "--compress", "gzip"},
       kBerlin,
       "vzdump-qemu-101-2026_01_15-03_00_00.vma.gz",
       "gzip"},
      {{"vm/101/latest", "--compress", "none"},
       "TZ=America/New_York",
       "vzdump-qemu-101-2026_01_14-21_00_00.vma",
       "vma"},
  };
  Lines written;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Output o = Export(c.args, c.tz);
    ASSERT_EQ(o.code, 0) << o.all();
    // The summary says what was written where.
    EXPECT_NE(o.err.find(c.name), std::string::npos) << o.err;
    EXPECT_EQ(o.out, "");
    EXPECT_EQ(KindOfFile(cwd_ + "/" + c.name), c.kind);
    written.push_back(c.name);
    std::sort(written.begin(), written.end());
    EXPECT_EQ(Listing(cwd_), written) << "a .dat or another file is left";
  }
  // Decompressed, what the name says.
  EXPECT_EQ(Kind(Decompressed(cwd_ + "/vzdump-lxc-100-2026_07_15-02_00_00.tar.zst")), "tar");
  EXPECT_EQ(Kind(Decompressed(cwd_ + "/vzdump-lxc-100-2026_07_15-00_00_00.tar.gz")), "tar");
  EXPECT_EQ(Kind(Decompressed(cwd_ + "/vzdump-qemu-101-2026_01_15-03_00_00.vma.zst")), "vma");
  EXPECT_EQ(Kind(Decompressed(cwd_ + "/vzdump-qemu-101-2026_01_15-03_00_00.vma.gz")), "vma");

  // --quiet: no summary, the same archive.
  const std::string quiet_dir = tmp_ / "quiet";
  ASSERT_EQ(mkdir(quiet_dir.c_str(), 0755), 0);
  Output quiet = Export({"--quiet", "ct/100/latest"}, kBerlin, quiet_dir);
  EXPECT_EQ(quiet.code, 0) << quiet.all();
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(Listing(quiet_dir), Lines{"vzdump-lxc-100-2026_07_15-02_00_00.tar.zst"});
}

// -o DIR: vzdump's name inside it; -o FILE: exactly that file, compressed as
// its extension says unless --compress says otherwise.
TEST_F(ExportTest, AFolderGetsVzdumpsNameAndAFileItsOwnCompression) {
  ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "none", dump_);
  VmArchive("vzdump-qemu-101-2026_12_01-03_00_00",
            ShuffledVm(TwoDisks(), 4, UtcSeconds(2026, 12, 1, 2, 0, 5)), "none", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);

  for (const std::string& dir : {out_, out_ + "/"}) {
    const std::string folder = dir == out_ ? tmp_ / "plain" : tmp_ / "slash";
    ASSERT_EQ(mkdir(folder.c_str(), 0755), 0);
    Output ct = Export({"ct/100/latest", "-o", dir == out_ ? folder : folder + "/"});
    ASSERT_EQ(ct.code, 0) << ct.all();
    Output vm = Export({"vm/101/latest", "-o", dir == out_ ? folder : folder + "/"});
    ASSERT_EQ(vm.code, 0) << vm.all();
    EXPECT_EQ(Listing(folder), (Lines{"vzdump-lxc-100-2026_12_01-02_00_00.tar.zst",
                                      "vzdump-qemu-101-2026_12_01-03_00_00.vma.zst"}));
  }
  EXPECT_EQ(Listing(cwd_), Lines{}) << "written to the current directory too";

  struct Case {
    std::string snapshot, file;
    std::vector<std::string> extra;
    std::string kind, decompressed;
  };
  const std::vector<Case> cases = {
      {"ct/100/latest", "ct.tar.zst", {}, "zstd", "tar"},
      {"ct/100/latest", "ct.tar.gz", {}, "gzip", "tar"},
      {"ct/100/latest", "ct.tar", {}, "tar", "tar"},
      {"ct/100/latest", "ct-backup.archive", {}, "tar", "tar"},
      {"ct/100/latest", "forced-plain.tar.gz", {"--compress", "none"}, "tar", "tar"},
      {"ct/100/latest", "forced-gzip.tar", {"--compress", "gzip"}, "gzip", "tar"},
      {"ct/100/latest", "forced-zstd.tgz", {"--compress", "zstd"}, "zstd", "tar"},
      {"vm/101/latest", "vm.vma.zst", {}, "zstd", "vma"},
      {"vm/101/latest", "vm.vma.gz", {}, "gzip", "vma"},
      {"vm/101/latest", "vm.vma", {}, "vma", "vma"},
      {"vm/101/latest", "vm-forced.vma.zst", {"--compress", "none"}, "vma", "vma"},
  };
  Lines written;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    std::vector<std::string> args = {c.snapshot, "-o", out_ + "/" + c.file};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    Output o = Export(args);
    ASSERT_EQ(o.code, 0) << o.all();
    EXPECT_EQ(KindOfFile(out_ + "/" + c.file), c.kind);
    EXPECT_EQ(Kind(Decompressed(out_ + "/" + c.file)), c.decompressed);
    written.push_back(c.file);
    std::sort(written.begin(), written.end());
    EXPECT_EQ(Listing(out_), written) << "a .dat or another file is left";
  }
  // A relative FILE is below the current directory.
  Output relative = Export({"ct/100/latest", "-o", "here.tar"});
  EXPECT_EQ(relative.code, 0) << relative.all();
  EXPECT_EQ(KindOfFile(cwd_ + "/here.tar"), "tar");
}

TEST_F(ExportTest, StandardOutputTakesTheArchiveUncompressedButNotOnATerminal) {
  ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "none", dump_);
  const VmaTestOptions vm = ShuffledVm(TwoDisks(), 5, UtcSeconds(2026, 12, 1, 2, 0, 5));
  VmArchive("vzdump-qemu-101-2026_12_01-03_00_00", vm, "none", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);

  Output ct = Export({"ct/100/latest", "-o", "-"});
  ASSERT_EQ(ct.code, 0) << ct.err;
  EXPECT_EQ(Kind(ct.out), "tar");
  Output ct_zstd = Export({"ct/100/latest", "-o", "-", "--compress", "zstd"});
  ASSERT_EQ(ct_zstd.code, 0) << ct_zstd.err;
  EXPECT_EQ(Kind(ct_zstd.out), "zstd");
  Output ct_gzip = Export({"ct/100/latest", "-o", "-", "--compress", "gzip"});
  ASSERT_EQ(ct_gzip.code, 0) << ct_gzip.err;
  EXPECT_EQ(Kind(ct_gzip.out), "gzip");

  // `coffer export vm/101/latest -o - | qmrestore - 101`: the VMA itself.
  Output piped = Export({"vm/101/latest", "-o", "-"});
  ASSERT_EQ(piped.code, 0) << piped.err;
  ASSERT_EQ(Kind(piped.out), "vma");
  const VmaContent content = ReadVmaIndependently(piped.out);
  for (const std::string& problem : content.problems) ADD_FAILURE() << problem;
  for (const VmaTestDevice& device : vm.devices) {
    EXPECT_TRUE(content.images.count(device.name) &&
                content.images.at(device.name) == AsString(testing::VmaDeviceImage(device)))
        << device.name;
  }
  // Nothing beside an archive on standard output: no file at all.
  EXPECT_EQ(Listing(cwd_), Lines{});

  // A terminal is no place for an archive.
  for (const char* snapshot : {"ct/100/latest", "vm/101/latest"}) {
    std::vector<std::string> env = PassEnv();
    env.push_back(kBerlin);
    Output tty = RunOnTerminal({COFFER_BINARY, "-r", repo_, "export", snapshot, "-o", "-"}, env);
    EXPECT_EQ(tty.code, 2) << snapshot << ": " << tty.err;
    EXPECT_LT(tty.out.size(), 1024u) << "an archive was written to the terminal";
    EXPECT_NE(tty.err, "") << "refused without a word";
  }
}

TEST_F(ExportTest, AnArchiveThatIsThereIsKeptUnlessForced) {
  ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "none", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);
  const std::string name = "vzdump-lxc-100-2026_12_01-02_00_00.tar.zst";

  // Named by -o, found in -o DIR, or in the current directory.
  const std::string file = out_ + "/mine.tar.zst";
  WriteFile(file, "precious");
  WriteFile(out_ + "/" + name, "precious too");
  WriteFile(cwd_ + "/" + name, "precious three");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"ct/100/latest", "-o", file}, {"ct/100/latest", "-o", out_}, {"ct/100/latest"}}) {
    Output o = Export(args);
    EXPECT_EQ(o.code, 2) << args.back() << ": " << o.all();
    EXPECT_NE(o.err, "");
  }
  EXPECT_EQ(ReadFile(file), "precious");
  EXPECT_EQ(ReadFile(out_ + "/" + name), "precious too");
  EXPECT_EQ(ReadFile(cwd_ + "/" + name), "precious three");
  EXPECT_EQ(Listing(out_), (Lines{"mine.tar.zst", name})) << "a .dat is left";
  EXPECT_EQ(Listing(cwd_), Lines{name}) << "a .dat is left";

  // --force replaces each with the archive.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"ct/100/latest", "-o", file, "--force"},
                                             {"ct/100/latest", "-o", out_, "--force"},
                                             {"--force", "ct/100/latest"}}) {
    Output o = Export(args);
    EXPECT_EQ(o.code, 0) << o.all();
  }
  for (const std::string& path : {file, out_ + "/" + name, cwd_ + "/" + name}) {
    EXPECT_EQ(KindOfFile(path), "zstd") << path;
    EXPECT_EQ(Kind(Decompressed(path)), "tar") << path;
  }
  EXPECT_EQ(Listing(out_), (Lines{"mine.tar.zst", name})) << "a .dat is left";
  EXPECT_EQ(Listing(cwd_), Lines{name}) << "a .dat is left";
}

// vzdump's notes and log beside the archive, so that Proxmox VE shows them
// and an import of the folder brings them back.
TEST_F(ExportTest, TheNoteAndTheLogGoBesideTheArchiveAndComeBackWithIt) {
  const std::string ct =
      ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "zstd", dump_);
  WriteFile(ct + ".notes", "web server\nsecond line\n");
  WriteFile(dump_ + "/vzdump-lxc-100-2026_12_01-02_00_00.log",
            "INFO: starting new backup job\nINFO: done\n");
  VmArchive("vzdump-qemu-101-2026_12_01-03_00_00",
            ShuffledVm(TwoDisks(), 6, UtcSeconds(2026, 12, 1, 2, 0, 5)), "zstd", dump_);
  WriteFile(dump_ + "/vzdump-qemu-101-2026_12_01-03_00_00.log", "INFO: VM 101 done\n");
  ContainerArchive("vzdump-lxc-102-2026_12_01-02_30_00", "bare", "zstd", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);
  ASSERT_EQ(Info("ct/100/2026-12-01T01:00:00Z").value("note", ""), "web server\nsecond line\n");

  for (const char* snapshot : {"ct/100/latest", "vm/101/latest", "ct/102/latest"}) {
    Output o = Export({snapshot, "-o", out_});
    ASSERT_EQ(o.code, 0) << o.all();
  }
  EXPECT_EQ(Listing(out_), (Lines{"vzdump-lxc-100-2026_12_01-02_00_00.log",
                                  "vzdump-lxc-100-2026_12_01-02_00_00.tar.zst",
                                  "vzdump-lxc-100-2026_12_01-02_00_00.tar.zst.notes",
                                  "vzdump-lxc-102-2026_12_01-02_30_00.tar.zst",
                                  "vzdump-qemu-101-2026_12_01-03_00_00.log",
                                  "vzdump-qemu-101-2026_12_01-03_00_00.vma.zst"}));
  EXPECT_EQ(ReadFile(out_ + "/vzdump-lxc-100-2026_12_01-02_00_00.tar.zst.notes"),
            "web server\nsecond line\n");
  EXPECT_EQ(ReadFile(out_ + "/vzdump-lxc-100-2026_12_01-02_00_00.log"),
            "INFO: starting new backup job\nINFO: done\n");
  EXPECT_EQ(ReadFile(out_ + "/vzdump-qemu-101-2026_12_01-03_00_00.log"), "INFO: VM 101 done\n");

  // Beside a file named by -o, named after it.
  const std::string elsewhere = tmp_ / "elsewhere";
  ASSERT_EQ(mkdir(elsewhere.c_str(), 0755), 0);
  Output named = Export({"ct/100/latest", "-o", elsewhere + "/guest.tar.gz"});
  ASSERT_EQ(named.code, 0) << named.all();
  EXPECT_EQ(Listing(elsewhere), (Lines{"guest.log", "guest.tar.gz", "guest.tar.gz.notes"}));
  EXPECT_EQ(ReadFile(elsewhere + "/guest.tar.gz.notes"), "web server\nsecond line\n");
  EXPECT_EQ(ReadFile(elsewhere + "/guest.log"), "INFO: starting new backup job\nINFO: done\n");

  // Another repository imports the folder: the snapshots, their notes and logs.
  UseNewRepository(tmp_ / "repo2");
  Output o = Import({out_});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(Snapshots().size(), 3u);
  const nlohmann::json with_note = Info("ct/100/2026-12-01T01:00:00Z");
  EXPECT_EQ(with_note.value("note", ""), "web server\nsecond line\n");
  Output log = Coffer({"info", "--log", "ct/100/2026-12-01T01:00:00Z"});
  EXPECT_EQ(log.code, 0) << log.all();
  EXPECT_EQ(log.out, "INFO: starting new backup job\nINFO: done\n");
  Output vm_log = Coffer({"info", "--log", "vm/101/2026-12-01T02:00:00Z"});
  EXPECT_EQ(vm_log.code, 0) << vm_log.all();
  EXPECT_EQ(vm_log.out, "INFO: VM 101 done\n");
  EXPECT_EQ(Info("vm/101/2026-12-01T02:00:00Z").value("note", "?"), "");
  const nlohmann::json bare = Info("ct/102/2026-12-01T01:30:00Z");
  EXPECT_EQ(bare.value("note", "?"), "");
  EXPECT_EQ(bare.value("log_bytes", -1), 0);
}

// host/NAME and other groups have no vzdump name and no default format.
TEST_F(ExportTest, OtherGroupsNeedAFormatAndAPlace) {
  const std::string source = tmp_ / "src";
  ASSERT_EQ(mkdir(source.c_str(), 0755), 0);
  WriteFile(source + "/hello.txt", "hello\n");
  ASSERT_EQ(mkdir((source + "/sub").c_str(), 0755), 0);
  WriteFile(source + "/sub/below.txt", "below\n");
  group_ = "host/x";
  Backup({source});

  Output no_format = Export({"host/x/latest", "-o", out_ + "/x.tar"});
  EXPECT_EQ(no_format.code, 2) << no_format.all();
  EXPECT_NE(no_format.err.find("--format"), std::string::npos) << no_format.err;
  Output no_place = Export({"host/x/latest", "--format", "tar"});
  EXPECT_EQ(no_place.code, 2) << no_place.all();
  EXPECT_NE(no_place.err.find("-o"), std::string::npos) << no_place.err;
  // A directory tree is no VM.
  Output not_a_vm = Export({"host/x/latest", "--format", "vma", "-o", out_ + "/x.vma"});
  EXPECT_EQ(not_a_vm.code, 2) << not_a_vm.all();
  EXPECT_EQ(Listing(out_), Lines{});
  EXPECT_EQ(Listing(cwd_), Lines{});

  Output tar = Export({"host/x/latest", "--format", "tar", "-o", out_ + "/x.tar"});
  ASSERT_EQ(tar.code, 0) << tar.all();
  const Lines members = TarMembers(out_ + "/x.tar");
  EXPECT_NE(std::find(members.begin(), members.end(), "./" + InSnapshot(source) + "/sub/below.txt"),
            members.end())
      << testing::MustRun({"tar", "-tf", out_ + "/x.tar"});

  // A VM's files imported into another group: a VMA with --format vma,
  // the same disks when imported again.
  const VmaTestOptions vm = ShuffledVm(TwoDisks(), 7, UtcSeconds(2026, 12, 1, 2, 0, 5));
  const std::string vma = VmArchive("guest", vm, "none", stage_);
  ASSERT_EQ(Import({"--group", "host/vmcopy", "--time", "2026-12-01T02:00:00Z", vma}).code, 0);
  Output vm_no_format = Export({"host/vmcopy/latest", "-o", out_ + "/copy.vma"});
  EXPECT_EQ(vm_no_format.code, 2) << vm_no_format.all();
  Output vm_export = Export({"host/vmcopy/latest", "--format", "vma", "-o", out_ + "/copy.vma"});
  ASSERT_EQ(vm_export.code, 0) << vm_export.all();
  EXPECT_EQ(KindOfFile(out_ + "/copy.vma"), "vma");
  ASSERT_EQ(
      Import({"--group", "vm/555", "--time", "2026-12-01T02:00:00Z", out_ + "/copy.vma"}).code, 0);
  EXPECT_EQ(Tree("vm/555/latest"), Tree("host/vmcopy/latest"))
      << ListingDifference("host/vmcopy/latest", "vm/555/latest");

  // Regular files at the root but no disk: no VM either.
  const std::string config_only = tmp_ / "config-only";
  ASSERT_EQ(mkdir(config_only.c_str(), 0755), 0);
  WriteFile(config_only + "/qemu-server.conf", "boot: c\n");
  testing::MustRun(
      {"tar", "cf", stage_ + "/config-only.tar", "-C", config_only, "./qemu-server.conf"});
  ASSERT_EQ(Import({"--group", "host/noimg", stage_ + "/config-only.tar"}).code, 0);
  Output no_disk = Export({"host/noimg/latest", "--format", "vma", "-o", out_ + "/noimg.vma"});
  EXPECT_EQ(no_disk.code, 2) << no_disk.all();
  EXPECT_FALSE(std::filesystem::exists(out_ + "/noimg.vma"));
  EXPECT_FALSE(std::filesystem::exists(out_ + "/noimg.vma.dat"));
}

// Damaged data fails the export and leaves nothing: neither an archive nor
// its .dat, and an archive that was there stays as it was.
TEST_F(ExportTest, DamagedDataFailsAContainersExportAndLeavesNoArchive) {
  ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "none", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);
  ASSERT_TRUE(KillServersOf(repo_));
  ASSERT_GT(FlipMiddleOfBlobFiles(repo_ + "/db"), 0) << "no blob files: chunk data is elsewhere";

  Output to_folder = Export({"ct/100/latest", "-o", out_});
  EXPECT_EQ(to_folder.code, 4) << to_folder.all();
  EXPECT_EQ(Listing(out_), Lines{});
  Output here = Export({"ct/100/latest"});
  EXPECT_EQ(here.code, 4) << here.all();
  EXPECT_EQ(Listing(cwd_), Lines{});
  WriteFile(out_ + "/kept.tar", "the archive that was there");
  Output forced = Export({"ct/100/latest", "-o", out_ + "/kept.tar", "--force"});
  EXPECT_EQ(forced.code, 4) << forced.all();
  EXPECT_EQ(ReadFile(out_ + "/kept.tar"), "the archive that was there");
  EXPECT_EQ(Listing(out_), Lines{"kept.tar"});
}

TEST_F(ExportTest, DamagedDataFailsAVmsExportAndLeavesNoArchive) {
  VmArchive("vzdump-qemu-101-2026_12_01-03_00_00",
            ShuffledVm(TwoDisks(), 8, UtcSeconds(2026, 12, 1, 2, 0, 5)), "none", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);
  ASSERT_TRUE(KillServersOf(repo_));
  ASSERT_GT(FlipMiddleOfBlobFiles(repo_ + "/db"), 0) << "no blob files: chunk data is elsewhere";

  Output to_folder = Export({"vm/101/latest", "-o", out_});
  EXPECT_EQ(to_folder.code, 4) << to_folder.all();
  EXPECT_EQ(Listing(out_), Lines{});
  Output here = Export({"vm/101/latest"});
  EXPECT_EQ(here.code, 4) << here.all();
  EXPECT_EQ(Listing(cwd_), Lines{});
}

TEST_F(ExportTest, AnUnknownSnapshotOrBadOptionIsRefusedAsEveryCommandRefusesIt) {
  ContainerArchive("vzdump-lxc-100-2026_12_01-02_00_00", "ct", "none", dump_);
  ASSERT_EQ(Import({dump_}).code, 0);
  for (const char* snapshot :
       {"ct/100/2026-12-02T01:00:00Z", "ct/999/latest", "ct/100/yesterday"}) {
    SCOPED_TRACE(snapshot);
    Output info = Coffer({"info", snapshot});
    ASSERT_NE(info.code, 0);
    Output o = Export({snapshot, "-o", out_});
    EXPECT_EQ(o.code, info.code) << o.all();
    EXPECT_NE(o.err, "");
  }
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"ct/100/latest", "--compress", "bzip2"},
                                             {"ct/100/latest", "--format", "zip"},
                                             {"ct/100/latest", "--format"},
                                             {"ct/100/latest", "-o"},
                                             {}}) {
    Output o = Export(args);
    EXPECT_EQ(o.code, 2) << o.all();
  }
  EXPECT_EQ(Listing(out_), Lines{});
  EXPECT_EQ(Listing(cwd_), Lines{});

  // A folder that is not there cannot be written to.
  Output missing = Export({"ct/100/latest", "-o", tmp_ / "not-there/ct.tar"});
  EXPECT_EQ(missing.code, 1) << missing.all();
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "not-there"));
}

}  // namespace
}  // namespace coffer::e2e
