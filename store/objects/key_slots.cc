#include "store/objects/key_slots.h"

#include <algorithm>

namespace coffer {

std::string KeySlotName(unsigned slot) {
  std::string name(kKeySlotPrefix);
  if (slot > 0) name += "." + std::to_string(slot);
  return name;
}

std::optional<unsigned> KeySlotNumber(std::string_view name) {
  if (!name.starts_with(kKeySlotPrefix)) return std::nullopt;
  name.remove_prefix(kKeySlotPrefix.size());
  if (name.empty()) return 0u;
  if (name.size() < 2 || name.size() > 3 || name[0] != '.' || name[1] == '0') return std::nullopt;
  unsigned slot = 0;
  for (char c : name.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
    slot = slot * 10 + static_cast<unsigned>(c - '0');
  }
  if (slot > kMaxKeySlot) return std::nullopt;
  return slot;
}

std::vector<MetaRecord> OnlyKeySlots(std::vector<MetaRecord> records) {
  std::erase_if(records, [](const MetaRecord& r) { return !KeySlotNumber(r.key).has_value(); });
  std::sort(records.begin(), records.end(), [](const MetaRecord& a, const MetaRecord& b) {
    return *KeySlotNumber(a.key) < *KeySlotNumber(b.key);
  });
  return records;
}

Status CheckKeySlotRemovable(std::string_view name, std::vector<MetaRecord> records) {
  const std::vector<MetaRecord> slots = OnlyKeySlots(std::move(records));
  if (std::none_of(slots.begin(), slots.end(),
                   [&](const MetaRecord& r) { return r.key == name; })) {
    return Status::NotFound("there is no key slot " + std::string(name));
  }
  if (slots.size() == 1) {
    return Status::FailedPrecondition(
        "key slot " + std::string(name) +
        " is the repository's last: it holds the only copy of the key");
  }
  return Status::Ok();
}

}  // namespace coffer
