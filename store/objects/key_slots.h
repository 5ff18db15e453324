// Key slots: the meta records that hold a repository's wrapped master key,
// one per passphrase that opens it ("key", then "key.1", "key.2", ...).
//
// They are the only meta records a store ever removes (ObjectStore::
// RemoveKeySlot), and never the last one: changing a passphrase adds the new
// slot before the old one goes, so a crash in between leaves both working.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/objects/object_store.h"

namespace coffer {

// The first slot's name, which `coffer init` writes; also the prefix of all.
constexpr std::string_view kKeySlotPrefix = "key";
// Slots numbered 1 to kMaxKeySlot after "key" (slot 0).
constexpr unsigned kMaxKeySlot = 99;

// Slot 0 is "key", slot N is "key.N" (N in 1..kMaxKeySlot, no leading zero).
std::string KeySlotName(unsigned slot);
// The number of the slot `name` names, or none when it is not a slot's name.
std::optional<unsigned> KeySlotNumber(std::string_view name);
// The key slots among `records` (ListMeta(kKeySlotPrefix) also finds other
// "key*" records), in slot order.
std::vector<MetaRecord> OnlyKeySlots(std::vector<MetaRecord> records);

// Whether a store may remove the slot `name`, given every meta record it
// holds under kKeySlotPrefix: ObjectStore::RemoveKeySlot's refusals
// (kNotFound if it is absent, kFailedPrecondition if it is the last).
// `name` must be a slot's name (KeySlotNumber), which stores check first.
Status CheckKeySlotRemovable(std::string_view name, std::vector<MetaRecord> records);

}  // namespace coffer
