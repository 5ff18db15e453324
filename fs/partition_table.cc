#include "fs/partition_table.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <set>

namespace coffer::fs {
namespace {

// The MBR: four 16-byte entries at byte 446 (boot flag, CHS start, type,
// CHS end, first sector and sector count, little-endian), then 0x55 0xAA.
constexpr size_t kMbrEntriesAt = 446;
constexpr uint8_t kGptProtectiveType = 0xee;
// GPT: a 92-byte header (little-endian) in sector 1 and in the last sector.
constexpr size_t kGptHeaderBytes = 92;
constexpr uint32_t kGptEntryBytes = 128;
constexpr uint64_t kGptSectorSizes[] = {512, 4096};

uint16_t Le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | p[1] << 8);
}
uint32_t Le32(const uint8_t* p) {
  return uint32_t{Le16(p)} | uint32_t{Le16(p + 2)} << 16;
}
uint64_t Le64(const uint8_t* p) {
  return uint64_t{Le32(p)} | uint64_t{Le32(p + 4)} << 32;
}

// CRC-32 as GPT uses it (IEEE 802.3, reflected: zlib's crc32). A table, as
// in store/kv/crc32c.cc, rather than a library for one function.
constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320u : 0);
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t Crc32(std::span<const uint8_t> data) {
  uint32_t crc = 0xffffffffu;
  for (uint8_t byte : data) crc = kCrcTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string SectorRange(uint64_t first, uint64_t end) {
  return "sectors " + std::to_string(first) + "-" + std::to_string(end - 1);
}

// Sectors [first, end) that something of the table occupies, for the
// overlap checks; `what` names it in messages.
struct Occupied {
  uint64_t first = 0;
  uint64_t end = 0;
  std::string what;
};

// Fails when two of `used` share a sector, naming both.
Status CheckDisjoint(std::vector<Occupied> used) {
  std::sort(used.begin(), used.end(),
            [](const Occupied& a, const Occupied& b) { return a.first < b.first; });
  // Sorted by start, any overlap shows between neighbours.
  for (size_t i = 1; i < used.size(); ++i) {
    if (used[i].first < used[i - 1].end) {
      return Status::Corruption(
          used[i - 1].what + " (" + SectorRange(used[i - 1].first, used[i - 1].end) + ") and " +
          used[i].what + " (" + SectorRange(used[i].first, used[i].end) + ") overlap");
    }
  }
  return Status::Ok();
}

Status ReadExactly(const ReadAt& read_at, uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    COFFER_ASSIGN_OR_RETURN(size_t n, read_at(offset + done, out.subspan(done)));
    if (n == 0 || n > out.size() - done) {
      return Status::IoError("reading the partition table: the image gave " + std::to_string(n) +
                             " bytes at byte " + std::to_string(offset + done) + " where " +
                             std::to_string(out.size() - done) + " were asked for");
    }
    done += n;
  }
  return Status::Ok();
}

bool HasBootSignature(std::span<const uint8_t, 512> sector) {
  return sector[510] == 0x55 && sector[511] == 0xaa;
}

struct MbrEntry {
  uint8_t boot = 0;
  uint8_t type = 0;
  uint32_t first = 0;
  uint32_t count = 0;  // 0: an unused slot
};

MbrEntry MbrEntryAt(std::span<const uint8_t, 512> sector, int slot) {
  const uint8_t* p = sector.data() + kMbrEntriesAt + 16 * slot;
  return MbrEntry{p[0], p[4], Le32(p + 8), Le32(p + 12)};
}

// DOS, Windows (LBA) and Linux extended partitions, as the kernel knows them.
bool IsExtended(uint8_t type) {
  return type == 0x05 || type == 0x0f || type == 0x85;
}

std::string PartitionName(uint32_t number) {
  return "partition " + std::to_string(number);
}

