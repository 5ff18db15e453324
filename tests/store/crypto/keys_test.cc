#include "store/crypto/keys.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "store/crypto/sealer.h"

namespace coffer::crypto {
namespace {

Bytes ToBytes(ByteView v) {
  return Bytes(v.begin(), v.end());
}

class KeysTest : public ::testing::Test {
 protected:
  Bytes WrapOrDie(const KeySet& keys, std::string_view passphrase) {
    Result<Bytes> wrapped = keys.Wrap(passphrase, KdfParams::Minimum());
    EXPECT_TRUE(wrapped.ok()) << wrapped.status().ToString();
    return wrapped.ok() ? *wrapped : Bytes();
  }

  KeySet keys_ = KeySet::Generate();
};

TEST_F(KeysTest, GeneratedKeysAreDistinct32ByteSubkeys) {
  EXPECT_TRUE(keys_.encrypted());
  ASSERT_EQ(keys_.id_key().size(), 32u);
  ASSERT_EQ(keys_.data_key().size(), 32u);
  ASSERT_EQ(keys_.chunker_seed().size(), 32u);
  EXPECT_NE(ToBytes(keys_.id_key()), ToBytes(keys_.data_key()));
  EXPECT_NE(ToBytes(keys_.id_key()), ToBytes(keys_.chunker_seed()));
  EXPECT_NE(ToBytes(keys_.id_key()), ToBytes(KeySet::Generate().id_key()));
}

TEST_F(KeysTest, UnencryptedHasNoSecretsAndAFixedChunkerSeed) {
  KeySet a = KeySet::Unencrypted();
  EXPECT_FALSE(a.encrypted());
  EXPECT_TRUE(a.id_key().empty());
  EXPECT_TRUE(a.data_key().empty());
  ASSERT_EQ(a.chunker_seed().size(), 32u);
  EXPECT_EQ(ToBytes(a.chunker_seed()), ToBytes(KeySet::Unencrypted().chunker_seed()));
  EXPECT_EQ(a.Wrap("pw", KdfParams::Minimum()).status().code(), Code::kInvalidArgument);
}

TEST_F(KeysTest, UnwrapWithTheRightPassphraseGivesTheSameSubkeys) {
  Bytes wrapped = WrapOrDie(keys_, "correct horse");
  Result<KeySet> back = KeySet::Unwrap(wrapped, "correct horse");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToBytes(back->id_key()), ToBytes(keys_.id_key()));
  EXPECT_EQ(ToBytes(back->data_key()), ToBytes(keys_.data_key()));
  EXPECT_EQ(ToBytes(back->chunker_seed()), ToBytes(keys_.chunker_seed()));
}

TEST_F(KeysTest, UnwrappedKeysGiveTheSameIdsAndOpenEachOthersObjects) {
  Result<KeySet> back = KeySet::Unwrap(WrapOrDie(keys_, "pw"), "pw");
  ASSERT_TRUE(back.ok());
  Sealer original(keys_, 3), restored(*back, 3);
  const Bytes plain(AsBytes("a tree listing").begin(), AsBytes("a tree listing").end());
  const ObjectId id = original.IdOf(plain);
  EXPECT_EQ(restored.IdOf(plain), id);
  Result<Bytes> sealed = original.Seal(ObjectKind::kTree, id, plain);
  ASSERT_TRUE(sealed.ok());
  Result<Bytes> opened = restored.Open(ObjectKind::kTree, id, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, plain);
}

TEST_F(KeysTest, WrappingTwiceGivesDifferentBytes) {
  EXPECT_NE(WrapOrDie(keys_, "pw"), WrapOrDie(keys_, "pw"));
}

TEST_F(KeysTest, UnwrapWithAWrongPassphraseIsUnauthenticated) {
  Result<KeySet> back = KeySet::Unwrap(WrapOrDie(keys_, "right"), "wrong");
  EXPECT_EQ(back.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(back.status().message(), "wrong passphrase");
}

TEST_F(KeysTest, UnwrapOfTruncatedBytesIsCorruption) {
  Bytes wrapped = WrapOrDie(keys_, "pw");
  for (size_t n : {size_t{0}, size_t{1}, size_t{20}, wrapped.size() - 1}) {
    Bytes cut(wrapped.begin(), wrapped.begin() + n);
    EXPECT_EQ(KeySet::Unwrap(cut, "pw").status().code(), Code::kCorruption) << n;
  }
  wrapped.push_back(0);
  EXPECT_EQ(KeySet::Unwrap(wrapped, "pw").status().code(), Code::kCorruption);
}

TEST_F(KeysTest, UnwrapOfAnyGarbledByteAfterTheVersionIsCorruption) {
  const Bytes wrapped = WrapOrDie(keys_, "pw");
  for (size_t i = 1; i < wrapped.size(); ++i) {
    Bytes bad = wrapped;
    bad[i] ^= 0x04;
    EXPECT_EQ(KeySet::Unwrap(bad, "pw").status().code(), Code::kCorruption) << "byte " << i;
  }
}

TEST_F(KeysTest, UnwrapOfAnUnknownVersionIsUnsupported) {
  Bytes wrapped = WrapOrDie(keys_, "pw");
  wrapped[0] = 2;
  EXPECT_EQ(KeySet::Unwrap(wrapped, "pw").status().code(), Code::kUnsupported);
}

TEST_F(KeysTest, WrapRefusesParametersOutOfRange) {
  KdfParams huge{KdfParams::kMaxOpslimit + 1, KdfParams::Minimum().memlimit};
  EXPECT_EQ(keys_.Wrap("pw", huge).status().code(), Code::kInvalidArgument);
  KdfParams tiny{KdfParams::Minimum().opslimit, 1024};
  EXPECT_EQ(keys_.Wrap("pw", tiny).status().code(), Code::kInvalidArgument);
}

TEST_F(KeysTest, DefaultParamsAreThreeOpsAnd64MiB) {
  EXPECT_EQ(KdfParams::Default().opslimit, 3u);
  EXPECT_EQ(KdfParams::Default().memlimit, uint64_t{64} << 20);
}

TEST_F(KeysTest, ConfigMacIsAVersionedCodeOnlyTheSameKeysMatch) {
  const Bytes config = ToBytes(AsBytes("a stored repository config"));
  const Bytes mac = keys_.ConfigMac(config);
  ASSERT_EQ(mac.size(), 33u);
  EXPECT_EQ(mac[0], 1) << "version";
  EXPECT_TRUE(keys_.ConfigMacMatches(config, mac));
  // The same master key, unwrapped, gives the same code: it survives a reopen.
  auto unwrapped = KeySet::Unwrap(WrapOrDie(keys_, "pass"), "pass");
  ASSERT_TRUE(unwrapped.ok());
  EXPECT_EQ(unwrapped->ConfigMac(config), mac);
  // Another key, another config, or a changed code: no match.
  KeySet other = KeySet::Generate();
  EXPECT_NE(other.ConfigMac(config), mac);
  EXPECT_FALSE(other.ConfigMacMatches(config, mac));
  Bytes changed_config = config;
  changed_config.back() ^= 0x01;
  EXPECT_FALSE(keys_.ConfigMacMatches(changed_config, mac));
  for (size_t i = 0; i < mac.size(); ++i) {
    Bytes changed = mac;
    changed[i] ^= 0x80;
    EXPECT_FALSE(keys_.ConfigMacMatches(config, changed)) << i;
  }
  EXPECT_FALSE(keys_.ConfigMacMatches(config, Bytes(mac.begin(), mac.end() - 1)));
  EXPECT_FALSE(keys_.ConfigMacMatches(config, {}));
}

TEST_F(KeysTest, AnUnencryptedKeySetHasNoConfigMac) {
  KeySet none = KeySet::Unencrypted();
  const Bytes config = ToBytes(AsBytes("config"));
  EXPECT_TRUE(none.ConfigMac(config).empty());
  EXPECT_FALSE(none.ConfigMacMatches(config, keys_.ConfigMac(config)));
  EXPECT_FALSE(none.ConfigMacMatches(config, {}));
}

TEST_F(KeysTest, MovedKeySetKeepsItsKeys) {
  const Bytes id_key = ToBytes(keys_.id_key());
  KeySet moved = std::move(keys_);
  EXPECT_EQ(ToBytes(moved.id_key()), id_key);
}

}  // namespace
}  // namespace coffer::crypto
