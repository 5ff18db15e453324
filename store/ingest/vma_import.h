// VmaImporter: a Proxmox VMA archive (a QEMU VM backup) into a snapshot.
//
// The snapshot holds each disk as one image file named after its device
// ("drive-scsi0.img", the exact size of the disk, zero clusters as holes)
// and each config the archive carries ("qemu-server.conf", "qemu-server.fw")
// as a file, all at the root. Disks are stored as fixed, aligned chunks
// (store/chunk/image_chunks.h) placed by (device, cluster) whatever their
// order in the stream, so two archives of the same disks with different
// uuids and cluster orders store nothing twice. One forward pass over the
// stream; nothing is committed unless the whole archive reads cleanly.
#pragma once

#include <string>

#include "store/ingest/archiver.h"
#include "store/ingest/vma_reader.h"

namespace coffer::ingest {

// The file a device's image is stored as.
std::string ImageFileName(std::string_view device_name);

class VmaImporter {
 public:
  // `repo` and `progress` (may be null) must remain live while in use.
  VmaImporter(Repository& repo, BackupOptions options, BackupProgress* progress);

  // Reads the archive from `read` (decompressed bytes) to its end and
  // commits it. `source_name` names it in messages and in the record's paths.
  Result<BackupResult> Import(const vma::ReadFn& read, const std::string& source_name);

 private:
  Repository& repo_;
  BackupOptions options_;
  BackupProgress* progress_;
  BackupProgress own_progress_;
};

}  // namespace coffer::ingest
