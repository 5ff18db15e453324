// Key slots, exported keys and key files over a real repository: several
// passphrases open one repository, a removed one opens nothing, the last slot
// stays, a damaged slot does not hide the others, and an exported key puts a
// lost key back (and only into its own repository).
#include <gtest/gtest.h>

#include <string>

#include "store/kv/database.h"
#include "store/objects/key_slots.h"
#include "store/objects/local_object_store.h"
#include "store/repo/layout.h"
#include "store/repo/local.h"
#include "store/repo/repository.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer {
namespace {

using testing::Passphrase;
using testing::TempDir;

const crypto::KdfParams kCheap = crypto::KdfParams::Minimum();

class KeySlotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_ / "repo";
    Status s = InitLocalRepository(dir_, testing::CheapInitOptions(), "first");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  Result<std::unique_ptr<Repository>> Open(const std::string& passphrase,
                                           std::optional<Bytes> key_file = std::nullopt) {
    OpenOptions options;
    options.wrapped_key = std::move(key_file);
    auto store = OpenLocalStore(dir_, {});
    if (!store.ok()) return store.status();
    return Repository::Open(std::move(store).value(), Passphrase(passphrase), options);
  }
  std::unique_ptr<Repository> MustOpen(const std::string& passphrase) {
    auto repo = Open(passphrase);
    EXPECT_TRUE(repo.ok()) << passphrase << ": " << repo.status().ToString();
    return repo.ok() ? std::move(repo).value() : nullptr;
  }

  // What someone holding the repository can do to its database directly.
  void WriteMeta(std::string_view key, ByteView value) {
    auto db = kv::Database::Open(RepoLayout(dir_).db());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Put(kv::Column::kMeta, key, value, kv::Durability::kSynced).ok());
  }
  void DeleteMeta(std::string_view key) {
    auto db = kv::Database::Open(RepoLayout(dir_).db());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Delete(kv::Column::kMeta, key, kv::Durability::kSynced).ok());
  }

  std::vector<std::string> SlotNames(Repository& repo) {
    std::vector<std::string> names;
    auto slots = repo.ListKeySlots();
    EXPECT_TRUE(slots.ok()) << slots.status().ToString();
    if (slots.ok()) {
      for (const KeySlot& slot : *slots) names.push_back(slot.name);
    }
    return names;
  }

  TempDir tmp_;
  std::string dir_;
};

TEST(KeySlotNameTest, NamesAndNumbersOfSlots) {
  EXPECT_EQ(KeySlotName(0), "key");
  EXPECT_EQ(KeySlotName(7), "key.7");
  EXPECT_EQ(KeySlotNumber("key"), 0u);
  EXPECT_EQ(KeySlotNumber("key.1"), 1u);
  EXPECT_EQ(KeySlotNumber("key.99"), 99u);
  for (std::string_view not_a_slot : {"config", "config-mac", "key.", "key.0", "key.01", "key.100",
                                      "key.x", "keys", "key.1.2", "ke", ""}) {
    EXPECT_FALSE(KeySlotNumber(not_a_slot).has_value()) << not_a_slot;
  }
}

TEST_F(KeySlotsTest, EveryPassphraseOfASlotOpensTheRepositoryAndSaysWhichSlot) {
  auto repo = MustOpen("first");
  ASSERT_NE(repo, nullptr);
  EXPECT_EQ(repo->opened_key_slot(), "key");
  auto added = repo->AddKeySlot("second", kCheap);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, "key.1");
  EXPECT_EQ(SlotNames(*repo), (std::vector<std::string>{"key", "key.1"}));
  repo.reset();

  auto second = MustOpen("second");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->opened_key_slot(), "key.1");
  auto slots = second->ListKeySlots();
  ASSERT_TRUE(slots.ok());
  EXPECT_FALSE((*slots)[0].opened);
  EXPECT_TRUE((*slots)[1].opened);
  EXPECT_EQ((*slots)[1].kdf.opslimit, kCheap.opslimit);
  second.reset();
  EXPECT_EQ(Open("third").status().code(), Code::kUnauthenticated);
}

TEST_F(KeySlotsTest, ARemovedSlotsPassphraseOpensNothingAndTheLastSlotStays) {
  auto repo = MustOpen("first");
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(repo->AddKeySlot("second", kCheap).ok());
  ASSERT_TRUE(repo->RemoveKeySlot("key").ok());
  Status last = repo->RemoveKeySlot("key.1");
  EXPECT_EQ(last.code(), Code::kFailedPrecondition) << last.ToString();
  EXPECT_EQ(repo->RemoveKeySlot("key").code(), Code::kNotFound);
  EXPECT_EQ(repo->RemoveKeySlot("config").code(), Code::kInvalidArgument)
      << "only key slots may go";
  repo.reset();

  EXPECT_EQ(Open("first").status().code(), Code::kUnauthenticated);
  auto second = MustOpen("second");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(SlotNames(*second), (std::vector<std::string>{"key.1"}));
  // The lowest free slot is taken again.
  auto again = second->AddKeySlot("third", kCheap);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "key");
}

TEST_F(KeySlotsTest, ADamagedSlotIsListedAndSkippedWhileAnotherOpens) {
  {
    auto repo = MustOpen("first");
    ASSERT_NE(repo, nullptr);
    ASSERT_TRUE(repo->AddKeySlot("second", kCheap).ok());
  }
  WriteMeta("key", AsBytes(std::string("not a wrapped key")));
  auto repo = MustOpen("second");
  ASSERT_NE(repo, nullptr);
  auto slots = repo->ListKeySlots();
  ASSERT_TRUE(slots.ok());
  ASSERT_EQ(slots->size(), 2u);
  EXPECT_FALSE((*slots)[0].damage.ok());
  EXPECT_TRUE((*slots)[1].damage.ok());
  repo.reset();

  auto wrong = Open("first");
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
  EXPECT_NE(wrong.status().message().find("damaged: key slot key"), std::string::npos)
      << wrong.status().message();
  DeleteMeta("key.1");
  auto only_damaged = Open("second");
  EXPECT_EQ(only_damaged.status().code(), Code::kCorruption);
  EXPECT_NE(only_damaged.status().message().find("coffer key import"), std::string::npos)
      << only_damaged.status().message();
}

