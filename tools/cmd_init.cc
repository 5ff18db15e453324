// coffer init: create a repository.
#include <fmt/format.h>

#include "store/repo/local.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"

namespace coffer::tools {
namespace {

struct InitArgs {
  std::string encryption = "repokey";
  uint64_t kdf_ops = crypto::KdfParams::Default().opslimit;
  std::string kdf_memory = "64M";
  int compression_level = 3;
};

int RunInit(const GlobalOptions& global, const InitArgs& args) {
  if (global.repo.empty()) return Fail(Status::InvalidArgument("no repository: give -r DIR or set COFFER_REPO"));
  InitOptions options;
  options.encrypted = args.encryption == "repokey";
  options.zstd_level = args.compression_level;
  options.kdf.opslimit = args.kdf_ops;
  auto memory = ParseSize(args.kdf_memory);
  if (!memory.ok()) return Fail(memory.status());
  options.kdf.memlimit = *memory;
  std::string passphrase;
  if (options.encrypted) {
    auto p = ReadPassphrase(global, /*confirm=*/true);
    if (!p.ok()) return Fail(p.status());
    passphrase = std::move(p).value();
  }
  Status s = InitLocalRepository(global.repo, options, passphrase);
  if (!s.ok()) return Fail(s);
  if (!global.quiet) {
    fmt::print("created Coffer repository at {}\n", global.repo);
    if (options.encrypted) {
      fmt::print(stderr,
                 "Keep the passphrase safe: without it the data in this repository cannot be read.\n");
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterInit(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand("init", "Create a repository");
  cmd->add_option("--encryption", args->encryption, "repokey (default) or none")
      ->check(CLI::IsMember({"repokey", "none"}))
      ->capture_default_str();
  cmd->add_option("--kdf-ops", args->kdf_ops, "Argon2id passes for the passphrase")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--kdf-memory", args->kdf_memory, "Argon2id memory for the passphrase (e.g. 64M)")
      ->capture_default_str();
  cmd->add_option("--compression-level", args->compression_level, "zstd level, 1 to 19")
      ->check(CLI::Range(1, 19))
      ->capture_default_str();
  cmd->callback([&global, args, exit_code] { *exit_code = RunInit(global, *args); });
}

}  // namespace coffer::tools
