// Internal to store/kv: a seam for I/O-fault tests, RocksDB's own
// FileSystem wrapped so that its file operations fail on demand, exactly as
// a failing disk or a full one makes them fail.
//
// When the environment variable COFFER_IO_FAULT is "KIND:N" or "KIND:N+",
// the Nth operation of KIND in this process fails ("N+": it and every later
// one, a disk that stays bad or full). KIND is one of
//   write-eio     Append, PositionedAppend, Sync, Fsync, RangeSync fail with EIO
//   write-enospc  the same operations fail with "No space left on device"
//   read-eio      Read and MultiRead of every file fail with EIO
// Unset, nothing is wrapped. Used by scripts/fault-campaign.
#pragma once

#include <rocksdb/file_system.h>

#include <memory>

namespace coffer::kv {

// The wrapped default file system when COFFER_IO_FAULT asks for one, else
// null. The spec is parsed once per process; a malformed one aborts with a
// message, since a test that meant to inject faults must not pass without.
std::shared_ptr<rocksdb::FileSystem> FaultInjectionFromEnvironment();

}  // namespace coffer::kv
