// Sizes and durations as a person types them (tools/units.h: ParseSize,
// ParseDuration), as in --kdf-memory 64M or --lock-wait 1h30m.
//
// Input: the text. Properties: a size that parses is the number written
// times its unit, exactly (no wrap-around); a duration that parses is not
// negative.
#include <string>

#include "fuzz/fuzz_util.h"
#include "tools/units.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<uint64_t> bytes = tools::ParseSize(text);
  if (bytes.ok()) {
    // The same number in 128 bits: what was written.
    unsigned __int128 exact = 0;
    std::string_view digits = text;
    unsigned __int128 unit = 1;
    switch (digits.back()) {
      case 'k':
      case 'K': unit = 1024; break;
      case 'm':
      case 'M': unit = 1024 * 1024; break;
      case 'g':
      case 'G': unit = 1024 * 1024 * 1024; break;
    }
    if (unit != 1) digits.remove_suffix(1);
    for (char c : digits) {
      exact = exact * 10 + static_cast<unsigned>(c - '0');
      if (exact > ~uint64_t{0}) break;
    }
    exact *= unit;
    if (exact != *bytes)
      fuzz::Fail("ParseSize('" + std::string(text) + "') is not what was written");
  }
  Result<std::chrono::milliseconds> duration = tools::ParseDuration(text);
  if (duration.ok() && duration->count() < 0) {
    fuzz::Fail("ParseDuration('" + std::string(text) + "') is negative");
  }
  return 0;
}
