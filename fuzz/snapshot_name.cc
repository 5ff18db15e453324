// Snapshot names and times as a person types them (store/model/snapshot_name.h).
//
// Input: the text. Properties: a parsed time formats back to a time that
// parses to the same instant (whole seconds in UTC); a parsed name's group
// is valid.
#include <string>

#include "fuzz/fuzz_util.h"
#include "store/model/snapshot_name.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<int64_t> time = model::ParseTime(text);
  if (time.ok()) {
    const std::string formatted = model::FormatTime(*time);
    Result<int64_t> again = model::ParseTime(formatted);
    if (!again.ok()) fuzz::Fail("FormatTime gave '" + formatted + "', which does not parse");
    if (*again != *time) fuzz::Fail("'" + formatted + "' parses to another time");
  }
  (void)model::ValidateGroup(text);
  Result<model::SnapshotSelector> sel = model::ParseSnapshotName(text);
  if (sel.ok() && sel->kind != model::SnapshotSelector::Kind::kIdPrefix &&
      !model::ValidateGroup(sel->group).ok()) {
    fuzz::Fail("a snapshot name with an invalid group parsed");
  }
  return 0;
}
