// coffer-vzdump-hook run as vzdump runs it: through a symlink of that name to
// the built binary, with PHASE MODE VMID as its arguments and vzdump's
// variables as its whole environment, against a real repository, on
// container archives made by GNU tar and VM archives in VMA.
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"
#include "tests/testing/archive_fixtures.h"
#include "tests/testing/fs_fixtures.h"
#include "tests/testing/vma_test_writer.h"

namespace coffer::e2e {
namespace {

// vzdump names archives in the host's local time; the hook runs with TZ=UTC
// so that these names are these times wherever the test runs.
constexpr const char* kCtBase = "vzdump-lxc-101-2026_12_01-02_00_05";
constexpr const char* kCtSnapshot = "ct/101/2026-12-01T02:00:05Z";
constexpr const char* kVmBase = "vzdump-qemu-102-2026_12_01-02_10_00";
constexpr const char* kVmSnapshot = "vm/102/2026-12-01T02:10:00Z";

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::string AsString(const Bytes& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Whether `text` (a process's standard output or error) holds `needle`.
::testing::AssertionResult Says(const std::string& text, const std::string& needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no \"" << needle << "\" in:\n" << text;
}

class VzdumpHookTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    dump_ = tmp_ / "dump";
    ASSERT_EQ(mkdir(dump_.c_str(), 0755), 0);
    hook_ = tmp_ / "coffer-vzdump-hook";
    ASSERT_EQ(symlink(COFFER_BINARY, hook_.c_str()), 0);
    passphrase_file_ = tmp_ / "passphrase";
    testing::WriteFile(passphrase_file_, passphrase_ + "\n");
    config_ = tmp_ / "vzdump-hook.conf";
    WriteConfig(repo_, "");
  }
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  void WriteConfig(const std::string& repository, const std::string& more) {
    testing::WriteFile(config_, "# Where vzdump's archives go.\nrepository=" + repository +
                                    "\n\npassphrase-file = " + passphrase_file_ + "\n" + more);
  }

  // `HOOK ARGS...` with nothing in its environment but `env`, as vzdump
  // starts it, and the config file's name and the time zone.
  Output Hook(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<std::string> argv = {"env", "-i", "COFFER_VZDUMP_HOOK_CONFIG=" + config_, "TZ=UTC"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(hook_);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

  // What vzdump sets in the phases of one guest, plus `more`.
  std::vector<std::string> GuestEnv(const std::string& vmtype, std::vector<std::string> more) {
    std::vector<std::string> env = {"VMTYPE=" + vmtype, "DUMPDIR=" + dump_, "STOREID=local",
                                    "HOSTNAME=guest" + vmtype};
    env.insert(env.end(), more.begin(), more.end());
    return env;
  }

  // backup-end of container 101, as vzdump runs it once TARGET is written.
  Output CtBackupEnd(const std::string& target) {
    return Hook({"backup-end", "snapshot", "101"}, GuestEnv("lxc", {"TARGET=" + target}));
  }
  Output VmBackupEnd(const std::string& target) {
    return Hook({"backup-end", "snapshot", "102"}, GuestEnv("qemu", {"TARGET=" + target}));
  }

  // A container backup as vzdump writes it: GNU tar, gzip (read through
  // `gzip -d`, which the hook must find with no PATH set).
  std::string MakeCtArchive() {
    const std::string root = tmp_ / "ct-root";
    const std::string config = tmp_ / "ct-config";
    EXPECT_EQ(mkdir(root.c_str(), 0755), 0);
    EXPECT_EQ(mkdir((root + "/etc").c_str(), 0755), 0);
    testing::WriteFile(root + "/etc/hostname", "ct101\n");
    testing::WriteFile(root + "/data.bin", testing::RandomBytes(700'000, 11));
    EXPECT_EQ(symlink("data.bin", (root + "/data-link").c_str()), 0);
    testing::MakeVzdumpConfig(config);
    const std::string tar = dump_ + "/" + kCtBase + ".tar";
    testing::MakeVzdumpTar(config, root, tar);
    const std::string archive = testing::Compress(tar, "gzip");
    EXPECT_EQ(unlink(tar.c_str()), 0);  // vzdump writes only the compressed one
    return archive;
  }

  // A VM with one disk of 20 clusters and its config.
  testing::VmaTestOptions Vm() {
    testing::VmaTestOptions vm;
    vm.devices.push_back({"drive-scsi0",
                          20 * testing::vma_layout::kCluster + 4096,
                          testing::VmaPatternContent(7),
                          {},
                          0});
    const std::string conf = "boot: order=scsi0\nmemory: 2048\nscsi0: local-lvm:vm-102-disk-0\n";
    vm.configs.push_back({"qemu-server.conf", Bytes(conf.begin(), conf.end())});
    return vm;
  }
  // The VM's archive as vzdump writes it with zstd.
  std::string MakeVmArchive() {
    const std::string vma = dump_ + "/" + kVmBase + ".vma";
    testing::WriteFile(vma, AsString(testing::WriteVma(Vm()).bytes));
    const std::string archive = testing::Compress(vma, "zstd");
    EXPECT_EQ(unlink(vma.c_str()), 0);
    return archive;
  }

  nlohmann::json Info(const std::string& snapshot) {
    Output o = Coffer({"info", "--json", snapshot});
    EXPECT_EQ(o.code, 0) << o.all();
    auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    return j.is_object() ? j : nlohmann::json::object();
  }

  std::string dump_, hook_, passphrase_file_, config_;
};

TEST_F(VzdumpHookTest, AContainerArchiveIsImportedAndItsLogJoinsTheSnapshot) {
  const std::string archive = MakeCtArchive();
  testing::WriteFile(archive + ".notes", "web server\n");

  Output end = CtBackupEnd(archive);
  ASSERT_EQ(end.code, 0) << end.all();
  EXPECT_TRUE(Says(end.out, "imported " + archive + " as " + std::string(kCtSnapshot)));
  auto snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0]["name"], kCtSnapshot);
  EXPECT_EQ(Coffer({"cat", kCtSnapshot, "etc/hostname"}).out, "ct101\n");
  EXPECT_EQ(Coffer({"cat", kCtSnapshot, "data.bin"}).out, testing::RandomBytes(700'000, 11));
  EXPECT_NE(Coffer({"cat", kCtSnapshot, "etc/vzdump/pct.conf"}).out.find("hostname: ct100"),
            std::string::npos);
  EXPECT_EQ(Info(kCtSnapshot)["note"], "web server\n");
  EXPECT_TRUE(Exists(archive)) << "removed without delete-after-import";

  // vzdump copies the task's log beside the archive after backup-end.
  const std::string log = dump_ + "/" + kCtBase + ".log";
  const std::string log_text = "INFO: Starting Backup of VM 101 (lxc)\nINFO: Finished Backup\n";
  testing::WriteFile(log, log_text);
  Output log_end = Hook({"log-end", "snapshot", "101"}, GuestEnv("lxc", {"LOGFILE=" + log}));
  ASSERT_EQ(log_end.code, 0) << log_end.all();
  EXPECT_TRUE(Says(log_end.out, "kept " + log + " as the log of " + kCtSnapshot));
  Output shown = Coffer({"info", "--log", kCtSnapshot});
  EXPECT_EQ(shown.code, 0) << shown.all();
  EXPECT_EQ(shown.out, log_text);
  EXPECT_EQ(Info(kCtSnapshot)["note"], "web server\n") << "the log replaced the note's comment";
  EXPECT_TRUE(Exists(log));
}

TEST_F(VzdumpHookTest, WithDeleteAfterImportAVmArchiveIsVerifiedThenRemoved) {
  WriteConfig(repo_, "delete-after-import=yes\n");
  const std::string archive = MakeVmArchive();
  testing::WriteFile(archive + ".notes", "database\n");

  Output end = VmBackupEnd(archive);
  ASSERT_EQ(end.code, 0) << end.all();
  EXPECT_TRUE(Says(end.out, "imported " + archive + " as " + std::string(kVmSnapshot)));
  EXPECT_TRUE(Says(end.out, "verified " + std::string(kVmSnapshot)));
  EXPECT_TRUE(Says(end.out, "removed " + archive));
  EXPECT_FALSE(Exists(archive));
  EXPECT_FALSE(Exists(archive + ".notes"));

  EXPECT_EQ(Coffer({"cat", kVmSnapshot, "drive-scsi0.img"}).out,
            AsString(testing::VmaDeviceImage(Vm().devices[0])));
  EXPECT_EQ(Coffer({"cat", kVmSnapshot, "qemu-server.conf"}).out,
            "boot: order=scsi0\nmemory: 2048\nscsi0: local-lvm:vm-102-disk-0\n");
  auto snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0]["last_verify"]["ok"], true) << snapshots.dump();
  // Recording the verification kept the note the import wrote.
  EXPECT_EQ(Info(kVmSnapshot)["note"], "database\n");

  // With its archive gone, nothing else would ever remove the log.
  const std::string log = dump_ + "/" + kVmBase + ".log";
  testing::WriteFile(log, "INFO: Starting Backup of VM 102 (qemu)\n");
  Output log_end = Hook({"log-end", "snapshot", "102"}, GuestEnv("qemu", {"LOGFILE=" + log}));
  ASSERT_EQ(log_end.code, 0) << log_end.all();
  EXPECT_EQ(Coffer({"info", "--log", kVmSnapshot}).out, "INFO: Starting Backup of VM 102 (qemu)\n");
  EXPECT_FALSE(Exists(log));
  EXPECT_EQ(Info(kVmSnapshot)["note"], "database\n");
}

// A repository whose key is kept in a key file (init --key-file): the
// config's key-file= is the only place the hook, run by vzdump with an empty
// environment, learns of it.
TEST_F(VzdumpHookTest, ARepositoryWithAKeyFileIsOpenedWithTheConfigsKeyFile) {
  const std::string repo = tmp_ / "keyless", key_file = tmp_ / "repo.key";
  Output init = CofferRaw(
      {"-r", repo, "--key-file", key_file, "init", "--kdf-ops", "1", "--kdf-memory", "8K"},
      PassEnv());
  ASSERT_EQ(init.code, 0) << init.all();
  const std::string archive = MakeCtArchive();
  WriteConfig(repo, "");
  Output refused = CtBackupEnd(archive);
  EXPECT_EQ(refused.code, 4) << "no key without key-file=: " << refused.all();
  WriteConfig(repo, "key-file=" + key_file + "\n");
  Output end = CtBackupEnd(archive);
  ASSERT_EQ(end.code, 0) << end.all();
  EXPECT_TRUE(Says(end.out, "imported " + archive + " as " + std::string(kCtSnapshot)));
  std::vector<std::string> env = PassEnv();
  env.push_back("COFFER_KEY_FILE=" + key_file);
  EXPECT_EQ(CofferRaw({"-r", repo, "cat", kCtSnapshot, "etc/hostname"}, env).out, "ct101\n");
  EXPECT_TRUE(KillServersOf(repo));
}

TEST_F(VzdumpHookTest, OlderReleasesNameTheArchiveTarfile) {
  const std::string archive = MakeVmArchive();
  Output end = Hook({"backup-end", "stop", "102"}, GuestEnv("qemu", {"TARFILE=" + archive}));
  ASSERT_EQ(end.code, 0) << end.all();
  auto snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0]["name"], kVmSnapshot);
}

TEST_F(VzdumpHookTest, AProtectedArchiveIsNeverRemoved) {
  WriteConfig(repo_, "delete-after-import=yes\n");
  const std::string archive = MakeVmArchive();
  testing::WriteFile(archive + ".protected", "");
  Output end = VmBackupEnd(archive);
  ASSERT_EQ(end.code, 0) << end.all();
  EXPECT_TRUE(Says(end.out, archive + " is protected: kept"));
  EXPECT_TRUE(Exists(archive));
  auto snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0]["protected"], true);

