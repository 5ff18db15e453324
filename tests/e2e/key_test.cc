// coffer key, end to end with the real binary: a key exported to a file, to
// paper (typed back with stray spaces and a corrected typo) and to a QR code
// (read back by zbarimg, an independent decoder) recovers a repository whose
// key record is gone; passphrases change atomically (a kill between the two
// steps leaves both working); key slots add and remove; a key kept outside
// the repository (--key-file) is the only key.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <string>
#include <vector>

#include "store/kv/database.h"
#include "store/repo/layout.h"
#include "tests/e2e/e2e_util.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::e2e {
namespace {

using testing::ReadFile;
using testing::WriteFile;

const std::vector<std::string> kCheapKdf = {"--kdf-ops", "1", "--kdf-memory", "8K"};

class KeyTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    ASSERT_EQ(mkdir(source_.c_str(), 0755), 0);
    WriteFile(source_ + "/a.txt", "the data a lost key must not lose\n");
    WriteFile(source_ + "/big.bin", testing::RandomBytes(3 << 20, 7));
    Backup({source_});
  }
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  // `coffer key ARGS` with the new passphrase `fresh` where one is asked.
  Output Key(std::vector<std::string> args, const std::string& fresh = "",
             std::vector<std::string> env = {}) {
    if (args[0] == "import" || args[0] == "passwd" || args[0] == "add") {
      args.insert(args.begin() + 1, kCheapKdf.begin(), kCheapKdf.end());
    }
    args.insert(args.begin(), "key");
    if (!fresh.empty()) env.push_back("COFFER_NEW_PASSPHRASE=" + fresh);
    return Coffer(args, env);
  }
  // A command run with `passphrase` instead of the fixture's.
  Output As(const std::string& passphrase, const std::vector<std::string>& args,
            std::vector<std::string> env = {}) {
    env.push_back("COFFER_PASSPHRASE=" + passphrase);
    std::vector<std::string> argv = {"-r", repo_};
    argv.insert(argv.end(), args.begin(), args.end());
    return CofferRaw(argv, env);
  }

  // Removes a meta record as whoever holds the repository can.
  void DeleteMeta(const std::string& key) {
    ChangeStoppedDatabase(repo_, [&](kv::Database& db) {
      ASSERT_TRUE(db.Delete(kv::Column::kMeta, key, kv::Durability::kSynced).ok());
    });
  }
  std::vector<std::string> SlotLines(const std::string& passphrase) {
    Output list = As(passphrase, {"key", "list"});
    EXPECT_EQ(list.code, 0) << list.all();
    std::vector<std::string> slots;
    std::istringstream lines(list.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("key")) slots.push_back(line.substr(0, line.find(' ')));
    }
    return slots;
  }

  void ExpectRestoresExactly(const std::string& passphrase) {
    const std::string target = tmp_ / ("restored-" + std::to_string(++restores_));
    Output restore = As(passphrase, {"restore", group_ + "/latest", "--target", target});
    ASSERT_EQ(restore.code, 0) << restore.all();
    EXPECT_EQ(Compare(source_, target), std::vector<std::string>{});
  }

  std::string source_;
};

TEST_F(KeyTest, AnExportedKeyFileRecoversARepositoryWhoseKeyIsGone) {
  const std::string file = tmp_ / "key.txt";
  Output exported = Key({"export", "-o", file});
  ASSERT_EQ(exported.code, 0) << exported.all();
  EXPECT_NE(exported.err.find("without the passphrase"), std::string::npos) << exported.err;
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(ReadFile(file).find("-----BEGIN COFFER KEY-----"), std::string::npos);
  EXPECT_EQ(Key({"export", "-o", file}).code, 2) << "an existing file is kept";

  DeleteMeta("key");
  Output lost = Coffer({"snapshots"});
  EXPECT_EQ(lost.code, 4) << lost.all();
  EXPECT_NE(lost.err.find("coffer key import"), std::string::npos) << lost.err;

  Output imported = Key({"import", file}, "a new passphrase");
  ASSERT_EQ(imported.code, 0) << imported.all();
  EXPECT_EQ(As(passphrase_, {"snapshots"}).code, 12) << "the old passphrase went with the record";
  ExpectRestoresExactly("a new passphrase");
}

