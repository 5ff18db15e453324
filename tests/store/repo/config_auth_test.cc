// The repository config is believed only once it is authenticated: a config
// changed behind the client's back (rewritten in the database, as whoever
// holds the repository can) is refused, and an unencrypted repository is
// opened only when the caller accepts one explicitly.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "store/kv/database.h"
#include "store/model/tree.h"
#include "store/objects/local_object_store.h"
#include "store/repo/layout.h"
#include "store/repo/repository.h"
#include "store/repo/write_session.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer {
namespace {

using testing::Passphrase;
using testing::TempDir;

// Refuses to be called: an open that asks for a passphrase fails the test.
PassphraseFn NeverAsked() {
  return [] {
    ADD_FAILURE() << "the passphrase was asked for";
    return Result<std::string>(Status::Aborted("asked"));
  };
}

class ConfigAuthTest : public ::testing::Test {
 protected:
  void Init(const std::string& dir, bool encrypted = true) {
    Status s = InitLocalRepository(dir, testing::CheapInitOptions(encrypted), "correct horse");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The database of the (closed) repository at `dir`, opened directly: what
  // someone holding the repository can write, bypassing the store's rules.
  std::unique_ptr<kv::Database> Db(const std::string& dir) {
    auto db = kv::Database::Open(RepoLayout(dir).db());
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }
  Bytes ReadMeta(const std::string& dir, std::string_view key) {
    auto value = Db(dir)->Get(kv::Column::kMeta, key);
    EXPECT_TRUE(value.ok()) << key << ": " << value.status().ToString();
    return value.ok() ? *value : Bytes();
  }
  void WriteMeta(const std::string& dir, std::string_view key, ByteView value) {
    Status s = Db(dir)->Put(kv::Column::kMeta, key, value, kv::Durability::kSynced);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void DeleteMeta(const std::string& dir, std::string_view key) {
    Status s = Db(dir)->Delete(kv::Column::kMeta, key, kv::Durability::kSynced);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  pb::RepoConfig StoredConfig(const std::string& dir) {
    pb::RepoConfig config;
    Bytes bytes = ReadMeta(dir, "config");
    EXPECT_TRUE(config.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
    return config;
  }
  void RewriteConfig(const std::string& dir, const std::function<void(pb::RepoConfig&)>& change) {
    pb::RepoConfig config = StoredConfig(dir);
    change(config);
    WriteMeta(dir, "config", model::Encode(config));
  }

  Result<std::unique_ptr<Repository>> Open(const std::string& dir, bool allow_unencrypted,
                                           PassphraseFn passphrase = Passphrase("correct horse")) {
    LocalOpenOptions options;
    options.allow_unencrypted = allow_unencrypted;
    return OpenLocalRepository(dir, options, passphrase);
  }

  TempDir tmp_;
};

struct ConfigChange {
  const char* field;
  std::function<void(pb::RepoConfig&)> change;
};

// Each change leaves a config this version would otherwise accept (valid
// chunk sizes, a known zstd level) except format_version, which it would
// call a newer format.
std::vector<ConfigChange> EveryField() {
  return {
      {"format_version", [](pb::RepoConfig& c) { c.set_format_version(c.format_version() + 1); }},
      {"encrypted", [](pb::RepoConfig& c) { c.set_encrypted(false); }},
      {"chunk_min_size", [](pb::RepoConfig& c) { c.set_chunk_min_size(c.chunk_min_size() / 2); }},
      {"chunk_avg_size", [](pb::RepoConfig& c) { c.set_chunk_avg_size(c.chunk_avg_size() * 2); }},
      {"chunk_max_size", [](pb::RepoConfig& c) { c.set_chunk_max_size(c.chunk_max_size() * 2); }},
      {"zstd_level", [](pb::RepoConfig& c) { c.set_zstd_level(19); }},
      {"repository_id",
       [](pb::RepoConfig& c) {
         std::string id = c.repository_id();
         id[0] = static_cast<char>(id[0] ^ 0x01);
         c.set_repository_id(id);
       }},
  };
}

TEST_F(ConfigAuthTest, InitializeStoresAConfigMacOnlyForAnEncryptedRepository) {
  Init(tmp_ / "enc");
  Init(tmp_ / "plain", /*encrypted=*/false);
  EXPECT_EQ(ReadMeta(tmp_ / "enc", "config-mac").size(), 33u);
  EXPECT_EQ(ReadMeta(tmp_ / "enc", "config-mac")[0], 1) << "version byte";
  EXPECT_EQ(Db(tmp_ / "plain")->Get(kv::Column::kMeta, "config-mac").status().code(),
            Code::kNotFound);
}

TEST_F(ConfigAuthTest, AConfigRewrittenUnchangedStillOpens) {
  const std::string dir = tmp_ / "repo";
  Init(dir);
  RewriteConfig(dir, [](pb::RepoConfig&) {});
  auto repo = Open(dir, /*allow_unencrypted=*/false);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  EXPECT_TRUE((*repo)->config().encrypted());
}

TEST_F(ConfigAuthTest, EveryChangedFieldOfTheConfigIsRefusedAsCorruption) {
  int n = 0;
  for (const ConfigChange& c : EveryField()) {
    SCOPED_TRACE(c.field);
    const std::string dir = tmp_ / ("repo" + std::to_string(n++));
    Init(dir);
    RewriteConfig(dir, c.change);
    for (bool allow : {false, true}) {
      auto repo = Open(dir, allow);
      ASSERT_FALSE(repo.ok()) << "opened with allow_unencrypted=" << allow;
      EXPECT_EQ(repo.status().code(), Code::kCorruption) << repo.status().ToString();
      const std::string why = repo.status().message();
      EXPECT_NE(why.find(c.field == std::string("encrypted") ? "holds an encryption key"
                                                             : "authentication code"),
                std::string::npos)
          << why;
    }
  }
}

TEST_F(ConfigAuthTest, AConfigWithoutItsMacIsRefused) {
  const std::string dir = tmp_ / "repo";
  Init(dir);
  DeleteMeta(dir, "config-mac");
  auto repo = Open(dir, /*allow_unencrypted=*/false);
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), Code::kCorruption);
  EXPECT_NE(repo.status().message().find("no authentication code"), std::string::npos)
      << repo.status().message();
}

TEST_F(ConfigAuthTest, AMacOfAnotherRepositoryIsRefused) {
  // Both repositories have the same passphrase; the MAC key is each one's own.
  Init(tmp_ / "a");
  Init(tmp_ / "b");
  WriteMeta(tmp_ / "a", "config-mac", ReadMeta(tmp_ / "b", "config-mac"));
  auto repo = Open(tmp_ / "a", /*allow_unencrypted=*/false);
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), Code::kCorruption);
}

TEST_F(ConfigAuthTest, AMacWithAFlippedByteOrAnotherVersionIsRefused) {
  for (size_t at : {size_t{0}, size_t{1}, size_t{32}}) {
    SCOPED_TRACE(at);
    const std::string dir = tmp_ / ("repo" + std::to_string(at));
    Init(dir);
    Bytes mac = ReadMeta(dir, "config-mac");
    mac[at] ^= 0x01;
    WriteMeta(dir, "config-mac", mac);
    auto repo = Open(dir, /*allow_unencrypted=*/false);
    ASSERT_FALSE(repo.ok());
    EXPECT_EQ(repo.status().code(), Code::kCorruption);
  }
}

TEST_F(ConfigAuthTest, ClearedEncryptedFlagIsRefusedEvenWithoutTheKey) {
  // Whoever cleared the flag also removed the key and the MAC: the repository
  // now looks unencrypted, and is opened only when the caller accepts that.
  const std::string dir = tmp_ / "repo";
  Init(dir);
  RewriteConfig(dir, [](pb::RepoConfig& c) { c.set_encrypted(false); });
  DeleteMeta(dir, "key");
  auto repo = Open(dir, /*allow_unencrypted=*/true, NeverAsked());
  ASSERT_FALSE(repo.ok());
  EXPECT_NE(repo.status().message().find("holds an encryption key"), std::string::npos)
      << "the MAC left behind is a sign of tampering too: " << repo.status().message();
  DeleteMeta(dir, "config-mac");
  repo = Open(dir, /*allow_unencrypted=*/false, NeverAsked());
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), Code::kCorruption);
  EXPECT_NE(repo.status().message().find("claims to be unencrypted"), std::string::npos)
      << repo.status().message();
}