TEST_F(KeySlotsTest, AnExportedKeyPutsALostKeyBackUnderANewPassphrase) {
  Bytes exported;
  std::string root;
  {
    auto repo = MustOpen("first");
    ASSERT_NE(repo, nullptr);
    auto record = repo->ExportKey();
    ASSERT_TRUE(record.ok()) << record.status().ToString();
    exported = *record;
    EXPECT_EQ(exported.size(), crypto::KeySet::kExportRecordSize);
  }
  DeleteMeta("key");
  auto lost = Open("first");
  EXPECT_EQ(lost.status().code(), Code::kCorruption);
  EXPECT_NE(lost.status().message().find("holds no key"), std::string::npos)
      << lost.status().message();

  auto store = OpenLocalStore(dir_, {});
  ASSERT_TRUE(store.ok());
  auto slot = Repository::ImportKey(**store, exported, "new", kCheap);
  ASSERT_TRUE(slot.ok()) << slot.status().ToString();
  EXPECT_EQ(*slot, "key");
  store->reset();
  EXPECT_EQ(Open("first").status().code(), Code::kUnauthenticated);
  auto repo = MustOpen("new");
  ASSERT_NE(repo, nullptr);
  auto again = repo->ExportKey();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, exported) << "the same key came back";
}

TEST_F(KeySlotsTest, AnotherRepositorysKeyOrAForgedOneIsRefused) {
  const std::string other_dir = tmp_ / "other";
  ASSERT_TRUE(InitLocalRepository(other_dir, testing::CheapInitOptions(), "other").ok());
  Bytes other_key;
  {
    auto other = OpenLocalRepository(other_dir, {}, Passphrase("other"));
    ASSERT_TRUE(other.ok());
    other_key = *(*other)->ExportKey();
  }
  auto store = OpenLocalStore(dir_, {});
  ASSERT_TRUE(store.ok());
  auto refused = Repository::ImportKey(**store, other_key, "new", kCheap);
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("not this repository's"), std::string::npos)
      << refused.status().message();

  // This repository's id with another master secret (checksum made right):
  // the config's authentication code tells it apart.
  Bytes ours;
  {
    store->reset();
    auto repo = MustOpen("first");
    ASSERT_NE(repo, nullptr);
    ours = *repo->ExportKey();
  }
  auto forged = crypto::KeySet::ImportRecord(other_key);
  ASSERT_TRUE(forged.ok());
  auto forged_record = forged->keys.ExportRecord(ByteView(ours).subspan(1, 32));
  ASSERT_TRUE(forged_record.ok());
  auto reopened = OpenLocalStore(dir_, {});
  ASSERT_TRUE(reopened.ok());
  auto mismatch = Repository::ImportKey(**reopened, *forged_record, "new", kCheap);
  EXPECT_EQ(mismatch.status().code(), Code::kCorruption) << mismatch.status().ToString();

  Bytes typo = ours;
  typo[40] ^= 1;
  EXPECT_EQ(Repository::ImportKey(**reopened, typo, "new", kCheap).status().code(),
            Code::kCorruption);
  auto slots = (*reopened)->ListMeta("key");
  ASSERT_TRUE(slots.ok());
  EXPECT_EQ(slots->size(), 1u) << "nothing refused was stored";
}

TEST_F(KeySlotsTest, AKeyKeptOutsideTheRepositoryIsTheOnlyKeyThatOpensIt) {
  const std::string dir = tmp_ / "keyless";
  InitOptions options = testing::CheapInitOptions();
  options.key_in_repository = false;
  Bytes wrapped;
  Status s = InitLocalRepository(dir, options, "kept", [&](const Repository::NewKey& key) {
    wrapped = key.wrapped;
    EXPECT_EQ(key.repository_id.size(), 32u);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  dir_ = dir;
  auto store = OpenLocalStore(dir_, {});
  ASSERT_TRUE(store.ok());
  auto meta = (*store)->ListMeta("key");
  ASSERT_TRUE(meta.ok());
  EXPECT_TRUE(meta->empty()) << "the repository holds no key";
  store->reset();

  auto without = Open("kept");
  EXPECT_EQ(without.status().code(), Code::kCorruption);
  EXPECT_NE(without.status().message().find("--key-file"), std::string::npos);
  auto with = Open("kept", wrapped);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ((*with)->opened_key_slot(), "");
  with->reset();
  EXPECT_EQ(Open("wrong", wrapped).status().code(), Code::kUnauthenticated);

  // Another repository's key file: its key does not match this config.
  const std::string other_dir = tmp_ / "other";
  InitOptions other_options = testing::CheapInitOptions();
  other_options.key_in_repository = false;
  Bytes other_wrapped;
  ASSERT_TRUE(
      InitLocalRepository(other_dir, other_options, "kept", [&](const Repository::NewKey& key) {
        other_wrapped = key.wrapped;
        return Status::Ok();
      }).ok());
  auto mismatched = Open("kept", other_wrapped);
  EXPECT_EQ(mismatched.status().code(), Code::kCorruption);
  EXPECT_NE(mismatched.status().message().find("another repository's"), std::string::npos)
      << mismatched.status().message();
}

}  // namespace
}  // namespace coffer
