// Needs lists (store/objects/needs_list.h), which a copy reads without the
// key from a store it may not trust: decoding one list, and reading a chain.
//
// Input: records of [2-byte little-endian length][bytes] (fuzz_util.h). The
// first is decoded as one list. Then the records are stored as a chain, each
// under its id: a record that says it has a base gets the id of the record
// after it written there (fixed up from the last one back, as a hash cannot
// be guessed by mutation), and the chain from the first is read.
#include <map>

#include "fuzz/fuzz_util.h"
#include "store/objects/needs_list.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<ByteView> records = fuzz::SplitRecords({data, size}, 64);
  if (records.empty()) return 0;

  Result<NeedsList> list = DecodeNeedsList(records[0]);
  if (!list.ok()) {
    if (list.status().code() != Code::kCorruption) fuzz::Fail("a bad list is not kCorruption");
  } else {
    // Lists have one encoding: what decodes encodes to the same bytes.
    const Bytes again = EncodeNeedsList(*list);
    if (!std::equal(again.begin(), again.end(), records[0].begin(), records[0].end())) {
      fuzz::Fail("a decoded list encodes to other bytes");
    }
  }

  std::vector<Bytes> chained(records.size());
  std::map<ObjectId, Bytes> stored;
  for (size_t k = records.size(); k-- > 0;) {
    chained[k].assign(records[k].begin(), records[k].end());
    Bytes& list = chained[k];
    if (k + 1 < records.size() && list.size() >= 2 + ObjectId::kSize && (list[1] & 1)) {
      const ObjectId next = NeedsListId(chained[k + 1]);
      std::copy(next.bytes.begin(), next.bytes.end(), list.begin() + 2);
    }
    stored[NeedsListId(list)] = list;
  }
  const ObjectId head = NeedsListId(chained[0]);
  Result<NeedsChain> chain = ReadNeedsChain(head, [&](const ObjectId& id) -> Result<Bytes> {
    auto it = stored.find(id);
    if (it == stored.end()) return Status::NotFound("absent");
    return it->second;
  });
  if (!chain.ok()) {
    if (chain.status().code() != Code::kCorruption) fuzz::Fail("a bad chain is not kCorruption");
    return 0;
  }
  if (!std::is_sorted(chain->set.begin(), chain->set.end()) ||
      std::adjacent_find(chain->set.begin(), chain->set.end()) != chain->set.end()) {
    fuzz::Fail("a chain read to an unsorted set");
  }
  if (chain->ids.size() != chain->lists || chain->ids.front() != head) {
    fuzz::Fail("a chain's ids do not match its lists");
  }
  // Planning the set again from nothing describes the same set.
  std::vector<EncodedNeedsList> fresh = PlanNeedsLists(chain->set, nullptr);
  std::map<ObjectId, Bytes> fresh_store;
  for (const auto& l : fresh) fresh_store[l.id] = l.bytes;
  Result<NeedsChain> reread =
      ReadNeedsChain(fresh.back().id, [&](const ObjectId& id) -> Result<Bytes> {
        auto it = fresh_store.find(id);
        if (it == fresh_store.end()) return Status::NotFound("absent");
        return it->second;
      });
  if (!reread.ok() || reread->set != chain->set) fuzz::Fail("a planned chain reads to another set");
  return 0;
}
