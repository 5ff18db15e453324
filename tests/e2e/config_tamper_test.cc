// The repository does not decide by itself whether it is encrypted: a config
// changed by whoever holds the repository stops every command (exit 4) before
// anything is stored in plaintext, an unencrypted repository is opened only
// with --allow-unencrypted, and the server keeps the config and the key
// write-once.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "store/kv/database.h"
#include "store/model/coffer.pb.h"
#include "store/model/tree.h"
#include "store/repo/layout.h"
#include "store/service/address.h"
#include "store/service/remote_object_store.h"
#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;

const std::string kMarker = "Config tamper marker 5c1d2e0f: must never be stored as plaintext.";

// Entries per column family of the (closed) database at `db`.
struct Counts {
  size_t chunks = 0, trees = 0, snapshots = 0;
  bool operator==(const Counts&) const = default;
};

class ConfigTamperTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    mkdir(source_.c_str(), 0755);
    // Incompressible around the marker, so that a plaintext copy would hold
    // it verbatim (zstd stores what does not shrink as it is).
    WriteFile(source_ + "/marker.txt", RandomBytes(50000, 1) + kMarker + RandomBytes(50000, 2));
  }
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  // Opens the database of the repository, its servers stopped, as whoever
  // holds the repository can.
  std::unique_ptr<kv::Database> Db() {
    EXPECT_TRUE(KillServersOf(repo_));
    auto db = kv::Database::Open(RepoLayout(repo_).db());
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }
  void ClearEncryptedFlag() {
    auto db = Db();
    ASSERT_NE(db, nullptr);
    auto bytes = db->Get(kv::Column::kMeta, "config");
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    pb::RepoConfig config;
    ASSERT_TRUE(config.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())));
    ASSERT_TRUE(config.encrypted());
    config.set_encrypted(false);
    ASSERT_TRUE(
        db->Put(kv::Column::kMeta, "config", model::Encode(config), kv::Durability::kSynced).ok());
  }
  Counts Count() {
    auto db = Db();
    Counts counts;
    if (db == nullptr) return counts;
    auto count = [&](kv::Column column, size_t* n) {
      EXPECT_TRUE(db->ScanKeys(column, [&](std::string_view) {
                      ++*n;
                      return true;
                    }).ok());
    };
    count(kv::Column::kChunks, &counts.chunks);
    count(kv::Column::kTrees, &counts.trees);
    count(kv::Column::kSnapshots, &counts.snapshots);
    return counts;
  }
  void ExpectNoPlaintext() {
    EXPECT_TRUE(KillServersOf(repo_));
    for (const std::string& path : FilesBelow(repo_)) {
      EXPECT_EQ(ReadFile(path).find(kMarker), std::string::npos) << path << " holds plaintext";
    }
  }

  std::string source_;
};

TEST_F(ConfigTamperTest, AClearedEncryptedFlagStopsEveryCommand) {
  Backup({source_});
  ClearEncryptedFlag();
  const Counts before = Count();
  ASSERT_EQ(before.snapshots, 1u);

  const std::string target = tmp_ / "restore";
  // A backup to a new group would not even need to read the old snapshots.
  const std::vector<std::vector<std::string>> commands = {
      {"backup", "--group", "host/other", source_},
      {"snapshots"},
      {"restore", "--target", target, group_ + "/latest"},
      {"verify"},
      {"ls", group_ + "/latest"},
      {"cat", group_ + "/latest", InSnapshot(source_) + "/marker.txt"},
      {"gc"},
  };
  for (const auto& args : commands) {
    for (bool allow : {false, true}) {
      SCOPED_TRACE(args[0] + (allow ? " --allow-unencrypted" : ""));
      std::vector<std::string> full = args;
      if (allow) full.push_back("--allow-unencrypted");
      Output o = Coffer(full);
      EXPECT_EQ(o.code, 4) << o.all();
      EXPECT_NE(o.err.find("config says the repository is unencrypted, but it holds an encryption "
                           "key"),
                std::string::npos)
          << o.err;
      EXPECT_EQ(o.out.find(kMarker), std::string::npos);
    }
  }
  EXPECT_EQ(Count(), before) << "something was stored";
  ExpectNoPlaintext();
  struct stat st;
  EXPECT_NE(stat(target.c_str(), &st), 0) << "the restore wrote files";
}

