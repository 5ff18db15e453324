#include "store/kv/blob_file.h"

#include <cstring>

#include "store/kv/crc32c.h"

namespace coffer::kv {
namespace {

constexpr uint32_t kBlobMagic = 0x00248f37;
constexpr uint32_t kBlobVersion = 1;
constexpr size_t kHeaderBytes = 30;
constexpr size_t kRecordHeaderBytes = 32;
constexpr size_t kFooterBytes = 32;

uint32_t Fixed32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // little-endian host (x86_64, arm64): RocksDB's encoding as is
}
uint64_t Fixed64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A masked CRC-32C of `data` compared with the stored one.
bool CrcMatches(ByteView data, uint32_t stored) {
  return MaskCrc32c(Crc32c(data)) == stored;
}

}  // namespace

Result<BlobFileSummary> ReadBlobFile(ByteView file, const BlobRecordVisitor& visit) {
  if (file.size() < kHeaderBytes || Fixed32(file.data()) != kBlobMagic) {
    return Status::Corruption("not a blob file: no blob file header");
  }
  if (Fixed32(file.data() + 4) != kBlobVersion) {
    return Status::Corruption("blob file version " + std::to_string(Fixed32(file.data() + 4)) +
                              " is not known");
  }
  BlobFileSummary summary;
  summary.column_family_id = Fixed32(file.data() + 8);
  summary.compressed = file[13] != 0;

  size_t end = file.size();
  if (file.size() >= kHeaderBytes + kFooterBytes) {
    const uint8_t* footer = file.data() + file.size() - kFooterBytes;
    if (Fixed32(footer) == kBlobMagic &&
        CrcMatches(ByteView(footer, kFooterBytes - 4), Fixed32(footer + kFooterBytes - 4))) {
      summary.has_footer = true;
      summary.footer_count = Fixed64(footer + 4);
      end -= kFooterBytes;
    }
  }

  size_t pos = kHeaderBytes;
  while (pos < end) {
    const size_t left = end - pos;
    const uint8_t* header = file.data() + pos;
    if (left < kRecordHeaderBytes || !CrcMatches(ByteView(header, 24), Fixed32(header + 24))) {
      // A cut-off record, or a damaged length: nothing after it can be found.
      summary.unreadable_bytes += left;
      break;
    }
    const uint64_t key_size = Fixed64(header);
    const uint64_t value_size = Fixed64(header + 8);
    const uint64_t body_left = left - kRecordHeaderBytes;
    if (key_size > body_left || value_size > body_left - key_size) {
      summary.unreadable_bytes += left;
      break;
    }
    ByteView key(header + kRecordHeaderBytes, key_size);
    ByteView value(key.data() + key_size, value_size);
    uint32_t crc = Crc32c(key);
    crc = Crc32c(value, crc);
    if (MaskCrc32c(crc) == Fixed32(header + 28)) {
      ++summary.records;
      visit(key, value);
    } else {
      ++summary.damaged_records;
    }
    pos += kRecordHeaderBytes + key_size + value_size;
  }
  return summary;
}

}  // namespace coffer::kv
