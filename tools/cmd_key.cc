// coffer key: the repository's key kept where people can keep it.
//   export [-o FILE] [--paper [--qr] [--qr-image FILE.png|FILE.svg]] [--force]
//   import [--paper] [--force] FILE|-
//   passwd | add | remove SLOT | list
//
// The key travels only through these commands: never on a command line (new
// passphrases come from the terminal, a file or the environment), never to
// the server as anything but the wrapped records it stores.
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "store/base/crash_point.h"
#include "store/crypto/key_text.h"
#include "store/crypto/paper_key.h"
#include "store/crypto/qr_code.h"
#include "store/objects/key_slots.h"
#include "store/service/auth.h"
#include "tools/cli.h"
#include "tools/durable_file.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct KeyArgs {
  std::string output;  // export -o
  bool paper = false;
  bool qr = false;
  std::string qr_image;
  bool force = false;
  std::string input;  // import FILE or -
  std::string slot;   // remove SLOT
  std::string new_passphrase_file;
  uint64_t kdf_ops = crypto::KdfParams::Default().opslimit;
  std::string kdf_memory = "64M";
};

constexpr std::string_view kSecretWarning =
    "This is the repository's key itself: whoever has it can read every backup in the "
    "repository, without the passphrase. Keep it offline (printed, in a safe).";

