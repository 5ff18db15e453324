// What lies on disk: no plaintext in the repository folder, and damaged
// data is reported (exit 4), never returned as data.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;

const std::string kDistinct = "COFFER-E2E-DISTINCT-64-BYTE-BLOCK:0123456789abcdefghijklmnopqrst";
const std::string kMarker = "The quick marker sentence 7f3e9a1c must never be stored as plaintext.";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool NamesDamage(const std::string& err) {
  std::string e = Lower(err);
  return e.find("corrupt") != std::string::npos || e.find("authenticat") != std::string::npos ||
         e.find("checksum") != std::string::npos || e.find("damaged") != std::string::npos;
}

class AtRestTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    mkdir(source_.c_str(), 0755);
  }
  std::string source_;
};

TEST_F(AtRestTest, NoFileInTheRepositoryContainsPlaintext) {
  ASSERT_EQ(kDistinct.size(), 64u);
  std::string repeated;
  for (int i = 0; i < 4096; ++i) repeated += kDistinct;
  WriteFile(source_ + "/repeated.bin", repeated);
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "compressible filler line number " + std::to_string(i % 10) + "\n";
  text += kMarker + "\n";
  WriteFile(source_ + "/notes.txt", text);
  Backup({source_});

  std::vector<std::string> files = FilesBelow(repo_);
  ASSERT_FALSE(files.empty());
  uint64_t total = 0;
  for (const auto& path : files) {
    std::string data = ReadFile(path);
    total += data.size();
    EXPECT_EQ(data.find(kDistinct), std::string::npos) << path << " holds the 64-byte block";
    EXPECT_EQ(data.find(kMarker), std::string::npos) << path << " holds the marker sentence";
    EXPECT_EQ(data.find("compressible filler line"), std::string::npos) << path;
  }
  EXPECT_GT(total, 0u);
  // And the data does come back.
  Output cat = Coffer({"cat", group_ + "/latest", InSnapshot(source_) + "/notes.txt"});
  EXPECT_EQ(cat.out, text);
}

TEST_F(AtRestTest, FlippedByteInChunkDataMakesCatAndRestoreExitWith4) {
  std::string content = RandomBytes(3 * 1024 * 1024 + 5, 4242);
  WriteFile(source_ + "/data.bin", content);
  WriteFile(source_ + "/small.txt", "a small file kept inline");
  Backup({source_});
  ASSERT_GT(FlipMiddleOfBlobFiles(repo_ + "/db"), 0) << "no blob files: chunk data is elsewhere";

  Output cat = Coffer({"cat", group_ + "/latest", InSnapshot(source_) + "/data.bin"});
  EXPECT_EQ(cat.code, 4) << cat.err;
  EXPECT_TRUE(NamesDamage(cat.err)) << cat.err;
  // Whatever was written is the true beginning of the file, never altered bytes.
  EXPECT_LE(cat.out.size(), content.size());
  EXPECT_TRUE(content.compare(0, cat.out.size(), cat.out) == 0) << "cat wrote wrong data";
  EXPECT_NE(cat.out.size(), content.size()) << "the damaged file was written whole";

  std::string target = tmp_ / "restore";
  Output restore = Coffer({"restore", "--target", target, group_ + "/latest"});
  EXPECT_EQ(restore.code, 4) << restore.all();
  EXPECT_TRUE(NamesDamage(restore.err)) << restore.err;
  EXPECT_NE(restore.err.find("data.bin"), std::string::npos) << restore.err;
  EXPECT_EQ(ReadFile(target + source_ + "/small.txt"), "a small file kept inline")
      << "the undamaged file is still restored";
  std::string restored = ReadFile(target + source_ + "/data.bin");
  EXPECT_FALSE(restored == content) << "the damaged file was restored whole";
}

TEST_F(AtRestTest, UnencryptedRepositoryRoundTrips) {
  repo_ = tmp_ / "plain";
  Output init = CofferRaw({"-r", repo_, "init", "--encryption", "none"});
  ASSERT_EQ(init.code, 0) << init.all();
  testing::MakeKitchenSinkTree(source_ + "/tree");
  // No passphrase anywhere in the environment.
  Output backup =
      CofferRaw({"-r", repo_, "--allow-unencrypted", "backup", "--group", group_, source_});
  ASSERT_EQ(backup.code, 0) << backup.all();
  std::string target = tmp_ / "restore";
  Output restore = CofferRaw({"-r", repo_, "restore", "--target", target, group_ + "/latest"},
                             {"COFFER_ALLOW_UNENCRYPTED=1"});
  ASSERT_EQ(restore.code, 0) << restore.all();
  auto diffs = Compare(source_, target);
  for (const auto& d : diffs) ADD_FAILURE() << d;
  Output cat = CofferRaw({"-r", repo_, "cat", "--allow-unencrypted", group_ + "/latest",
                          InSnapshot(source_) + "/tree/big.bin"});
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_TRUE(cat.out == ReadFile(source_ + "/tree/big.bin"));
}

TEST_F(AtRestTest, UnencryptedRepositoryStillDetectsDamage) {
  repo_ = tmp_ / "plain";
  ASSERT_EQ(CofferRaw({"-r", repo_, "init", "--encryption", "none"}).code, 0);
  std::string content = RandomBytes(2 * 1024 * 1024, 99);
  WriteFile(source_ + "/data.bin", content);
  ASSERT_EQ(
      CofferRaw({"-r", repo_, "--allow-unencrypted", "backup", "--group", group_, source_}).code,
      0);
  ASSERT_GT(FlipMiddleOfBlobFiles(repo_ + "/db"), 0);
  Output cat = CofferRaw({"-r", repo_, "--allow-unencrypted", "cat", group_ + "/latest",
                          InSnapshot(source_) + "/data.bin"});
  EXPECT_EQ(cat.code, 4) << cat.err;
  EXPECT_TRUE(NamesDamage(cat.err)) << cat.err;
  EXPECT_TRUE(content.compare(0, cat.out.size(), cat.out) == 0) << "cat wrote wrong data";
}

}  // namespace
}  // namespace coffer::e2e
