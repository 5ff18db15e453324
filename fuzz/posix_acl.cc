// POSIX ACL xattr values (store/model/posix_acl.h), as a snapshot stores
// them and `coffer export` decodes them into tar's ACL text.
//
// Input: the xattr value. Properties: it decodes exactly when it is version 2
// followed by whole 8-byte entries of known tags and permissions 0-7 (read
// here independently); each decoded entry is the bytes at its place;
// what encoding gives decodes to the same entries sorted by tag, then id,
// and is the input itself when its entries were sorted.
#include "store/model/posix_acl.h"

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"

using namespace coffer;

namespace {

uint64_t Little(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes; i-- > 0;) value = value << 8 | p[i];
  return value;
}

bool KnownTag(uint64_t tag) {
  return tag == 0x01 || tag == 0x02 || tag == 0x04 || tag == 0x08 || tag == 0x10 || tag == 0x20;
}

bool Before(const model::AclEntry& a, const model::AclEntry& b) {
  return a.tag != b.tag ? a.tag < b.tag : a.id < b.id;
}

bool Same(const model::AclEntry& a, const model::AclEntry& b) {
  return a.tag == b.tag && a.perm == b.perm && a.id == b.id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  bool well_formed = size >= 4 && (size - 4) % 8 == 0 && Little(data, 4) == 2;
  for (size_t at = 4; well_formed && at < size; at += 8) {
    well_formed = KnownTag(Little(data + at, 2)) && Little(data + at + 2, 2) <= 7;
  }

  Result<std::vector<model::AclEntry>> decoded = model::DecodeAclXattr(value);
  if (!decoded.ok()) {
    if (well_formed) fuzz::Fail("a well-formed ACL was refused: " + decoded.status().ToString());
    if (decoded.status().code() != Code::kCorruption)
      fuzz::Fail("a refusal that is not kCorruption");
    return 0;
  }
  if (!well_formed) fuzz::Fail("a malformed ACL decoded");
  if (decoded->size() != (size - 4) / 8) fuzz::Fail("decoded a different number of entries");
  for (size_t i = 0; i < decoded->size(); ++i) {
    const uint8_t* entry = data + 4 + 8 * i;
    const model::AclEntry& e = (*decoded)[i];
    if (e.tag != Little(entry, 2) || e.perm != Little(entry + 2, 2) ||
        e.id != Little(entry + 4, 4)) {
      fuzz::Fail("entry " + std::to_string(i) + " is not the bytes at its place");
    }
  }

  const std::string encoded = model::EncodeAclXattr(*decoded);
  if (encoded.size() != size) fuzz::Fail("encoding changed the size");
  // Entries with the same tag and id (which no kernel ACL has) may come out
  // in either order; otherwise the order is fixed.
  const bool strictly_sorted =
      std::adjacent_find(decoded->begin(), decoded->end(), [](const auto& a, const auto& b) {
        return !Before(a, b);
      }) == decoded->end();
  if (strictly_sorted && encoded != value)
    fuzz::Fail("sorted entries did not encode back to the input");
  Result<std::vector<model::AclEntry>> again = model::DecodeAclXattr(encoded);
  if (!again.ok()) fuzz::Fail("an encoded ACL does not decode: " + again.status().ToString());
  if (!std::is_sorted(again->begin(), again->end(), Before) ||
      !std::is_permutation(decoded->begin(), decoded->end(), again->begin(), again->end(), Same)) {
    fuzz::Fail("encoding did not sort the entries by tag, then id");
  }
  return 0;
}
