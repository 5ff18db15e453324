#include "store/objects/needs_list.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>

namespace coffer {
namespace {

constexpr uint8_t kHasBase = 1;
constexpr size_t kEntryBytes = 1 + ObjectId::kSize;

void PutU32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutEntries(Bytes& out, const NeedsSet& entries) {
  PutU32(out, static_cast<uint32_t>(entries.size()));
  for (const NeededObject& e : entries) {
    out.push_back(static_cast<uint8_t>(e.kind));
    out.insert(out.end(), e.id.bytes.begin(), e.id.bytes.end());
  }
}

class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}

  bool Take(size_t n, const uint8_t** at) {
    if (bytes_.size() - pos_ < n) return false;
    *at = bytes_.data() + pos_;
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == bytes_.size(); }

  // Reads a count and that many sorted entries; `budget` is what is left of
  // kMaxEntries.
  Status Entries(const char* what, size_t& budget, NeedsSet* out) {
    const uint8_t* p = nullptr;
    if (!Take(4, &p)) return Status::Corruption(std::string("cut short before its ") + what);
    const uint32_t count = p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24;
    if (count > budget) {
      return Status::Corruption("more than " + std::to_string(NeedsList::kMaxEntries) + " entries");
    }
    budget -= count;
    if ((bytes_.size() - pos_) / kEntryBytes < count) {
      return Status::Corruption(std::string("cut short in its ") + what);
    }
    out->reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      Take(kEntryBytes, &p);
      if (p[0] != static_cast<uint8_t>(ObjectKind::kChunk) &&
          p[0] != static_cast<uint8_t>(ObjectKind::kTree)) {
        return Status::Corruption("an entry of unknown kind " + std::to_string(p[0]));
      }
      NeededObject e;
      e.kind = static_cast<ObjectKind>(p[0]);
      std::memcpy(e.id.bytes.data(), p + 1, ObjectId::kSize);
      if (!out->empty() && !(out->back() < e)) {
        return Status::Corruption(std::string("its ") + what + " are not sorted");
      }
      out->push_back(e);
    }
    return Status::Ok();
  }

 private:
  ByteView bytes_;
  size_t pos_ = 0;
};

// Stores `removed`, then `added`, kMaxEntries to a list, each list on the
// one before, on top of `base`; at least one list. (A list applies its
// removals first, and the two never share an entry.)
void AppendLists(const NeedsSet& removed, const NeedsSet& added, std::optional<ObjectId> base,
                 std::vector<EncodedNeedsList>* out) {
  size_t removed_at = 0, added_at = 0;
  do {
    NeedsList list;
    list.base = base;
    const size_t r = std::min(NeedsList::kMaxEntries, removed.size() - removed_at);
    list.removed.assign(removed.begin() + removed_at, removed.begin() + removed_at + r);
    removed_at += r;
    const size_t a = std::min(NeedsList::kMaxEntries - r, added.size() - added_at);
    list.added.assign(added.begin() + added_at, added.begin() + added_at + a);
    added_at += a;
    EncodedNeedsList encoded;
    encoded.bytes = EncodeNeedsList(list);
    encoded.id = NeedsListId(encoded.bytes);
    base = encoded.id;
    out->push_back(std::move(encoded));
  } while (removed_at < removed.size() || added_at < added.size());
}

}  // namespace

ObjectId NeedsListId(ByteView encoded) {
  ObjectId id;
  crypto_generichash(id.bytes.data(), id.bytes.size(), encoded.data(), encoded.size(), nullptr, 0);
  return id;
}

Bytes EncodeNeedsList(const NeedsList& list) {
  Bytes out;
  out.reserve(2 + ObjectId::kSize + 8 + (list.added.size() + list.removed.size()) * kEntryBytes);
  out.push_back(NeedsList::kVersion);
  out.push_back(list.base ? kHasBase : 0);
  if (list.base) out.insert(out.end(), list.base->bytes.begin(), list.base->bytes.end());
  PutEntries(out, list.added);
  PutEntries(out, list.removed);
  return out;
}

Result<NeedsList> DecodeNeedsList(ByteView bytes) {
  Reader in(bytes);
  const uint8_t* header = nullptr;
  if (!in.Take(2, &header)) return Status::Corruption("cut short in its header");
  if (header[0] != NeedsList::kVersion) {
    return Status::Corruption("unknown version " + std::to_string(header[0]));
  }
  if ((header[1] & ~kHasBase) != 0) {
    return Status::Corruption("unknown flags " + std::to_string(header[1]));
  }
  NeedsList list;
  if (header[1] & kHasBase) {
    const uint8_t* base = nullptr;
    if (!in.Take(ObjectId::kSize, &base)) return Status::Corruption("cut short in its base id");
    list.base.emplace();
    std::memcpy(list.base->bytes.data(), base, ObjectId::kSize);
  }
  size_t budget = NeedsList::kMaxEntries;
  COFFER_RETURN_IF_ERROR(in.Entries("added entries", budget, &list.added));
  COFFER_RETURN_IF_ERROR(in.Entries("removed entries", budget, &list.removed));
  if (!in.done()) return Status::Corruption("bytes after its end");
  // Both sorted: one merge pass finds an entry in both.
  auto a = list.added.begin();
  auto r = list.removed.begin();
  while (a != list.added.end() && r != list.removed.end()) {
    if (*a < *r) {
      ++a;
    } else if (*r < *a) {
      ++r;
    } else {
      return Status::Corruption("it both adds and removes " + a->id.short_hex());
    }
  }
  return list;
}

