#include "jobs/systemd_units.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jobs/calendar.h"
#include "store/base/unique_fd.h"

namespace coffer::jobs {
namespace {

constexpr std::string_view kPrefix = "coffer-job-";

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The jobs file's rule for names (jobs/job_file.h), checked again: a name
// becomes part of unit and file names here.
bool IsJobName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !IsAsciiAlnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAsciiAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A user name as systemd's User= takes it (valid_user_group_name, strict
// mode), or a number.
bool IsUserName(std::string_view user) {
  if (user.empty() || user.size() > 31) return false;
  if (std::all_of(user.begin(), user.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return true;
  const char first = user.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_'))
    return false;
  return std::all_of(user.begin(), user.end(),
                     [](char c) { return IsAsciiAlnum(c) || c == '_' || c == '-'; });
}

Status CheckPath(const std::filesystem::path& path, std::string_view what) {
  const std::string& text = path.native();
  if (!path.is_absolute()) {
    return Status::InvalidArgument(std::string(what) + " must be an absolute path, not \"" + text +
                                   "\"");
  }
  if (HasControlCharacter(text)) {
    return Status::InvalidArgument(std::string(what) + " must not hold control characters");
  }
  return Status::Ok();
}

Status CheckOptions(const SystemdUnitOptions& options) {
  COFFER_RETURN_IF_ERROR(CheckPath(options.coffer, "the coffer binary"));
  // systemd refuses a program whose path holds a quote or a backslash
  // ("Executable name contains special characters"), and substitutes
  // variables in argv[0] but not in the program's path, so no spelling of
  // '$' is right for both.
  if (options.coffer.native().find_first_of("$\"'\\") != std::string::npos) {
    return Status::InvalidArgument(
        "the coffer binary's path must not hold '$', quotes or '\\' (systemd does not take them "
        "there)");
  }
  COFFER_RETURN_IF_ERROR(CheckPath(options.jobs_file, "the jobs file"));
  if (!options.state_dir.empty())
    COFFER_RETURN_IF_ERROR(CheckPath(options.state_dir, "the state folder"));
  if (!options.user.empty() && !IsUserName(options.user)) {
    return Status::InvalidArgument("\"" + options.user + "\" is not a user name systemd accepts");
  }
  return Status::Ok();
}

// Characters an ExecStart= argument may hold without quotes: nothing that
// systemd splits on, unquotes, unescapes or substitutes (% specifiers, $
// variables), nor a prefix character of the program (@ - : + !).
bool IsBareSafe(char c) {
  return IsAsciiAlnum(c) || c == '/' || c == '_' || c == '.' || c == ',' || c == '=' || c == '-';
}

// One ExecStart= argument as systemd.service(5) reads it back to `arg`.
std::string ExecArgument(std::string_view arg) {
  if (!arg.empty() && std::all_of(arg.begin(), arg.end(), IsBareSafe) && arg.front() != '-') {
    return std::string(arg);
  }
  std::string out = "\"";
  for (char c : arg) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '%': out += "%%"; break;
      case '$': out += "$$"; break;
      default: out += c;
    }
  }
  out += '"';
  return out;
}

// Description= expands specifiers and nothing else.
std::string DescriptionValue(std::string_view text) {
  std::string out;
  for (char c : text) out += c == '%' ? std::string("%%") : std::string(1, c);
  return out;
}

// A systemd time span ("10min", "1h 30min", "2d"), whole seconds.
std::string TimeSpan(std::chrono::seconds span) {
  int64_t left = span.count();
  std::string out;
  const std::pair<int64_t, std::string_view> units[] = {
      {86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}};
  for (const auto& [size, unit] : units) {
    if (left < size) continue;
    if (!out.empty()) out += ' ';
    out += std::to_string(left / size);
    out += unit;
    left %= size;
  }
  return out.empty() ? "0" : out;
}

// What a pair of units runs: the backup, the verify or the restore test.
struct Kind {
  std::string_view suffix;       // of the unit name: "", "-verify", "-restore-test"
  std::string_view flag;         // of `run`: "", "--verify", "--restore-test"
  std::string_view description;  // "backup", ...
  std::string_view key;          // the jobs file's key of the schedule, for errors
};

Result<std::vector<UnitFile>> UnitsOf(const Job& job, const SystemdUnitOptions& options,
                                      const Kind& kind, std::string_view schedule_text) {
  auto schedule = ParseSchedule(schedule_text);
  if (!schedule.ok()) {
    return Status::InvalidArgument("job " + job.name + ": " + std::string(kind.key) + " \"" +
                                   std::string(schedule_text) +
                                   "\": " + schedule.status().message());
  }
  const std::string base = std::string(kPrefix) + job.name + std::string(kind.suffix);
  const std::string what = "coffer " + std::string(kind.description) + " of job " + job.name;

  std::string exec =
      ExecArgument(options.coffer.native()) + " --jobs " + ExecArgument(options.jobs_file.native());
  if (!options.state_dir.empty())
    exec += " --state-dir " + ExecArgument(options.state_dir.native());
  exec += " run " + ExecArgument(job.name);
  if (!kind.flag.empty()) exec += " " + std::string(kind.flag);

  std::string service = std::string(kSystemdUnitMarker) + "\n";
  service += "[Unit]\n";
  service += "Description=" + DescriptionValue(what) + "\n";
  service += "Documentation=man:coffer(1)\n";
  if (!job.server.empty()) {
    service += "Wants=network-online.target\n";
    service += "After=network-online.target\n";
  }
  service += "\n[Service]\n";
  service += "Type=oneshot\n";
  service += "ExecStart=" + exec + "\n";
  if (!options.user.empty()) service += "User=" + options.user + "\n";
  service += "Nice=19\n";
  service += "CPUSchedulingPolicy=batch\n";
  service += "IOSchedulingClass=best-effort\n";
  service += "IOSchedulingPriority=7\n";
  service += "TimeoutStartSec=infinity\n";

  std::string timer = std::string(kSystemdUnitMarker) + "\n";
  timer += "[Unit]\n";
  timer += "Description=" + DescriptionValue("Schedule of " + what) + "\n";
  timer += "Documentation=man:coffer(1)\n";
  timer += "\n[Timer]\n";
  for (const std::string& line : schedule->ToOnCalendar()) timer += "OnCalendar=" + line + "\n";
  timer += std::string("Persistent=") + (job.catch_up ? "true" : "false") + "\n";
  if (job.random_delay.count() > 0)
    timer += "RandomizedDelaySec=" + TimeSpan(job.random_delay) + "\n";
  timer += "\n[Install]\n";
  timer += "WantedBy=timers.target\n";

  return std::vector<UnitFile>{{base + ".service", std::move(service)},
                               {base + ".timer", std::move(timer)}};
}

bool IsOurUnitName(std::string_view name) {
  if (name.size() <= kPrefix.size() || name.substr(0, kPrefix.size()) != kPrefix) return false;
  if (name.find('/') != std::string_view::npos) return false;
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() > kPrefix.size() + suffix.size() &&
           name.substr(name.size() - suffix.size()) == suffix;
  };
  return ends_with(".service") || ends_with(".timer");
}

// Whether `path` is a regular file (not followed through a symbolic link)
// whose first line is the marker. Sets `*exists` to whether anything is
// at `path`.
Result<bool> IsMarkedRegularFile(const std::filesystem::path& path, bool* exists) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      *exists = false;
      return false;
    }
    return Status::FromErrno(errno, path.native());
  }
  *exists = true;
  if (!S_ISREG(st.st_mode)) return false;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno(errno, path.native());
  std::string head(kSystemdUnitMarker.size() + 1, '\0');
  size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = read(fd.get(), head.data() + got, head.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, path.native());
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got == head.size() && head == std::string(kSystemdUnitMarker) + "\n";
}

