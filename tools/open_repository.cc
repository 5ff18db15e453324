#include "tools/open_repository.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "store/base/unique_fd.h"
#include "store/crypto/key_text.h"
#include "store/model/snapshot_name.h"
#include "store/repo/local.h"
#include "store/service/auth.h"
#include "tools/durable_file.h"
#include "tools/object_storage.h"
#include "tools/server_client.h"
#include "tools/units.h"

namespace coffer::tools {

ServerClientOptions ServerClientOptionsFor(const GlobalOptions& global,
                                           std::chrono::milliseconds lock_wait) {
  ServerClientOptions options{lock_wait,     global.command_line, global.no_server,
                              global.server, global.tls_ca,       global.token_file};
  options.host_when_alone = global.host_when_alone;
  options.quiet = global.quiet;
  return options;
}

ConnectedStore ConnectStore(const GlobalOptions& global) {
  ConnectedStore connected;
  if (global.repo.empty() && global.server.empty()) {
    connected.exit_code =
        Fail(Status::InvalidArgument("no repository: give -r DIR or set COFFER_REPO"));
    return connected;
  }
  auto wait = ParseDuration(global.lock_wait);
  if (!wait.ok()) {
    connected.exit_code = Fail(wait.status());
    return connected;
  }
  if (s3::IsS3Address(global.repo)) {
    auto bucket = OpenBucket(global.repo);
    if (!bucket.ok()) {
      connected.exit_code = Fail(bucket.status(), FailedStep::kOpeningRepository);
      return connected;
    }
    connected.store = std::move(bucket).value();
    return connected;
  }
  auto store = ConnectRepository(global.repo, ServerClientOptionsFor(global, *wait));
  if (!store.ok()) {
    connected.exit_code = Fail(store.status(), FailedStep::kOpeningRepository);
    return connected;
  }
  connected.store = std::move(store).value();
  return connected;
}

Opened OpenRepository(const GlobalOptions& global) {
  Opened opened;
  OpenOptions open;
  open.allow_unencrypted = global.allow_unencrypted;
  open.allow_unencrypted_hint =
      "give --allow-unencrypted or set COFFER_ALLOW_UNENCRYPTED=1 if it is meant to be unencrypted";
  if (!global.key_file.empty()) {
    // Read before the repository is touched: a bad key file is a usage error.
    auto wrapped = ReadWrappedKeyFile(global.key_file);
    if (!wrapped.ok()) {
      opened.exit_code = Fail(wrapped.status());
      return opened;
    }
    open.wrapped_key = std::move(wrapped).value();
  }
  ConnectedStore connected = ConnectStore(global);
  if (!connected.store) {
    opened.exit_code = connected.exit_code;
    return opened;
  }
  auto repo = Repository::Open(
      std::move(connected.store), [&] { return ReadPassphrase(global, /*confirm=*/false); }, open);
  if (!repo.ok()) {
    opened.exit_code = Fail(repo.status());
    return opened;
  }
  opened.repo = std::move(repo).value();
  return opened;
}

Opened OpenRepositoryNaming(const GlobalOptions& global, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (auto sel = model::ParseSnapshotName(name); !sel.ok()) return {nullptr, Fail(sel.status())};
  }
  return OpenRepository(global);
}

OpenedSnapshots OpenSnapshots(const GlobalOptions& global, const std::vector<std::string>& names) {
  OpenedSnapshots out;
  Opened opened = OpenRepositoryNaming(global, names);
  if (!opened.repo) {
    out.exit_code = opened.exit_code;
    return out;
  }
  for (const std::string& name : names) {
    auto snapshot = opened.repo->FindSnapshot(name);
    if (!snapshot.ok()) {
      out.exit_code = Fail(snapshot.status());
      return out;
    }
    if (Status readable = snapshot->CheckReadable(); !readable.ok()) {
      out.exit_code = Fail(readable);  // a damaged record: exit 4
      return out;
    }
    out.snapshots.push_back(std::move(snapshot).value());
  }
  out.repo = std::move(opened.repo);
  return out;
}

OpenedSnapshot OpenSnapshot(const GlobalOptions& global, const std::string& name) {
  OpenedSnapshots opened = OpenSnapshots(global, {name});
  if (!opened.repo) return {nullptr, {}, opened.exit_code};
  return {std::move(opened.repo), std::move(opened.snapshots.front()), 0};
}