Result<NeedsChain> ReadNeedsChain(const ObjectId& head, const ReadNeedsListFn& read,
                                  const NeedsChain* known) {
  NeedsChain chain;
  std::vector<NeedsList> lists;  // newest first
  std::optional<ObjectId> next = head;
  const bool use_known = known != nullptr && !known->ids.empty();
  while (next) {
    if (use_known && *next == known->ids.front()) {
      // The rest of the chain is `known`'s: start from its set.
      chain.set = known->set;
      chain.entries += known->entries;
      chain.lists = known->lists;
      chain.ids.insert(chain.ids.end(), known->ids.begin(), known->ids.end());
      break;
    }
    const ObjectId id = *next;
    const std::string name = "needs list " + id.short_hex();
    if (lists.size() == NeedsChain::kMaxChain) {
      return Status::Corruption("the chain of needs lists from " + head.short_hex() +
                                " is longer than " + std::to_string(NeedsChain::kMaxChain));
    }
    Result<Bytes> bytes = read(id);
    if (!bytes.ok()) {
      if (bytes.status().code() == Code::kNotFound) return Status::Corruption(name + " is missing");
      return bytes.status().WithContext(name);
    }
    if (NeedsListId(*bytes) != id) return Status::Corruption(name + " does not match its id");
    Result<NeedsList> list = DecodeNeedsList(*bytes);
    if (!list.ok()) return Status::Corruption(name + " is damaged: " + list.status().message());
    chain.ids.push_back(id);
    chain.entries += list->added.size() + list->removed.size();
    next = list->base;
    lists.push_back(std::move(list).value());
  }
  if (chain.lists + lists.size() > NeedsChain::kMaxChain) {
    return Status::Corruption("the chain of needs lists from " + head.short_hex() +
                              " is longer than " + std::to_string(NeedsChain::kMaxChain));
  }
  chain.lists += lists.size();
  // Oldest first: each list is applied to the set its base describes.
  for (auto list = lists.rbegin(); list != lists.rend(); ++list) {
    const std::string name = "needs list " + chain.ids[lists.rend() - list - 1].short_hex();
    NeedsSet kept;
    kept.reserve(chain.set.size() - std::min(chain.set.size(), list->removed.size()));
    std::set_difference(chain.set.begin(), chain.set.end(), list->removed.begin(),
                        list->removed.end(), std::back_inserter(kept));
    if (kept.size() + list->removed.size() != chain.set.size()) {
      return Status::Corruption(name + " removes objects its base does not need");
    }
    NeedsSet merged;
    merged.reserve(kept.size() + list->added.size());
    std::set_union(kept.begin(), kept.end(), list->added.begin(), list->added.end(),
                   std::back_inserter(merged));
    if (merged.size() != kept.size() + list->added.size()) {
      return Status::Corruption(name + " adds objects its base already needs");
    }
    chain.set = std::move(merged);
  }
  return chain;
}

std::vector<EncodedNeedsList> PlanNeedsLists(const NeedsSet& set, const NeedsChain* parent) {
  std::vector<EncodedNeedsList> out;
  if (parent != nullptr && !parent->ids.empty()) {
    NeedsSet added, removed;
    std::set_difference(set.begin(), set.end(), parent->set.begin(), parent->set.end(),
                        std::back_inserter(added));
    std::set_difference(parent->set.begin(), parent->set.end(), set.begin(), set.end(),
                        std::back_inserter(removed));
    // Nothing changed: the parent's chain describes this set as it is.
    if (added.empty() && removed.empty()) return out;
    const size_t delta = added.size() + removed.size();
    const size_t delta_lists = (delta + NeedsList::kMaxEntries - 1) / NeedsList::kMaxEntries;
    const bool short_enough = parent->lists + delta_lists <= kMaxDeltaLists;
    const bool lean_enough = parent->entries + delta <= 2 * set.size() + NeedsList::kMaxEntries;
    if (short_enough && lean_enough) {
      AppendLists(removed, added, parent->ids.front(), &out);
      return out;
    }
  }
  AppendLists({}, set, std::nullopt, &out);
  return out;
}

}  // namespace coffer
