// Writes the seeds of the vma_reader fuzz target: small archives from the
// tests' VMA writer (tests/testing/vma_test_writer.h), each after the
// target's options byte (fuzz/vma_reader.cc).
//
//   fuzz_make_vma_corpus DIR    writes DIR/vma_reader/NAME (fuzz/corpus in the tree)
//
// A VMA header alone is 12.5 KiB; the seeds keep their devices small and
// mostly zero so that each stays under 32 KiB.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing/vma_test_writer.h"

using namespace coffer;
using testing::VmaTestDevice;
using testing::VmaTestOptions;
namespace fs = std::filesystem;

namespace {

fs::path g_dir;

// Options: fix the checksums and uuids, reads of any size.
constexpr uint8_t kFixAll = 0x03;
// The same, in reads of at most 512 bytes.
constexpr uint8_t kFixAllSmallReads = 0x03 | 3 << 2;

void Write(const std::string& name, uint8_t options, const Bytes& archive) {
  fs::create_directories(g_dir / "vma_reader");
  std::ofstream out(g_dir / "vma_reader" / name, std::ios::binary);
  out.put(static_cast<char>(options));
  out.write(reinterpret_cast<const char*>(archive.data()),
            static_cast<std::streamsize>(archive.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (g_dir / "vma_reader" / name).c_str());
    std::exit(1);
  }
}

// A device of `size` bytes, zero but for one byte in each of `blocks`.
VmaTestDevice Sparse(std::string name, uint64_t size, std::initializer_list<uint64_t> blocks) {
  VmaTestDevice device{std::move(name), size, {}, Bytes(size, 0), 0};
  uint8_t value = 1;
  for (uint64_t block : blocks) device.content[block * 4096 + 17] = value++;
  return device;
}

Bytes Text(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_vma_corpus DIR\n");
    return 2;
  }
  g_dir = argv[1];

  // Two devices of odd sizes, clusters interleaved and out of order, two to
  // an extent, zero blocks and a zero cluster, the configs vzdump writes,
  // and the empty extent Proxmox's writer may leave at the end.
  VmaTestOptions two;
  two.devices.push_back(Sparse("drive-scsi0", 2 * 65536 + 5000, {0, 33}));
  two.devices.push_back(Sparse("drive-efidisk0", 5000, {}));
  two.devices.back().content[4999] = 0xef;  // the last byte, in a partial block
  two.configs.push_back(
      {"qemu-server.conf", Text("memory: 512\n#qmdump#map:scsi0:drive-scsi0:local:raw:\n")});
  two.configs.push_back({"qemu-server.fw", Text("[OPTIONS]\nenable: 1\n")});
  two.order = {{1, 2, {}}, {2, 0, {}}, {1, 0, {}}, {1, 1, {}}};
  two.clusters_per_extent = 2;
  two.trailing_empty_extent = true;
  const testing::VmaTestArchive two_archive = testing::WriteVma(two);
  Write("two-devices-interleaved", kFixAll, two_archive.bytes);
  Write("two-devices-small-reads", kFixAllSmallReads, two_archive.bytes);
  // The same cut inside its last data block.
  Bytes cut = two_archive.bytes;
  cut.resize(two_archive.extents.back() - 100);
  Write("two-devices-cut", kFixAll, cut);

  // One 59-cluster extent of zero clusters between two empty ones.
  VmaTestOptions full;
  full.devices.push_back(Sparse("drive-virtio0", 59 * 65536, {}));
  full.devices.back().content.clear();
  full.configs.push_back({"qemu-server.conf", Text("cores: 1\n")});
  full.extent_clusters = {0, 59};
  full.trailing_empty_extent = true;
  Write("fifty-nine-zero-clusters", kFixAll, testing::WriteVma(full).bytes);

  // Chosen masks, with zero blocks stored, on a device ending mid-block.
  VmaTestOptions masks;
  masks.devices.push_back(Sparse("drive-sata0", 65536 + 4096 + 10, {3, 16}));
  masks.order = {{1, 1, 0x0003}, {1, 0, 0x0009}};
  Write("chosen-masks", kFixAll, testing::WriteVma(masks).bytes);

  // No devices, only a config: the header and nothing after it.
  VmaTestOptions none;
  none.configs.push_back({"qemu-server.conf", Text("name: empty\n")});
  Write("no-devices", kFixAll, testing::WriteVma(none).bytes);
  return 0;
}
