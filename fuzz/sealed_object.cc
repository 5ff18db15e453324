// Sealed objects (store/crypto/sealer.h), as they come from the store.
//
// Input: [mode][32-byte id][bytes]. Mode bits 0-1 pick the kind (chunk,
// tree, snapshot, snapshot note); bits 2-3 what the bytes are:
//   0  a sealed object, opened with the fixed key
//   1  a sealed object, opened as an unencrypted repository would
//   2  a padded payload: encrypted under the fixed key here (so it passes the
//      tag), then opened, which fuzzes padding removal and zstd frames;
//      bit 5 says whether the payload is a zstd frame
//   3  a plaintext: sealed, then opened, which must give it back
// Bit 4 asks Open to re-hash the plaintext (IdCheck::kAlways).
#include <cstring>

#include "fuzz/fuzz_util.h"
#include "store/crypto/padding.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + ObjectId::kSize) return 0;
  const uint8_t mode = data[0];
  const auto kind = static_cast<ObjectKind>(1 + (mode & 3));
  const int what = (mode >> 2) & 3;
  const auto check = (mode & 0x10) ? crypto::IdCheck::kAlways : crypto::IdCheck::kIfUnencrypted;
  const bool compressed = (mode & 0x20) != 0;
  ObjectId id;
  std::memcpy(id.bytes.data(), data + 1, ObjectId::kSize);
  const ByteView bytes(data + 1 + ObjectId::kSize, size - 1 - ObjectId::kSize);

  switch (what) {
    case 0:
    case 1: {
      const crypto::Sealer& sealer = what == 0 ? fuzz::FixedSealer() : fuzz::PlainSealer();
      Result<Bytes> opened = sealer.Open(kind, id, bytes, check);
      if (opened.ok() && opened->size() > crypto::Sealer::kMaxPlaintextSize) {
        fuzz::Fail("opened a plaintext above the limit");
      }
      if (!opened.ok() && opened.status().code() != Code::kCorruption) {
        fuzz::Fail("a bad object that is not kCorruption: " + opened.status().message());
      }
      break;
    }
    case 2: {
      Bytes sealed = fuzz::EncryptPadded(kind, id, compressed, bytes);
      Result<Bytes> opened = fuzz::FixedSealer().Open(kind, id, sealed, check);
      if (opened.ok()) {
        // It opened: the padding was canonical and, raw, the plaintext is the payload.
        std::optional<size_t> payload = crypto::Unpad(bytes);
        if (!payload) fuzz::Fail("opened an object with bad padding");
        if (!compressed && (opened->size() != *payload ||
                            std::memcmp(opened->data(), bytes.data(), *payload) != 0)) {
          fuzz::Fail("a raw payload opened to other bytes");
        }
      } else if (opened.status().code() != Code::kCorruption) {
        fuzz::Fail("a bad payload that is not kCorruption: " + opened.status().message());
      }
      break;
    }
    case 3: {
      const crypto::Sealer& sealer = (mode & 0x20) ? fuzz::PlainSealer() : fuzz::FixedSealer();
      // Content-addressed kinds are sealed under their own id.
      if (kind != ObjectKind::kSnapshotNote) id = sealer.IdOf(bytes);
      Result<Bytes> sealed = sealer.Seal(kind, id, bytes);
      if (!sealed.ok()) fuzz::Fail("Seal failed: " + sealed.status().message());
      Result<Bytes> opened = sealer.Open(kind, id, *sealed, check);
      if (!opened.ok()) fuzz::Fail("a sealed object does not open: " + opened.status().message());
      if (*opened != Bytes(bytes.begin(), bytes.end()))
        fuzz::Fail("round trip changed the plaintext");
      break;
    }
  }
  return 0;
}
