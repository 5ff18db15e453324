// POSIX ACLs in the kernel's binary form, as getxattr returns
// system.posix_acl_access and system.posix_acl_default and as snapshots
// store them (linux/posix_acl_xattr.h): a little-endian version 2, then
// entries of tag (u16), permissions (u16) and id (u32), sorted by tag, then id.
// Archive formats carry ACLs as entries (tar's SCHILY.acl.*): importers
// encode them, exporters decode them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/status.h"

namespace coffer::model {

inline constexpr std::string_view kAccessAclXattr = "system.posix_acl_access";
inline constexpr std::string_view kDefaultAclXattr = "system.posix_acl_default";

inline constexpr uint16_t kAclUserObj = 0x01, kAclUser = 0x02, kAclGroupObj = 0x04,
                          kAclGroup = 0x08, kAclMask = 0x10, kAclOther = 0x20;
inline constexpr uint32_t kAclUndefinedId = 0xffffffff;  // of the entries without a qualifier

struct AclEntry {
  uint16_t tag;
  uint16_t perm;  // 4 read, 2 write, 1 execute
  uint32_t id;    // uid or gid for kAclUser and kAclGroup
};

// The xattr value of `entries` (sorted as the kernel sorts them).
std::string EncodeAclXattr(std::vector<AclEntry> entries);
// The entries of an xattr value; kCorruption if it is not one.
Result<std::vector<AclEntry>> DecodeAclXattr(std::string_view value);

}  // namespace coffer::model