TEST_F(KeyTest, APaperKeyTypedBackWithATypoRecoversTheRepository) {
  const std::string paper = tmp_ / "paper.txt";
  Output exported = Key({"export", "--paper", "-o", paper});
  ASSERT_EQ(exported.code, 0) << exported.all();
  const std::string page = ReadFile(paper);
  std::vector<std::string> key_lines;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    line.erase(0, line.find_first_not_of(' '));  // " 1: ..." up to line 9
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0])) &&
        line.find(':') != std::string::npos) {
      key_lines.push_back(line);
    }
  }
  ASSERT_GE(key_lines.size(), 3u) << page;
  DeleteMeta("key");

  // Typed back by a person: lower case, spaces doubled, blank lines between;
  // first with one wrong character in line 3.
  auto typed = [&](bool typo) {
    std::string text;
    for (size_t i = 0; i < key_lines.size(); ++i) {
      std::string line = key_lines[i];
      std::transform(line.begin(), line.end(), line.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (typo && i == 2) {
        size_t at = line.find(':') + 1;
        while (line[at] == ' ') ++at;
        line[at] = line[at] == '7' ? '8' : '7';
      }
      std::string spaced;
      for (char c : line) spaced += c == ' ' ? std::string("  ") : std::string(1, c);
      text += "  " + spaced + "\n\n";
    }
    return text;
  };
  const std::string typed_file = tmp_ / "typed.txt";
  WriteFile(typed_file, typed(true));
  Output wrong = Key({"import", "--paper", typed_file}, "from paper");
  EXPECT_EQ(wrong.code, 2) << wrong.all();
  EXPECT_NE(wrong.err.find("line 3"), std::string::npos) << wrong.err;
  EXPECT_EQ(Coffer({"snapshots"}).code, 4) << "nothing was put back";

  WriteFile(typed_file, typed(false));
  Output imported = Key({"import", "--paper", typed_file}, "from paper");
  ASSERT_EQ(imported.code, 0) << imported.all();
  ExpectRestoresExactly("from paper");
}

