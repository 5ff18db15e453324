// What the commands that change named snapshots share (coffer forget,
// protect and unprotect, and prune for its reporting): the SNAPSHOT
// arguments, resolving them to snapshots, reporting the failures of one
// change after another, and setting or clearing the protected flag.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "store/repo/repository.h"
#include "tools/cli.h"

namespace coffer::tools {

// The required SNAPSHOT... arguments: GROUP/TIME, GROUP/latest or an id prefix.
void AddSnapshotNames(CLI::App* cmd, std::vector<std::string>& names);

// The first failure decides the exit code; every one is reported as it
// happens.
struct FirstFailure {
  int exit_code = 0;
  void Report(const Status& status);
};

// A failure that every later removal (or change) would meet alike: a server
// that refuses a call for lack of rights (an append-only token), a full or
// failing disk.
bool StopsEveryRemoval(const Status& status);

// Resolves every name before anything changes, so that GROUP/latest means the
// same snapshot whatever else the command line names; a name given twice, or
// two names of one snapshot, count once.
struct ResolvedSnapshots {
  std::unique_ptr<Repository> repo;
  std::vector<Snapshot> snapshots;
  FirstFailure failure;  // names that matched no snapshot
  int exit_code = 0;     // non-zero when repo is null
};
ResolvedSnapshots ResolveSnapshots(const GlobalOptions& global,
                                   const std::vector<std::string>& names);

// coffer protect and coffer unprotect, which differ only in the flag they
// set: marks each named snapshot and returns the exit code.
int RunSetProtected(const GlobalOptions& global, const std::vector<std::string>& names,
                    bool is_protected);

}  // namespace coffer::tools
