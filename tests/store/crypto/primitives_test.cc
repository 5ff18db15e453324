// The OpenSSL implementations of the per-object primitives must give
// libsodium's bytes exactly: every repository written before them, and every
// tool that reads Coffer's format, relies on that.
#include "store/crypto/primitives.h"

#include <sodium.h>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/store/crypto/test_data.h"

namespace coffer::crypto {
namespace {

using testing::RandomBytes;

// Lengths around BLAKE2b's 128-byte block, ChaCha20's 64-byte block, the
// AVX2/AVX-512 widths (256, 512 bytes) and a chunk.
const std::vector<size_t> kLengths = {0,    1,    15,   16,    63,    64,      65,           127,
                                      128,  129,  255,  256,   257,   511,     512,          513,
                                      1000, 4096, 4097, 65536, 65537, 1 << 20, (1 << 20) + 3};

ObjectId SodiumBlake2b(ByteView data, ByteView key) {
  ObjectId id;
  crypto_generichash(id.bytes.data(), ObjectId::kSize, data.data(), data.size(),
                     key.empty() ? nullptr : key.data(), key.size());
  return id;
}

TEST(IdHasherTest, KeyedHashIsLibsodiumsGenerichash) {
  const Bytes data = RandomBytes((1 << 20) + 3, 1);
  const Bytes key = RandomBytes(32, 2);
  const IdHasher hasher(key);
  for (size_t n : kLengths) {
    const ByteView part(data.data(), n);
    EXPECT_EQ(hasher.Hash(part), SodiumBlake2b(part, key)) << n << " bytes";
  }
}

TEST(IdHasherTest, UnkeyedHashIsLibsodiumsGenerichash) {
  const Bytes data = RandomBytes(4097, 3);
  const IdHasher hasher({});
  for (size_t n : {size_t{0}, size_t{1}, size_t{128}, size_t{4097}}) {
    const ByteView part(data.data(), n);
    EXPECT_EQ(hasher.Hash(part), SodiumBlake2b(part, {})) << n << " bytes";
  }
}

TEST(IdHasherTest, TheKeyMatters) {
  const Bytes data = RandomBytes(1000, 4);
  Bytes key = RandomBytes(32, 5);
  const IdHasher first(key);
  key[31] ^= 1;
  const IdHasher second(key);
  EXPECT_NE(first.Hash(data), second.Hash(data));
  EXPECT_NE(first.Hash(data), IdHasher({}).Hash(data));
}

struct Aead {
  Bytes key = RandomBytes(kXChaChaKeySize, 10);
  Bytes nonce = RandomBytes(kXChaChaNonceSize, 11);
  Bytes ad = RandomBytes(35, 12);
};

Bytes SodiumSeal(const Aead& a, ByteView message) {
  Bytes out(message.size() + kXChaChaTagSize);
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), nullptr, message.data(), message.size(),
                                             a.ad.data(), a.ad.size(), nullptr, a.nonce.data(),
                                             a.key.data());
  return out;
}

TEST(XChaChaTest, EncryptionIsLibsodiumsByteForByte) {
  const Aead a;
  const Bytes data = RandomBytes((1 << 20) + 3, 13);
  for (size_t n : kLengths) {
    const ByteView message(data.data(), n);
    Bytes out(n + kXChaChaTagSize);
    XChaChaEncrypt(out.data(), message.data(), n, a.ad, a.nonce.data(), a.key.data());
    EXPECT_EQ(out, SodiumSeal(a, message)) << n << " bytes";
  }
}

TEST(XChaChaTest, EncryptsInPlace) {
  const Aead a;
  const Bytes message = RandomBytes(70000, 14);
  Bytes buffer(message.size() + kXChaChaTagSize);
  std::memcpy(buffer.data(), message.data(), message.size());
  XChaChaEncrypt(buffer.data(), buffer.data(), message.size(), a.ad, a.nonce.data(), a.key.data());
  EXPECT_EQ(buffer, SodiumSeal(a, message));
}

TEST(XChaChaTest, DecryptsWhatLibsodiumSealed) {
  const Aead a;
  const Bytes data = RandomBytes((1 << 20) + 3, 15);
  for (size_t n : kLengths) {
    const ByteView message(data.data(), n);
    const Bytes sealed = SodiumSeal(a, message);
    Bytes out(n + 1);
    ASSERT_TRUE(XChaChaDecrypt(out.data(), sealed.data(), sealed.size(), a.ad, a.nonce.data(),
                               a.key.data()))
        << n << " bytes";
    EXPECT_EQ(0, std::memcmp(out.data(), message.data(), n)) << n << " bytes";
  }
}

TEST(XChaChaTest, RefusesEveryChangedByteAndEveryWrongInput) {
  const Aead a;
  const Bytes message = RandomBytes(300, 16);
  const Bytes sealed = SodiumSeal(a, message);
  Bytes out(sealed.size());
  auto opens = [&](const Bytes& s, ByteView ad, const Bytes& nonce, const Bytes& key) {
    return XChaChaDecrypt(out.data(), s.data(), s.size(), ad, nonce.data(), key.data());
  };
  ASSERT_TRUE(opens(sealed, a.ad, a.nonce, a.key));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes changed = sealed;
    changed[i] ^= 0x20;
    EXPECT_FALSE(opens(changed, a.ad, a.nonce, a.key)) << "byte " << i;
  }
  Bytes ad = a.ad, nonce = a.nonce, key = a.key;
  ad[0] ^= 1;
  nonce[0] ^= 1;  // a byte of the HChaCha20 half
  key[0] ^= 1;
  EXPECT_FALSE(opens(sealed, ad, a.nonce, a.key));
  EXPECT_FALSE(opens(sealed, a.ad, nonce, a.key));
  EXPECT_FALSE(opens(sealed, a.ad, a.nonce, key));
  nonce = a.nonce;
  nonce[23] ^= 1;  // a byte of the ChaCha20 nonce half
  EXPECT_FALSE(opens(sealed, a.ad, nonce, a.key));
  EXPECT_FALSE(opens(Bytes(sealed.begin(), sealed.end() - 1), a.ad, a.nonce, a.key));
  EXPECT_FALSE(opens(Bytes(15), a.ad, a.nonce, a.key));
}

TEST(XChaChaTest, AnEmptyMessageHasATagThatIsChecked) {
  const Aead a;
  Bytes sealed(kXChaChaTagSize);
  XChaChaEncrypt(sealed.data(), nullptr, 0, a.ad, a.nonce.data(), a.key.data());
  EXPECT_EQ(sealed, SodiumSeal(a, {}));
  uint8_t unused = 0;
  EXPECT_TRUE(
      XChaChaDecrypt(&unused, sealed.data(), sealed.size(), a.ad, a.nonce.data(), a.key.data()));
  sealed[3] ^= 1;
  EXPECT_FALSE(
      XChaChaDecrypt(&unused, sealed.data(), sealed.size(), a.ad, a.nonce.data(), a.key.data()));
}

}  // namespace
}  // namespace coffer::crypto
