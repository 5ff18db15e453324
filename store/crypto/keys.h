// KeySet: owns a repository's keys — a random 32-byte master secret and the
// subkeys derived from it with crypto_kdf: the id key (keyed BLAKE2b-256 object
// ids), the data key (XChaCha20-Poly1305), the chunker seed and the config key
// (authenticates the stored repository config). Also wraps the
// master secret under a passphrase (Argon2id) for storage, and unwraps it.
//
// Secrets live in SecretBytes (sodium_malloc'd, mlocked, wiped on destruction).
// Move-only; a moved-from KeySet holds no keys. Thread-safety: const methods
// may run concurrently; Wrap and Unwrap are CPU- and memory-heavy by design
// (Argon2id), so call them once per process.
#pragma once

#include <cstdint>
#include <string_view>

#include "store/base/bytes.h"
#include "store/base/status.h"
#include "store/crypto/secret_bytes.h"

namespace coffer::crypto {

// Argon2id (crypto_pwhash, ALG_ARGON2ID13) cost parameters.
struct KdfParams {
  uint64_t opslimit;
  uint64_t memlimit;  // bytes
  // opslimit 3, memlimit 64 MiB: keeps peak memory low on small servers.
  static KdfParams Default();
  // libsodium's minimum: for tests only.
  static KdfParams Minimum();
  // Upper bounds honoured by Unwrap, so a tampered or hostile wrapped key cannot
  // make the client hang or exhaust memory.
  static constexpr uint64_t kMaxOpslimit = 64;
  static constexpr uint64_t kMaxMemlimit = uint64_t{4} << 30;
};

class KeySet {
 public:
  static constexpr size_t kKeySize = 32;

  // A fresh random master secret and its subkeys.
  static KeySet Generate();
  // For --encryption none: no secrets; ids are unkeyed BLAKE2b-256 and the
  // chunker seed is a fixed public constant.
  static KeySet Unencrypted();

  KeySet(KeySet&&) noexcept = default;
  KeySet& operator=(KeySet&&) noexcept = default;
  KeySet(const KeySet&) = delete;
  KeySet& operator=(const KeySet&) = delete;

  bool encrypted() const { return !secrets_.empty(); }
  ByteView id_key() const;        // 32 bytes; empty when unencrypted
  ByteView data_key() const;      // 32 bytes; empty when unencrypted
  ByteView chunker_seed() const;  // 32 bytes, always

  // The authentication code of the stored repository config `config` (its
  // exact bytes), as kept beside it. Layout, version 1 (33 bytes; written to
  // disk, never change it — add a version instead):
  //   [0]       version = 1
  //   [1..33)   BLAKE2b-256 of `config`, keyed with the config key (crypto_kdf
  //             context "coffconf")
  // Empty when this KeySet is unencrypted: such a repository has no key to
  // authenticate anything with.
  Bytes ConfigMac(ByteView config) const;
  // Whether `mac` is ConfigMac(config), compared in constant time. False for
  // an unencrypted KeySet, a wrong version or a wrong length.
  bool ConfigMacMatches(ByteView config, ByteView mac) const;

  // The master secret wrapped under a key derived from the passphrase with
  // Argon2id. kInvalidArgument when this KeySet is unencrypted or `params` is
  // outside [Minimum, kMax*]. Wrapped layout, version 1 (121 bytes; written to
  // disk and printed on paper keys, never change it — add a version instead):
  //   [0]       version = 1
  //   [1..9)    opslimit, uint64 little-endian
  //   [9..17)   memlimit, uint64 little-endian
  //   [17..33)  Argon2id salt (16 random bytes)
  //   [33..57)  XChaCha20-Poly1305-IETF nonce (24 random bytes)
  //   [57..105) encrypted master secret (32) + tag (16); associated data = [0..57)
  //   [105..121) unkeyed BLAKE2b-128 of [0..105): tells a damaged or mistyped
  //             key (kCorruption) apart from a wrong passphrase.
  Result<Bytes> Wrap(std::string_view passphrase, KdfParams params) const;
  // kUnauthenticated with message "wrong passphrase" when the passphrase is
  // wrong; kCorruption when the bytes are malformed (bad length, checksum or
  // parameters); kUnsupported for an unknown version.
  static Result<KeySet> Unwrap(ByteView wrapped, std::string_view passphrase);
  // The Argon2id parameters a wrapped key was made with (they are stored in
  // the clear); kCorruption or kUnsupported as Unwrap would say.
  static Result<KdfParams> WrappedParams(ByteView wrapped);

  // The master secret itself, for keeping outside the repository (`coffer key
  // export`): whoever holds it reads every backup, passphrase or not. Layout,
  // version 1 (81 bytes; written to files and printed on paper, never change
  // it — add a version instead):
  //   [0]       version = 1
  //   [1..33)   the repository id (RepoConfig.repository_id)
  //   [33..65)  the master secret
  //   [65..81)  unkeyed BLAKE2b-128 of [0..65): a damaged or mistyped export
  //             is told apart from one of another repository
  // kInvalidArgument when this KeySet is unencrypted or the id is not 32 bytes.
  Result<Bytes> ExportRecord(ByteView repository_id) const;
  struct Imported;
  // The keys and repository id of an ExportRecord; kCorruption when it is
  // malformed or its checksum does not match, kUnsupported for a newer version.
  static Result<Imported> ImportRecord(ByteView record);
  static constexpr size_t kExportRecordSize = 81;

 private:
  KeySet() = default;
  static KeySet FromMaster(ByteView master);

  // master | id key | data key | chunker seed; empty when unencrypted.
  SecretBytes secrets_;
};

struct KeySet::Imported {
  KeySet keys;
  Bytes repository_id;
};

}  // namespace coffer::crypto
