#include "store/crypto/primitives.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "store/crypto/sodium_init.h"

namespace coffer::crypto {
namespace {

static_assert(kXChaChaKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kXChaChaNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kXChaChaTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "coffer: OpenSSL failed in %s\n", what);
  std::abort();
}

// OpenSSL's algorithms, fetched once. Null when the configured providers
// lack them (a FIPS-only setup): libsodium computes the same bytes then.
EVP_MAC* Blake2bMac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "BLAKE2BMAC", nullptr);
  return mac;
}
EVP_CIPHER* ChaCha20Poly1305() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return cipher;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// One context per thread, reset (which wipes the key) after every use.
EVP_CIPHER_CTX* ThreadCipherCtx() {
  thread_local std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) Fail("EVP_CIPHER_CTX_new");
  return ctx.get();
}

// XChaCha20-Poly1305-IETF is ChaCha20-Poly1305-IETF under the HChaCha20
// subkey of the nonce's first 16 bytes, with the 12-byte nonce 0000 || the
// nonce's last 8 bytes (draft-irtf-cfrg-xchacha, as libsodium does it).
struct XChaChaParams {
  uint8_t subkey[32];
  uint8_t iv[12] = {};
  XChaChaParams(const uint8_t* nonce, const uint8_t* key) {
    crypto_core_hchacha20(subkey, nonce, key, nullptr);
    std::memcpy(iv + 4, nonce + 16, 8);
  }
  ~XChaChaParams() { sodium_memzero(subkey, sizeof subkey); }
};

bool FitsInt(size_t n) {
  return n <= static_cast<size_t>(INT_MAX);
}

}  // namespace

struct IdHasher::Keyed {
  EVP_MAC_CTX* ready = nullptr;  // initialised with the key; duplicated per hash
  // The key itself, only when OpenSSL lacks BLAKE2BMAC and libsodium hashes.
  uint8_t fallback_key[crypto_generichash_KEYBYTES_MAX];
  size_t fallback_key_size = 0;
  ~Keyed() {
    EVP_MAC_CTX_free(ready);
    sodium_memzero(fallback_key, sizeof fallback_key);
  }
};

IdHasher::IdHasher(ByteView key) {
  EnsureSodium();
  if (key.empty()) return;
  if (key.size() < crypto_generichash_KEYBYTES_MIN ||
      key.size() > crypto_generichash_KEYBYTES_MAX) {
    Fail("IdHasher: key size");
  }
  keyed_ = std::make_unique<Keyed>();
  EVP_MAC* mac = Blake2bMac();
  if (mac == nullptr) {
    std::memcpy(keyed_->fallback_key, key.data(), key.size());
    keyed_->fallback_key_size = key.size();
    return;
  }
  keyed_->ready = EVP_MAC_CTX_new(mac);
  size_t digest_size = ObjectId::kSize;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &digest_size),
                               OSSL_PARAM_construct_end()};
  if (keyed_->ready == nullptr ||
      EVP_MAC_init(keyed_->ready, key.data(), key.size(), params) != 1) {
    Fail("EVP_MAC_init(BLAKE2BMAC)");
  }
}

IdHasher::~IdHasher() = default;

ObjectId IdHasher::Hash(ByteView plaintext) const {
  ObjectId id;
  if (!keyed_ || keyed_->ready == nullptr) {
    const bool keyed = keyed_ != nullptr;
    crypto_generichash(id.bytes.data(), ObjectId::kSize, plaintext.data(), plaintext.size(),
                       keyed ? keyed_->fallback_key : nullptr,
                       keyed ? keyed_->fallback_key_size : 0);
    return id;
  }
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_->ready);
  size_t written = 0;
  const bool ok = ctx != nullptr && EVP_MAC_update(ctx, plaintext.data(), plaintext.size()) == 1 &&
                  EVP_MAC_final(ctx, id.bytes.data(), &written, id.bytes.size()) == 1 &&
                  written == ObjectId::kSize;
  EVP_MAC_CTX_free(ctx);
  if (!ok) Fail("BLAKE2BMAC");
  return id;
}

void XChaChaEncrypt(uint8_t* out, const uint8_t* message, size_t size, ByteView associated_data,
                    const uint8_t* nonce, const uint8_t* key) {
  EVP_CIPHER* cipher = ChaCha20Poly1305();
  if (cipher == nullptr || !FitsInt(size) || !FitsInt(associated_data.size())) {
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
        out, out + size, nullptr, message, size, associated_data.data(), associated_data.size(),
        nullptr, nonce, key);
    return;
  }
  const XChaChaParams params(nonce, key);
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  int n = 0;
  bool ok = EVP_EncryptInit_ex2(ctx, cipher, params.subkey, params.iv, nullptr) == 1 &&
            EVP_EncryptUpdate(ctx, nullptr, &n, associated_data.data(),
                              static_cast<int>(associated_data.size())) == 1;
  size_t done = 0;
  if (ok && size > 0) {
    ok = EVP_EncryptUpdate(ctx, out, &n, message, static_cast<int>(size)) == 1;
    done = static_cast<size_t>(n);
  }
  ok = ok && EVP_EncryptFinal_ex(ctx, out + done, &n) == 1 && done + n == size &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kXChaChaTagSize, out + size) == 1;
  EVP_CIPHER_CTX_reset(ctx);
  if (!ok) Fail("ChaCha20-Poly1305 encryption");
}

bool XChaChaDecrypt(uint8_t* out, const uint8_t* sealed, size_t sealed_size,
                    ByteView associated_data, const uint8_t* nonce, const uint8_t* key) {
  if (sealed_size < kXChaChaTagSize) return false;
  const size_t size = sealed_size - kXChaChaTagSize;
  EVP_CIPHER* cipher = ChaCha20Poly1305();
  if (cipher == nullptr || !FitsInt(size) || !FitsInt(associated_data.size())) {
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
               out, nullptr, sealed, size, sealed + size, associated_data.data(),
               associated_data.size(), nonce, key) == 0;
  }
  const XChaChaParams params(nonce, key);
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  // OpenSSL takes the expected tag before it decrypts, and checks it in
  // Final; until then `out` holds unauthenticated bytes.
  uint8_t tag[kXChaChaTagSize];
  std::memcpy(tag, sealed + size, sizeof tag);
  int n = 0;
  bool ok = EVP_DecryptInit_ex2(ctx, cipher, params.subkey, params.iv, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, sizeof tag, tag) == 1 &&
            EVP_DecryptUpdate(ctx, nullptr, &n, associated_data.data(),
                              static_cast<int>(associated_data.size())) == 1;
  size_t done = 0;
  if (ok && size > 0) {
    ok = EVP_DecryptUpdate(ctx, out, &n, sealed, static_cast<int>(size)) == 1;
    done = static_cast<size_t>(n);
  }
  ok = ok && EVP_DecryptFinal_ex(ctx, out + done, &n) == 1 && done + n == size;
  EVP_CIPHER_CTX_reset(ctx);
  return ok;
}

}  // namespace coffer::crypto
