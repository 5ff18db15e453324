#include "store/repo/repository.h"

#include <gtest/gtest.h>

#include "store/model/tree.h"
#include "store/repo/write_session.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer {
namespace {

using testing::InitAndOpen;
using testing::Passphrase;
using testing::TempDir;

pb::Snapshot Record(const std::string& group, int64_t seconds, const ObjectId& root) {
  pb::Snapshot r;
  r.set_version(1);
  r.set_group(group);
  r.set_time_ns(seconds * 1'000'000'000);
  r.set_root_tree_id(root.bytes.data(), root.bytes.size());
  return r;
}

class RepositoryTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  std::string dir_ = tmp_ / "repo";
};

TEST_F(RepositoryTest, OpenWithWrongPassphraseFailsAsUnauthenticated) {
  InitAndOpen(dir_).reset();
  auto repo = OpenLocalRepository(dir_, {}, Passphrase("wrong"));
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), Code::kUnauthenticated);
}

TEST_F(RepositoryTest, OpenOfAFolderThatIsNoRepositoryFailsAsNotFound) {
  auto repo = OpenLocalRepository(tmp_.path(), {}, Passphrase("x"));
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), Code::kNotFound);
  EXPECT_NE(repo.status().message().find("no Coffer repository"), std::string::npos);
}

TEST_F(RepositoryTest, InitRefusesANonEmptyFolder) {
  testing::WriteFile(tmp_ / "precious", "data");
  Status s = InitLocalRepository(tmp_.path(), testing::CheapInitOptions(), "p");
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(testing::ReadFile(tmp_ / "precious"), "data");
}

TEST_F(RepositoryTest, UnencryptedRepositoryNeedsNoPassphrase) {
  ASSERT_TRUE(InitLocalRepository(dir_, testing::CheapInitOptions(false), "").ok());
  LocalOpenOptions options;
  options.allow_unencrypted = true;
  auto repo = OpenLocalRepository(dir_, options,
                                  [] { return Result<std::string>(Status::Aborted("asked")); });
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  EXPECT_FALSE((*repo)->config().encrypted());
}

