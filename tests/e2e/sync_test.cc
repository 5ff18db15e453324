// `coffer sync` end to end: copies to a folder and through `coffer serve`
// over TLS, made without the passphrase, then opened with it and restored;
// a sync killed half-way shows nothing at the copy and the next one sends
// only what had not arrived.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iterator>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

constexpr const char* kAppendToken = "e2e-sync-append-only-token-6b01f2";
constexpr const char* kToken = "e2e-sync-full-token-9a4c77";

class SyncTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    testing::MakeKitchenSinkTree(source_);
    copy_ = tmp_ / "copy";
  }
  void TearDown() override {
    if (server_) {
      kill(server_->pid(), SIGTERM);
      server_->Wait();
    }
    EXPECT_TRUE(KillServersOf(copy_));
  }

  // `coffer -r DIR ARGS` with the passphrase set (what a user of the copy runs).
  Output At(const std::string& dir, const std::vector<std::string>& args,
            std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {"-r", dir};
    argv.insert(argv.end(), args.begin(), args.end());
    env.push_back("COFFER_PASSPHRASE=" + passphrase_);
    return CofferRaw(argv, env);
  }
  // `coffer -r DIR ARGS` with no passphrase anywhere: sync must not need one.
  Output Keyless(const std::string& dir, const std::vector<std::string>& args,
                 const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"-r", dir};
    argv.insert(argv.end(), args.begin(), args.end());
    return CofferRaw(argv, env);
  }
  nlohmann::json Json(const Output& o) {
    EXPECT_EQ(o.code, 0) << o.all();
    return nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  }
  std::vector<std::string> Names(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& s : Json(At(dir, {"snapshots", "--json"}))) out.push_back(s["name"]);
    return out;
  }

  // The copy serves itself over TLS with an append-only and a full token.
  void ServeCopy() {
    ASSERT_TRUE(MakeCert(tmp_.path(), "server"));
    testing::WriteFile(tmp_ / "append.token", std::string(kAppendToken) + "\n");
    testing::WriteFile(tmp_ / "full.token", std::string(kToken) + "\n");
    server_ = StartTlsServer(
        copy_, tmp_.path(),
        {"--append-only-token-file", tmp_ / "append.token", "--token-file", tmp_ / "full.token"},
        &address_);
    ASSERT_TRUE(server_) << "coffer serve did not listen on " << address_;
  }

  std::string source_;
  std::string copy_;
  std::unique_ptr<Child> server_;
  std::string address_;
};

TEST_F(SyncTest, ACopyMadeWithoutThePassphraseRestoresWithIt) {
  Backup({source_});
  testing::WriteFile(source_ + "/added later", "new");
  Backup({source_});

  nlohmann::json report = Json(Keyless(repo_, {"sync", "--init", "--to", copy_, "--json"}));
  EXPECT_EQ(report["snapshots_copied"], 2);
  EXPECT_EQ(report["snapshots_skipped"].size(), 0u);
  EXPECT_GT(report["bytes_copied"].get<uint64_t>(), 0u);
  EXPECT_EQ(Names(copy_), Names(repo_));

  // Opened with the passphrase like any repository: verified and restored.
  Output verified = At(copy_, {"verify"});
  EXPECT_EQ(verified.code, 0) << verified.all();
  const std::string latest = Names(copy_).back();
  const std::string target = tmp_ / "restored";
  Output restored = At(copy_, {"restore", latest, "--target", target});
  ASSERT_EQ(restored.code, 0) << restored.all();
  EXPECT_EQ(testing::CompareTrees(source_, target + source_, geteuid() == 0),
            std::vector<std::string>{});

  // Nothing new: nothing copied, nothing read.
  report = Json(Keyless(repo_, {"sync", "--to", copy_, "--json"}));
  EXPECT_EQ(report["snapshots_copied"], 0);
  EXPECT_EQ(report["snapshots_present"], 2);
  EXPECT_EQ(report["objects_copied"], 0);
  EXPECT_EQ(report["bytes_copied"], 0);
}