Status WriteAtomically(const std::filesystem::path& dir, const UnitFile& unit) {
  const std::filesystem::path target = dir / unit.name;
  std::string temp = (dir / ("." + unit.name + ".XXXXXX")).native();
  UniqueFd fd(mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno(errno, temp);
  auto fail = [&](std::string_view what) {
    const Status status = Status::FromErrno(errno, std::string(what) + " " + temp);
    unlink(temp.c_str());
    return status;
  };
  size_t done = 0;
  while (done < unit.text.size()) {
    const ssize_t n = write(fd.get(), unit.text.data() + done, unit.text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("writing");
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd.get(), 0644) != 0) return fail("setting the mode of");
  if (fsync(fd.get()) != 0) return fail("syncing");
  if (close(fd.release()) != 0) return fail("closing");
  if (rename(temp.c_str(), target.c_str()) != 0) {
    const Status status = Status::FromErrno(errno, "renaming " + temp + " to " + target.native());
    unlink(temp.c_str());
    return status;
  }
  return Status::Ok();
}

Status SyncFolder(const std::filesystem::path& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || fsync(fd.get()) != 0)
    return Status::FromErrno(errno, "syncing " + dir.native());
  return Status::Ok();
}

}  // namespace

Result<std::vector<UnitFile>> SystemdUnitsFor(const Job& job, const SystemdUnitOptions& options) {
  COFFER_RETURN_IF_ERROR(CheckOptions(options));
  if (!IsJobName(job.name)) {
    return Status::InvalidArgument(
        "\"" + job.name +
        "\" cannot name systemd units: a job's name has "
        "letters, digits, '_', '.' and '-', starting with a letter or digit");
  }
  static constexpr Kind kBackup{"", "", "backup", "schedule"};
  static constexpr Kind kVerify{"-verify", "--verify", "verify", "verify"};
  static constexpr Kind kRestoreTest{"-restore-test", "--restore-test", "restore test",
                                     "restore-test"};
  std::vector<UnitFile> units;
  for (const auto& [kind, text] :
       {std::pair<const Kind&, const std::string&>{kBackup, job.schedule},
        {kVerify, job.verify},
        {kRestoreTest, job.restore_test}}) {
    if (text.empty()) continue;
    COFFER_ASSIGN_OR_RETURN(std::vector<UnitFile> pair, UnitsOf(job, options, kind, text));
    for (auto& unit : pair) units.push_back(std::move(unit));
  }
  return units;
}

