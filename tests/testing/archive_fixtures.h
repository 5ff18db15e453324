// Test fixtures for archive imports: a container root filesystem with what a
// Proxmox VE container backup can hold, GNU tar run with vzdump's flags, and
// the compressors vzdump uses. Failures throw std::runtime_error.
#pragma once

#include <string>
#include <vector>

namespace coffer::testing {

// Builds a container's root filesystem in `root` (made 0755): odd names
// (newline, non-UTF-8, UTF-8, 255 bytes, paths over 100 and 255 bytes in
// deep directories), a sparse file with a 40 MiB hole, a file that is all
// hole, hard links (one of three names in two directories), char and block
// devices, a fifo, symlinks, owners 12345:23456 that the host does not
// know, user xattrs with binary values, a file capability, ACLs (a named
// host user, unknown ids, a default ACL on a directory), setuid, setgid and
// sticky modes, a read-only directory, and nanosecond mtimes throughout.
// Needs root.
void MakeContainerRoot(const std::string& root);

// The files vzdump writes to its temporary folder and puts first in the
// archive: etc/vzdump/pct.conf and etc/vzdump/pct.fw below `dir`.
void MakeVzdumpConfig(const std::string& dir);

// The archive vzdump makes of a container (pve-container's VZDump/LXC.pm),
// uncompressed, at `out`: GNU tar with vzdump's flags, the config files
// from `config_dir` first, then all of `root`.
void MakeVzdumpTar(const std::string& config_dir, const std::string& root, const std::string& out);

// Compresses `path` with `tool` ("zstd", "gzip" or "lzop") as vzdump does,
// keeping the original; the compressed file's path. "none": `path` itself.
std::string Compress(const std::string& path, const std::string& tool);

// A small container (etc/hostname holding `hostname`, 700 kB of data with a
// hard link and a symlink to it) staged below `stage` and archived by GNU
// tar with vzdump's flags as `name` (".tar" added), compressed with `tool`
// and moved into `folder`; the archive's path.
std::string MakeSmallContainerArchive(const std::string& stage, const std::string& name,
                                      const std::string& hostname, const std::string& tool,
                                      const std::string& folder);

// Moves `path` into `folder` under its own name; the new path.
std::string MoveInto(const std::string& path, const std::string& folder);

// `getfacl -R` of everything below `root`, by path relative to it: one
// ACL listing (owner, group, flags, entries) per path.
std::vector<std::string> AclListing(const std::string& root);

// Runs `argv` and throws with its output unless it exits 0.
std::string MustRun(const std::vector<std::string>& argv);

}  // namespace coffer::testing
