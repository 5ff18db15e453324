// `coffer sync` to and from object storage end to end, against a real S3
// server (s3rver) that the test starts: the bucket alone restores on a new
// machine; a sync killed half-way shows nothing and the next one sends only
// what had not arrived; failed requests are retried, and a server that
// stays down is a clear error that leaves the copy as it was.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <sodium.h>

#include "store/s3/s3_object_store.h"
#include "tests/e2e/e2e_util.h"
#include "tests/store/s3/s3_env.h"
#include "tests/testing/fault_proxy.h"
#include "tests/testing/fuse.h"

namespace coffer::e2e {
namespace {

using testing::FaultProxy;
using Fault = FaultProxy::Fault;

class S3SyncTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    std::string why;
    s3_ = testing::S3rver::Start(tmp_ / "s3", {"offsite"}, &why);
    if (!s3_) GTEST_SKIP() << "no S3 server to test against: " << why;
    source_ = tmp_ / "src";
    testing::MakeKitchenSinkTree(source_);
  }
  void TearDown() override {
    for (const std::string& dir : {tmp_ / "restored-repo", tmp_ / "new"}) KillServersOf(dir);
  }

  // The AWS settings a user would export, pointing at `endpoint`; HOME is
  // the test's, so no ~/.aws of the machine is read.
  std::vector<std::string> AwsEnv(const std::string& endpoint) const {
    return {"AWS_ACCESS_KEY_ID=" + std::string(testing::S3rver::kAccessKey),
            "AWS_SECRET_ACCESS_KEY=" + std::string(testing::S3rver::kSecretKey),
            "AWS_ENDPOINT_URL=" + endpoint, "HOME=" + tmp_.path()};
  }
  // `coffer -r DIR ARGS` without the passphrase: sync must not need one.
  Output Keyless(const std::string& dir, const std::vector<std::string>& args,
                 const std::string& endpoint, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {"-r", dir};
    argv.insert(argv.end(), args.begin(), args.end());
    for (std::string& e : AwsEnv(endpoint)) env.push_back(std::move(e));
    return CofferRaw(argv, env);
  }
  Output Keyless(const std::string& dir, const std::vector<std::string>& args) {
    return Keyless(dir, args, s3_->endpoint());
  }
  nlohmann::json Json(const Output& o) {
    EXPECT_EQ(o.code, 0) << o.all();
    return nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  }
  // `coffer -r WHERE ARGS` with the passphrase and the AWS settings.
  Output With(const std::string& where, std::vector<std::string> args) {
    args.insert(args.begin(), {"-r", where});
    std::vector<std::string> env = AwsEnv(s3_->endpoint());
    env.push_back("COFFER_PASSPHRASE=" + passphrase_);
    return CofferRaw(args, env);
  }
  std::vector<std::string> Names(const std::string& dir) {
    std::vector<std::string> out;
    Output listed = With(dir, {"snapshots", "--json"});
    for (const auto& s : Json(listed)) out.push_back(s["name"]);
    return out;
  }
  // The snapshots in the bucket, as any reader of it sees them.
  size_t SnapshotsInBucket(const std::string& prefix) {
    auto bucket =
        s3::S3ObjectStore::Open(testing::S3rverSettings(s3_->endpoint()), {"offsite", prefix});
    EXPECT_TRUE(bucket.ok()) << bucket.status().ToString();
    if (!bucket.ok()) return 0;
    auto listed = (*bucket)->ListSnapshots("");
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    return listed.ok() ? listed->size() : 0;
  }
  void RestoresLikeTheSource(const std::string& dir) {
    const std::string target = tmp_ / "restored";
    Output restored = With(dir, {"restore", Names(dir).back(), "--target", target});
    ASSERT_EQ(restored.code, 0) << restored.all();
    EXPECT_EQ(testing::CompareTrees(source_, target + source_, geteuid() == 0),
              std::vector<std::string>{});
  }
  // `count` files of 8 KiB that do not compress or deduplicate.
  void AddIncompressibleFiles(int count) {
    mkdir((source_ + "/many").c_str(), 0755);
    std::string bytes(8192, '\0');
    for (int i = 0; i < count; ++i) {
      randombytes_buf(bytes.data(), bytes.size());
      testing::WriteFile(source_ + "/many/" + std::to_string(i), bytes);
    }
  }

  std::unique_ptr<testing::S3rver> s3_;
  std::string source_;
};

