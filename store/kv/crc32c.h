// CRC-32C (Castagnoli), as RocksDB stores it in blob files: the checksum
// masked by RocksDB's rotate-and-add rule. Debian 12 packages no C++
// library for CRC-32C, and RocksDB keeps its own out of its public headers.
#pragma once

#include <cstdint>

#include "store/base/bytes.h"

namespace coffer::kv {

// The CRC-32C of `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(ByteView data, uint32_t crc = 0);

// RocksDB never stores a CRC as it is (a CRC of data that holds CRCs is
// weak): it stores ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t MaskCrc32c(uint32_t crc);

}  // namespace coffer::kv