// A first copy of every snapshot into a new folder is the repository's
// files copied whole, by the server that owns them (as fast as cp); the
// result is the replica an object-by-object copy makes.
TEST_F(SyncTest, AFirstCopyOfEverythingIntoANewFolderCopiesItsFilesWhole) {
  Backup({source_});
  testing::WriteFile(source_ + "/added later", "new");
  Backup({source_});
  const std::vector<std::string> names = Names(repo_);
  // Protection and notes belong to each repository: the copy has neither.
  ASSERT_EQ(Coffer({"protect", names.front()}).code, 0);
  ASSERT_EQ(Coffer({"verify", "--snapshot", names.back()}).code, 0);

  nlohmann::json report = Json(Keyless(repo_, {"sync", "--init", "--to", copy_, "--json"}));
  EXPECT_EQ(report["method"], "files");
  EXPECT_EQ(report["snapshots_copied"], 2);
  EXPECT_GT(report["objects_copied"].get<uint64_t>(), 10u);
  EXPECT_GT(report["files_copied"].get<uint64_t>(), 0u);
  EXPECT_GT(report["bytes_copied"].get<uint64_t>(), 0u);
  EXPECT_EQ(Names(copy_), names);
  for (const auto& s : Json(At(copy_, {"snapshots", "--json"}))) {
    EXPECT_EQ(s["protected"], false) << s["name"];
    EXPECT_TRUE(s["last_verify"].is_null()) << s["name"];
  }
  EXPECT_EQ(Json(At(repo_, {"snapshots", "--json"}))[0]["protected"], true);

  // The keyless check counts the objects the copy reported.
  nlohmann::json checked =
      Json(Keyless(copy_, {"verify", "--without-key", "--read-data", "--json"}));
  EXPECT_EQ(checked["ok"], true);
  EXPECT_EQ(checked["objects_read"], report["objects_copied"]);
  const std::string target = tmp_ / "restored";
  Output restored = At(copy_, {"restore", names.back(), "--target", target});
  ASSERT_EQ(restored.code, 0) << restored.all();
  EXPECT_EQ(testing::CompareTrees(source_, target + source_, geteuid() == 0),
            std::vector<std::string>{});

  // A replica: the next sync finds everything there, then copies what is new.
  report = Json(Keyless(repo_, {"sync", "--to", copy_, "--json"}));
  EXPECT_EQ(report["method"], "objects");
  EXPECT_EQ(report["snapshots_present"], 2);
  EXPECT_EQ(report["objects_copied"], 0);
  testing::WriteFile(source_ + "/third", "third");
  Backup({source_});
  report = Json(Keyless(repo_, {"sync", "--to", copy_, "--json"}));
  EXPECT_EQ(report["snapshots_copied"], 1);

  // Pulled into a new folder: the same.
  const std::string pulled = tmp_ / "pulled";
  report = Json(Keyless(pulled, {"sync", "--init", "--from", repo_, "--json"}));
  EXPECT_EQ(report["method"], "files");
  EXPECT_EQ(Names(pulled), Names(repo_));
  EXPECT_TRUE(KillServersOf(pulled));

  // A selection is copied object by object.
  const std::string latest = tmp_ / "latest";
  report = Json(Keyless(repo_, {"sync", "--init", "--to", latest, "--latest", "1", "--json"}));
  EXPECT_EQ(report["method"], "objects");
  EXPECT_EQ(Names(latest), std::vector<std::string>{Names(repo_).back()});
  EXPECT_TRUE(KillServersOf(latest));

  // A folder that is not empty is refused and left as it was.
  const std::string taken = tmp_ / "taken";
  mkdir(taken.c_str(), 0700);
  testing::WriteFile(taken + "/keep", "mine");
  Output refused = Keyless(repo_, {"sync", "--init", "--to", taken});
  EXPECT_EQ(refused.code, 1) << refused.all();
  EXPECT_NE(refused.err.find("is not empty"), std::string::npos) << refused.err;
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(taken), {}), 1);
}

// A copy killed half-way is no repository, and the next sync --init starts it over.
TEST_F(SyncTest, AWholeCopyKilledHalfWayIsNoRepositoryAndIsStartedOver) {
  Backup({source_});
  testing::WriteFile(source_ + "/second", "second");
  Backup({source_});
  // In this process (no server), so that the crash point kills the copy.
  ASSERT_TRUE(KillServersOf(repo_));
  Output killed = Keyless(repo_, {"--no-server", "sync", "--init", "--to", copy_},
                          {"COFFER_CRASH_AT=folder-copy-file-copied:2"});
  EXPECT_EQ(killed.code, 128 + SIGKILL) << killed.all();
  Output listed = At(copy_, {"snapshots"});
  EXPECT_EQ(listed.code, 10) << listed.all();

  nlohmann::json report = Json(Keyless(repo_, {"sync", "--init", "--to", copy_, "--json"}));
  EXPECT_EQ(report["method"], "files");
  EXPECT_EQ(Names(copy_), Names(repo_));
  Output verified = At(copy_, {"verify"});
  EXPECT_EQ(verified.code, 0) << verified.all();
}