// The logical partitions of the extended partition `extended`: a chain of
// EBRs, each an MBR-like sector whose data entries count from the EBR
// itself and whose link entry (the first extended one) counts from the
// extended partition's start. Like the kernel, every data entry of an EBR
// is a partition (OS/2 used more than one) and numbers run on from 5.
Status ReadLogicalPartitions(const Occupied& extended, const ReadAt& read_at,
                             PartitionTable* table) {
  std::vector<Occupied> inside;  // EBRs and logical partitions
  std::set<uint64_t> visited;
  uint32_t number = 5;
  uint64_t ebr = extended.first;
  visited.insert(ebr);
  std::array<uint8_t, kMbrSectorSize> sector;
  for (uint32_t links = 0;; ++links) {
    if (links == kMaxLogicalPartitions) {
      return Status::Corruption("the chain of logical partitions has more than " +
                                std::to_string(kMaxLogicalPartitions) + " links");
    }
    const std::string ebr_name = "the EBR at sector " + std::to_string(ebr);
    COFFER_RETURN_IF_ERROR(ReadExactly(read_at, ebr * kMbrSectorSize, sector));
    if (!HasBootSignature(sector)) {
      // An extended partition may hold no logical one yet; a link must lead to an EBR.
      if (links == 0) break;
      return Status::Corruption(ebr_name + ", linked from the one before, has no boot signature");
    }
    inside.push_back({ebr, ebr + 1, ebr_name});
    std::optional<uint64_t> next;
    for (int slot = 0; slot < 4; ++slot) {
      const MbrEntry e = MbrEntryAt(sector, slot);
      if (e.count == 0) continue;
      if (IsExtended(e.type)) {
        if (!next) next = extended.first + e.first;  // the kernel follows the first link only
        continue;
      }
      if (number - 5 == kMaxLogicalPartitions) {
        return Status::Corruption("more than " + std::to_string(kMaxLogicalPartitions) +
                                  " logical partitions");
      }
      const uint64_t first = ebr + e.first;
      const uint64_t end = first + e.count;
      const std::string name = PartitionName(number);
      if (first < extended.first || end > extended.end) {
        return Status::Corruption(name + " (" + SectorRange(first, end) + ", in " + ebr_name +
                                  ") lies outside " + extended.what + " (" +
                                  SectorRange(extended.first, extended.end) + ")");
      }
      inside.push_back({first, end, name});
      Partition p;
      p.number = number++;
      p.offset = first * kMbrSectorSize;
      p.size = uint64_t{e.count} * kMbrSectorSize;
      p.mbr_type = e.type;
      table->partitions.push_back(std::move(p));
    }
    if (!next) break;
    if (*next >= extended.end) {
      return Status::Corruption(ebr_name + " links to sector " + std::to_string(*next) +
                                ", outside " + extended.what + " (" +
                                SectorRange(extended.first, extended.end) + ")");
    }
    if (!visited.insert(*next).second) {
      return Status::Corruption(ebr_name + " links back to sector " + std::to_string(*next) +
                                ": the chain of logical partitions loops");
    }
    ebr = *next;
  }
  return CheckDisjoint(std::move(inside));
}

Result<PartitionTable> ReadMbr(std::span<const uint8_t, 512> mbr, uint64_t image_size,
                               const ReadAt& read_at) {
  const uint64_t sectors = image_size / kMbrSectorSize;
  PartitionTable table;
  table.kind = PartitionTable::Kind::kMbr;
  std::vector<Occupied> outside{{0, 1, "the MBR"}};  // primaries, the extended partition, sector 0
  std::optional<Occupied> extended;
  for (int slot = 0; slot < 4; ++slot) {
    const MbrEntry e = MbrEntryAt(mbr, slot);
    if (e.count == 0) continue;
    const uint32_t number = static_cast<uint32_t>(slot) + 1;
    const uint64_t end = uint64_t{e.first} + e.count;
    std::string name = (IsExtended(e.type) ? "extended " : "") + PartitionName(number);
    if (end > sectors) {
      return Status::Corruption(name + " (" + SectorRange(e.first, end) +
                                ") ends past the image's end (" + std::to_string(sectors) +
                                " sectors)");
    }
    if (IsExtended(e.type)) {
      if (extended)
        return Status::Corruption("two extended partitions: " + extended->what + " and " + name);
      extended = Occupied{e.first, end, name};
      outside.push_back(*extended);
      continue;
    }
    outside.push_back({e.first, end, name});
    Partition p;
    p.number = number;
    p.offset = uint64_t{e.first} * kMbrSectorSize;
    p.size = uint64_t{e.count} * kMbrSectorSize;
    p.mbr_type = e.type;
    table.partitions.push_back(std::move(p));
  }
  COFFER_RETURN_IF_ERROR(CheckDisjoint(std::move(outside)));
  if (extended) COFFER_RETURN_IF_ERROR(ReadLogicalPartitions(*extended, read_at, &table));
  return table;
}

std::string GuidText(const uint8_t* g) {
  // The first three fields little-endian, the rest as stored.
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", Le32(g),
                Le16(g + 4), Le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
  return text;
}

