#include "store/objects/snapshot_key.h"

#include <algorithm>

namespace coffer {
namespace {

constexpr char kSeparator = '\0';
constexpr size_t kTimeBytes = 8;
constexpr uint64_t kSignBit = uint64_t{1} << 63;

}  // namespace

Status CheckSnapshotGroup(std::string_view group) {
  if (group.empty()) return Status::InvalidArgument("snapshot group is empty");
  if (group.find(kSeparator) != std::string_view::npos) {
    return Status::InvalidArgument("snapshot group contains a NUL byte");
  }
  return Status::Ok();
}

std::string SnapshotGroupPrefix(std::string_view group) {
  std::string prefix(group);
  prefix.push_back(kSeparator);
  return prefix;
}

std::string SnapshotKey(std::string_view group, int64_t time_ns) {
  std::string key = SnapshotGroupPrefix(group);
  uint64_t ordered = static_cast<uint64_t>(time_ns) ^ kSignBit;
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((ordered >> shift) & 0xff));
  }
  return key;
}

Bytes SnapshotValue(const ObjectId& id, ByteView sealed_record) {
  Bytes value(id.bytes.begin(), id.bytes.end());
  value.insert(value.end(), sealed_record.begin(), sealed_record.end());
  return value;
}

Result<StoredSnapshot> DecodeSnapshot(std::string_view key, ByteView value) {
  if (key.size() < 1 + 1 + kTimeBytes || key[key.size() - kTimeBytes - 1] != kSeparator) {
    return Status::Corruption("snapshot index: malformed key " + ToHex(AsBytes(key)));
  }
  StoredSnapshot out;
  out.ref.group = std::string(key.substr(0, key.size() - kTimeBytes - 1));
  // A NUL in the group would list it with another group ("a\0b" under "a").
  if (!CheckSnapshotGroup(out.ref.group).ok()) {
    return Status::Corruption("snapshot index: malformed key " + ToHex(AsBytes(key)));
  }
  uint64_t ordered = 0;
  for (char c : key.substr(key.size() - kTimeBytes)) {
    ordered = (ordered << 8) | static_cast<uint8_t>(c);
  }
  out.ref.time_ns = static_cast<int64_t>(ordered ^ kSignBit);
  // A value too short to hold an id is damage the client reports for this
  // snapshot alone: it lists with the zero id and no record (which fails to
  // open), and can be forgotten by its name.
  if (value.size() < ObjectId::kSize) return out;
  std::copy_n(value.begin(), ObjectId::kSize, out.ref.id.bytes.begin());
  out.sealed.assign(value.begin() + ObjectId::kSize, value.end());
  return out;
}

}  // namespace coffer