  // Its log stays with it, for vzdump to remove with the archive.
  const std::string log = dump_ + "/" + kVmBase + ".log";
  testing::WriteFile(log, "log\n");
  Output log_end = Hook({"log-end", "snapshot", "102"}, GuestEnv("qemu", {"LOGFILE=" + log}));
  ASSERT_EQ(log_end.code, 0) << log_end.all();
  EXPECT_TRUE(Exists(log));
}

TEST_F(VzdumpHookTest, ADamagedArchiveFailsTheBackupKeepsTheArchiveAndCommitsNothing) {
  WriteConfig(repo_, "delete-after-import=yes\n");
  const std::string vm_archive = dump_ + "/" + kVmBase + ".vma";
  const Bytes whole = testing::WriteVma(Vm()).bytes;
  const std::string cut = AsString(whole).substr(0, whole.size() / 2);
  testing::WriteFile(vm_archive, cut);
  testing::WriteFile(vm_archive + ".notes", "notes\n");

  Output vm = VmBackupEnd(vm_archive);
  EXPECT_EQ(vm.code, 5) << vm.all();
  EXPECT_TRUE(Says(vm.err, vm_archive + " is kept"));
  EXPECT_EQ(testing::ReadFile(vm_archive), cut);
  EXPECT_TRUE(Exists(vm_archive + ".notes"));

  // A gzip stream that ends early: gzip -d fails.
  const std::string ct_archive = MakeCtArchive();
  const std::string full = testing::ReadFile(ct_archive);
  testing::WriteFile(ct_archive, full.substr(0, full.size() / 2));
  Output ct = CtBackupEnd(ct_archive);
  EXPECT_EQ(ct.code, 5) << ct.all();
  EXPECT_TRUE(Exists(ct_archive));
  EXPECT_TRUE(Snapshots().empty());

  // What vzdump runs next for the failed guest.
  Output abort = Hook({"backup-abort", "snapshot", "102"}, GuestEnv("qemu", {}));
  EXPECT_EQ(abort.code, 0) << abort.all();
  EXPECT_TRUE(Says(abort.out, "nothing was imported"));
  const std::string log = dump_ + "/" + kVmBase + ".log";
  testing::WriteFile(log, "ERROR: Backup of VM 102 failed\n");
  Output log_end = Hook({"log-end", "snapshot", "102"}, GuestEnv("qemu", {"LOGFILE=" + log}));
  EXPECT_EQ(log_end.code, 0) << log_end.all();
  EXPECT_TRUE(Says(log_end.out, "no snapshot " + std::string(kVmSnapshot)));
  EXPECT_TRUE(Exists(log));
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(VzdumpHookTest, OnlyBackupEndAndLogEndOpenTheRepository) {
  const std::string missing = tmp_ / "no-repository";
  WriteConfig(missing, "");
  for (const char* phase : {"job-init", "job-start", "job-end", "job-abort"}) {
    Output o = Hook({phase}, {"DUMPDIR=" + dump_, "STOREID=local"});
    EXPECT_EQ(o.code, 0) << phase << ": " << o.all();
    EXPECT_EQ(o.all(), "") << phase;
  }
  for (const char* phase : {"backup-start", "pre-stop", "pre-restart", "post-restart"}) {
    Output o = Hook({phase, "suspend", "101"}, GuestEnv("lxc", {}));
    EXPECT_EQ(o.code, 0) << phase << ": " << o.all();
    EXPECT_EQ(o.all(), "") << phase;
  }
  EXPECT_FALSE(Exists(missing));

  // Nor do they read the config: a broken one must not stop vzdump from
  // writing its archives.
  testing::WriteFile(config_, "this is not a config\n");
  EXPECT_EQ(Hook({"job-start"}, {"DUMPDIR=" + dump_}).code, 0);
  // A phase a newer vzdump may add.
  Output unknown = Hook({"backup-someday", "snapshot", "101"}, GuestEnv("lxc", {}));
  EXPECT_EQ(unknown.code, 0) << unknown.all();

  // backup-end does open it, and fails the backup when it is missing.
  WriteConfig(missing, "delete-after-import=yes\n");
  const std::string archive = MakeVmArchive();
  Output end = VmBackupEnd(archive);
  EXPECT_EQ(end.code, 10) << end.all();
  EXPECT_TRUE(Exists(archive));
}

TEST_F(VzdumpHookTest, ABadConfigExitsTwoNamingTheFileAndLine) {
  const std::string archive = MakeVmArchive();
  const std::string good = "repository=" + repo_ + "\npassphrase-file=" + passphrase_file_ + "\n";
  struct Case {
    std::string text;
    std::string where;  // FILE:LINE
    std::string says;
  };
  const std::vector<Case> cases = {
      {"# comment\nrepository " + repo_ + "\n", ":2:", "is not KEY=VALUE"},
      {good + "colour=blue\n", ":3:", "unknown key 'colour'"},
      {good + "delete-after-import=maybe\n", ":3:", "give yes or no"},
      {"repository=srv/coffer\n", ":1:", "give an absolute path"},
      {good + "\n  repository=" + repo_ + "\n", ":4:", "repository is set twice"},
      {good + "token-file=\n", ":3:", "token-file has no value"},
      {good + "=value\n", ":3:", "no key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    testing::WriteFile(config_, c.text);
    Output o = VmBackupEnd(archive);
    EXPECT_EQ(o.code, 2) << o.all();
    EXPECT_TRUE(Says(o.err, config_ + c.where));
    EXPECT_TRUE(Says(o.err, c.says));
  }
  EXPECT_TRUE(Snapshots().empty());

  // A config file that is named must exist; here through --config of
  // `coffer vzdump-hook`, which the link runs.
  Output named = RunProcess({"env", "-i", "TARGET=" + archive, COFFER_BINARY, "vzdump-hook",
                             "--config", tmp_ / "none.conf", "backup-end", "snapshot", "102"});
  EXPECT_EQ(named.code, 2) << named.all();
  EXPECT_TRUE(Says(named.err, tmp_ / "none.conf"));
}

TEST_F(VzdumpHookTest, NothingToImportFromStandardOutputOrProxmoxBackupServer) {
  Output stdout_mode = VmBackupEnd("-");
  EXPECT_EQ(stdout_mode.code, 0) << stdout_mode.all();
  EXPECT_TRUE(Says(stdout_mode.out, "nothing to import"));
  // Proxmox Backup Server: no DUMPDIR, TARGET names the snapshot there.
  Output pbs = Hook({"backup-end", "snapshot", "102"},
                    {"VMTYPE=qemu", "STOREID=pbs", "TARGET=" + std::string(kVmSnapshot)});
  EXPECT_EQ(pbs.code, 0) << pbs.all();
  EXPECT_TRUE(Says(pbs.out, "nothing to import"));
  Output pbs_log = Hook({"log-end", "snapshot", "102"}, {"VMTYPE=qemu", "STOREID=pbs"});
  EXPECT_EQ(pbs_log.code, 0) << pbs_log.all();
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(VzdumpHookTest, TheEnvironmentWinsOverTheConfigFile) {
  WriteConfig(tmp_ / "no-repository", "");
  const std::string archive = MakeVmArchive();
  Output end = Hook({"backup-end", "snapshot", "102"},
                    GuestEnv("qemu", {"TARGET=" + archive, "COFFER_REPO=" + repo_}));
  ASSERT_EQ(end.code, 0) << end.all();
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(VzdumpHookTest, TheLinkRunsTheCommandWithItsHelp) {
  Output help = RunProcess({hook_, "--help"});
  EXPECT_EQ(help.code, 0) << help.all();
  EXPECT_TRUE(Says(help.out, "vzdump-hook"));
  EXPECT_TRUE(Says(help.out, "--config"));
  Output no_phase = RunProcess({hook_});
  EXPECT_EQ(no_phase.code, 2) << no_phase.all();
}

}  // namespace
}  // namespace coffer::e2e
