// coffer info: everything known about one snapshot, its note and its log.
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct InfoArgs {
  std::string snapshot;
  bool log = false;
  bool json = false;
};

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + EscapeName(item);
  return out;
}

std::string VerifyText(const Snapshot& s) {
  if (!s.note_damage.ok()) return "unknown: the note is damaged (" + s.note_damage.message() + ")";
  if (!s.note.has_last_verify()) return "never";
  const pb::VerifyRecord& v = s.note.last_verify();
  return fmt::format("{} {}", model::FormatTime(v.time_ns()),
                     !v.ok()       ? "DAMAGED"
                     : v.sampled() ? "ok (a sample of the data)"
                                   : "ok");
}

std::string RestoreTestText(const Snapshot& s) {
  if (!s.note_damage.ok()) return "unknown: the note is damaged (" + s.note_damage.message() + ")";
  if (!s.note.has_last_restore_test()) return "never";
  const pb::RestoreTestRecord& t = s.note.last_restore_test();
  return fmt::format("{} {}: {} files restored and compared, {}", model::FormatTime(t.time_ns()),
                     t.ok() ? "ok" : fmt::format("FAILED, {} mismatched", t.mismatches()),
                     t.files_checked(), HumanBytes(t.bytes_checked()));
}

void PrintText(const Snapshot& s) {
  const pb::Snapshot& r = s.record;
  const pb::SnapshotStats& st = r.stats();
  auto line = [](std::string_view label, const std::string& value) {
    fmt::print("{:<10} {}\n", label, value);
  };
  line("snapshot", s.name());
  line("id", s.ref.id.hex());
  line("host", EscapeName(r.hostname()) +
                   (r.username().empty() ? "" : " (" + EscapeName(r.username()) + ")"));
  line("paths", Joined(r.paths()));
  if (!r.tags().empty()) line("tags", Joined(r.tags()));
  line("content",
       fmt::format("{} files, {}{}", st.files_total(), HumanBytes(st.bytes_total()),
                   r.incomplete() ? ", INCOMPLETE: some sources could not be read" : ""));
  line("stored", fmt::format("read {}, added {} in {}", HumanBytes(st.bytes_read()),
                             HumanBytes(st.bytes_added()), HumanDuration(st.duration_ns())));
  line("protected", s.is_protected ? "yes" : "no");
  line("verified", VerifyText(s));
  line("tested", RestoreTestText(s));  // by coffer restore-test
  if (!s.note.comment().empty()) {
    std::string comment = s.note.comment();
    if (comment.back() == '\n') comment.pop_back();
    std::string indented;
    for (char c : comment) indented += c == '\n' ? std::string("\n           ") : std::string(1, c);
    line("note", indented);
  }
  if (!s.note.log().empty()) {
    line("log", fmt::format("{} (coffer info --log {} prints it)", HumanBytes(s.note.log().size()),
                            s.name()));
  }
}

nlohmann::json InfoJson(const Snapshot& s) {
  const pb::Snapshot& r = s.record;
  const pb::SnapshotStats& st = r.stats();
  nlohmann::json j = {
      {"name", s.name()},
      {"id", s.ref.id.hex()},
      {"group", s.ref.group},
      {"time", model::FormatTime(s.ref.time_ns)},
      // Equal trees are equal contents: how a round trip is checked.
      {"tree", ToHex(AsBytes(r.root_tree_id()))},
      {"hostname", r.hostname()},
      {"username", r.username()},
      {"paths", std::vector<std::string>(r.paths().begin(), r.paths().end())},
      {"tags", std::vector<std::string>(r.tags().begin(), r.tags().end())},
      {"files", st.files_total()},
      {"bytes", st.bytes_total()},
      {"bytes_read", st.bytes_read()},
      {"bytes_added", st.bytes_added()},
      {"duration_seconds", static_cast<double>(st.duration_ns()) / 1e9},
      {"incomplete", r.incomplete()},
      {"protected", s.is_protected},
      {"note", s.note.comment()},
      {"log_bytes", s.note.log().size()},
      {"note_damage",
       s.note_damage.ok() ? nlohmann::json(nullptr) : nlohmann::json(s.note_damage.message())},
      {"last_restore_test", nullptr},
  };
  if (s.note.has_last_restore_test()) {
    const pb::RestoreTestRecord& t = s.note.last_restore_test();
    j["last_restore_test"] = {
        {"time", model::FormatTime(t.time_ns())}, {"ok", t.ok()},
        {"files_checked", t.files_checked()},     {"bytes_checked", t.bytes_checked()},
        {"mismatches", t.mismatches()},           {"seed", t.seed()}};
  }
  return j;
}

int RunInfo(const GlobalOptions& global, const InfoArgs& args) {
  OpenedSnapshot opened = OpenSnapshot(global, args.snapshot);
  if (!opened.repo) return opened.exit_code;
  const Snapshot& s = opened.snapshot;
  if (args.log) {
    if (!s.note_damage.ok()) {
      return Fail(Status::Corruption(
          s.name() + ": its note, which holds the log, is damaged: " + s.note_damage.message()));
    }
    if (s.note.log().empty()) return Fail(Status::NotFound(s.name() + " has no log"));
    fwrite(s.note.log().data(), 1, s.note.log().size(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : Fail(Status::FromErrno(errno, "write the log"));
  }
  if (args.json) {
    fmt::print("{}\n", InfoJson(s).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    PrintText(s);
  }
  return s.note_damage.ok() ? kExitOk : kExitDamaged;
}

}  // namespace

void RegisterInfo(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd =
      app.add_subcommand("info", "Show everything known about one snapshot, or its log");
  cmd->add_option("SNAPSHOT", args->snapshot, "GROUP/TIME, GROUP/latest or an id prefix")
      ->required();
  cmd->add_flag("--log", args->log, "Print the snapshot's log (e.g. vzdump's) and nothing else");
  cmd->add_flag("--json", args->json, "Print as one JSON object on stdout");
  cmd->callback([&global, args, exit_code] { *exit_code = RunInfo(global, *args); });
}

}  // namespace coffer::tools
