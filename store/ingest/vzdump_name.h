// The names vzdump gives its archives, and the files it puts beside them.
//
//   vzdump-{lxc|qemu}-VMID-YYYY_MM_DD-HH_MM_SS.{tar|vma}[.zst|.gz|.lzo]
//
// The time is the host's local time when the backup started. Beside an
// archive: BASENAME.log (the name without its extensions), NAME.notes (the
// notes shown in Proxmox VE, UTF-8) and NAME.protected (kept from pruning).
// While vzdump writes an archive it is named with ".dat" instead; such
// names are not archives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coffer::ingest {

struct VzdumpName {
  enum class Guest { kContainer, kVm };
  Guest guest;
  uint64_t vmid;
  int64_t time_ns;          // the local time in the name, as UTC
  std::string base;         // "vzdump-qemu-101-2026_12_01-02_00_00"
  std::string format;       // "tar" or "vma"
  std::string compression;  // "", "zst", "gz" or "lzo"

  std::string group() const;  // "ct/VMID" or "vm/VMID"
  std::string log_name() const { return base + ".log"; }
  // Every name an archive with this base can have, plain and compressed.
  std::vector<std::string> archive_names() const;
};

// Parses a file name (no folder). nullopt unless it is exactly vzdump's
// pattern with a date that exists. The local time is read in the process's
// time zone (TZ); in the hour a DST change repeats, the earlier is taken.
std::optional<VzdumpName> ParseVzdumpName(std::string_view file_name);

// Parses the name of the log beside an archive, BASENAME.log: what the
// archive's name says of guest, VMID and time (read as ParseVzdumpName
// reads them), so that the log finds the archive's snapshot. The
// compression is not in the log's name: "".
std::optional<VzdumpName> ParseVzdumpLogName(std::string_view file_name);

// The guest a group names: "ct/VMID" a container, "vm/VMID" a VM; nullopt
// for any other group.
struct VzdumpGuest {
  VzdumpName::Guest guest;
  uint64_t vmid;
};
std::optional<VzdumpGuest> GuestOfGroup(std::string_view group);

// The base name vzdump would give a backup of `guest` started at `time_ns`
// (UTC), in the process's local time: "vzdump-lxc-104-2026_12_01-02_00_00".
std::string VzdumpBaseName(const VzdumpGuest& guest, int64_t time_ns);

}  // namespace coffer::ingest
