// MBR and GPT partition tables (fs/partition_table.h) as the mount reads
// them from a stored disk image: any bytes, in reads of any size.
//
// Input: one byte of options, then the image as records, each [u32
// little-endian: zero sectors][u16 little-endian: data sectors][the data,
// 512 bytes a sector; the last record takes what is left]. So a seed of a
// few KiB describes a disk of gigabytes whose tables sit at its start, in
// its EBRs and in its last sectors. Options: bit 0: recompute the CRC-32s of
// every GPT header found at sector 1 or in the last sector (512-byte and
// 4 KiB sectors) and of its entry array, so mutations get past them; bits
// 1-3: how many bytes each read returns at most; bits 4-7: if not 0, the
// read call with that number fails with an I/O error.
//
// Properties: reads stay inside the image and total at most a few MiB; a
// table that reads has its partitions in increasing numbers (1-4 and 5 up
// for an MBR), each of whole sectors, not empty, not over sector 0, inside
// the image, none overlapping another; errors are kCorruption or
// kUnsupported, and kIoError exactly when a read failed.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fs/partition_table.h"
#include "fuzz/fuzz_util.h"

using namespace coffer;

namespace {

constexpr uint64_t kSector = 512;

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t Le64(const uint8_t* p) {
  return uint64_t{Le32(p)} | uint64_t{Le32(p + 4)} << 32;
}
void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Bit by bit, so it shares nothing with the parser's table.
uint32_t Crc32(const std::vector<uint8_t>& data) {
  uint32_t crc = 0xffffffffu;
  for (uint8_t byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

// A sparse image: pieces of data at offsets, zeros elsewhere.
struct Image {
  struct Piece {
    uint64_t offset;
    std::vector<uint8_t> data;
  };
  std::vector<Piece> pieces;
  uint64_t size = 0;

  void Read(uint64_t offset, std::span<uint8_t> out) const {
    std::fill(out.begin(), out.end(), 0);
    for (const Piece& p : pieces) {
      const uint64_t from = std::max(offset, p.offset);
      const uint64_t to = std::min(offset + out.size(), p.offset + p.data.size());
      if (from < to)
        std::memcpy(out.data() + (from - offset), p.data.data() + (from - p.offset), to - from);
    }
  }
  // The bytes [offset, offset + n) if one piece holds them all.
  uint8_t* Writable(uint64_t offset, size_t n) {
    for (Piece& p : pieces) {
      if (offset >= p.offset && offset + n <= p.offset + p.data.size()) {
        return p.data.data() + (offset - p.offset);
      }
    }
    return nullptr;
  }
};

Image Parse(const uint8_t* data, size_t size) {
  Image image;
  size_t at = 0;
  while (size - at >= 6) {
    const uint64_t zeros = Le32(data + at);
    const uint64_t sectors = uint64_t{data[at + 4]} | uint64_t{data[at + 5]} << 8;
    at += 6;
    image.size += zeros * kSector;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(sectors * kSector, size - at));
    image.pieces.push_back({image.size, std::vector<uint8_t>(data + at, data + at + n)});
    image.size += n;
    at += n;
  }
  return image;
}

// Makes the CRC-32s of the GPT header in sector `lba` and of its entries right.
void FixGpt(Image& image, uint64_t sector_size, uint64_t lba) {
  if (lba * sector_size + sector_size > image.size) return;
  uint8_t* header = image.Writable(lba * sector_size, sector_size);
  if (!header || std::memcmp(header, "EFI PART", 8) != 0) return;
  const uint64_t count = std::min<uint64_t>(Le32(header + 80), fs::kMaxGptEntries);
  const uint64_t entries_at = Le64(header + 72);
  if (entries_at < image.size / sector_size &&
      count * 128 <= image.size - entries_at * sector_size) {
    std::vector<uint8_t> entries(count * 128);
    image.Read(entries_at * sector_size, entries);
    PutLe32(header + 88, Crc32(entries));
  }
  const uint64_t header_size = std::clamp<uint64_t>(Le32(header + 12), 92, sector_size);
  PutLe32(header + 16, 0);
  PutLe32(header + 16, Crc32(std::vector<uint8_t>(header, header + header_size)));
}

void CheckTable(const fs::PartitionTable& table, uint64_t image_size) {
  const uint64_t sector = table.sector_size;
  if (sector != 512 && !(sector == 4096 && table.kind == fs::PartitionTable::Kind::kGpt)) {
    fuzz::Fail("a sector size other than 512, or 4096 for a GPT");
  }
  if (table.from_backup == table.primary_damage.empty())
    fuzz::Fail("a backup GPT read without saying why");
  uint32_t last_number = 0;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const fs::Partition& p : table.partitions) {
    if (p.number <= last_number) fuzz::Fail("partition numbers not increasing");
    last_number = p.number;
    if (table.kind == fs::PartitionTable::Kind::kMbr) {
      if (p.number == 0 || p.number > 4 + fs::kMaxLogicalPartitions) {
        fuzz::Fail("an MBR partition number out of range");
      }
      if (p.mbr_type == 0x05 || p.mbr_type == 0x0f || p.mbr_type == 0x85) {
        fuzz::Fail("an extended partition listed");
      }
    } else if (p.number == 0 || p.number > fs::kMaxGptEntries) {
      fuzz::Fail("a GPT partition number out of range");
    }
    if (p.size == 0 || p.offset % sector != 0 || p.size % sector != 0) {
      fuzz::Fail("a partition not of whole sectors");
    }
    if (p.offset < sector) fuzz::Fail("a partition over sector 0");
    if (p.size > image_size || p.offset > image_size - p.size)
      fuzz::Fail("a partition past the image's end");
    spans.emplace_back(p.offset, p.offset + p.size);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) fuzz::Fail("two partitions overlap");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t options = data[0];
  Image image = Parse(data + 1, size - 1);
  if (options & 1) {
    for (uint64_t sector_size : {512, 4096}) {
      FixGpt(image, sector_size, 1);
      if (image.size / sector_size > 1) FixGpt(image, sector_size, image.size / sector_size - 1);
    }
  }
  static constexpr size_t kPieces[] = {SIZE_MAX, 1, 7, 8, 100, 512, 4096, 65536};
  const size_t piece = kPieces[options >> 1 & 7];
  const size_t failing_call = options >> 4;

  size_t calls = 0;
  uint64_t bytes_read = 0;
  bool read_failed = false;
  auto read_at = [&](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    if (out.empty()) fuzz::Fail("an empty read");
    if (offset > image.size || out.size() > image.size - offset)
      fuzz::Fail("a read past the image's end");
    if (++calls == failing_call) {
      read_failed = true;
      return Status::IoError("the image failed");
    }
    const size_t n = std::min(out.size(), piece);
    image.Read(offset, out.first(n));
    // Each structure once: the MBR, the EBRs, two GPT headers and entry arrays.
    bytes_read += n;
    if (bytes_read > (8u << 20)) fuzz::Fail("more than 8 MiB read for a partition table");
    return n;
  };
  Result<std::optional<fs::PartitionTable>> result = fs::ReadPartitionTable(image.size, read_at);
  if (!result.ok()) {
    const Code code = result.status().code();
    if (read_failed != (code == Code::kIoError)) {
      fuzz::Fail("a failed read and an I/O error do not go together: " + result.status().message());
    }
    if (!read_failed && code != Code::kCorruption && code != Code::kUnsupported) {
      fuzz::Fail("an unexpected error code: " + result.status().message());
    }
    return 0;
  }
  if (read_failed) fuzz::Fail("a failed read went unnoticed");
  if (*result) CheckTable(**result, image.size);
  return 0;
}