TEST_F(S3SyncTest, TheBucketAloneRestoresOnANewMachine) {
  Backup({source_});
  testing::WriteFile(source_ + "/added later", "new");
  Backup({source_});

  nlohmann::json pushed =
      Json(Keyless(repo_, {"sync", "--init", "--to", "s3://offsite/host1", "--json"}));
  EXPECT_EQ(pushed["snapshots_copied"], 2);
  EXPECT_GT(pushed["bytes_copied"].get<uint64_t>(), 0u);
  EXPECT_EQ(pushed["requests_retried"], 0);
  EXPECT_EQ(SnapshotsInBucket("host1"), 2u);

  // Nothing new: nothing sent.
  nlohmann::json again = Json(Keyless(repo_, {"sync", "--to", "s3://offsite/host1", "--json"}));
  EXPECT_EQ(again["snapshots_copied"], 0);
  EXPECT_EQ(again["snapshots_present"], 2);
  EXPECT_EQ(again["bytes_copied"], 0);

  // A new machine with the bucket's address, the credentials and the
  // passphrase: its own repository, restored and verified.
  const std::string fresh = tmp_ / "new";
  nlohmann::json pulled =
      Json(Keyless(fresh, {"sync", "--init", "--from", "s3://offsite/host1", "--json"}));
  EXPECT_EQ(pulled["snapshots_copied"], 2);
  EXPECT_EQ(Names(fresh), Names(repo_));
  RestoresLikeTheSource(fresh);
  Output verified = CofferRaw({"-r", fresh, "verify"}, PassEnv());
  EXPECT_EQ(verified.code, 0) << verified.all();
}

TEST_F(S3SyncTest, ASyncKilledHalfWayShowsNothingAndTheNextSendsTheRest) {
  AddIncompressibleFiles(1500);  // 12 MiB: a dozen packs of 1 MiB
  Backup({source_});
  ASSERT_EQ(
      Keyless(repo_, {"sync", "--init", "--to", "s3://offsite/k", "--group", "host/none"}).code, 0);

  Output killed = Keyless(repo_, {"sync", "--to", "s3://offsite/k", "--pack-size", "1M"},
                          s3_->endpoint(), {"COFFER_CRASH_AT=sync-object-copied:1200"});
  EXPECT_EQ(killed.code, 128 + SIGKILL) << killed.all();
  EXPECT_EQ(SnapshotsInBucket("k"), 0u);

  nlohmann::json rest =
      Json(Keyless(repo_, {"sync", "--to", "s3://offsite/k", "--pack-size", "1M", "--json"}));
  EXPECT_EQ(rest["snapshots_copied"], 1);
  // The packs sent before the kill count, whether or not an index named them.
  EXPECT_GT(rest["objects_present"].get<uint64_t>(), 800u);
  EXPECT_GT(rest["objects_present"].get<uint64_t>() + rest["objects_copied"].get<uint64_t>(),
            1500u);

  const std::string fresh = tmp_ / "new";
  ASSERT_EQ(Keyless(fresh, {"sync", "--init", "--from", "s3://offsite/k"}).code, 0);
  RestoresLikeTheSource(fresh);
}

TEST_F(S3SyncTest, FailedRequestsAreRetriedAndAServerThatStaysDownChangesNothing) {
  std::string why;
  auto proxy = FaultProxy::Start(s3_->port(), &why);
  ASSERT_NE(proxy, nullptr) << why;
  // Every fourth request fails, in each way a server or a network fails.
  proxy->SetPolicy([](const FaultProxy::Request& r) {
    static const Fault kFaults[] = {Fault::kReply503, Fault::kDropBeforeReply, Fault::kReply500,
                                    Fault::kDropMidReply};
    return r.number % 4 == 3 ? kFaults[(r.number / 4) % 4] : Fault::kForward;
  });
  Backup({source_});
  nlohmann::json pushed = Json(
      Keyless(repo_, {"sync", "--init", "--to", "s3://offsite/f", "--json"}, proxy->endpoint()));
  EXPECT_EQ(pushed["snapshots_copied"], 1);
  EXPECT_GT(pushed["requests_retried"].get<uint64_t>(), 2u);

  // Then the server answers nothing but 500 when a snapshot is written.
  testing::WriteFile(source_ + "/second", "second");
  Backup({source_});
  proxy->SetPolicy([](const FaultProxy::Request& r) {
    return r.method == "PUT" && r.target.find("/snapshots/") != std::string::npos ? Fault::kReply500
                                                                                  : Fault::kForward;
  });
  Output failed = Keyless(repo_, {"sync", "--to", "s3://offsite/f"}, proxy->endpoint());
  EXPECT_EQ(failed.code, 1) << failed.all();
  EXPECT_NE(failed.err.find("InternalError"), std::string::npos) << failed.err;
  EXPECT_EQ(std::count(failed.err.begin(), failed.err.end(), '\n'), 1) << failed.err;
  EXPECT_EQ(SnapshotsInBucket("f"), 1u);

  // Once it is back, the next sync completes the copy.
  proxy->SetPolicy(FaultProxy::ForwardAll());
  nlohmann::json rest =
      Json(Keyless(repo_, {"sync", "--to", "s3://offsite/f", "--json"}, proxy->endpoint()));
  EXPECT_EQ(rest["snapshots_copied"], 1);
  const std::string fresh = tmp_ / "new";
  ASSERT_EQ(Keyless(fresh, {"sync", "--init", "--from", "s3://offsite/f"}).code, 0);
  EXPECT_EQ(Names(fresh), Names(repo_));
  RestoresLikeTheSource(fresh);
}