TEST_F(ConfigTamperTest, AChangedConfigFieldIsReportedAsDamage) {
  Backup({source_});
  {
    auto db = Db();
    ASSERT_NE(db, nullptr);
    auto bytes = db->Get(kv::Column::kMeta, "config");
    ASSERT_TRUE(bytes.ok());
    pb::RepoConfig config;
    ASSERT_TRUE(config.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())));
    config.set_zstd_level(19);
    ASSERT_TRUE(
        db->Put(kv::Column::kMeta, "config", model::Encode(config), kv::Durability::kSynced).ok());
  }
  Output o = Coffer({"snapshots"});
  EXPECT_EQ(o.code, 4) << o.all();
  EXPECT_NE(o.err.find("the repository config does not match its authentication code"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << "one line: " << o.err;
}

TEST_F(ConfigTamperTest, AnUnencryptedRepositoryIsOpenedOnlyWithTheOption) {
  repo_ = tmp_ / "plain";
  Output init = CofferRaw({"-r", repo_, "init", "--encryption", "none"});
  ASSERT_EQ(init.code, 0) << init.all();
  EXPECT_NE(init.err.find("--allow-unencrypted"), std::string::npos) << init.err;

  const std::string target = tmp_ / "restore";
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"backup", "--group", group_, source_}, {"snapshots"}, {"verify"}}) {
    SCOPED_TRACE(args[0]);
    std::vector<std::string> argv = {"-r", repo_};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::vector<std::string>& env :
         std::vector<std::vector<std::string>>{{}, {"COFFER_ALLOW_UNENCRYPTED=0"}}) {
      Output refused = CofferRaw(argv, env);
      EXPECT_EQ(refused.code, 4) << refused.all();
      EXPECT_NE(refused.err.find("claims to be unencrypted"), std::string::npos) << refused.err;
      EXPECT_NE(refused.err.find("--allow-unencrypted"), std::string::npos) << refused.err;
    }
  }
  EXPECT_EQ(Count().snapshots, 0u);

  Output backup =
      CofferRaw({"-r", repo_, "--allow-unencrypted", "backup", "--group", group_, source_});
  ASSERT_EQ(backup.code, 0) << backup.all();
  Output restore = CofferRaw({"-r", repo_, "restore", "--target", target, group_ + "/latest"},
                             {"COFFER_ALLOW_UNENCRYPTED=1"});
  EXPECT_EQ(restore.code, 0) << restore.all();
  EXPECT_EQ(ReadFile(target + source_ + "/marker.txt"), ReadFile(source_ + "/marker.txt"));
  Output refused =
      CofferRaw({"-r", repo_, "restore", "--target", tmp_ / "again", group_ + "/latest"});
  EXPECT_EQ(refused.code, 4) << refused.all();
  Output verify = CofferRaw({"-r", repo_, "verify"}, {"COFFER_ALLOW_UNENCRYPTED=true"});
  EXPECT_EQ(verify.code, 0) << verify.all();
}

TEST_F(ConfigTamperTest, TheServerRefusesToOverwriteTheKeyOrTheConfig) {
  Backup({source_});
  // A listing starts a server and leaves it running (a backup holds the
  // database itself); talk to it as any client could.
  Output listed = Coffer({"snapshots"});
  ASSERT_EQ(listed.code, 0) << listed.all();
  auto remote = service::RemoteObjectStore::Connect(service::DefaultServiceAddress(repo_));
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  for (const char* key : {"key", "config", "config-mac"}) {
    SCOPED_TRACE(key);
    Status s = (*remote)->PutMeta(key, AsBytes("replaced"));
    EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
    EXPECT_EQ(s.message(), "meta key " + std::string(key) + " is write-once");
  }
  remote->reset();
  EXPECT_EQ(Snapshots().size(), 1u);
  std::string restored = RestoreAll(group_ + "/latest");
  EXPECT_EQ(ReadFile(restored + source_ + "/marker.txt"), ReadFile(source_ + "/marker.txt"));
}

}  // namespace
}  // namespace coffer::e2e
