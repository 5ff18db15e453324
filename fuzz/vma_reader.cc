// Proxmox VMA archives (store/ingest/vma_reader.h) as an importer reads
// them: the bytes of a damaged or hostile archive, in reads of any size.
//
// Input: one byte of options, then the archive. Options: bit 0: recompute
// the header's and every extent's MD5 first (what gets mutations past the
// checksums; the extents are found by their block counts); bit 1: copy the
// header's uuid into every extent; bits 2-4: how many bytes each read
// returns at most; bits 5-7: if not 0, the read call 8 times that number
// fails with an I/O error.
//
// Properties: a header that reads has devices with ids 1..254 in order,
// distinct names and sizes VMA can address; each cluster belongs to such a
// device, lies inside it, is handed out once, has no mask bits past the
// end, and its data is 64 KiB with absent blocks and bytes past the end
// zero; a clean end comes only after every cluster of every device and the
// whole input; an error is kCorruption or kUnsupported (kIoError only from
// the failed read), its message names a byte, and it is returned again.
#include "store/ingest/vma_reader.h"

#include <nettle/md5.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_util.h"

using namespace coffer;

namespace {

uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

void FixMd5(uint8_t* bytes, size_t size, size_t md5_at) {
  std::memset(bytes + md5_at, 0, 16);
  md5_ctx ctx;
  md5_init(&ctx);
  md5_update(&ctx, size, bytes);
  md5_digest(&ctx, 16, bytes + md5_at);
}

// Makes the checksums (and, if asked, the extents' uuids) right, walking the
// extents by their block counts as far as they go.
void FixUp(Bytes& archive, bool fix_uuids) {
  if (archive.size() < 60) return;
  const size_t header_size = Be32(archive.data() + 56);
  if (header_size < 48 || header_size > archive.size()) return;
  FixMd5(archive.data(), header_size, 32);
  for (size_t at = header_size; archive.size() - at >= 512;) {
    uint8_t* extent = archive.data() + at;
    if (fix_uuids) std::memcpy(extent + 8, archive.data() + 8, 16);
    FixMd5(extent, 512, 24);
    at += 512 + (size_t{extent[6]} << 8 | extent[7]) * vma::kBlockSize;
    if (at > archive.size()) break;
  }
}

bool AllZero(ByteView bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

void CheckError(const Status& status, bool read_failed) {
  const Code code = status.code();
  if (read_failed != (code == Code::kIoError)) {
    fuzz::Fail("a failed read and an I/O error do not go together: " + status.message());
  }
  if (read_failed) return;
  if (code != Code::kCorruption && code != Code::kUnsupported) {
    fuzz::Fail("an unexpected error code: " + status.message());
  }
  if (status.message().rfind("VMA at byte ", 0) != 0) {
    fuzz::Fail("an error that names no byte: " + status.message());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t options = data[0];
  Bytes archive(data + 1, data + size);
  if (options & 1) FixUp(archive, options & 2);
  static constexpr size_t kPieces[] = {SIZE_MAX, 1, 3, 512, 4095, 4096, 65536, 100000};
  const size_t piece = kPieces[options >> 2 & 7];
  const size_t failing_call = (size_t{options} >> 5) * 8;

  size_t at = 0, calls = 0;
  bool read_failed = false;
  vma::Reader reader([&](std::span<uint8_t> out) -> Result<size_t> {
    if (++calls == failing_call) {
      read_failed = true;
      return Status::IoError("the input failed");
    }
    const size_t n = std::min({out.size(), archive.size() - at, piece});
    std::copy_n(archive.begin() + at, n, out.begin());
    at += n;
    return n;
  });

  Result<vma::Header> header = reader.ReadHeader();
  if (!header.ok()) {
    CheckError(header.status(), read_failed);
    if (reader.Next().status().message() != header.status().message()) {
      fuzz::Fail("Next after a failed header gave another status");
    }
    return 0;
  }
  std::vector<const vma::Device*> by_id(256, nullptr);
  std::set<std::string> names;
  uint64_t clusters_expected = 0;
  int last_id = 0;
  for (const vma::Device& d : header->devices) {
    if (d.id < 1 || d.id > 254 || d.id <= last_id) fuzz::Fail("device ids out of range or order");
    if (d.size == 0 || d.cluster_count() > (uint64_t{1} << 32))
      fuzz::Fail("a device size VMA cannot address");
    if (!names.insert(d.name).second || d.name.empty()) fuzz::Fail("a device name empty or twice");
    last_id = d.id;
    by_id[d.id] = &d;
    clusters_expected += d.cluster_count();
  }

  std::set<std::pair<uint8_t, uint64_t>> seen;
  for (;;) {
    Result<std::optional<vma::Cluster>> next = reader.Next();
    if (!next.ok()) {
      CheckError(next.status(), read_failed);
      if (reader.Next().status().message() != next.status().message()) {
        fuzz::Fail("a failed reader gave another status");
      }
      return 0;
    }
    if (!*next) break;
    const vma::Cluster& c = **next;
    const vma::Device* device = by_id[c.device_id];
    if (!device) fuzz::Fail("a cluster of a device the header does not list");
    if (c.index >= device->cluster_count()) fuzz::Fail("a cluster past its device's end");
    if (!seen.insert({c.device_id, c.index}).second) fuzz::Fail("a cluster handed out twice");
    if (c.data.size() != vma::kClusterSize) fuzz::Fail("a cluster that is not 64 KiB");
    const uint64_t inside = std::min(vma::kClusterSize, device->size - c.index * vma::kClusterSize);
    for (size_t b = 0; b < vma::kClusterSize / vma::kBlockSize; ++b) {
      const bool past_end = b * vma::kBlockSize >= inside;
      if (past_end && (c.mask >> b & 1)) fuzz::Fail("a mask bit past the device's end");
      if (!(c.mask >> b & 1) && !AllZero(c.data.subspan(b * vma::kBlockSize, vma::kBlockSize))) {
        fuzz::Fail("an absent block that is not zero");
      }
    }
    if (!AllZero(c.data.subspan(inside)))
      fuzz::Fail("bytes past the device's end that are not zero");
  }
  if (seen.size() != clusters_expected) fuzz::Fail("a clean end with clusters missing");
  if (reader.position() != archive.size() || at != archive.size()) {
    fuzz::Fail("a clean end before the end of the input");
  }
  Result<std::optional<vma::Cluster>> after = reader.Next();
  if (!after.ok() || after->has_value()) fuzz::Fail("Next after the end did not stay at the end");
  return 0;
}
