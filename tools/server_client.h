// How a command reaches a repository: through the repository's server
// (`coffer serve`), started on demand, or in-process with --no-server.
//
// One process owns a repository's database (DESIGN.md, "Process model"). A
// command connects to the server's socket in the repository folder; when
// none answers it starts `coffer serve` detached, which exits after it has
// been idle for a while. Two commands starting servers at once race on the
// repository lock: the loser exits quietly and both connect to the winner.
// A command that moves much data (backup, import, restore, verify, a job)
// and finds no server holds the database itself instead and serves the
// socket while it runs; at its end it waits for the writers it serves, then
// closes.
//
// With a remote server (--server tcp://HOST:PORT), a command connects to it
// over TLS with a token, needs no repository folder here and starts nothing.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "store/objects/object_store.h"

namespace coffer::tools {

struct ServerClientOptions {
  std::chrono::milliseconds lock_wait{0};  // for the server's lock, and --no-server
  std::string command_line;                // shown to whoever waits for a lock
  bool no_server = false;                  // open the database in this process
  // A server on another host, tcp://HOST:PORT (--server, COFFER_SERVER);
  // empty: the repository's own server. With it, repo_dir is unused.
  std::string server;
  std::string tls_ca_file;  // --tls-ca, COFFER_TLS_CA; empty: the system's CAs
  std::string token_file;   // --token-file, COFFER_TOKEN_FILE; else COFFER_TOKEN
  // When no server answers: open the database in this process and serve it
  // to other commands while this one runs, rather than start `coffer serve`
  // (commands that move much data: their calls then skip the socket).
  bool host_when_alone = false;
  bool quiet = false;  // --quiet: no word while a hosting command waits for others
};

// How long an automatically started server stays up with no client.
constexpr std::chrono::seconds kAutoServerIdleExit{30};
// In the repository: the error output of servers started on demand.
constexpr std::string_view kServerLogName = "serve.log";

// The repository's objects: remote through the server, or local.
Result<std::unique_ptr<ObjectStore>> ConnectRepository(const std::string& repo_dir,
                                                       const ServerClientOptions& options);

}  // namespace coffer::tools