TEST_F(SyncTest, ASyncKilledHalfWayShowsNothingAndTheNextSendsTheRest) {
  // Many objects, so that more of them reach the copy's server before the
  // kill than the client can hold unsent (two batches in flight).
  mkdir((source_ + "/many").c_str(), 0755);
  for (int i = 0; i < 1500; ++i) {
    testing::WriteFile(source_ + "/many/" + std::to_string(i), "file " + std::to_string(i));
  }
  Backup({source_});
  Output made = Keyless(repo_, {"sync", "--init", "--to", copy_, "--group", "host/none"});
  ASSERT_EQ(made.code, 0) << made.all();

  Output killed =
      Keyless(repo_, {"sync", "--to", copy_}, {"COFFER_CRASH_AT=sync-object-copied:1200"});
  EXPECT_EQ(killed.code, 128 + SIGKILL) << killed.all();
  EXPECT_TRUE(Names(copy_).empty());

  nlohmann::json rest = Json(Keyless(repo_, {"sync", "--to", copy_, "--json"}));
  EXPECT_EQ(rest["snapshots_copied"], 1);
  EXPECT_GT(rest["objects_present"].get<uint64_t>(), 400u);
  const uint64_t total =
      rest["objects_present"].get<uint64_t>() + rest["objects_copied"].get<uint64_t>();
  EXPECT_GT(total, 1500u);
  EXPECT_EQ(Names(copy_), Names(repo_));
  Output verified = At(copy_, {"verify"});
  EXPECT_EQ(verified.code, 0) << verified.all();
}

TEST_F(SyncTest, PushedToAndPulledFromAServerOverTlsWithAnAppendOnlyToken) {
  Backup({source_});
  Output made = Keyless(repo_, {"sync", "--init", "--to", copy_});
  ASSERT_EQ(made.code, 0) << made.all();
  ASSERT_TRUE(KillServersOf(copy_));  // the copy's own server gives way to the TLS one
  ServeCopy();
  testing::WriteFile(source_ + "/second", "second");
  Backup({source_});

  const std::vector<std::string> peer = {"--peer-tls-ca", tmp_ / "server.crt", "--peer-token-file",
                                         tmp_ / "append.token"};
  std::vector<std::string> push = {"sync", "--to", address_, "--json"};
  push.insert(push.end(), peer.begin(), peer.end());
  nlohmann::json pushed = Json(Keyless(repo_, push));
  EXPECT_EQ(pushed["snapshots_copied"], 1);
  EXPECT_EQ(pushed["snapshots_present"], 1);

  // A token is required for a server peer.
  Output no_token = Keyless(repo_, {"sync", "--to", address_});
  EXPECT_EQ(no_token.code, 2) << no_token.all();
  EXPECT_NE(no_token.err.find("--peer-token-file"), std::string::npos) << no_token.err;

  // --delete needs a full token there: the append-only one is refused.
  Output forgot = Coffer({"forget", Names(repo_).front()});
  ASSERT_EQ(forgot.code, 0) << forgot.all();
  std::vector<std::string> mirror = {"sync", "--to", address_, "--delete"};
  mirror.insert(mirror.end(), peer.begin(), peer.end());
  Output refused = Keyless(repo_, mirror);
  EXPECT_EQ(refused.code, 13) << refused.all();

  // An offsite machine pulls from the server into a new folder of its own.
  const std::string offsite = tmp_ / "offsite";
  std::vector<std::string> pull = {"sync", "--init", "--from", address_, "--json"};
  pull.insert(pull.end(), peer.begin(), peer.end());
  nlohmann::json pulled = Json(Keyless(offsite, pull));
  // The server copies no files for a caller on another host.
  EXPECT_EQ(pulled["method"], "objects");
  EXPECT_EQ(pulled["snapshots_copied"], 2);
  EXPECT_EQ(Names(offsite).size(), 2u);
  const std::string target = tmp_ / "restored";
  Output restored = At(offsite, {"restore", Names(offsite).back(), "--target", target});
  EXPECT_TRUE(KillServersOf(offsite));
  ASSERT_EQ(restored.code, 0) << restored.all();
  EXPECT_EQ(testing::CompareTrees(source_, target + source_, geteuid() == 0),
            std::vector<std::string>{});
}

