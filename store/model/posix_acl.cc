#include "store/model/posix_acl.h"

#include <algorithm>

namespace coffer::model {
namespace {

constexpr uint32_t kAclXattrVersion = 2;
constexpr size_t kHeaderSize = 4;
constexpr size_t kEntrySize = 8;

void AppendLe(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

uint64_t Le(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) value = value << 8 | static_cast<uint8_t>(bytes[i]);
  return value;
}

}  // namespace

std::string EncodeAclXattr(std::vector<AclEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const AclEntry& a, const AclEntry& b) {
    return a.tag != b.tag ? a.tag < b.tag : a.id < b.id;
  });
  std::string out;
  AppendLe(out, kAclXattrVersion, 4);
  for (const AclEntry& e : entries) {
    AppendLe(out, e.tag, 2);
    AppendLe(out, e.perm, 2);
    AppendLe(out, e.id, 4);
  }
  return out;
}

Result<std::vector<AclEntry>> DecodeAclXattr(std::string_view value) {
  if (value.size() < kHeaderSize || (value.size() - kHeaderSize) % kEntrySize != 0 ||
      Le(value.substr(0, 4)) != kAclXattrVersion) {
    return Status::Corruption("a POSIX ACL xattr that is not version 2 of the kernel's form");
  }
  std::vector<AclEntry> entries;
  for (size_t at = kHeaderSize; at < value.size(); at += kEntrySize) {
    AclEntry e{static_cast<uint16_t>(Le(value.substr(at, 2))),
               static_cast<uint16_t>(Le(value.substr(at + 2, 2))),
               static_cast<uint32_t>(Le(value.substr(at + 4, 4)))};
    switch (e.tag) {
      case kAclUserObj:
      case kAclUser:
      case kAclGroupObj:
      case kAclGroup:
      case kAclMask:
      case kAclOther: break;
      default:
        return Status::Corruption("a POSIX ACL entry of unknown tag " + std::to_string(e.tag));
    }
    if (e.perm > 7) return Status::Corruption("a POSIX ACL entry with unknown permissions");
    entries.push_back(e);
  }
  return entries;
}

}  // namespace coffer::model
