// RocksDB blob files as `coffer repair` reads them (store/kv/blob_file.h):
// the bytes of a damaged file, which may be anything.
//
// Input: the file. Properties: every record handed over lies inside the
// input; the records, damaged records and unreadable bytes account for no
// more than the file holds.
#include "store/kv/blob_file.h"
#include "fuzz/fuzz_util.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView file(data, size);
  uint64_t record_bytes = 0;
  auto summary = kv::ReadBlobFile(file, [&](ByteView key, ByteView value) {
    for (ByteView part : {key, value}) {
      if (!part.empty() && (part.data() < data || part.data() + part.size() > data + size)) {
        fuzz::Fail("a blob record points outside the file");
      }
    }
    record_bytes += 32 + key.size() + value.size();
  });
  if (summary.ok() && record_bytes + summary->unreadable_bytes > size) {
    fuzz::Fail("blob records and unreadable bytes add up to more than the file");
  }
  return 0;
}