TEST_F(RepositoryTest, SnapshotsAreFoundByNameLatestAndIdPrefix) {
  auto repo = InitAndOpen(dir_);
  ObjectId root;
  {
    WriteSession session(*repo, 2);
    root = *session.AddTree(pb::Tree());
    ASSERT_TRUE(session.Commit(Record("host/a", 1'795'485'600, root)).ok());
  }
  Snapshot second;
  {
    WriteSession session(*repo, 2);
    auto committed = session.Commit(Record("host/a", 1'795'489'200, root));
    ASSERT_TRUE(committed.ok());
    second = *committed;
  }
  EXPECT_EQ(repo->FindSnapshot("host/a/latest")->ref.id, second.ref.id);
  EXPECT_EQ(repo->FindSnapshot("host/a/2026-11-24T03:00:00Z")->ref.id, second.ref.id);
  EXPECT_EQ(repo->FindSnapshot(second.ref.id.hex().substr(0, 8))->ref.id, second.ref.id);
  EXPECT_EQ(repo->FindSnapshot("host/b/latest").status().code(), Code::kNotFound);
  EXPECT_EQ(repo->FindSnapshot("host/a/2026-11-24T04:00:00Z").status().code(), Code::kNotFound);
  EXPECT_EQ(second.name(), "host/a/2026-11-24T03:00:00Z");
}

TEST_F(RepositoryTest, TamperedTreeIsReportedAsCorruptionNeverReturned) {
  auto repo = InitAndOpen(dir_);
  pb::Tree tree;
  tree.add_entries()->set_name("file");
  WriteSession session(*repo, 1);
  ObjectId id = *session.AddTree(tree);
  ASSERT_TRUE(session.Flush().ok());
  Bytes sealed = *repo->store().Get(ObjectKind::kTree, id);
  sealed[sealed.size() / 2] ^= 0x01;
  ASSERT_TRUE(repo->store().Put(ObjectKind::kTree, id, sealed).ok());
  auto read = repo->ReadTree(id);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kCorruption);
}

TEST_F(RepositoryTest, SwappedObjectsFailToOpen) {
  auto repo = InitAndOpen(dir_);
  WriteSession session(*repo, 1);
  ObjectId a = *session.AddChunk(AsBytes("first chunk"));
  ObjectId b = *session.AddChunk(AsBytes("second chunk"));
  ASSERT_TRUE(session.Flush().ok());
  Bytes sealed_a = *repo->store().Get(ObjectKind::kChunk, a);
  ASSERT_TRUE(repo->store().Put(ObjectKind::kChunk, b, sealed_a).ok());
  EXPECT_EQ(repo->ReadObject(ObjectKind::kChunk, b).status().code(), Code::kCorruption);
  EXPECT_EQ(AsChars(*repo->ReadObject(ObjectKind::kChunk, a)), "first chunk");
}

TEST_F(RepositoryTest, ReadObjectsOpensEachAndFailsOnlyTheBadOnes) {
  auto repo = InitAndOpen(dir_);
  WriteSession session(*repo, 1);
  ObjectId a = *session.AddChunk(AsBytes("first chunk"));
  ObjectId b = *session.AddChunk(AsBytes("second chunk"));
  ObjectId c = *session.AddChunk(AsBytes("third chunk"));
  ASSERT_TRUE(session.Flush().ok());
  Bytes sealed_a = *repo->store().Get(ObjectKind::kChunk, a);
  ASSERT_TRUE(repo->store().Put(ObjectKind::kChunk, b, sealed_a).ok());  // b now holds a
  ObjectId missing = repo->sealer().IdOf(AsBytes("never stored"));
  std::vector<ObjectId> ids = {a, b, missing, c, a};
  auto read = repo->ReadObjects(ObjectKind::kChunk, ids);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), ids.size());
  EXPECT_EQ(AsChars(*(*read)[0]), "first chunk");
  EXPECT_EQ((*read)[1].status().code(), Code::kCorruption);
  EXPECT_EQ((*read)[2].status().code(), Code::kNotFound);
  EXPECT_NE((*read)[2].status().message().find(missing.short_hex()), std::string::npos)
      << (*read)[2].status().message();
  EXPECT_EQ(AsChars(*(*read)[3]), "third chunk");
  EXPECT_EQ(AsChars(*(*read)[4]), "first chunk");
  // As one ReadObject() each would say.
  EXPECT_EQ((*read)[1].status().ToString(),
            repo->ReadObject(ObjectKind::kChunk, b).status().ToString());
  EXPECT_EQ((*read)[2].status().ToString(),
            repo->ReadObject(ObjectKind::kChunk, missing).status().ToString());
}

TEST_F(RepositoryTest, ServerOfAnUnencryptedRepositoryChecksObjectIds) {
  ASSERT_TRUE(InitLocalRepository(dir_, testing::CheapInitOptions(false), "").ok());
  LocalOpenOptions options;
  options.allow_unencrypted = true;
  auto repo = OpenLocalRepository(dir_, options, [] { return Result<std::string>(""); });
  ASSERT_TRUE(repo.ok());
  auto check = UnencryptedObjectCheck((*repo)->store());
  ASSERT_TRUE(check.ok() && *check) << "no check for an unencrypted repository";
  Bytes content = Bytes(AsBytes("some content").begin(), AsBytes("some content").end());
  ObjectId id = (*repo)->sealer().IdOf(content);
  Bytes sealed = *(*repo)->sealer().Seal(ObjectKind::kChunk, id, content);
  EXPECT_TRUE((*check)(ObjectKind::kChunk, id, sealed).ok());
  ObjectId other = (*repo)->sealer().IdOf(AsBytes("other content"));
  EXPECT_EQ((*check)(ObjectKind::kChunk, other, sealed).code(), Code::kCorruption);
}

TEST_F(RepositoryTest, ServerOfAnEncryptedRepositoryHasNoObjectCheck) {
  auto repo = InitAndOpen(dir_);
  auto check = UnencryptedObjectCheck(repo->store());
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(*check);
}

TEST_F(RepositoryTest, LookupPathWalksTheSnapshotTree) {
  auto repo = InitAndOpen(dir_);
  WriteSession session(*repo, 1);
  pb::Tree leaf;
  pb::Entry* file = leaf.add_entries();
  file->set_name("file.txt");
  file->set_size(3);
  ObjectId leaf_id = *session.AddTree(leaf);
  pb::Tree root;
  pb::Entry* dir = root.add_entries();
  dir->set_name("etc");
  dir->set_type(pb::Entry::DIRECTORY);
  dir->set_subtree_id(leaf_id.bytes.data(), leaf_id.bytes.size());
  ObjectId root_id = *session.AddTree(root);
  auto snap = session.Commit(Record("host/a", 1'000, root_id));
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(repo->LookupPath(*snap, "/etc/file.txt")->size(), 3u);
  EXPECT_EQ(repo->LookupPath(*snap, "etc")->type(), pb::Entry::DIRECTORY);
  EXPECT_EQ(repo->LookupPath(*snap, "")->type(), pb::Entry::DIRECTORY);
  EXPECT_EQ(repo->LookupPath(*snap, "etc/missing").status().code(), Code::kNotFound);
  EXPECT_EQ(repo->LookupPath(*snap, "etc/file.txt/below").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace coffer
