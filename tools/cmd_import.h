// What `coffer import` does to one archive, for the commands that import
// too (`coffer vzdump-hook`): they call this code, never the binary.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/ingest/archiver.h"
#include "store/repo/repository.h"

namespace coffer::tools {

// One archive's import: the snapshot it made, or none when its group
// already had a snapshot at the archive's time (`snapshot` names that one).
struct ArchiveImport {
  std::optional<ingest::BackupResult> result;
  std::string snapshot;
};

// Imports the archive at `path` exactly as `coffer import PATH` does: group
// and time from its vzdump name, the .notes, .protected and BASENAME.log
// beside it. Members left out are named on standard error and listed in
// result->errors; the snapshot is then incomplete. A `group` files it there
// instead (as --group), `tags` tag it (as --tag).
Result<ArchiveImport> ImportArchive(Repository& repo, const std::string& path, bool quiet,
                                    const std::string& group = "",
                                    const std::vector<std::string>& tags = {});

// The vzdump archives in `folder`, oldest first, as `coffer import FOLDER`
// takes them; an error if the folder cannot be read.
Result<std::vector<std::string>> VzdumpArchivesIn(const std::string& folder);

// A log as an import keeps it: of one longer than 4 MiB, its last 4 MiB
// (said on standard error). kNotFound if there is no such file.
Result<std::string> ReadImportLog(const std::string& path);

}  // namespace coffer::tools