TEST_F(KeyTest, APaperKeysQrCodeReadByZbarimgRecoversTheRepository) {
  if (RunProcess({"sh", "-c", "command -v zbarimg"}).code != 0) {
    GTEST_SKIP() << "zbarimg (Debian package zbar-tools) is not installed: cannot read the QR code";
  }
  const std::string png = tmp_ / "key.png", svg = tmp_ / "key.svg";
  Output exported = Key({"export", "--paper", "--qr", "--qr-image", png});
  ASSERT_EQ(exported.code, 0) << exported.all();
  EXPECT_NE(exported.out.find("\xe2\x96"), std::string::npos) << "UTF-8 blocks of the code";
  ASSERT_EQ(Key({"export", "--paper", "--qr-image", svg}).code, 0);
  EXPECT_NE(ReadFile(svg).find("<svg"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(stat(png.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  DeleteMeta("key");
  Output scanned = RunProcess({"zbarimg", "--raw", "-q", png});
  ASSERT_EQ(scanned.code, 0) << scanned.all();
  const std::string scanned_file = tmp_ / "scanned.txt";
  WriteFile(scanned_file, scanned.out);
  Output imported = Key({"import", "--paper", scanned_file}, "from the code");
  ASSERT_EQ(imported.code, 0) << imported.all();
  ExpectRestoresExactly("from the code");
}

TEST_F(KeyTest, AKeyOfAnotherRepositoryIsRefusedByItsId) {
  const std::string other = tmp_ / "other";
  Output init = CofferRaw({"-r", other, "init", "--kdf-ops", "1", "--kdf-memory", "8K"},
                          {"COFFER_PASSPHRASE=other"});
  ASSERT_EQ(init.code, 0) << init.all();
  const std::string file = tmp_ / "other-key.txt";
  ASSERT_EQ(CofferRaw({"-r", other, "key", "export", "-o", file}, {"COFFER_PASSPHRASE=other"}).code,
            0);
  KillServersOf(other);
  Output refused = Key({"import", file}, "whatever");
  EXPECT_EQ(refused.code, 2) << refused.all();
  EXPECT_NE(refused.err.find("not this repository's"), std::string::npos) << refused.err;
  EXPECT_EQ(SlotLines(passphrase_), std::vector<std::string>{"key"});
}

TEST_F(KeyTest, PasswdKilledBetweenItsStepsLeavesBothPassphrasesWorking) {
  Output killed = Key({"passwd"}, "second", {"COFFER_CRASH_AT=key-passwd-added"});
  EXPECT_EQ(killed.code, 128 + SIGKILL) << killed.all();
  EXPECT_EQ(As(passphrase_, {"snapshots"}).code, 0) << "the old passphrase still works";
  EXPECT_EQ(As("second", {"snapshots"}).code, 0) << "and the new one already does";

  Output changed = As("second", {"key", "passwd", "--kdf-ops", "1", "--kdf-memory", "8K"},
                      {"COFFER_NEW_PASSPHRASE=third"});
  ASSERT_EQ(changed.code, 0) << changed.all();
  EXPECT_EQ(As("second", {"snapshots"}).code, 12);
  EXPECT_EQ(As(passphrase_, {"snapshots"}).code, 0) << "passwd changes only the slot it opened";
  ExpectRestoresExactly("third");
}

TEST_F(KeyTest, SlotsAreAddedListedAndRemovedButNeverTheLast) {
  Output added = Key({"add"}, "recovery");
  ASSERT_EQ(added.code, 0) << added.all();
  EXPECT_NE(added.out.find("key.1"), std::string::npos) << added.out;
  EXPECT_EQ(SlotLines("recovery"), (std::vector<std::string>{"key", "key.1"}));
  Output list = As("recovery", {"key", "list"});
  EXPECT_NE(list.out.find("opened with this passphrase"), std::string::npos) << list.out;

  Output removed = As("recovery", {"key", "remove", "0"});
  ASSERT_EQ(removed.code, 0) << removed.all();
  EXPECT_EQ(As(passphrase_, {"snapshots"}).code, 12) << "a removed slot opens nothing at once";
  Output last = As("recovery", {"key", "remove", "key.1"});
  EXPECT_NE(last.code, 0);
  EXPECT_NE(last.err.find("last"), std::string::npos) << last.err;
  EXPECT_EQ(As("recovery", {"key", "remove", "key.7x"}).code, 2);
  ExpectRestoresExactly("recovery");
}

TEST_F(KeyTest, AnUnencryptedRepositoryListsNoKey) {
  std::string plain = tmp_ / "plain";
  Output init = CofferRaw({"-r", plain, "init", "--encryption", "none"});
  ASSERT_EQ(init.code, 0) << init.all();
  Output list = CofferRaw({"-r", plain, "--allow-unencrypted", "key", "list"});
  EXPECT_EQ(list.code, 0) << list.all();
  EXPECT_EQ(list.out, "the repository is unencrypted: it has no key and no key slots\n");
}

TEST_F(KeyTest, AKeyFileKeepsTheKeyOutOfTheRepository) {
  const std::string repo = tmp_ / "keyless", key_file = tmp_ / "repo.key";
  const std::vector<std::string> env = {"COFFER_PASSPHRASE=kept"};
  Output init = CofferRaw(
      {"-r", repo, "--key-file", key_file, "init", "--kdf-ops", "1", "--kdf-memory", "8K"}, env);
  ASSERT_EQ(init.code, 0) << init.all();
  struct stat st {};
  ASSERT_EQ(stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(ReadFile(key_file).find("BEGIN COFFER WRAPPED KEY"), std::string::npos);

  std::vector<std::string> with_key = env;
  with_key.push_back("COFFER_KEY_FILE=" + key_file);
  Output backup = CofferRaw({"-r", repo, "backup", "--group", "host/k", source_}, with_key);
  ASSERT_EQ(backup.code, 0) << backup.all();
  Output without = CofferRaw({"-r", repo, "snapshots"}, env);
  EXPECT_EQ(without.code, 4) << without.all();
  EXPECT_NE(without.err.find("--key-file"), std::string::npos) << without.err;
  KillServersOf(repo);
  {
    auto db = kv::Database::Open(RepoLayout(repo).db());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    size_t slots = 0;
    ASSERT_TRUE((*db)
                    ->Scan(kv::Column::kMeta, "key",
                           [&](std::string_view, ByteView) {
                             ++slots;
                             return true;
                           })
                    .ok());
    EXPECT_EQ(slots, 0u) << "a copy of the repository alone holds no key";
  }

  std::vector<std::string> change = with_key;
  change.push_back("COFFER_NEW_PASSPHRASE=changed");
  ASSERT_EQ(
      CofferRaw({"-r", repo, "key", "passwd", "--kdf-ops", "1", "--kdf-memory", "8K"}, change).code,
      0);
  EXPECT_EQ(CofferRaw({"-r", repo, "snapshots"}, with_key).code, 12);
  Output restore = CofferRaw({"-r", repo, "restore", "host/k/latest", "--target", tmp_ / "r"},
                             {"COFFER_PASSPHRASE=changed", "COFFER_KEY_FILE=" + key_file});
  ASSERT_EQ(restore.code, 0) << restore.all();
  EXPECT_EQ(Compare(source_, tmp_ / "r"), std::vector<std::string>{});
  KillServersOf(repo);
}

}  // namespace
}  // namespace coffer::e2e