void AppendUtf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xc0 | c >> 6));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | c >> 12));
    out.push_back(static_cast<char>(0x80 | (c >> 6 & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | c >> 18));
    out.push_back(static_cast<char>(0x80 | (c >> 12 & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c >> 6 & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
}

// A GPT entry's name: UTF-16LE up to the first NUL; a lone surrogate reads as U+FFFD.
std::string GptName(const uint8_t* p, size_t units) {
  std::string out;
  for (size_t i = 0; i < units; ++i) {
    uint32_t c = Le16(p + 2 * i);
    if (c == 0) break;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < units && Le16(p + 2 * i + 2) >= 0xdc00 &&
        Le16(p + 2 * i + 2) < 0xe000) {
      c = 0x10000 + ((c - 0xd800) << 10) + (Le16(p + 2 * i + 2) - 0xdc00u);
      ++i;
    } else if (c >= 0xd800 && c < 0xe000) {
      c = 0xfffd;
    }
    AppendUtf8(out, c);
  }
  return out;
}

// One GPT as read from a header and its entry array, both checked.
struct Gpt {
  uint64_t sector_size = 0;
  uint64_t header_lba = 0;
  uint64_t first_usable = 0;
  uint64_t last_usable = 0;
  uint64_t entries_lba = 0;
  uint64_t entries_sectors = 0;
  std::vector<uint8_t> entries;  // count * 128 bytes
};

// The GPT whose header is in sector `lba` of `sector_size` bytes. Fails
// (kCorruption, or kUnsupported for what is not read here) when the header
// or its entry array is damaged: that is when the backup is read instead.
Result<Gpt> ReadGptAt(uint64_t lba, uint64_t sector_size, uint64_t image_size,
                      const ReadAt& read_at) {
  const uint64_t sectors = image_size / sector_size;
  Gpt gpt;
  gpt.sector_size = sector_size;
  gpt.header_lba = lba;
  std::vector<uint8_t> header(sector_size);
  COFFER_RETURN_IF_ERROR(ReadExactly(read_at, lba * sector_size, header));
  const uint8_t* h = header.data();
  if (std::memcmp(h, "EFI PART", 8) != 0) return Status::Corruption("no GPT header signature");
  const uint32_t header_size = Le32(h + 12);
  if (header_size < kGptHeaderBytes || header_size > sector_size) {
    return Status::Corruption("a GPT header of " + std::to_string(header_size) + " bytes");
  }
  const uint32_t header_crc = Le32(h + 16);
  std::memset(header.data() + 16, 0, 4);
  if (Crc32({h, header_size}) != header_crc)
    return Status::Corruption("the GPT header fails its CRC-32");
  if (Le64(h + 24) != lba) {
    return Status::Corruption("the GPT header in sector " + std::to_string(lba) +
                              " says it is in sector " + std::to_string(Le64(h + 24)));
  }
  gpt.first_usable = Le64(h + 40);
  gpt.last_usable = Le64(h + 48);
  // Sectors 0 and 1 are the protective MBR and the primary header in every GPT.
  if (gpt.first_usable < 2 || gpt.first_usable > gpt.last_usable || gpt.last_usable >= sectors) {
    return Status::Corruption("the GPT's usable sectors " + std::to_string(gpt.first_usable) + "-" +
                              std::to_string(gpt.last_usable) + " do not fit an image of " +
                              std::to_string(sectors) + " sectors");
  }
  if (lba >= gpt.first_usable && lba <= gpt.last_usable) {
    return Status::Corruption("the GPT header in sector " + std::to_string(lba) +
                              " lies in its usable sectors");
  }
  const uint32_t entry_size = Le32(h + 84);
  if (entry_size != kGptEntryBytes) {
    return Status::Unsupported("GPT entries of " + std::to_string(entry_size) +
                               " bytes (128 are read)");
  }
  const uint32_t count = Le32(h + 80);
  if (count > kMaxGptEntries) {
    return Status::Unsupported("a GPT of " + std::to_string(count) + " entries (at most " +
                               std::to_string(kMaxGptEntries) + " are read)");
  }
  gpt.entries_lba = Le64(h + 72);
  gpt.entries_sectors = (uint64_t{count} * kGptEntryBytes + sector_size - 1) / sector_size;
  if (count > 0) {
    const uint64_t first = gpt.entries_lba;
    if (first < 2 || first >= sectors || gpt.entries_sectors > sectors - first) {
      return Status::Corruption("the GPT entry array at sector " + std::to_string(first) +
                                " does not fit between the protective MBR and the image's end");
    }
    const uint64_t end = first + gpt.entries_sectors;
    if ((first <= lba && lba < end) || (first <= gpt.last_usable && gpt.first_usable < end)) {
      return Status::Corruption("the GPT entry array (" + SectorRange(first, end) +
                                ") overlaps its header or its usable sectors");
    }
  }
  gpt.entries.resize(uint64_t{count} * kGptEntryBytes);
  COFFER_RETURN_IF_ERROR(ReadExactly(read_at, gpt.entries_lba * sector_size, gpt.entries));
  if (Crc32(gpt.entries) != Le32(h + 88))
    return Status::Corruption("the GPT entry array fails its CRC-32");
  return gpt;
}

// The partitions of a GPT whose header and entries passed their checks.
Result<PartitionTable> PartitionsOf(const Gpt& gpt) {
  PartitionTable table;
  table.kind = PartitionTable::Kind::kGpt;
  table.sector_size = static_cast<uint32_t>(gpt.sector_size);
  std::vector<Occupied> used;
  const size_t count = gpt.entries.size() / kGptEntryBytes;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* e = gpt.entries.data() + i * kGptEntryBytes;
    if (std::all_of(e, e + 16, [](uint8_t b) { return b == 0; })) continue;  // an unused entry
    const uint32_t number = static_cast<uint32_t>(i) + 1;
    const uint64_t first = Le64(e + 32);
    const uint64_t last = Le64(e + 40);
    const std::string name = PartitionName(number);
    if (first > last || first < gpt.first_usable || last > gpt.last_usable) {
      return Status::Corruption(name + " (sectors " + std::to_string(first) + "-" +
                                std::to_string(last) + ") lies outside the GPT's usable sectors " +
                                std::to_string(gpt.first_usable) + "-" +
                                std::to_string(gpt.last_usable));
    }
    used.push_back({first, last + 1, name});
    Partition p;
    p.number = number;
    p.offset = first * gpt.sector_size;
    p.size = (last - first + 1) * gpt.sector_size;
    p.type_guid = GuidText(e);
    p.guid = GuidText(e + 16);
    p.name = GptName(e + 56, 36);
    table.partitions.push_back(std::move(p));
  }
  COFFER_RETURN_IF_ERROR(CheckDisjoint(std::move(used)));
  return table;
}

Result<PartitionTable> ReadGpt(uint64_t image_size, const ReadAt& read_at) {
  // Where the primary header's signature is says the sector size.
  std::optional<uint64_t> sector_size;
  for (uint64_t size : kGptSectorSizes) {
    if (image_size < 2 * size) break;
    std::array<uint8_t, 8> signature;
    COFFER_RETURN_IF_ERROR(ReadExactly(read_at, size, signature));
    if (std::memcmp(signature.data(), "EFI PART", 8) == 0) {
      sector_size = size;
      break;
    }
  }
  Status primary = Status::Corruption("no GPT header at byte 512 or 4096");
  if (sector_size) {
    Result<Gpt> gpt = ReadGptAt(1, *sector_size, image_size, read_at);
    if (gpt.ok()) return PartitionsOf(*gpt);
    if (gpt.status().code() == Code::kIoError) return gpt.status();
    primary = gpt.status();
  }
  // The backup header is in the image's last sector, its entries before it.
  std::optional<Status> backup;
  for (uint64_t size : kGptSectorSizes) {
    if (sector_size && size != *sector_size) continue;
    if (image_size / size < 3) continue;
    Result<Gpt> gpt = ReadGptAt(image_size / size - 1, size, image_size, read_at);
    if (gpt.ok()) {
      COFFER_ASSIGN_OR_RETURN(PartitionTable table, PartitionsOf(*gpt));
      table.from_backup = true;
      table.primary_damage = primary.message();
      return table;
    }
    if (gpt.status().code() == Code::kIoError) return gpt.status();
    if (!backup) backup = gpt.status();
  }
  const std::string message =
      "the primary GPT is damaged (" + primary.message() + ") and so is the backup (" +
      (backup ? backup->message() : std::string("the image is too small for one")) + ")";
  const bool unsupported =
      primary.code() == Code::kUnsupported && backup && backup->code() == Code::kUnsupported;
  return unsupported ? Status::Unsupported(message) : Status::Corruption(message);
}

}  // namespace

Result<std::optional<PartitionTable>> ReadPartitionTable(uint64_t image_size,
                                                         const ReadAt& read_at) {
  if (image_size < kMbrSectorSize) return std::optional<PartitionTable>();
  std::array<uint8_t, kMbrSectorSize> mbr;
  COFFER_RETURN_IF_ERROR(ReadExactly(read_at, 0, mbr));
  if (!HasBootSignature(mbr)) return std::optional<PartitionTable>();
  bool protective = false;
  for (int slot = 0; slot < 4; ++slot) {
    const MbrEntry e = MbrEntryAt(mbr, slot);
    // Boot flags other than these: a filesystem's boot sector, not a table.
    if (e.boot != 0x00 && e.boot != 0x80) return std::optional<PartitionTable>();
    // A protective (or hybrid) MBR: the GPT is the table.
    protective |= e.type == kGptProtectiveType;
  }
  Result<PartitionTable> table =
      protective ? ReadGpt(image_size, read_at) : ReadMbr(mbr, image_size, read_at);
  if (!table.ok()) return table.status();
  return std::optional<PartitionTable>(std::move(table).value());
}

}  // namespace coffer::fs
