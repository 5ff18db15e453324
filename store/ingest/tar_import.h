// TarImporter: turns a tar archive (a Proxmox VE container backup, vzdump's
// `vzdump-lxc-*.tar[.zst|.gz|.lzo]`) into a committed snapshot whose root is
// the archive's root: member "./etc/hosts" is "etc/hosts" in the snapshot.
//
// One forward pass over the archive (ArchiveSource), no temporary copy.
// Members' metadata is kept in memory as the pass goes, as a directory walk
// keeps a tree's; file contents are streamed: chunked with the repository's
// content-defined chunker and stored while they are read. Trees are written
// bottom-up once the archive has ended and its compression was checked to
// the end, then the snapshot record is committed (WriteSession::Commit).
//
// Entries are stored as a directory backup stores them (archiver.h), so the
// two treat one container alike and deduplicate with each other:
// - File contents are chunked range by range between holes, exactly as the
//   archiver chunks a file between SEEK_HOLE and SEEK_DATA, and GNU tar's
//   sparse map comes from those same calls; holes are extents without an id.
// - POSIX ACLs (pax SCHILY.acl.access / SCHILY.acl.default) become the
//   system.posix_acl_access / system.posix_acl_default xattrs in the
//   kernel's binary form, as a walk reads them with getxattr and a restore
//   sets them; an access ACL of only the owner, group and other entries is
//   the mode, and no xattr, as in the kernel. SCHILY.xattr.* are xattrs,
//   values byte for byte. NFSv4 ACLs have no such form: a member with one is
//   stored without it and reported.
// - Hard links share the entry of the inode they name, content included,
//   with a synthetic inode number (1, 2, ... in the order a walk of the
//   tree by name first meets each group, so that one tree gets the same
//   numbers whatever order an archive holds it in) and the number of names
//   the snapshot has for it as the link count; the restorer links the
//   names again. Other entries have inode 0 and one link; directories two
//   plus their subdirectories.
// - Owners are the archive's numbers; user and group names only if the
//   archive has them (vzdump's --numeric-owner leaves them out: they would
//   be the container's names, not the host's). ctime is the archive's (pax)
//   or else the mtime. Times are nanoseconds, clamped to what an int64 of
//   nanoseconds holds (1677 to 2262).
//
// As tar extraction would: a later member of the same name replaces an
// earlier one (a directory over a directory changes only its metadata; a
// hard link made before keeps the content it had). A directory the archive
// implies but does not list (vzdump puts ./etc/vzdump/pct.conf first, and a
// container need not have ./etc/vzdump) is made with mode 0755, owner 0:0
// and the mtime and ctime of the member that implied it; a later member for
// it replaces that metadata. The archive's "./" has nowhere to go: a
// snapshot's root is a synthetic directory, as for a backup of "/".
//
// Failures: a stream that ends early, a damaged compressed stream, a bad
// header or a damaged sparse map fail the import with the file and position
// (ArchiveSource), and nothing is committed. A member tar extraction would
// refuse on its own (a name with "..", a hard link to a name the archive
// has not held, a path through a non-directory, a number out of range) is
// reported in BackupResult::errors and left out; the snapshot is committed
// and marked incomplete, as the archiver does with unreadable files.
//
// Options: group, time, tags, hostname, username and threads as for a
// backup; excludes match the members' paths as absolute paths ("/etc/x").
// one_file_system and force mean nothing for an archive.
#pragma once

#include "store/ingest/archive_source.h"
#include "store/ingest/archiver.h"

namespace coffer::ingest {

class TarImporter {
 public:
  // `repo` and `progress` (may be null) must remain live while the importer is in use.
  TarImporter(Repository& repo, BackupOptions options, BackupProgress* progress);

  // Reads `source` (format kTar) to its end and commits its snapshot. The
  // record's path is the source's display name.
  Result<BackupResult> Import(ArchiveSource& source);

 private:
  Repository& repo_;
  BackupOptions options_;
  BackupProgress* progress_;
  BackupProgress own_progress_;
};

}  // namespace coffer::ingest
