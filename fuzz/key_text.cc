// Key files and exported keys (store/crypto/key_text.h), and the records
// they carry (crypto::KeySet's ImportRecord and WrappedParams), as `coffer
// key import` and --key-file read them from a file a person gives.
//
// Input: the file's text. Properties: what parses formats to text that
// parses to the same kind, repository id, date and record; the record's
// decoders never crash, and an exported record that imports exports again
// to the same bytes.
#include "store/crypto/key_text.h"

#include <string>

#include "fuzz/fuzz_util.h"
#include "store/crypto/keys.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = crypto::ParseKeyText(text);
  if (!parsed.ok()) return 0;
  auto again = crypto::ParseKeyText(crypto::FormatKeyText(*parsed));
  if (!again.ok()) fuzz::Fail("formatted key text does not parse: " + again.status().message());
  if (again->kind != parsed->kind || again->record != parsed->record ||
      again->repository_id != parsed->repository_id || again->date != parsed->date) {
    // A header value with a line break or leading blanks cannot round-trip;
    // the record and kind always must.
    if (again->kind != parsed->kind || again->record != parsed->record) {
      fuzz::Fail("key text round trip changed the key");
    }
  }
  (void)crypto::KeySet::WrappedParams(parsed->record);
  auto imported = crypto::KeySet::ImportRecord(parsed->record);
  if (imported.ok()) {
    auto exported = imported->keys.ExportRecord(imported->repository_id);
    if (!exported.ok() || *exported != parsed->record) {
      fuzz::Fail("an imported key does not export to the same record");
    }
  }
  return 0;
}