TEST_F(ConfigAuthTest, AnUnencryptedRepositoryOpensOnlyWhenAllowed) {
  const std::string dir = tmp_ / "repo";
  Init(dir, /*encrypted=*/false);
  auto refused = Open(dir, /*allow_unencrypted=*/false, NeverAsked());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kCorruption);
  EXPECT_NE(refused.status().message().find("claims to be unencrypted"), std::string::npos)
      << refused.status().message();
  auto repo = Open(dir, /*allow_unencrypted=*/true, NeverAsked());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  EXPECT_FALSE((*repo)->config().encrypted());
}

TEST_F(ConfigAuthTest, TheRefusalOfAnUnencryptedRepositoryCarriesTheCallersHint) {
  const std::string dir = tmp_ / "repo";
  Init(dir, /*encrypted=*/false);
  auto store = OpenLocalStore(dir, {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  OpenOptions options;
  options.allow_unencrypted_hint = "say --yes-really";
  auto repo = Repository::Open(std::move(store).value(), NeverAsked(), options);
  ASSERT_FALSE(repo.ok());
  EXPECT_NE(repo.status().message().find("say --yes-really"), std::string::npos)
      << repo.status().message();
}

TEST_F(ConfigAuthTest, AnEncryptedRepositoryOpensWhetherUnencryptedIsAllowedOrNot) {
  const std::string dir = tmp_ / "repo";
  Init(dir);
  for (bool allow : {false, true}) {
    auto repo = Open(dir, allow);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    EXPECT_TRUE((*repo)->config().encrypted());
  }
}

TEST_F(ConfigAuthTest, AnUnencryptedConfigWithInvalidChunkSizesIsCorruption) {
  const std::string dir = tmp_ / "repo";
  Init(dir, /*encrypted=*/false);
  RewriteConfig(dir, [](pb::RepoConfig& c) { c.set_chunk_avg_size(c.chunk_avg_size() + 1); });
  auto repo = Open(dir, /*allow_unencrypted=*/true, NeverAsked());
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), Code::kCorruption) << repo.status().ToString();
}

// The store keeps the config, its MAC and the wrapped key write-once: one
// PutMeta() must not be able to lose every snapshot.
TEST_F(ConfigAuthTest, TheStoreRefusesToOverwriteTheKeyTheConfigOrItsMac) {
  const std::string dir = tmp_ / "repo";
  Init(dir);
  {
    auto store = LocalObjectStore::Open(RepoLayout(dir).db());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (const char* key : {"key", "config", "config-mac"}) {
      SCOPED_TRACE(key);
      auto before = (*store)->GetMeta(key);
      ASSERT_TRUE(before.ok() && before->has_value());
      Bytes other = **before;
      other[other.size() / 2] ^= 0x01;
      Status s = (*store)->PutMeta(key, other);
      EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
      EXPECT_EQ(s.message(), "meta key " + std::string(key) + " is write-once");
      EXPECT_EQ((*store)->PutMeta(key, {}).code(), Code::kAlreadyExists);
      EXPECT_TRUE((*store)->PutMeta(key, **before).ok()) << "the same value again is a retry";
      EXPECT_EQ(*(*store)->GetMeta(key), before.value());
    }
  }
  auto repo = Open(dir, /*allow_unencrypted=*/false);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
}

}  // namespace
}  // namespace coffer
