// coffer init: create a repository.
#include <unistd.h>

#include <functional>
#include <string_view>

#include <fmt/format.h>

#include "store/repo/local.h"
#include "store/s3/s3_settings.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct InitArgs {
  std::string encryption = "repokey";
  uint64_t kdf_ops = crypto::KdfParams::Default().opslimit;
  std::string kdf_memory = "64M";
  int compression_level = 3;
  std::string chunk_size;  // "MIN,AVG,MAX"; empty: the defaults
};

// "MIN,AVG,MAX", each a size such as 512K or 1M, checked by ChunkerParams::Validate.
Result<chunk::ChunkerParams> ParseChunkSizes(std::string_view text) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("invalid --chunk-size '" + std::string(text) + "': " + why);
  };
  uint64_t sizes[3];
  std::string_view rest = text;
  for (int i = 0; i < 3; ++i) {
    const size_t comma = rest.find(',');
    if ((i < 2) != (comma != std::string_view::npos))
      return bad("give MIN,AVG,MAX, e.g. 256K,1M,4M");
    auto size = ParseSize(rest.substr(0, comma));
    if (!size.ok()) return bad(size.status().message());
    if (*size > UINT32_MAX) return bad("a size is too large");
    sizes[i] = *size;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  chunk::ChunkerParams params{static_cast<uint32_t>(sizes[0]), static_cast<uint32_t>(sizes[1]),
                              static_cast<uint32_t>(sizes[2])};
  Status valid = params.Validate();
  if (!valid.ok()) return bad(valid.message());
  return params;
}

int RunInit(const GlobalOptions& global, const InitArgs& args) {
  if (global.repo.empty())
    return Fail(Status::InvalidArgument("no repository: give -r DIR or set COFFER_REPO"));
  if (s3::IsS3Address(global.repo)) {
    return Fail(Status::InvalidArgument(
        "init makes a repository in a folder; a copy in object storage is made with coffer sync "
        "--init --to s3://BUCKET/PREFIX"));
  }
  // Every parameter is checked here, before the folder is touched: a value
  // refused later would leave a half-made repository behind.
  InitOptions options;
  options.encrypted = args.encryption == "repokey";
  options.zstd_level = args.compression_level;
  auto kdf = ParseKdfOptions(args.kdf_ops, args.kdf_memory);
  if (!kdf.ok()) return Fail(kdf.status());
  options.kdf = *kdf;
  if (!args.chunk_size.empty()) {
    auto chunker = ParseChunkSizes(args.chunk_size);
    if (!chunker.ok()) return Fail(chunker.status());
    options.chunker = *chunker;
  }
  std::string passphrase;
  if (options.encrypted) {
    auto p = ReadPassphrase(global, /*confirm=*/true);
    if (!p.ok()) return Fail(p.status());
    passphrase = std::move(p).value();
  }
  std::function<Status(const Repository::NewKey&)> keep_key;
  if (!global.key_file.empty()) {
    if (!options.encrypted) {
      return Fail(Status::InvalidArgument("--key-file needs an encrypted repository"));
    }
    if (access(global.key_file.c_str(), F_OK) == 0) {
      return Fail(Status::InvalidArgument("key file " + global.key_file +
                                          " exists: init writes a new one"));
    }
    options.key_in_repository = false;
    keep_key = [&global](const Repository::NewKey& key) {
      return WriteKeyFile(global.key_file, key.repository_id, key.wrapped, /*replace=*/false);
    };
  }
  Status s = InitLocalRepository(global.repo, options, passphrase, keep_key);
  if (!s.ok()) return Fail(s);
  if (!global.quiet) {
    fmt::print("created Coffer repository at {}\n", global.repo);
    if (options.encrypted) {
      fmt::print(
          stderr,
          "Keep the passphrase safe: without it the data in this repository cannot be read.\n"
          "Keep a copy of the key too (it survives a lost passphrase): `coffer key export "
          "--paper` prints one.\n");
      if (!global.key_file.empty()) {
        fmt::print(stderr,
                   "The key is in {} only, not in the repository: keep a copy of that file too "
                   "(or of `coffer key export`).\n",
                   global.key_file);
      }
    } else {
      fmt::print(stderr,
                 "This repository is not encrypted: other commands open it only with "
                 "--allow-unencrypted (or COFFER_ALLOW_UNENCRYPTED=1).\n");
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterInit(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand("init", "Create a repository");
  cmd->add_option("--encryption", args->encryption, "repokey (default) or none")
      ->type_name("MODE")
      ->check(CLI::IsMember({"repokey", "none"}))
      ->capture_default_str();
  cmd->add_option("--kdf-ops", args->kdf_ops, "Argon2id passes for the passphrase, 1 to 64")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--kdf-memory", args->kdf_memory,
                  "Argon2id memory for the passphrase, 8K to 4G (e.g. 64M)")
      ->type_name("SIZE")
      ->capture_default_str();
  cmd->add_option("--compression-level", args->compression_level, "zstd level, 1 to 19")
      ->type_name("N")
      ->check(CLI::Range(1, 19))
      ->capture_default_str();
  cmd->add_option(
         "--chunk-size", args->chunk_size,
         "Content-defined chunk sizes MIN,AVG,MAX (default 256K,1M,4M; AVG a power of two)")
      ->type_name("MIN,AVG,MAX");
  cmd->callback([&global, args, exit_code] { *exit_code = RunInit(global, *args); });
}

}  // namespace coffer::tools