// -r s3://BUCKET/PREFIX: what reads snapshots works on the bucket directly.
TEST_F(S3SyncTest, ABucketOpensAsARepositoryForWhatReadsSnapshots) {
  Backup({source_});
  const std::string bucket = "s3://offsite/direct";
  ASSERT_EQ(Keyless(repo_, {"sync", "--init", "--to", bucket}).code, 0);

  EXPECT_EQ(Names(bucket), Names(repo_));
  RestoresLikeTheSource(bucket);
  Output verified = With(bucket, {"verify"});
  EXPECT_EQ(verified.code, 0) << verified.all();
  nlohmann::json keyless = Json(Keyless(bucket, {"verify", "--without-key", "--json"}));
  EXPECT_EQ(keyless["ok"], true);
  EXPECT_EQ(keyless["snapshots_checked"], 1);

  // A bit flipped in a pack on the server's disk: found without the key.
  std::string pack;
  for (const std::string& file : FilesBelow(tmp_ / "s3/offsite/direct/packs")) {
    if (file.size() > 15 && file.substr(file.size() - 15) == "._S3rver_object") pack = file;
  }
  ASSERT_FALSE(pack.empty());
  {
    std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c = 0;
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x20));
  }
  Output rot = Keyless(bucket, {"verify", "--without-key", "--read-data"});
  EXPECT_EQ(rot.code, 4) << rot.all();
  EXPECT_NE(rot.err.find("do not match the index's checksum"), std::string::npos) << rot.err;

  // What needs a folder says so.
  Output gc = With(bucket, {"gc"});
  EXPECT_EQ(gc.code, 1) << gc.all();
  EXPECT_NE(gc.err.find("does not run on a copy in object storage"), std::string::npos) << gc.err;
  for (const char* command : {"init", "serve", "repair"}) {
    Output refused = With("s3://offsite/other", {command});
    EXPECT_EQ(refused.code, 2) << command << ": " << refused.all();
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  }
}

// -r s3://BUCKET/PREFIX mount: the bucket's snapshots read like the source.
TEST_F(S3SyncTest, ABucketMountsLikeARepository) {
  COFFER_REQUIRE_FUSE();
  Backup({source_});
  const std::string bucket = "s3://offsite/mounted";
  ASSERT_EQ(Keyless(repo_, {"sync", "--init", "--to", bucket}).code, 0);
  const std::string mnt = tmp_ / "mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  Output mounted = With(bucket, {"mount", mnt});
  ASSERT_EQ(mounted.code, 0) << mounted.all();
  ASSERT_TRUE(testing::Mounted(mnt));
  EXPECT_EQ(
      testing::CompareTrees(source_, mnt + "/" + group_ + "/latest" + source_, geteuid() == 0),
      std::vector<std::string>{});
  Output unmounted = With(bucket, {"umount", mnt});
  EXPECT_EQ(unmounted.code, 0) << unmounted.all();
  EXPECT_FALSE(testing::Mounted(mnt));
}

TEST_F(S3SyncTest, BadSettingsAreOneLineAndTheirOwnExitCode) {
  Backup({source_});
  Output unknown = Keyless(repo_, {"sync", "--init", "--to", "s3://offsite/x"}, s3_->endpoint(),
                           {"AWS_ACCESS_KEY_ID=NOBODY"});
  // The caller's variables come first, and getenv finds the first.
  EXPECT_EQ(unknown.code, 13) << unknown.all();
  EXPECT_NE(unknown.err.find("credentials"), std::string::npos) << unknown.err;

  Output no_bucket = Keyless(repo_, {"sync", "--init", "--to", "s3://missing-bucket/x"});
  EXPECT_EQ(no_bucket.code, 10) << no_bucket.all();
  EXPECT_NE(no_bucket.err.find("no bucket missing-bucket"), std::string::npos) << no_bucket.err;

  Output no_credentials = CofferRaw({"-r", repo_, "sync", "--to", "s3://offsite/x"},
                                    {"HOME=" + tmp_.path(), "AWS_ENDPOINT_URL=" + s3_->endpoint()});
  EXPECT_EQ(no_credentials.code, 2) << no_credentials.all();
  EXPECT_NE(no_credentials.err.find("AWS_ACCESS_KEY_ID"), std::string::npos) << no_credentials.err;

  Output bad_address = Keyless(repo_, {"sync", "--to", "s3://a"});
  EXPECT_EQ(bad_address.code, 2) << bad_address.all();
  EXPECT_NE(bad_address.err.find("s3://BUCKET/PREFIX"), std::string::npos) << bad_address.err;

  Output not_a_copy = Keyless(repo_, {"sync", "--to", "s3://offsite/empty"});
  EXPECT_EQ(not_a_copy.code, 10) << not_a_copy.all();
  EXPECT_NE(not_a_copy.err.find("--init"), std::string::npos) << not_a_copy.err;

  Output pack_size = Keyless(repo_, {"sync", "--to", "s3://offsite/x", "--pack-size", "10K"});
  EXPECT_EQ(pack_size.code, 2) << pack_size.all();
  for (const Output* o :
       {&unknown, &no_bucket, &no_credentials, &bad_address, &not_a_copy, &pack_size}) {
    EXPECT_EQ(std::count(o->err.begin(), o->err.end(), '\n'), 1) << o->err;
  }
}

}  // namespace
}  // namespace coffer::e2e
