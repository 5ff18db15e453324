#include "tools/cli.h"

#include "tools/object_storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include <fmt/format.h>

#include "store/base/unique_fd.h"
#include "store/crypto/key_text.h"
#include "store/model/snapshot_name.h"
#include "store/repo/local.h"
#include "store/service/auth.h"
#include "tools/exit_codes.h"
#include "tools/server_client.h"

namespace coffer::tools {

int Fail(const Status& status) {
  if (status.code() == Code::kNoSpace) {
    // The RocksDB detail alone does not say what the user should do.
    fmt::print(stderr,
               "coffer: no space left for the repository: this command's changes were not "
               "committed, earlier snapshots are intact; free some space and run it again ({})\n",
               status.message());
    return ExitCodeFor(status);
  }
  fmt::print(stderr, "coffer: {}\n", status.message());
  return ExitCodeFor(status);
}

ConnectedStore ConnectStore(const GlobalOptions& global) {
  ConnectedStore connected;
  if (global.repo.empty() && global.server.empty()) {
    connected.exit_code = Fail(Status::InvalidArgument("no repository: give -r DIR or set COFFER_REPO"));
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
      const int code = Fail(bucket.status());
      connected.exit_code = bucket.status().code() == Code::kNotFound ? kExitNoRepository : code;
      return connected;
    }
    connected.store = std::move(bucket).value();
    return connected;
  }
  ServerClientOptions options{*wait, global.command_line, global.no_server,
                              global.server, global.tls_ca, global.token_file};
  auto store = ConnectRepository(global.repo, options);
  if (!store.ok()) {
    int code = Fail(store.status());
    connected.exit_code = store.status().code() == Code::kNotFound ? kExitNoRepository : code;
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
  auto repo = Repository::Open(std::move(connected.store),
                               [&] { return ReadPassphrase(global, /*confirm=*/false); }, open);
  if (!repo.ok()) {
    opened.exit_code = Fail(repo.status());
    return opened;
  }
  opened.repo = std::move(repo).value();
  return opened;
}

OpenedSnapshot OpenSnapshot(const GlobalOptions& global, const std::string& name) {
  OpenedSnapshot out;
  if (auto sel = model::ParseSnapshotName(name); !sel.ok()) {
    out.exit_code = Fail(sel.status());
    return out;
  }
  Opened opened = OpenRepository(global);
  if (!opened.repo) {
    out.exit_code = opened.exit_code;
    return out;
  }
  auto snapshot = opened.repo->FindSnapshot(name);
  if (!snapshot.ok()) {
    out.exit_code = Fail(snapshot.status());
    return out;
  }
  if (Status readable = snapshot->CheckReadable(); !readable.ok()) {
    out.exit_code = Fail(readable);  // a damaged record: exit 4
    return out;
  }
  out.repo = std::move(opened.repo);
  out.snapshot = std::move(snapshot).value();
  return out;
}

CLI::Option* AddRepeatableOption(CLI::App* cmd, const std::string& name, const std::string& value_name,
                                 std::vector<std::string>& values, const std::string& description) {
  // expected(1) alone keeps allow_extra_args from the vector default, which
  // would still take the following words and split a "[a,b]" value; take_all
  // keeps the values of every use instead of refusing a second one.
  return cmd->add_option(name, values, description + " (repeatable)")
      ->type_name(value_name)
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
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
    return Status::InvalidArgument(fmt::format("invalid --kdf-ops {}: Argon2id passes go from {} to {}",
                                               ops, min.opslimit, crypto::KdfParams::kMaxOpslimit));
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

std::string TodayLocal() {
  const time_t now = time(nullptr);
  struct tm local {};
  localtime_r(&now, &local);
  char text[16];
  strftime(text, sizeof text, "%Y-%m-%d", &local);
  return text;
}

Result<Bytes> ReadWrappedKeyFile(const std::string& path) {
  COFFER_ASSIGN_OR_RETURN(std::string text, service::ReadCredentialFile(path, "key"));
  auto key = crypto::ParseKeyText(text);
  if (!key.ok()) return key.status().WithContext("key file " + path);
  if (key->kind != crypto::KeyTextKind::kWrapped) {
    return Status::InvalidArgument(
        "key file " + path + " holds an exported key, not a wrapped one: put it back with "
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

Status WriteSecretFile(const std::string& path, std::string_view text, bool replace) {
  if (!replace && access(path.c_str(), F_OK) == 0) {
    return Status::AlreadyExists(path + " exists: give --force to replace it");
  }
  return ReplaceFileDurably(path, text, 0600);
}

Status ReplaceFileDurably(const std::string& path, std::string_view text, mode_t mode) {
  const std::string temp = path + ".tmp";
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot write " + temp);
  // The mode of an existing temporary file is kept by O_CREAT, and the umask
  // narrows a new one's: set it.
  if (fchmod(fd.get(), mode) != 0) {
    Status failed = Status::FromErrno(errno, "chmod " + temp);
    unlink(temp.c_str());
    return failed;
  }
  for (size_t done = 0; done < text.size();) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status failed = Status::FromErrno(errno, "cannot write " + temp);
      unlink(temp.c_str());
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) {
    Status failed = Status::FromErrno(errno, "cannot write " + temp);
    unlink(temp.c_str());
    return failed;
  }
  fd.reset();
  if (rename(temp.c_str(), path.c_str()) != 0) {
    Status failed = Status::FromErrno(errno, "cannot rename " + temp + " to " + path);
    unlink(temp.c_str());
    return failed;
  }
  // The rename itself is durable once the folder is synced.
  std::string folder = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (folder.empty()) folder = "/";
  UniqueFd dir(open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) (void)fsync(dir.get());
  return Status::Ok();
}

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

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid duration '" + std::string(text) +
                                   "': use e.g. 30s, 5m, 1h30m or seconds");
  };
  if (text.empty()) return bad();
  double total = 0, number = 0, fraction = 0;
  bool have_number = false, in_fraction = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (in_fraction) {
        fraction /= 10;
        number += (c - '0') * fraction;
      } else {
        number = number * 10 + (c - '0');
      }
      have_number = true;
      continue;
    }
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      fraction = 1;
      continue;
    }
    double unit;
    switch (c) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: return bad();
    }
    if (!have_number) return bad();
    total += number * unit;
    number = 0;
    have_number = in_fraction = false;
  }
  total += number;  // a trailing bare number counts as seconds
  if (!(total < 9e15)) return bad();  // more milliseconds than 64 bits hold
  return std::chrono::milliseconds(static_cast<int64_t>(total * 1000));
}

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid size '" + std::string(text) + "': use e.g. 64M, 1G, 512K");
  };
  if (text.empty()) return bad();
  uint64_t multiplier = 1;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'K' || last == 'M' || last == 'G') {
    multiplier = last == 'K' ? 1024 : last == 'M' ? 1024 * 1024 : 1024ull * 1024 * 1024;
    text.remove_suffix(1);
  }
  if (text.empty()) return bad();
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return bad();  // would wrap around
    value = value * 10 + digit;
  }
  if (value > UINT64_MAX / multiplier) return bad();
  return value * multiplier;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string HumanDuration(int64_t nanos) {
  double s = static_cast<double>(nanos) / 1e9;
  if (s < 60) return fmt::format("{:.1f} s", s);
  auto total = static_cast<int64_t>(s);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m{:02}s", total / 3600, total / 60 % 60, total % 60);
}

std::string EscapeName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out.push_back(static_cast<char>(c));  // UTF-8 passes through
        }
    }
  }
  return out;
}

std::string ModeString(const pb::Entry& entry) {
  std::string s = "----------";
  switch (entry.type()) {
    case pb::Entry::DIRECTORY: s[0] = 'd'; break;
    case pb::Entry::SYMLINK: s[0] = 'l'; break;
    case pb::Entry::FIFO: s[0] = 'p'; break;
    case pb::Entry::CHAR_DEVICE: s[0] = 'c'; break;
    case pb::Entry::BLOCK_DEVICE: s[0] = 'b'; break;
    default: break;
  }
  uint32_t m = entry.mode();
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (m & (1u << (8 - i))) s[1 + i] = rwx[i];
  }
  if (m & 04000) s[3] = (m & 0100) ? 's' : 'S';
  if (m & 02000) s[6] = (m & 0010) ? 's' : 'S';
  if (m & 01000) s[9] = (m & 0001) ? 't' : 'T';
  return s;
}

}  // namespace coffer::tools