// Reads FILE, or standard input for "-"; at most 1 MiB.
Result<std::string> ReadInput(const std::string& path) {
  if (path != "-") return service::ReadCredentialFile(path, "key");
  std::string text(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
  if (text.size() > (1u << 20))
    return Status::InvalidArgument("standard input is too large for a key");
  return text;
}

// "key", "key.2", or a slot number ("0", "2").
Result<std::string> SlotNameOf(std::string_view given) {
  if (KeySlotNumber(given)) return std::string(given);
  const std::string as_name = given == "0" ? std::string(kKeySlotPrefix)
                                           : std::string(kKeySlotPrefix) + "." + std::string(given);
  if (!given.empty() && KeySlotNumber(as_name)) return as_name;
  return Status::InvalidArgument("'" + std::string(given) +
                                 "' is not a key slot: give its name (key, key.1, ...) or number");
}

int RunExport(const GlobalOptions& global, const KeyArgs& args) {
  if (!args.paper && (args.qr || !args.qr_image.empty())) {
    return Fail(Status::InvalidArgument("--qr and --qr-image go with --paper"));
  }
  if (!args.qr_image.empty() && !args.qr_image.ends_with(".png") &&
      !args.qr_image.ends_with(".svg")) {
    return Fail(
        Status::InvalidArgument("--qr-image " + args.qr_image + ": name a .png or .svg file"));
  }
  for (const std::string& path : {args.output, args.qr_image}) {
    if (!path.empty() && path != "-" && !args.force && access(path.c_str(), F_OK) == 0) {
      return Fail(Status::InvalidArgument(path + " exists: give --force to replace it"));
    }
  }
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  auto record = opened.repo->ExportKey();
  if (!record.ok()) return Fail(record.status());
  const std::string repository_id = ToHex(AsBytes(opened.repo->config().repository_id()));
  const std::string date = TodayLocal();

  std::string text;
  if (args.paper) {
    text = crypto::RenderPaperKey(*record, {repository_id, date});
    if (args.qr || !args.qr_image.empty()) {
      // The code carries the key lines alone: what `key import --paper` reads.
      auto qr = crypto::EncodeQr(crypto::RenderPaperKeyLines(*record));
      if (!qr.ok()) return Fail(qr.status());
      if (args.qr) text += "\n" + crypto::QrToTerminal(*qr);
      if (!args.qr_image.empty()) {
        std::string image;
        if (args.qr_image.ends_with(".png")) {
          Bytes png = crypto::QrToPng(*qr);
          image.assign(png.begin(), png.end());
        } else {
          image = crypto::QrToSvg(*qr);
        }
        if (Status s = WriteSecretFile(args.qr_image, image, args.force); !s.ok()) return Fail(s);
      }
    }
  } else {
    text = crypto::FormatKeyText({crypto::KeyTextKind::kExported, repository_id, date, *record});
  }
  sodium_memzero(record->data(), record->size());

  if (args.output.empty() || args.output == "-") {
    fmt::print("{}", text);
    std::fflush(stdout);
  } else if (Status s = WriteSecretFile(args.output, text, args.force); !s.ok()) {
    return Fail(s);
  }
  sodium_memzero(text.data(), text.size());
  if (!global.quiet) {
    fmt::print(stderr, "{}\n", kSecretWarning);
    if (!args.output.empty() && args.output != "-") {
      fmt::print(stderr, "wrote the key to {} (mode 0600)\n", args.output);
    }
    if (!args.qr_image.empty()) fmt::print(stderr, "wrote its QR code to {}\n", args.qr_image);
  }
  return kExitOk;
}

int RunImport(const GlobalOptions& global, const KeyArgs& args) {
  auto kdf_or = ParseKdfOptions(args.kdf_ops, args.kdf_memory);
  if (!kdf_or.ok()) return Fail(kdf_or.status());
  const crypto::KdfParams kdf = *kdf_or;
  auto text = ReadInput(args.input);
  if (!text.ok()) return Fail(text.status());
  Bytes record;
  if (args.paper) {
    auto parsed = crypto::ParsePaperKey(*text);
    if (!parsed.ok()) return Fail(parsed.status().WithContext(args.input));
    record = std::move(parsed).value();
  } else {
    auto parsed = crypto::ParseKeyText(*text);
    if (!parsed.ok()) {
      return Fail(Status::InvalidArgument(args.input + ": " + parsed.status().message() +
                                          " (a paper key is read with --paper)"));
    }
    if (parsed->kind != crypto::KeyTextKind::kExported) {
      return Fail(Status::InvalidArgument(
          args.input +
          " is a wrapped key (a --key-file), not an exported one: give it as "
          "--key-file instead"));
    }
    record = std::move(parsed->record);
  }
  sodium_memzero(text->data(), text->size());
  if (!global.key_file.empty() && !args.force && access(global.key_file.c_str(), F_OK) == 0) {
    return Fail(Status::InvalidArgument("key file " + global.key_file +
                                        " exists: give --force to replace it"));
  }
  ConnectedStore connected = ConnectStore(global);
  if (!connected.store) return connected.exit_code;
  auto passphrase = ReadNewPassphrase(args.new_passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());

  Bytes wrapped;
  auto slot = Repository::ImportKey(*connected.store, record, *passphrase, kdf,
                                    global.key_file.empty() ? nullptr : &wrapped);
  sodium_memzero(record.data(), record.size());
  sodium_memzero(passphrase->data(), passphrase->size());
  if (!slot.ok()) return Fail(slot.status());
  if (!global.key_file.empty()) {
    auto config = Repository::ReadConfig(*connected.store);
    if (!config.ok()) return Fail(config.status());
    if (Status s = WriteKeyFile(global.key_file, config->repository_id(), wrapped, args.force);
        !s.ok()) {
      return Fail(s);
    }
    if (!global.quiet) fmt::print("wrote the key to key file {}\n", global.key_file);
  } else if (!global.quiet) {
    fmt::print("put the key back into key slot {}: it opens with the new passphrase\n", *slot);
  }
  return kExitOk;
}

// Replaces the passphrase: the new slot is stored before the old one goes,
// so a crash in between leaves both working, never neither.
int RunPasswd(const GlobalOptions& global, const KeyArgs& args) {
  auto kdf = ParseKdfOptions(args.kdf_ops, args.kdf_memory);
  if (!kdf.ok()) return Fail(kdf.status());
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  auto passphrase = ReadNewPassphrase(args.new_passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  Repository& repo = *opened.repo;
  const std::string old_slot = repo.opened_key_slot();
  if (old_slot.empty()) {
    // Opened with a key file: the file is rewritten in one rename.
    auto wrapped = repo.WrapKey(*passphrase, *kdf);
    sodium_memzero(passphrase->data(), passphrase->size());
    if (!wrapped.ok()) return Fail(wrapped.status());
    if (Status s = WriteKeyFile(global.key_file, repo.config().repository_id(), *wrapped,
                                /*replace=*/true);
        !s.ok()) {
      return Fail(s);
    }
    if (!global.quiet) fmt::print("changed the passphrase of key file {}\n", global.key_file);
    return kExitOk;
  }
  auto added = repo.AddKeySlot(*passphrase, *kdf);
  sodium_memzero(passphrase->data(), passphrase->size());
  if (!added.ok()) return Fail(added.status());
  CrashPoint("key-passwd-added");
  if (Status s = repo.RemoveKeySlot(old_slot); !s.ok()) {
    return Fail(s.WithContext("the new passphrase works (key slot " + *added +
                              "), but the old one still does too: key slot " + old_slot +
                              " could not be removed (`coffer key remove " + old_slot + "`)"));
  }
  if (!global.quiet) {
    fmt::print("changed the passphrase: key slot {} replaces {}\n", *added, old_slot);
  }
  return kExitOk;
}

int RunAdd(const GlobalOptions& global, const KeyArgs& args) {
  auto kdf = ParseKdfOptions(args.kdf_ops, args.kdf_memory);
  if (!kdf.ok()) return Fail(kdf.status());
  if (!global.key_file.empty()) {
    return Fail(Status::InvalidArgument(
        "this repository's key is in a key file: copy the file, or `coffer key export` it"));
  }
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  auto passphrase = ReadNewPassphrase(args.new_passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  auto added = opened.repo->AddKeySlot(*passphrase, *kdf);
  sodium_memzero(passphrase->data(), passphrase->size());
  if (!added.ok()) return Fail(added.status());
  if (!global.quiet)
    fmt::print("added key slot {}: the new passphrase opens the repository\n", *added);
  return kExitOk;
}

int RunRemove(const GlobalOptions& global, const KeyArgs& args) {
  auto name = SlotNameOf(args.slot);
  if (!name.ok()) return Fail(name.status());
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  if (Status s = opened.repo->RemoveKeySlot(*name); !s.ok()) return Fail(s);
  if (!global.quiet) {
    fmt::print("removed key slot {}: its passphrase no longer opens the repository\n", *name);
  }
  return kExitOk;
}

int RunList(const GlobalOptions& global) {
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  if (!opened.repo->sealer().encrypted()) {
    fmt::print("the repository is unencrypted: it has no key and no key slots\n");
    return kExitOk;
  }
  auto slots = opened.repo->ListKeySlots();
  if (!slots.ok()) return Fail(slots.status());
  if (opened.repo->opened_key_slot().empty()) {
    fmt::print("the key is in key file {}; the repository holds {} key slot(s)\n", global.key_file,
               slots->size());
  }
  if (slots->empty()) return kExitOk;
  fmt::print("{:<8}  {:<22}  {}\n", "Slot", "Argon2id", "State");
  for (const KeySlot& slot : *slots) {
    std::string kdf = slot.damage.ok() ? fmt::format("{} passes, {}", slot.kdf.opslimit,
                                                     HumanBytes(slot.kdf.memlimit))
                                       : "-";
    std::string state = !slot.damage.ok() ? "damaged: " + slot.damage.message()
                        : slot.opened     ? "opened with this passphrase"
                                          : "another passphrase";
    fmt::print("{:<8}  {:<22}  {}\n", slot.name, kdf, state);
  }
  return kExitOk;
}

}  // namespace

void RegisterKey(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<KeyArgs>();
  CLI::App* key = app.add_subcommand(
      "key", "Export, import and change the repository's key and its passphrases (key slots)");
  key->require_subcommand(1);
  auto new_passphrase = [&args](CLI::App* cmd) {
    cmd->add_option("--new-passphrase-file", args->new_passphrase_file,
                    "Read the new passphrase from the first line of FILE (else "
                    "COFFER_NEW_PASSPHRASE_FILE, COFFER_NEW_PASSPHRASE, or asked twice)")
        ->type_name("FILE");
    cmd->add_option("--kdf-ops", args->kdf_ops, "Argon2id passes for the new passphrase, 1 to 64")
        ->type_name("N")
        ->capture_default_str();
    cmd->add_option("--kdf-memory", args->kdf_memory,
                    "Argon2id memory for the new passphrase, 8K to 4G (e.g. 64M)")
        ->type_name("SIZE")
        ->capture_default_str();
  };

  CLI::App* exp = key->add_subcommand(
      "export",
      "Write the key itself, to keep outside the repository (a secret: it needs no passphrase)");
  exp->add_option("-o,--output", args->output,
                  "Write to FILE (mode 0600) instead of standard output")
      ->type_name("FILE");
  exp->add_flag("--paper", args->paper,
                "As text to print: numbered lines, each with its own checksum");
  exp->add_flag("--qr", args->qr, "With --paper: add a QR code of the same text (UTF-8 blocks)");
  exp->add_option("--qr-image", args->qr_image,
                  "With --paper: also write the QR code as FILE.png or FILE.svg (mode 0600)")
      ->type_name("FILE");
  exp->add_flag("--force", args->force, "Replace the output files if they exist");
  exp->callback([&global, args, exit_code] { *exit_code = RunExport(global, *args); });

  CLI::App* imp = key->add_subcommand(
      "import", "Put an exported key back into the repository, under a new passphrase");
  imp->add_option("FILE", args->input, "The exported key, or - for standard input")->required();
  imp->add_flag("--paper", args->paper, "FILE is a paper key, typed back or read from its QR code");
  imp->add_flag("--force", args->force, "With --key-file: replace the key file if it exists");
  new_passphrase(imp);
  imp->callback([&global, args, exit_code] { *exit_code = RunImport(global, *args); });

  CLI::App* passwd = key->add_subcommand("passwd", "Change the passphrase (asked twice)");
  new_passphrase(passwd);
  passwd->callback([&global, args, exit_code] { *exit_code = RunPasswd(global, *args); });

  CLI::App* add =
      key->add_subcommand("add", "Add a passphrase that opens the repository (a key slot)");
  new_passphrase(add);
  add->callback([&global, args, exit_code] { *exit_code = RunAdd(global, *args); });

  CLI::App* remove = key->add_subcommand(
      "remove",
      "Remove a key slot: its passphrase no longer opens the repository (never the last)");
  remove->add_option("SLOT", args->slot, "The slot's name (key, key.1, ...) or number")->required();
  remove->callback([&global, args, exit_code] { *exit_code = RunRemove(global, *args); });

  CLI::App* list = key->add_subcommand("list", "List the key slots");
  list->callback([&global, exit_code] { *exit_code = RunList(global); });
}

}  // namespace coffer::tools
