// The names of the repository-wide meta records (store/FORMAT.md), which
// the Repository writes at init and a replica copies as they are. Written
// to disk: never change them. The store keeps every one write-once
// (ObjectStore::PutMeta).
#pragma once

#include <string_view>

#include "store/objects/key_slots.h"

namespace coffer {

// The RepoConfig protobuf: a store without it is not initialized.
constexpr std::string_view kMetaConfig = "config";
// The config's authentication code (an encrypted repository only).
constexpr std::string_view kMetaConfigMac = "config-mac";

}  // namespace coffer