TEST_F(SyncTest, TheCopysHolderChecksItWithoutThePassphrase) {
  Backup({source_});
  ASSERT_EQ(Keyless(repo_, {"sync", "--init", "--to", copy_}).code, 0);
  nlohmann::json clean = Json(Keyless(copy_, {"verify", "--without-key", "--json"}));
  EXPECT_EQ(clean["ok"], true);
  EXPECT_EQ(clean["snapshots_checked"], 1);
  EXPECT_GT(clean["objects_checked"].get<uint64_t>(), 10u);

  // One chunk lost at the copy, as a lost file would.
  std::string lost;
  ChangeStoppedDatabase(copy_, [&](kv::Database& db) {
    ASSERT_TRUE(db.Scan(kv::Column::kChunks, "", [&](std::string_view key, ByteView) {
                    lost = std::string(key);
                    return false;
                  }).ok());
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, lost, kv::Durability::kSynced).ok());
  });
  Output found = Keyless(copy_, {"verify", "--without-key"});
  EXPECT_EQ(found.code, 4) << found.all();
  EXPECT_NE(found.err.find("chunk " + Hex(lost).substr(0, 12) + " is missing"), std::string::npos)
      << found.err;
  EXPECT_NE(found.out.find("1 MISSING"), std::string::npos) << found.out;

  Output refused = Keyless(copy_, {"verify", "--without-key", "--sample", "10"});
  EXPECT_EQ(refused.code, 2) << refused.all();
}

// Presence is not intactness: bit rot in the copy's data files is found
// without the key only by reading back (--read-data).
TEST_F(SyncTest, ReadingBackWithoutThePassphraseFindsBitRot) {
  Backup({source_});
  ASSERT_EQ(Keyless(repo_, {"sync", "--init", "--to", copy_}).code, 0);
  nlohmann::json clean = Json(Keyless(copy_, {"verify", "--without-key", "--read-data", "--json"}));
  EXPECT_EQ(clean["ok"], true);
  EXPECT_GT(clean["objects_read"].get<uint64_t>(), 10u);
  EXPECT_GT(clean["bytes_read"].get<uint64_t>(), 0u);

  ASSERT_TRUE(KillServersOf(copy_));
  ASSERT_GT(FlipMiddleOfBlobFiles(copy_ + "/db"), 0);
  Output present = Keyless(copy_, {"verify", "--without-key"});
  EXPECT_EQ(present.code, 0) << "presence alone cannot see it: " << present.all();
  Output read = Keyless(copy_, {"verify", "--without-key", "--read-data"});
  EXPECT_EQ(read.code, 4) << read.all();
  EXPECT_NE(read.err.find("does not read back intact"), std::string::npos) << read.err;
  EXPECT_NE(read.out.find("DAMAGED"), std::string::npos) << read.out;

  Output alone = Keyless(copy_, {"verify", "--read-data"});
  EXPECT_EQ(alone.code, 2) << alone.all();
}

TEST_F(SyncTest, BadUsageGetsOneLineAndItsExitCode) {
  Output neither = Keyless(repo_, {"sync"});
  EXPECT_EQ(neither.code, 2) << neither.all();
  EXPECT_NE(neither.err.find("--to DEST or --from SRC"), std::string::npos) << neither.err;
  Output both = Keyless(repo_, {"sync", "--to", copy_, "--from", copy_});
  EXPECT_EQ(both.code, 2) << both.all();
  Output not_a_copy = Keyless(repo_, {"sync", "--to", tmp_ / "absent"});
  EXPECT_EQ(not_a_copy.code, 10) << not_a_copy.all();
  Output rate = Keyless(repo_, {"sync", "--to", copy_, "--bwlimit", "fast"});
  EXPECT_EQ(rate.code, 2) << rate.all();
  EXPECT_NE(rate.err.find("--bwlimit fast"), std::string::npos) << rate.err;

  // Another repository is not a copy: refused, nothing copied into it.
  const std::string other = tmp_ / "other";
  Output init = At(other, {"init", "--kdf-ops", "1", "--kdf-memory", "8K"});
  ASSERT_EQ(init.code, 0) << init.all();
  Backup({source_});
  Output refused = Keyless(repo_, {"sync", "--to", other});
  EXPECT_EQ(refused.code, 1) << refused.all();
  EXPECT_NE(refused.err.find("not a copy of this repository"), std::string::npos) << refused.err;
  EXPECT_TRUE(Names(other).empty());
  EXPECT_TRUE(KillServersOf(other));
}

}  // namespace
}  // namespace coffer::e2e
