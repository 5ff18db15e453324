#include "jobs/run_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/base/file_io.h"
#include "store/base/unique_fd.h"

namespace coffer::jobs {
namespace {

constexpr int kRecordVersion = 1;

}  // namespace

std::string_view RunKindName(RunKind kind) {
  switch (kind) {
    case RunKind::kBackup: return "backup";
    case RunKind::kVerify: return "verify";
    case RunKind::kRestoreTest: return "restore-test";
  }
  return "backup";
}

std::optional<RunKind> ParseRunKind(std::string_view name) {
  for (RunKind kind : {RunKind::kBackup, RunKind::kVerify, RunKind::kRestoreTest}) {
    if (RunKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string FormatRunRecord(const RunRecord& r) {
  nlohmann::ordered_json line = {
      {"v", kRecordVersion},
      {"job", r.job},
      {"kind", RunKindName(r.kind)},
      {"start", FormatUtc(r.start)},
      {"end", FormatUtc(r.end)},
      {"duration_s", std::round(static_cast<double>(r.duration.count())) / 1000.0},
      {"outcome", OutcomeName(r.outcome)},
      {"step", r.step},
      {"reason", r.reason},
      {"snapshot", r.snapshot},
      {"bytes_added", r.bytes_added},
      {"log", r.log},
  };
  // Hook output quoted in a reason may be any bytes: never refuse to record.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<RunRecord> ParseRunRecord(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("not a JSON object");
  auto text = [&](const char* key, bool required) -> Result<std::string> {
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) return Status::InvalidArgument(fmt::format("no \"{}\"", key));
      return std::string();
    }
    if (!it->is_string())
      return Status::InvalidArgument(fmt::format("\"{}\" is not a string", key));
    return it->get<std::string>();
  };
  auto version = j.find("v");
  if (version == j.end() || !version->is_number_integer()) {
    return Status::InvalidArgument("no version \"v\"");
  }
  if (version->get<int64_t>() != kRecordVersion) {
    return Status::InvalidArgument(
        fmt::format("version {} is not one this Coffer reads", version->get<int64_t>()));
  }
  RunRecord r;
  COFFER_ASSIGN_OR_RETURN(r.job, text("job", true));
  COFFER_ASSIGN_OR_RETURN(std::string kind, text("kind", false));
  if (!kind.empty()) {
    auto known = ParseRunKind(kind);
    if (!known) return Status::InvalidArgument("unknown kind \"" + kind + "\"");
    r.kind = *known;
  }
  COFFER_ASSIGN_OR_RETURN(std::string start, text("start", true));
  COFFER_ASSIGN_OR_RETURN(std::string end, text("end", false));
  COFFER_ASSIGN_OR_RETURN(std::string outcome, text("outcome", true));
  COFFER_ASSIGN_OR_RETURN(r.step, text("step", false));
  COFFER_ASSIGN_OR_RETURN(r.reason, text("reason", false));
  COFFER_ASSIGN_OR_RETURN(r.snapshot, text("snapshot", false));
  COFFER_ASSIGN_OR_RETURN(r.log, text("log", false));
  auto start_time = ParseUtc(start);
  if (!start_time) return Status::InvalidArgument("\"start\" is not a UTC time");
  r.start = *start_time;
  r.end = ParseUtc(end).value_or(r.start);
  if (outcome == "success") {
    r.outcome = Outcome::kSuccess;
  } else if (outcome == "warning") {
    r.outcome = Outcome::kWarning;
  } else if (outcome == "failure") {
    r.outcome = Outcome::kFailure;
  } else {
    return Status::InvalidArgument("unknown outcome \"" + outcome + "\"");
  }
  if (auto it = j.find("duration_s"); it != j.end() && it->is_number() && it->get<double>() >= 0) {
    r.duration = std::chrono::milliseconds(std::llround(it->get<double>() * 1000));
  }
  if (auto it = j.find("bytes_added"); it != j.end() && it->is_number_unsigned()) {
    r.bytes_added = it->get<uint64_t>();
  }
  return r;
}

Status AppendRunRecord(const std::filesystem::path& path, const RunRecord& record) {
  const std::string shown = path.string();
  UniqueFd fd(open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot open " + shown);
  std::string text = FormatRunRecord(record) + "\n";
  // A line cut short by a crash would swallow this one: end it first.
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + shown);
  if (st.st_size > 0) {
    char last = '\n';
    if (pread(fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n')
      text.insert(text.begin(), '\n');
  }
  COFFER_RETURN_IF_ERROR(WriteAll(fd.get(), text, "cannot write " + shown));
  if (fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + shown);
  return Status::Ok();
}

Result<RunHistory> ReadRunRecords(const std::filesystem::path& path) {
  RunHistory history;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return history;
    return Status::FromErrno(errno, "cannot read " + path.string());
  }
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;  // what AppendRunRecord adds after a cut line
    auto run = ParseRunRecord(line);
    if (!run.ok()) {
      history.warnings.push_back(
          fmt::format("{}:{}: skipped: {}", path.string(), number, run.status().message()));
      continue;
    }
    history.runs.push_back(std::move(run).value());
  }
  return history;
}

std::filesystem::path JobsStateFolder(const std::filesystem::path& state_dir) {
  return state_dir / "jobs";
}

std::filesystem::path RunRecordPath(const std::filesystem::path& state_dir, std::string_view job) {
  return JobsStateFolder(state_dir) / (std::string(job) + ".runs.jsonl");
}

std::filesystem::path JobLockPath(const std::filesystem::path& state_dir, std::string_view job) {
  return JobsStateFolder(state_dir) / (std::string(job) + ".lock");
}

std::filesystem::path JobLogFolder(const std::filesystem::path& state_dir, std::string_view job) {
  return JobsStateFolder(state_dir) / std::string(job);
}

}  // namespace coffer::jobs
