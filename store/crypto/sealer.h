// Sealer: turns plaintext objects into sealed bytes and back, and computes
// object ids. It owns nothing but a reference to the KeySet and a zstd level.
//
// Thread-safe: all methods are const and may run concurrently (zstd contexts
// are thread_local).
//
// Sealed layout (written to disk; never change it — add a version instead):
//   [0]  format version = 1
//   [1]  flags: bit 0 zstd-compressed, bit 1 encrypted; other bits must be 0
//   encrypted (bit 1 set):
//     [2..26)  nonce, 24 random bytes
//     [26..)   XChaCha20-Poly1305-IETF ciphertext of the padded payload, then
//              the 16-byte tag; associated data = version, flags, kind byte,
//              32-byte id (35 bytes), so a value under another id or kind, or
//              with other flags, fails to open
//     padded payload = payload, 0x80, zeros up to PadmeLength(payload size + 1)
//   unencrypted (bit 1 clear; only in --encryption none repositories):
//     [2..)    payload, no padding; the id (unkeyed BLAKE2b-256 of the
//              plaintext) is re-hashed on every open instead; the kind is
//              not recorded, so it is not checked
//   payload = one zstd frame with its content size (bit 0 set), or the plaintext.
// A plaintext (or declared content size) above kMaxPlaintextSize is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"
#include "store/crypto/keys.h"

namespace coffer::crypto {

enum class IdCheck { kIfUnencrypted, kAlways };

class IdHasher;
class ScratchLease;

// How hard zstd works on an object. kSmall is kSmallLevelBoost levels above
// the repository's level (at most kMaxZstdLevel), for trees and the members
// of container archives: at zstd 3 -> 5 the small files of a copy of /usr
// shrink 2.6% more for twice the compression CPU. Trees are few bytes and
// read often; a container import is measured against borg's repository size.
// Files of folder backups and the 64 KiB pieces of disk images stay at the
// repository's level.
enum class Effort : uint8_t { kStandard, kSmall };

class Sealer {
 public:
  static constexpr uint8_t kFormatVersion = 1;
  static constexpr uint8_t kFlagCompressed = 1 << 0;
  static constexpr uint8_t kFlagEncrypted = 1 << 1;
  static constexpr int kSmallLevelBoost = 2;
  // Chunks are at most 8 MiB and trees are split well before this.
  static constexpr size_t kMaxPlaintextSize = size_t{64} << 20;

  // `keys` must remain live (and not be moved from) while this Sealer is in
  // use; a Sealer whose KeySet was moved from aborts rather than seal or hash
  // without the key. zstd_level e.g. 3.
  Sealer(const KeySet& keys, int zstd_level);

  // Keyed BLAKE2b-256 with the id key; unkeyed if unencrypted (primitives.h).
  ObjectId IdOf(ByteView plaintext) const;

  // compress (zstd; kept raw if compression does not shrink it) -> pad ->
  // encrypt. Verifies the result before returning it: opens it again and
  // compares with `plaintext` (kCorruption if that fails, e.g. bad RAM).
  // kInvalidArgument if the plaintext is larger than kMaxPlaintextSize.
  // `id` must be IdOf(plaintext), except for a kSnapshotNote, which is sealed
  // under its snapshot's id.
  Result<Bytes> Seal(ObjectKind kind, const ObjectId& id, ByteView plaintext,
                     Effort effort = Effort::kStandard) const;

  // kCorruption (message names the kind and short id) on any failure: bad
  // version or flags, bad tag, wrong kind or id in the associated data, bad
  // padding, bad zstd frame, size limits. Re-hashes and compares with `id` when
  // check == kAlways or the repository is unencrypted (for encrypted objects the
  // tag over the id already authenticates it).
  Result<Bytes> Open(ObjectKind kind, const ObjectId& id, ByteView sealed,
                     IdCheck check = IdCheck::kIfUnencrypted) const;

  bool encrypted() const { return encrypted_; }

 private:
  struct Payload {
    ByteView bytes;  // a zstd frame or the plaintext
    bool compressed = false;
  };
  // Checks the header, then authenticates, decrypts and unpads if encrypted.
  // The payload stays in `sealed` (unencrypted), or is decrypted into *raw_out
  // when given and not compressed, else into `scratch`.
  Result<Payload> Unseal(ObjectKind kind, const ObjectId& id, ByteView sealed, Bytes* raw_out,
                         ScratchLease& scratch) const;
  // Opens `sealed` into scratch buffers and compares with `plaintext`.
  Status Verify(ObjectKind kind, const ObjectId& id, ByteView sealed, ByteView plaintext) const;
  // Writes the payload (compressed, or raw if that does not shrink it) at
  // out[offset..) and returns its size; out must have room for the raw plaintext.
  size_t WritePayload(ByteView plaintext, Effort effort, Bytes& out, size_t offset,
                      uint8_t* flags) const;
  Bytes SealEncrypted(ObjectKind kind, const ObjectId& id, ByteView plaintext, Effort effort) const;
  Bytes SealUnencrypted(ByteView plaintext, Effort effort) const;

  // Aborts if keys_ no longer matches what it was at construction.
  void CheckKeys() const;

  const KeySet& keys_;
  const bool encrypted_;
  int zstd_level_;
  std::shared_ptr<const IdHasher> id_hasher_;  // shared: a Sealer stays copyable
};

}  // namespace coffer::crypto
