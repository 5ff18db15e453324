// A VM snapshot as vzdump writes a QEMU VM backup (vzdump-qemu-*.vma),
// which `qmrestore` restores: the mirror of ingest::VmaImporter.
//
// The snapshot's root holds the VM: each file NAME.img is the disk NAME
// (its exact size), every other file a config (qemu-server.conf,
// qemu-server.fw), as an import leaves them. Disks are written in name
// order as devices 1, 2, ..., each cluster by cluster in order, zero 4 KiB
// blocks left out by the mask (vma_writer.h). The uuid is the first 16
// bytes of the snapshot's id and the time the first disk's mtime (an
// import gives the files the archive's time), so one snapshot always
// exports to the same bytes and an import of them stores the same tree. Memory stays bounded
// whatever the disks' sizes.
#pragma once

#include <string>
#include <vector>

#include "store/export/compressor.h"
#include "store/export/tar_export.h"
#include "store/ingest/vma_reader.h"
#include "store/repo/repository.h"

namespace coffer::exporting {

// What a VM snapshot's root holds, as VMA devices and configs.
struct VmLayout {
  struct Disk {
    std::string device;  // "drive-scsi0"
    pb::Entry entry;     // its image file
  };
  std::vector<Disk> disks;
  std::vector<vma::Config> configs;
};

// The VM in `snapshot`'s root; kInvalidArgument, saying why, when the root
// is not one a VMA can hold (a directory or other non-file in it, no disk,
// an empty disk, more disks or configs than a VMA holds).
Result<VmLayout> ReadVmLayout(Repository& repo, const Snapshot& snapshot);

// Writes the VMA of `snapshot` (uncompressed) through `out`; errors as
// ExportTar's.
Status ExportVma(Repository& repo, const Snapshot& snapshot, const OutputFn& out,
                 ExportProgress* progress);

}  // namespace coffer::exporting
