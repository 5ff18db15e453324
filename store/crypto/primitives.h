// The two primitives every stored object passes through: its id, keyed
// BLAKE2b-256 of the plaintext, and its encryption, XChaCha20-Poly1305-IETF.
//
// Both are computed with OpenSSL's libcrypto, which has AVX-512 and AVX2 code
// for them: on the 2-core AMD EPYC Coffer is measured on, BLAKE2b runs at
// 1.2 GB/s (libsodium 1.0.18: 0.6 GB/s) and ChaCha20-Poly1305 at 4.3 GB/s
// (libsodium: 1.4 GB/s). The bytes are the same as libsodium's
// crypto_generichash and crypto_aead_xchacha20poly1305_ietf_* (the tests
// compare them on every length that matters, and the fuzz seeds and tamper
// tests still seal with libsodium), so this is a faster implementation, not
// a format. libsodium keeps the rest: random bytes, Argon2id, subkeys, and
// the HChaCha20 step that turns XChaCha's 24-byte nonce into a subkey.
//
// Thread-safe: an IdHasher is immutable after construction; the AEAD
// functions keep one OpenSSL context per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "store/base/bytes.h"
#include "store/base/object_id.h"

namespace coffer::crypto {

// BLAKE2b-256 of an object's plaintext, keyed with the repository's id key
// (unkeyed for a repository without encryption).
class IdHasher {
 public:
  // `key` is copied; empty, or 16 to 64 bytes.
  explicit IdHasher(ByteView key);
  ~IdHasher();
  IdHasher(const IdHasher&) = delete;
  IdHasher& operator=(const IdHasher&) = delete;

  ObjectId Hash(ByteView plaintext) const;

 private:
  struct Keyed;                   // OpenSSL's BLAKE2BMAC, initialised with the key
  std::unique_ptr<Keyed> keyed_;  // null when unkeyed
};

inline constexpr size_t kXChaChaKeySize = 32;
inline constexpr size_t kXChaChaNonceSize = 24;
inline constexpr size_t kXChaChaTagSize = 16;

// Encrypts message[0..size) into out[0..size) and writes the tag at
// out[size..size+16). `out` may equal `message` (in place), not overlap it
// otherwise.
void XChaChaEncrypt(uint8_t* out, const uint8_t* message, size_t size, ByteView associated_data,
                    const uint8_t* nonce, const uint8_t* key);

// Authenticates sealed[0..sealed_size) (ciphertext, then the 16-byte tag) and
// decrypts it into out[0..sealed_size - 16). False, and `out` unusable, if
// the tag does not match (or sealed_size < 16).
[[nodiscard]] bool XChaChaDecrypt(uint8_t* out, const uint8_t* sealed, size_t sealed_size,
                                  ByteView associated_data, const uint8_t* nonce,
                                  const uint8_t* key);

}  // namespace coffer::crypto