namespace {

Result<std::string> ReadLine(int fd, std::string_view what) {
  std::string line;
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read passphrase from " + std::string(what));
    if (n == 0 || c == '\n') break;
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> Prompt(const char* question) {
  UniqueFd tty(open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty.valid()) {
    return Status::InvalidArgument(
        "no passphrase: set COFFER_PASSPHRASE or COFFER_PASSPHRASE_FILE, or give "
        "--passphrase-file or --passphrase-fd (there is no terminal to ask)");
  }
  if (write(tty.get(), question, strlen(question)) < 0) return Status::FromErrno(errno, "prompt");
  struct termios old {};
  bool have_termios = tcgetattr(tty.get(), &old) == 0;
  if (have_termios) {
    struct termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(tty.get(), TCSAFLUSH, &quiet);
  }
  auto line = ReadLine(tty.get(), "the terminal");
  if (have_termios) tcsetattr(tty.get(), TCSAFLUSH, &old);
  (void)!write(tty.get(), "\n", 1);
  return line;
}

}  // namespace

Result<std::string> ReadPassphrase(const GlobalOptions& global, bool confirm) {
  std::string file = global.passphrase_file;
  if (file.empty()) {
    if (const char* env = std::getenv("COFFER_PASSPHRASE_FILE")) file = env;
  }
  if (global.passphrase_fd >= 0) return ReadLine(global.passphrase_fd, "--passphrase-fd");
  if (!file.empty()) {
    UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno(errno, "cannot read passphrase file " + file);
    return ReadLine(fd.get(), file);
  }
  if (const char* env = std::getenv("COFFER_PASSPHRASE")) return std::string(env);
  COFFER_ASSIGN_OR_RETURN(std::string first, Prompt("Passphrase: "));
  if (confirm) {
    if (first.empty()) return Status::InvalidArgument("the passphrase is empty");
    COFFER_ASSIGN_OR_RETURN(std::string second, Prompt("Passphrase again: "));
    if (first != second) return Status::InvalidArgument("the passphrases do not match");
  }
  return first;
}

Result<std::string> ReadNewPassphrase(const std::string& file_option) {
  std::string file = file_option;
  if (file.empty()) {
    if (const char* env = std::getenv("COFFER_NEW_PASSPHRASE_FILE")) file = env;
  }
  std::string passphrase;
  if (!file.empty()) {
    UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno(errno, "cannot read new passphrase file " + file);
    COFFER_ASSIGN_OR_RETURN(passphrase, ReadLine(fd.get(), file));
  } else if (const char* env = std::getenv("COFFER_NEW_PASSPHRASE")) {
    passphrase = env;
  } else {
    COFFER_ASSIGN_OR_RETURN(passphrase, Prompt("New passphrase: "));
    COFFER_ASSIGN_OR_RETURN(std::string again, Prompt("New passphrase again: "));
    if (passphrase != again) return Status::InvalidArgument("the new passphrases do not match");
  }
  if (passphrase.empty()) return Status::InvalidArgument("the new passphrase is empty");
  return passphrase;
}

Result<crypto::KdfParams> ParseKdfOptions(uint64_t ops, const std::string& memory_text) {
  const crypto::KdfParams min = crypto::KdfParams::Minimum();
  if (ops < min.opslimit || ops > crypto::KdfParams::kMaxOpslimit) {
    return Status::InvalidArgument(
        fmt::format("invalid --kdf-ops {}: Argon2id passes go from {} to {}", ops, min.opslimit,
                    crypto::KdfParams::kMaxOpslimit));
  }
  auto memory = ParseSize(memory_text);
  if (!memory.ok()) return memory.status().WithContext("--kdf-memory");
  if (*memory < min.memlimit || *memory > crypto::KdfParams::kMaxMemlimit) {
    return Status::InvalidArgument(
        fmt::format("invalid --kdf-memory {}: Argon2id memory goes from {} to {}", memory_text,
                    HumanBytes(min.memlimit), HumanBytes(crypto::KdfParams::kMaxMemlimit)));
  }
  return crypto::KdfParams{ops, *memory};
}

Result<Bytes> ReadWrappedKeyFile(const std::string& path) {
  COFFER_ASSIGN_OR_RETURN(std::string text, service::ReadCredentialFile(path, "key"));
  auto key = crypto::ParseKeyText(text);
  if (!key.ok()) return key.status().WithContext("key file " + path);
  if (key->kind != crypto::KeyTextKind::kWrapped) {
    return Status::InvalidArgument(
        "key file " + path +
        " holds an exported key, not a wrapped one: put it back with "
        "`coffer key import` (with --key-file to make a key file of it)");
  }
  return key->record;
}

Status WriteKeyFile(const std::string& path, std::string_view repository_id, const Bytes& wrapped,
                    bool replace) {
  const crypto::KeyText key{crypto::KeyTextKind::kWrapped, ToHex(AsBytes(repository_id)),
                            TodayLocal(), wrapped};
  return WriteSecretFile(path, crypto::FormatKeyText(key), replace);
}

}  // namespace coffer::tools