Result<std::vector<UnitFile>> SystemdUnitsFor(const JobFile& file,
                                              const SystemdUnitOptions& options) {
  std::vector<UnitFile> all;
  std::set<std::string, std::less<>> names;
  for (const Job& job : file.jobs) {
    COFFER_ASSIGN_OR_RETURN(std::vector<UnitFile> units, SystemdUnitsFor(job, options));
    for (auto& unit : units) {
      if (!names.insert(unit.name).second) {
        return Status::InvalidArgument("job " + job.name + ": its unit " + unit.name +
                                       " is also another job's; rename one of the jobs");
      }
      all.push_back(std::move(unit));
    }
  }
  return all;
}

Status WriteUnits(const std::vector<UnitFile>& units, const std::filesystem::path& dir,
                  std::vector<std::string>* removed) {
  std::set<std::string, std::less<>> names;
  for (const UnitFile& unit : units) {
    if (!IsOurUnitName(unit.name)) {
      return Status::InvalidArgument("\"" + unit.name +
                                     "\" is not the name of a coffer job's unit");
    }
    if (!names.insert(unit.name).second) {
      return Status::InvalidArgument("the unit " + unit.name + " is given twice");
    }
  }
  struct stat folder;
  if (stat(dir.c_str(), &folder) != 0) return Status::FromErrno(errno, dir.native());
  if (!S_ISDIR(folder.st_mode)) return Status::FromErrno(ENOTDIR, dir.native());
  // Refuse to replace a file Coffer did not write, before writing anything.
  for (const UnitFile& unit : units) {
    bool exists = false;
    COFFER_ASSIGN_OR_RETURN(const bool marked, IsMarkedRegularFile(dir / unit.name, &exists));
    if (exists && !marked) {
      return Status::AlreadyExists((dir / unit.name).native() +
                                   " exists and was not written by coffer jobs systemd; "
                                   "move it away to let coffer write its own");
    }
  }
  for (const UnitFile& unit : units) COFFER_RETURN_IF_ERROR(WriteAtomically(dir, unit));

  std::vector<std::string> stale;
  {
    DIR* folder = opendir(dir.c_str());
    if (folder == nullptr) return Status::FromErrno(errno, "reading " + dir.native());
    errno = 0;
    while (const dirent* entry = readdir(folder)) {
      const std::string_view name = entry->d_name;
      if (IsOurUnitName(name) && names.count(name) == 0) stale.emplace_back(name);
      errno = 0;
    }
    const int read_errno = errno;
    closedir(folder);
    if (read_errno != 0) return Status::FromErrno(read_errno, "reading " + dir.native());
  }
  std::sort(stale.begin(), stale.end());
  for (const std::string& name : stale) {
    const std::filesystem::path path = dir / name;
    bool exists = false;
    COFFER_ASSIGN_OR_RETURN(const bool marked, IsMarkedRegularFile(path, &exists));
    if (!marked) continue;
    if (unlink(path.c_str()) != 0 && errno != ENOENT)
      return Status::FromErrno(errno, "removing " + path.native());
    if (removed != nullptr) removed->push_back(name);
  }
  return SyncFolder(dir);
}

}  // namespace coffer::jobs
