#include "store/export/vma_export.h"

#include <algorithm>
#include <cstring>

#include "store/export/vma_writer.h"
#include "store/ingest/vma_import.h"
#include "store/restore/content_reader.h"

namespace coffer::exporting {
namespace {

constexpr size_t kMaxDevices = 254;
constexpr size_t kMaxConfigs = 256;
constexpr std::string_view kImageSuffix = ".img";

Result<ObjectId> RootId(const Snapshot& snapshot) {
  auto id = ObjectId::FromBytes(AsBytes(snapshot.record.root_tree_id()));
  if (!id) return Status::Corruption(snapshot.name() + ": malformed root tree id");
  return *id;
}

// A disk's content as whole clusters, in order: whole clusters of data or
// hole are passed on without a copy, the rest put together in `partial_`.
class ClusterFeeder {
 public:
  ClusterFeeder(vma::Writer& writer, uint8_t device_id) : writer_(writer), device_id_(device_id) {}

  Status Add(const restore::ContentPiece& piece) {
    ByteView data = piece.data;
    uint64_t left = piece.size;
    while (left > 0) {
      if (filled_ == 0 && left >= vma::kClusterSize) {
        // Whole clusters straight from the piece.
        const uint64_t whole = left / vma::kClusterSize;
        for (uint64_t i = 0; i < whole; ++i) {
          ByteView cluster =
              piece.hole() ? ByteView() : data.subspan(i * vma::kClusterSize, vma::kClusterSize);
          COFFER_RETURN_IF_ERROR(writer_.AddCluster(device_id_, next_++, cluster));
        }
        const uint64_t used = whole * vma::kClusterSize;
        if (!piece.hole()) data = data.subspan(used);
        left -= used;
        continue;
      }
      if (partial_.empty()) partial_.resize(vma::kClusterSize);
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, vma::kClusterSize - filled_));
      if (piece.hole()) {
        std::memset(partial_.data() + filled_, 0, n);
      } else {
        std::memcpy(partial_.data() + filled_, data.data(), n);
        data = data.subspan(n);
      }
      filled_ += n;
      left -= n;
      if (filled_ == vma::kClusterSize) COFFER_RETURN_IF_ERROR(FlushPartial());
    }
    return Status::Ok();
  }

  // The last cluster, zero past the disk's end.
  Status Finish() {
    if (filled_ == 0) return Status::Ok();
    std::memset(partial_.data() + filled_, 0, vma::kClusterSize - filled_);
    return FlushPartial();
  }

 private:
  Status FlushPartial() {
    filled_ = 0;
    return writer_.AddCluster(device_id_, next_++, ByteView(partial_));
  }

  vma::Writer& writer_;
  const uint8_t device_id_;
  uint64_t next_ = 0;
  Bytes partial_;
  size_t filled_ = 0;
};

}  // namespace

Result<VmLayout> ReadVmLayout(Repository& repo, const Snapshot& snapshot) {
  COFFER_RETURN_IF_ERROR(snapshot.CheckReadable());
  COFFER_ASSIGN_OR_RETURN(ObjectId root_id, RootId(snapshot));
  // The root object as stored: a disk's extents stay in their parts.
  COFFER_ASSIGN_OR_RETURN(pb::Tree root, repo.ReadTreeObject(root_id));
  const std::string not_vm = snapshot.name() + " is not a VM as a VMA holds one: ";
  if (root.parts_size() > 0)
    return Status::InvalidArgument(not_vm + "its root holds too many files");
  VmLayout layout;
  for (const pb::Entry& entry : root.entries()) {
    const std::string& name = entry.name();
    if (entry.type() != pb::Entry::FILE) {
      return Status::InvalidArgument(not_vm + "its root holds '" + name + "', which is not a file");
    }
    if (name.size() > kImageSuffix.size() && name.ends_with(kImageSuffix)) {
      if (entry.size() == 0)
        return Status::InvalidArgument(not_vm + "disk image '" + name + "' is empty");
      layout.disks.push_back({name.substr(0, name.size() - kImageSuffix.size()), entry});
      continue;
    }
    // A config: small, read whole.
    vma::Config config{name, {}};
    config.data.reserve(entry.size());
    COFFER_RETURN_IF_ERROR(
        restore::ReadContent(repo, root_id, entry, [&](const restore::ContentPiece& piece) {
          if (piece.hole()) {
            config.data.insert(config.data.end(), piece.size, 0);
          } else {
            config.data.insert(config.data.end(), piece.data.begin(), piece.data.end());
          }
          return Status::Ok();
        }));
    layout.configs.push_back(std::move(config));
  }
  if (layout.disks.empty())
    return Status::InvalidArgument(not_vm + "its root holds no disk image (NAME.img)");
  if (layout.disks.size() > kMaxDevices) {
    return Status::InvalidArgument(not_vm + "a VMA holds at most " + std::to_string(kMaxDevices) +
                                   " disks");
  }
  if (layout.configs.size() > kMaxConfigs) {
    return Status::InvalidArgument(not_vm + "a VMA holds at most " + std::to_string(kMaxConfigs) +
                                   " configs");
  }
  return layout;
}

Status ExportVma(Repository& repo, const Snapshot& snapshot, const OutputFn& out,
                 ExportProgress* progress) {
  ExportProgress own;
  if (progress == nullptr) progress = &own;
  COFFER_ASSIGN_OR_RETURN(VmLayout layout, ReadVmLayout(repo, snapshot));
  COFFER_ASSIGN_OR_RETURN(ObjectId root_id, RootId(snapshot));

  vma::Header header;
  std::copy_n(snapshot.ref.id.bytes.begin(), header.uuid.size(), header.uuid.begin());
  // An import gives every file the archive's time: that time again, so a
  // round trip stores the same tree.
  header.ctime = layout.disks[0].entry.mtime_ns() / 1'000'000'000;
  for (size_t i = 0; i < layout.disks.size(); ++i) {
    header.devices.push_back(
        {static_cast<uint8_t>(i + 1), layout.disks[i].device, layout.disks[i].entry.size()});
  }
  header.configs = std::move(layout.configs);

  vma::Writer writer(out);
  COFFER_RETURN_IF_ERROR(writer.WriteHeader(header));
  progress->entries += header.configs.size();
  for (size_t i = 0; i < layout.disks.size(); ++i) {
    const VmLayout::Disk& disk = layout.disks[i];
    ClusterFeeder feeder(writer, static_cast<uint8_t>(i + 1));
    Status read =
        restore::ReadContent(repo, root_id, disk.entry, [&](const restore::ContentPiece& piece) {
          if (!piece.hole()) progress->bytes += piece.size;
          return feeder.Add(piece);
        });
    if (read.ok()) read = feeder.Finish();
    if (!read.ok()) return read.WithContext(ingest::ImageFileName(disk.device));
    ++progress->entries;
  }
  return writer.Finish();
}

}  // namespace coffer::exporting
