// Partition tables of disk images, MBR and GPT, so that the mount can show
// each partition of a stored disk image as a file of its own.
//
// The parser does no I/O: it asks a ReadAt callback for the bytes it needs
// (the first sector; a GPT's header and entry array; each logical
// partition's EBR; the backup GPT at the image's end only when the primary
// is damaged), so it is tested and fuzzed over bytes in memory and the
// mount feeds it through its chunk cache. Used only by the mount for now;
// it moves to store/model/ once a command (ls, restore, export) needs it.
//
// Numbers are the ones Linux gives (sda1, sda5): MBR primaries 1-4 by slot,
// logical partitions from 5 in the order of their EBR chain, GPT entries by
// index + 1 (unused entries leave gaps). An MBR's extended partition holds
// the logical ones and no filesystem, so it is not listed (Linux shows it as
// a 1 KiB device); BSD, Solaris and Minix subpartitions inside MBR
// partitions are not read (Linux numbers them after the logical ones).
//
// Sectors: an MBR is read in 512-byte sectors (it does not say its sector
// size). A GPT says it by where its header is: at byte 512, 512-byte
// sectors; at byte 4096, 4 KiB ones (a disk with 4 KiB logical sectors).
//
// Strict where Linux is lenient, so that a partition shown is never made of
// bytes that belong to another or are not in the image: a partition past
// the image's end, two partitions that overlap, a partition over the table
// itself (sector 0, an EBR, a GPT header or entry array), a logical
// partition outside its extended partition, a broken EBR chain (a link
// outside the extended partition, a loop), a GPT entry outside the header's
// usable sectors, or a GPT whose header or entry array fails its CRC-32 and
// whose backup does too: all are kCorruption naming what is wrong. A damaged
// primary GPT (signature, CRC, its own position, its entry array) is
// replaced by the backup GPT in the image's last sector, as fdisk, gdisk
// and parted do (the kernel does so only with `gpt` on its command line);
// PartitionTable::from_backup says so.
//
// A first sector without the boot signature 0x55AA, or whose partition
// entries have boot flags other than 0x00 and 0x80 (a FAT or NTFS boot
// sector: a filesystem, not a partitioned disk), holds no partition table.
//
// Pure; thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/base/status.h"

namespace coffer::fs {

// Fills `out`, or its start, with the image's bytes from `offset` and says
// how many; the parser asks again for the rest, and 0 bytes is an image
// shorter than its size (kIoError). It never asks for bytes past that size.
using ReadAt = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)>;

inline constexpr uint32_t kMbrSectorSize = 512;

struct Partition {
  uint32_t number = 0;    // as Linux numbers it
  uint64_t offset = 0;    // bytes from the image's start
  uint64_t size = 0;      // bytes, never 0
  uint8_t mbr_type = 0;   // MBR: the type byte (0x83 Linux, 0x07 NTFS, ...)
  std::string type_guid;  // GPT: the type, "0fc63daf-8483-4772-8e79-3d69d8477de4"
  std::string guid;       // GPT: the partition's own GUID
  std::string name;       // GPT: its name, UTF-8 (stored as UTF-16LE)
};

struct PartitionTable {
  enum class Kind { kMbr, kGpt };
  Kind kind = Kind::kMbr;
  uint32_t sector_size = kMbrSectorSize;  // 512, or 4096 for such a GPT
  std::vector<Partition> partitions;      // by number
  // GPT: the primary header or entry array was damaged and the backup at
  // the image's end was read instead.
  bool from_backup = false;
  std::string primary_damage;  // then: what was wrong with the primary
};

// The partition table of an image of `image_size` bytes: nullopt when it
// has none (see above). Errors: kCorruption for a table refused,
// kUnsupported for a GPT beyond what is read here (entries other than 128
// bytes, more than kMaxGptEntries), and whatever `read_at` returns.
Result<std::optional<PartitionTable>> ReadPartitionTable(uint64_t image_size,
                                                         const ReadAt& read_at);

// The most GPT entries read (2 MiB of them; tools make 128).
inline constexpr uint32_t kMaxGptEntries = 16384;
// The most EBRs followed in an MBR's chain of logical partitions.
inline constexpr uint32_t kMaxLogicalPartitions = 256;

}  // namespace coffer::fs
