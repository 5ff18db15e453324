#include "store/crypto/sealer.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "store/crypto/padding.h"
#include "store/crypto/primitives.h"
#include "store/crypto/scratch_buffer.h"
#include "store/crypto/sodium_init.h"
#include "store/crypto/zstd_codec.h"

namespace coffer::crypto {
namespace {

constexpr size_t kNonceSize = kXChaChaNonceSize;
constexpr size_t kTagSize = kXChaChaTagSize;
constexpr size_t kPlainHeader = 2;  // version, flags
constexpr size_t kSealedHeader = kPlainHeader + kNonceSize;
constexpr size_t kAdSize = 3 + ObjectId::kSize;
static_assert(kNonceSize == 24 && kTagSize == 16);

using Ad = std::array<uint8_t, kAdSize>;

Ad AssociatedData(uint8_t flags, ObjectKind kind, const ObjectId& id) {
  Ad ad;
  ad[0] = Sealer::kFormatVersion;
  ad[1] = flags;
  ad[2] = static_cast<uint8_t>(kind);
  std::memcpy(ad.data() + 3, id.bytes.data(), ObjectId::kSize);
  return ad;
}

// "chunk 0123456789ab": how errors name an object.
std::string Label(ObjectKind kind, const ObjectId& id) {
  return std::string(KindName(kind)) + " " + id.short_hex();
}

Status Damaged(ObjectKind kind, const ObjectId& id, std::string_view why) {
  return Status::Corruption(std::string(why)).WithContext(Label(kind, id));
}

}  // namespace

Sealer::Sealer(const KeySet& keys, int zstd_level)
    : keys_(keys),
      encrypted_(keys.encrypted()),
      zstd_level_(zstd_level),
      id_hasher_(std::make_shared<const IdHasher>(keys.id_key())) {
  EnsureSodium();
}

void Sealer::CheckKeys() const {
  // A KeySet moved away after this Sealer was made looks unencrypted: carrying
  // on would write plaintext and unkeyed ids into an encrypted repository.
  if (keys_.encrypted() != encrypted_) {
    std::fputs("coffer: Sealer used after its KeySet was moved from\n", stderr);
    std::abort();
  }
}

ObjectId Sealer::IdOf(ByteView plaintext) const {
  CheckKeys();
  return id_hasher_->Hash(plaintext);
}

size_t Sealer::WritePayload(ByteView plaintext, Effort effort, Bytes& out, size_t offset,
                            uint8_t* flags) const {
  const size_t n = plaintext.size();
  if (n == 0) return 0;
  const int level = effort == Effort::kSmall
                        ? std::min(zstd_level_ + kSmallLevelBoost, kMaxZstdLevel)
                        : zstd_level_;
  // One byte less than the input: zstd then fails fast on what does not shrink.
  if (auto size = ZstdCompress(plaintext, level, {out.data() + offset, n - 1})) {
    *flags |= kFlagCompressed;
    return *size;
  }
  std::memcpy(out.data() + offset, plaintext.data(), n);
  return n;
}

Bytes Sealer::SealEncrypted(ObjectKind kind, const ObjectId& id, ByteView plaintext,
                            Effort effort) const {
  // Sized for the worst case (raw) once; compression only shrinks it.
  Bytes out(kSealedHeader + PaddedSize(plaintext.size()) + kTagSize);
  uint8_t flags = kFlagEncrypted;
  const size_t payload = WritePayload(plaintext, effort, out, kSealedHeader, &flags);
  const size_t padded = PaddedSize(payload);
  out.resize(kSealedHeader + padded + kTagSize);
  Pad({out.data() + kSealedHeader, padded}, payload);
  out[0] = kFormatVersion;
  out[1] = flags;
  randombytes_buf(out.data() + kPlainHeader, kNonceSize);
  const Ad ad = AssociatedData(flags, kind, id);
  // In place: libsodium's AEAD allows the ciphertext to overwrite the message.
  XChaChaEncrypt(out.data() + kSealedHeader, out.data() + kSealedHeader, padded, ad,
                 out.data() + kPlainHeader, keys_.data_key().data());
  return out;
}

Bytes Sealer::SealUnencrypted(ByteView plaintext, Effort effort) const {
  Bytes out(kPlainHeader + plaintext.size());
  uint8_t flags = 0;
  const size_t payload = WritePayload(plaintext, effort, out, kPlainHeader, &flags);
  out.resize(kPlainHeader + payload);
  out[0] = kFormatVersion;
  out[1] = flags;
  return out;
}

Result<Bytes> Sealer::Seal(ObjectKind kind, const ObjectId& id, ByteView plaintext,
                           Effort effort) const {
  if (plaintext.size() > kMaxPlaintextSize) {
    return Status::InvalidArgument(Label(kind, id) + ": " + std::to_string(plaintext.size()) +
                                   " bytes is too large to seal");
  }
  CheckKeys();
  Bytes sealed =
      encrypted() ? SealEncrypted(kind, id, plaintext, effort) : SealUnencrypted(plaintext, effort);
  // Verify before the object leaves the client (as restic does): a fault in
  // compression, encryption or memory must not be stored as the only copy.
  COFFER_RETURN_IF_ERROR(Verify(kind, id, sealed, plaintext));
  return sealed;
}

Status Sealer::Verify(ObjectKind kind, const ObjectId& id, ByteView sealed,
                      ByteView plaintext) const {
  ScratchLease decrypted(ScratchSlot::kDecrypted);
  ScratchLease decompressed(ScratchSlot::kDecompressed);
  Result<Payload> payload = Unseal(kind, id, sealed, nullptr, decrypted);
  if (!payload.ok()) return payload.status().WithContext("sealing verification failed");
  ByteView opened = payload->bytes;
  if (payload->compressed) {
    Result<size_t> size = ZstdContentSize(opened, kMaxPlaintextSize);
    Status s = size.status();
    if (s.ok() && *size == plaintext.size()) {
      std::span<uint8_t> out = decompressed.Get(*size);
      s = ZstdDecompressInto(opened, out);
      opened = out;
    }
    if (!s.ok()) return Damaged(kind, id, "sealing verification failed: " + s.message());
  }
  if (opened.size() != plaintext.size() ||
      (!plaintext.empty() && std::memcmp(opened.data(), plaintext.data(), plaintext.size()))) {
    return Damaged(kind, id, "sealing verification failed: object does not open to its plaintext");
  }
  return Status::Ok();
}

Result<Bytes> Sealer::Open(ObjectKind kind, const ObjectId& id, ByteView sealed,
                           IdCheck check) const {
  CheckKeys();
  Bytes plaintext;
  ScratchLease decrypted(ScratchSlot::kDecrypted);
  COFFER_ASSIGN_OR_RETURN(Payload payload, Unseal(kind, id, sealed, &plaintext, decrypted));
  if (payload.compressed) {
    Result<size_t> size = ZstdContentSize(payload.bytes, kMaxPlaintextSize);
    if (!size.ok()) return size.status().WithContext(Label(kind, id));
    plaintext.resize(*size);
    Status s = ZstdDecompressInto(payload.bytes, plaintext);
    if (!s.ok()) return s.WithContext(Label(kind, id));
  } else if (payload.bytes.data() != plaintext.data()) {
    plaintext.assign(payload.bytes.begin(), payload.bytes.end());
  }
  // A snapshot note is sealed under its snapshot's id, not its own hash.
  const bool content_addressed = kind != ObjectKind::kSnapshotNote;
  if (content_addressed && (check == IdCheck::kAlways || !encrypted()) && IdOf(plaintext) != id) {
    return Damaged(kind, id, "damaged: content does not match its id");
  }
  return plaintext;
}

Result<Sealer::Payload> Sealer::Unseal(ObjectKind kind, const ObjectId& id, ByteView sealed,
                                       Bytes* raw_out, ScratchLease& scratch) const {
  if (sealed.size() < kPlainHeader) return Damaged(kind, id, "sealed object is truncated");
  if (sealed[0] != kFormatVersion) {
    return Damaged(kind, id, "unknown sealed format version " + std::to_string(sealed[0]));
  }
  const uint8_t flags = sealed[1];
  if ((flags & ~(kFlagCompressed | kFlagEncrypted)) != 0) return Damaged(kind, id, "unknown flags");
  // Never accept an unencrypted object in an encrypted repository: it would
  // bypass authentication entirely.
  if (((flags & kFlagEncrypted) != 0) != encrypted()) {
    return Damaged(kind, id,
                   encrypted() ? "unencrypted object in an encrypted repository"
                               : "encrypted object in an unencrypted repository");
  }
  const bool compressed = (flags & kFlagCompressed) != 0;
  if (!encrypted()) {
    const ByteView payload = sealed.subspan(kPlainHeader);
    if (!compressed && payload.size() > kMaxPlaintextSize) {
      return Damaged(kind, id, "object is too large");
    }
    return Payload{payload, compressed};
  }
  if (sealed.size() < kSealedHeader + kTagSize + 1) {
    return Damaged(kind, id, "sealed object is truncated");
  }
  const size_t padded = sealed.size() - kSealedHeader - kTagSize;
  if (padded > PaddedSize(kMaxPlaintextSize)) return Damaged(kind, id, "object is too large");
  uint8_t* plain;
  if (raw_out != nullptr && !compressed) {
    raw_out->resize(padded);
    plain = raw_out->data();
  } else {
    plain = scratch.Get(padded).data();
  }
  const Ad ad = AssociatedData(flags, kind, id);
  if (!XChaChaDecrypt(plain, sealed.data() + kSealedHeader, padded + kTagSize, ad,
                      sealed.data() + kPlainHeader, keys_.data_key().data())) {
    return Damaged(kind, id,
                   "authentication failed (tampered, or sealed under another key, id or kind)");
  }
  const std::optional<size_t> size = Unpad({plain, padded});
  if (!size) return Damaged(kind, id, "bad padding");
  if (raw_out != nullptr && !compressed) raw_out->resize(*size);
  return Payload{{plain, *size}, compressed};
}

}  // namespace coffer::crypto
