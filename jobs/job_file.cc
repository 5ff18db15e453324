#include "jobs/job_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>
// toml++ reports syntax errors by exception (Debian builds it with them);
// they are caught in ParseJobFile and nowhere else.
#include <toml++/toml.h>

#include "store/base/unique_fd.h"
#include "store/model/snapshot_name.h"

namespace coffer::jobs {
namespace {

constexpr uintmax_t kMaxFileBytes = 1u << 20;
constexpr size_t kMaxJobNameBytes = 64;
// Values quoted in a problem are cut to this many bytes: one line each.
constexpr size_t kMaxQuotedBytes = 60;

// A place in the file, both numbers from 1.
struct Position {
  uint32_t line = 1;
  uint32_t column = 1;
  auto operator<=>(const Position&) const = default;
};

Position PositionOf(const toml::source_region& region) {
  // toml++ gives 0 for a position it does not know; 1:1 is still a place to look.
  return {std::max<uint32_t>(region.begin.line, 1), std::max<uint32_t>(region.begin.column, 1)};
}

// Problems are one line each, whatever the text quoted in them holds.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// `text` in double quotes as TOML would write it, control characters
// escaped, cut (at a character boundary) if long.
std::string Quote(std::string_view text) {
  bool cut = text.size() > kMaxQuotedBytes;
  if (cut) {
    size_t end = kMaxQuotedBytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
    text = text.substr(0, end);
  }
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

// A value as a problem shows it: strings quoted, numbers as written.
std::string Describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return Quote(node.as_string()->get());
    case toml::node_type::integer: return std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point: return fmt::format("{}", node.as_floating_point()->get());
    case toml::node_type::boolean: return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::array: return "a list";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date and time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean "KEY"?)" for the known name nearest a mistyped one (a
// typo, '_' for '-', or the start of the name), or "" when none is near.
std::string Suggestion(std::string_view typed, const std::vector<std::string_view>& known) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(1, typed.size() / 3) + 1;
  for (std::string_view name : known) {
    size_t distance = EditDistance(typed, name);
    if (typed.size() >= 3 && name.starts_with(typed)) distance = std::min<size_t>(distance, 1);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", best);
}

// Every problem found, reported together in the order of the file.
class Problems {
 public:
  void Add(Position at, std::string what) { list_.push_back({at, OneLine(what)}); }
  bool empty() const { return list_.empty(); }

  Status ToStatus(std::string_view file_name) {
    std::stable_sort(list_.begin(), list_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string message;
    for (const auto& [at, what] : list_) {
      if (!message.empty()) message += '\n';
      message += fmt::format("{}:{}:{}: {}", OneLine(file_name), at.line, at.column, what);
    }
    return Status::InvalidArgument(std::move(message));
  }

 private:
  std::vector<std::pair<Position, std::string>> list_;
};

struct Context {
  Problems& problems;
  const JobFileValidators& validators;

  void Add(const toml::node& at, std::string what) {
    problems.Add(PositionOf(at.source()), std::move(what));
  }
};

// A requirement on a string value: `ok` says whether it is met, `what` is
// the phrase after "must be" when it is not.
struct TextRule {
  bool (*ok)(std::string_view) = nullptr;  // null: any string
  const char* what = "";
};

bool IsAbsolutePath(std::string_view s) {
  return s.starts_with('/');
}
bool IsNotEmpty(std::string_view s) {
  return !s.empty();
}
bool IsFileName(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos;
}
bool HasNoSpaceOrControl(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}
bool IsTag(std::string_view s) {
  return model::ValidateTag(s).ok();
}
bool IsUrl(std::string_view s) {
  std::string_view rest = s.starts_with("https://")  ? s.substr(8)
                          : s.starts_with("http://") ? s.substr(7)
                                                     : "";
  return !rest.empty() && HasNoSpaceOrControl(s);
}
// Not an option to sendmail(8), which reads its recipients after its options.
bool IsMailAddress(std::string_view s) {
  return !s.empty() && s[0] != '-' && HasNoSpaceOrControl(s);
}
bool IsServerAddress(std::string_view s) {
  if (!s.starts_with("tcp://") || !HasNoSpaceOrControl(s)) return false;
  size_t colon = s.rfind(':');
  std::string_view port = s.substr(colon + 1);
  return colon > 6 && !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr TextRule kAnyText{};
constexpr TextRule kAbsolutePath{IsAbsolutePath, "an absolute path"};
constexpr TextRule kNotEmpty{IsNotEmpty, "a string that is not empty"};
constexpr TextRule kFileName{IsFileName, "a file name without '/'"};
constexpr TextRule kTag{IsTag, "1 to 128 bytes without a comma or a control character"};
constexpr TextRule kUrl{IsUrl, "an http:// or https:// URL"};
constexpr TextRule kMailAddress{IsMailAddress, "a mail address (no spaces, not starting with '-')"};
constexpr TextRule kServerAddress{IsServerAddress, "an address tcp://HOST:PORT"};

// The string `node` holds, if it is one that `rule` accepts; else a problem.
// `list_key` is set for an item of that list.
std::optional<std::string> ReadText(Context& context, std::string_view key, const toml::node& node,
                                    const TextRule& rule, std::string_view list_key = {}) {
  const std::string subject =
      list_key.empty() ? std::string(key) : fmt::format("every item of {}", list_key);
  const toml::value<std::string>* value = node.as_string();
  if (value == nullptr) {
    context.Add(node, fmt::format("{} must be a string, not {}", subject, Describe(node)));
    return std::nullopt;
  }
  const std::string& text = value->get();
  if (text.find('\0') != std::string::npos) {
    context.Add(node, fmt::format("{} must not hold a NUL character", subject));
    return std::nullopt;
  }
  if (rule.ok != nullptr && !rule.ok(text)) {
    context.Add(node, fmt::format("{} must be {}, not {}", subject, rule.what, Quote(text)));
    return std::nullopt;
  }
  return text;
}

// A list of strings, or one string as a list of one.
std::optional<std::vector<std::string>> ReadTextList(Context& context, std::string_view key,
                                                     const toml::node& node, const TextRule& rule) {
  if (node.is_string()) {
    auto text = ReadText(context, key, node, rule);
    if (!text) return std::nullopt;
    return std::vector<std::string>{*text};
  }
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    context.Add(node, fmt::format("{} must be a list of strings, not {}", key, Describe(node)));
    return std::nullopt;
  }
  std::vector<std::string> items;
  bool all_good = true;
  for (const toml::node& item : *array) {
    auto text = ReadText(context, key, item, rule, key);
    if (text) items.push_back(std::move(*text));
    all_good = all_good && text.has_value();
  }
  if (!all_good) return std::nullopt;
  return items;
}

// A string for /bin/sh -c, or a list of strings to run as they are.
std::optional<std::vector<std::string>> ReadCommand(Context& context, std::string_view key,
                                                    const toml::node& node) {
  if (node.is_string()) {
    auto text = ReadText(context, key, node, kAnyText);
    if (!text) return std::nullopt;
    return std::vector<std::string>{"/bin/sh", "-c", *text};
  }
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    context.Add(
        node,
        fmt::format("{} must be a command (a string for /bin/sh, or a list of strings), not {}",
                    key, Describe(node)));
    return std::nullopt;
  }
  if (array->empty()) {
    context.Add(node, fmt::format("{} must not be an empty list (\"\" means none)", key));
    return std::nullopt;
  }
  auto argv = ReadTextList(context, key, node, kAnyText);
  if (argv && argv->front().empty()) {
    context.Add(*array->get(0),
                fmt::format("{} must start with the program to run, not \"\"", key));
    return std::nullopt;
  }
  return argv;
}

std::optional<bool> ReadBool(Context& context, std::string_view key, const toml::node& node) {
  if (const toml::value<bool>* value = node.as_boolean()) return value->get();
  context.Add(node, fmt::format("{} must be true or false, not {}", key, Describe(node)));
  return std::nullopt;
}

std::optional<uint64_t> ReadCount(Context& context, std::string_view key, const toml::node& node) {
  const toml::value<int64_t>* value = node.as_integer();
  if (value != nullptr && value->get() >= 0) return static_cast<uint64_t>(value->get());
  context.Add(node, fmt::format("{} must be a whole number ≥ 0, not {}", key, Describe(node)));
  return std::nullopt;
}

// A whole number of at least 1.
std::optional<uint64_t> ReadPositiveCount(Context& context, std::string_view key,
                                          const toml::node& node) {
  const toml::value<int64_t>* value = node.as_integer();
  if (value != nullptr && value->get() >= 1) return static_cast<uint64_t>(value->get());
  context.Add(node, fmt::format("{} must be a whole number ≥ 1, not {}", key, Describe(node)));
  return std::nullopt;
}

// A percentage above 0 and at most 100, whole or not.
std::optional<double> ReadPercent(Context& context, std::string_view key, const toml::node& node) {
  std::optional<double> percent;
  if (const toml::value<int64_t>* whole = node.as_integer())
    percent = static_cast<double>(whole->get());
  if (const toml::value<double>* real = node.as_floating_point()) percent = real->get();
  if (percent && *percent > 0 && *percent <= 100) return percent;
  context.Add(node, fmt::format("{} must be a percentage above 0 and at most 100, not {}", key,
                                Describe(node)));
  return std::nullopt;
}

// A duration as text (checked by the validator) or a number of seconds;
// at least `minimum` seconds.
std::optional<std::chrono::seconds> ReadDuration(Context& context, std::string_view key,
                                                 const toml::node& node, int64_t minimum) {
  std::chrono::seconds length{0};
  if (const toml::value<int64_t>* seconds = node.as_integer()) {
    length = std::chrono::seconds(seconds->get());
  } else if (node.is_string()) {
    auto text = ReadText(context, key, node, kAnyText);
    if (!text) return std::nullopt;
    Result<std::chrono::seconds> parsed = context.validators.duration(*text);
    if (!parsed.ok()) {
      context.Add(node, fmt::format("bad {} {}: {}", key, Quote(*text), parsed.status().message()));
      return std::nullopt;
    }
    length = *parsed;
  } else {
    context.Add(node, fmt::format("{} must be a duration such as \"10m\" or \"1h30m\", not {}", key,
                                  Describe(node)));
    return std::nullopt;
  }
  if (length.count() < minimum) {
    context.Add(node, fmt::format("{} must be {}, not {}", key,
                                  minimum > 0 ? "longer than 0" : "0 or longer", Describe(node)));
    return std::nullopt;
  }
  return length;
}

// A schedule's text, once the validator has accepted it; `what` names it in a problem.
std::optional<std::string> ReadSchedule(Context& context, std::string_view key,
                                        const toml::node& node, std::string_view what) {
  if (!node.is_string()) {
    context.Add(node,
                fmt::format("{} must be a schedule such as \"daily\" or \"mon..fri 02:00\", not {}",
                            key, Describe(node)));
    return std::nullopt;
  }
  auto text = ReadText(context, key, node, kAnyText);
  if (!text) return std::nullopt;
  if (Status valid = context.validators.schedule(*text); !valid.ok()) {
    context.Add(node, fmt::format("bad {} {}: {}", what, Quote(*text), valid.message()));
    return std::nullopt;
  }
  return text;
}

std::optional<NotifyOn> ReadNotifyOn(Context& context, std::string_view key,
                                     const toml::node& node) {
  auto names = ReadTextList(context, key, node, kAnyText);
  if (!names) return std::nullopt;
  NotifyOn on{false, false, false};
  bool all_known = true;
  const toml::array* array = node.as_array();
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string& name = (*names)[i];
    if (name == "failure") {
      on.failure = true;
    } else if (name == "warning") {
      on.warning = true;
    } else if (name == "success") {
      on.success = true;
    } else {
      std::string hint = Suggestion(name, {"failure", "warning", "success"});
      context.Add(array != nullptr ? *array->get(i) : node,
                  fmt::format("unknown {} value {}{}: use failure, warning or success", key,
                              Quote(name), hint));
      all_known = false;
    }
  }
  if (!all_known) return std::nullopt;
  return on;
}

// How one key is read into a Job, and put back to its default.
struct KeySpec {
  std::string_view name;
  bool job_only = false;  // refused in [defaults]: what each job backs up
  std::function<void(Context&, const toml::node&, Job&)> read;
  std::function<void(Job&)> reset;
};

template <typename T>
std::function<void(Job&)> ResetTo(T Job::*field) {
  return [field](Job& job) { job.*field = Job{}.*field; };
}

// Stores what `read` returns, if anything, in `field`.
template <typename T, typename Read>
KeySpec Key(std::string_view name, T Job::*field, Read read, bool job_only = false) {
  return {name, job_only,
          [name, field, read](Context& context, const toml::node& node, Job& job) {
            if (auto value = read(context, name, node)) job.*field = std::move(*value);
          },
          ResetTo(field)};
}

KeySpec TextKey(std::string_view name, std::string Job::*field, TextRule rule,
                bool job_only = false) {
  return Key(
      name, field,
      [rule](Context& c, std::string_view key, const toml::node& node) {
        return ReadText(c, key, node, rule);
      },
      job_only);
}

KeySpec ListKey(std::string_view name, std::vector<std::string> Job::*field, TextRule rule,
                bool job_only = false) {
  return Key(
      name, field,
      [rule](Context& c, std::string_view key, const toml::node& node) {
        return ReadTextList(c, key, node, rule);
      },
      job_only);
}

KeySpec BoolKey(std::string_view name, bool Job::*field) {
  return Key(name, field, ReadBool);
}

KeySpec CommandKey(std::string_view name, std::vector<std::string> Job::*field,
                   bool job_only = false) {
  return Key(name, field, ReadCommand, job_only);
}

KeySpec DurationKey(std::string_view name, std::chrono::seconds Job::*field, int64_t minimum) {
  return Key(name, field, [minimum](Context& c, std::string_view key, const toml::node& node) {
    return ReadDuration(c, key, node, minimum);
  });
}

KeySpec ScheduleKey(std::string_view name, std::string Job::*field, std::string_view what) {
  return Key(name, field, [what](Context& c, std::string_view key, const toml::node& node) {
    return ReadSchedule(c, key, node, what);
  });
}

KeySpec KeepKey(std::string_view name, uint64_t retention::KeepPolicy::*count) {
  return {name, false,
          [name, count](Context& context, const toml::node& node, Job& job) {
            if (auto value = ReadCount(context, name, node)) job.keep.*count = *value;
          },
          [count](Job& job) { job.keep.*count = 0; }};
}

KeySpec GroupKey() {
  return {"group", false,
          [](Context& context, const toml::node& node, Job& job) {
            auto text = ReadText(context, "group", node, kAnyText);
            if (!text) return;
            if (Status valid = model::ValidateGroup(*text); !valid.ok()) {
              context.Add(node, valid.message());
              return;
            }
            job.group = std::move(*text);
          },
          ResetTo(&Job::group)};
}

KeySpec PathsKey() {
  return {"paths", true,
          [](Context& context, const toml::node& node, Job& job) {
            auto paths = ReadTextList(context, "paths", node, kAbsolutePath);
            if (!paths) return;
            if (paths->empty()) {
              context.Add(node, "paths must name at least one file or folder");
              return;
            }
            job.paths = std::move(*paths);
          },
          ResetTo(&Job::paths)};
}

constexpr bool kJobOnly = true;

// Every key a job or [defaults] may hold, in the order the header lists them.
const std::vector<KeySpec>& KeySpecs() {
  using retention::KeepPolicy;
  static const std::vector<KeySpec> specs = {
      TextKey("repository", &Job::repository, kAbsolutePath),
      TextKey("server", &Job::server, kServerAddress),
      TextKey("tls-ca", &Job::tls_ca, kAbsolutePath),
      TextKey("token-file", &Job::token_file, kAbsolutePath),
      TextKey("passphrase-file", &Job::passphrase_file, kAbsolutePath),
      TextKey("key-file", &Job::key_file, kAbsolutePath),
      BoolKey("allow-unencrypted", &Job::allow_unencrypted),
      PathsKey(),
      ListKey("exclude", &Job::exclude, kNotEmpty),
      ListKey("exclude-file", &Job::exclude_file, kAbsolutePath),
      BoolKey("one-file-system", &Job::one_file_system),
      BoolKey("image", &Job::image),
      CommandKey("command", &Job::command, kJobOnly),
      TextKey("stdin-name", &Job::stdin_name, kFileName, kJobOnly),
      TextKey("import", &Job::import, kAbsolutePath, kJobOnly),
      GroupKey(),
      ListKey("tags", &Job::tags, kTag),
      ScheduleKey("schedule", &Job::schedule, "schedule"),
      BoolKey("catch-up", &Job::catch_up),
      DurationKey("random-delay", &Job::random_delay, 0),
      CommandKey("pre-hook", &Job::pre_hook),
      CommandKey("post-hook", &Job::post_hook),
      DurationKey("hook-timeout", &Job::hook_timeout, 1),
      KeepKey("keep-last", &KeepPolicy::keep_last),
      KeepKey("keep-hourly", &KeepPolicy::keep_hourly),
      KeepKey("keep-daily", &KeepPolicy::keep_daily),
      KeepKey("keep-weekly", &KeepPolicy::keep_weekly),
      KeepKey("keep-monthly", &KeepPolicy::keep_monthly),
      KeepKey("keep-yearly", &KeepPolicy::keep_yearly),
      BoolKey("gc", &Job::gc),
      ScheduleKey("verify", &Job::verify, "verify schedule"),
      ScheduleKey("restore-test", &Job::restore_test, "restore-test schedule"),
      Key("restore-test-files", &Job::restore_test_files, ReadPositiveCount),
      Key("restore-test-percent", &Job::restore_test_percent, ReadPercent),
      DurationKey("stale-after", &Job::stale_after, 1),
      CommandKey("notify-command", &Job::notify_command),
      TextKey("notify-webhook", &Job::notify_webhook, kUrl),
      ListKey("notify-mail", &Job::notify_mail, kMailAddress),
      Key("notify-on", &Job::notify_on, ReadNotifyOn),
  };
  return specs;
}

const KeySpec* FindSpec(std::string_view name) {
  for (const KeySpec& spec : KeySpecs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const std::vector<std::string_view>& KeyNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const KeySpec& spec : KeySpecs()) out.push_back(spec.name);
    return out;
  }();
  return names;
}

// Where a key of a job was given: in the job's own table or in [defaults].
struct Origin {
  Position at;
  bool in_job = false;
};

// A job as read so far, and where each of its keys came from.
struct Draft {
  Job job;
  std::map<std::string, Origin, std::less<>> given;

  bool Has(std::string_view key) const { return given.find(key) != given.end(); }
  bool InJob(std::string_view key) const {
    auto it = given.find(key);
    return it != given.end() && it->second.in_job;
  }
  void Forget(std::string_view key) {
    FindSpec(key)->reset(job);
    if (auto it = given.find(key); it != given.end()) given.erase(it);
  }
};

// Reads the keys of `table` ([defaults] when `job_name` is empty) on top of `draft`.
void ReadKeys(Context& context, const toml::table& table, std::string_view job_name, Draft& draft) {
  const bool in_defaults = job_name.empty();
  const std::string where =
      in_defaults ? "in [defaults]" : fmt::format("in job {}", Quote(job_name));
  for (const auto& [key, node] : table) {
    Position at = PositionOf(key.source());
    const KeySpec* spec = FindSpec(key.str());
    if (spec == nullptr) {
      context.problems.Add(at, fmt::format("unknown key {} {}{}", Quote(key.str()), where,
                                           Suggestion(key.str(), KeyNames())));
      continue;
    }
    if (in_defaults && spec->job_only) {
      context.problems.Add(
          at,
          fmt::format("{} cannot be in [defaults]: each job says what it backs up", spec->name));
      continue;
    }
    // An empty string puts the key back to its default, undoing [defaults].
    if (const toml::value<std::string>* text = node.as_string();
        text != nullptr && text->get().empty()) {
      draft.Forget(spec->name);
      continue;
    }
    // Given, even if its value is refused: that problem is the one to report,
    // not the absence of the key too.
    draft.given[std::string(spec->name)] = {at, !in_defaults};
    spec->read(context, node, draft.job);
  }
}

// Of keys that exclude each other, the ones given in the job win over the
// ones from [defaults]; more than one given in one table is a problem.
// Returns how many are left.
size_t ChooseOne(Context& context, Draft& draft, const std::vector<std::string_view>& keys,
                 std::string_view job_name) {
  std::vector<std::string_view> in_job, inherited;
  for (std::string_view key : keys) {
    if (draft.InJob(key)) in_job.push_back(key);
    if (draft.Has(key) && !draft.InJob(key)) inherited.push_back(key);
  }
  if (!in_job.empty()) {
    for (std::string_view key : inherited) draft.Forget(key);
  }
  const std::vector<std::string_view>& chosen = in_job.empty() ? inherited : in_job;
  // Two from [defaults] are reported once, when [defaults] is read.
  bool reported_with_defaults = !job_name.empty() && in_job.empty();
  if (chosen.size() > 1 && !reported_with_defaults) {
    std::vector<Position> places;
    for (std::string_view key : chosen) places.push_back(draft.given.find(key)->second.at);
    std::string list;
    for (size_t i = 0; i < keys.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == keys.size() ? " or " : ", ") + std::string(keys[i]);
    }
    std::string who = job_name.empty() ? "[defaults]" : fmt::format("job {}", Quote(job_name));
    context.problems.Add(
        *std::max_element(places.begin(), places.end()),
        fmt::format("{} gives both {} and {}: give one of {}", who, chosen[0], chosen[1], list));
  }
  return chosen.size();
}

// A key that only means something with another (exclude with paths, tls-ca
// with server): given in the job without it, it is a problem; inherited from
// [defaults], it is dropped.
void DropUnless(Context& context, Draft& draft, bool applies, std::string_view key,
                std::string_view needs) {
  if (applies || !draft.Has(key)) return;
  if (draft.InJob(key)) {
    context.problems.Add(draft.given.find(key)->second.at,
                         fmt::format("{} is for a job with {}", key, needs));
  }
  draft.Forget(key);
}

// Whether `name` can name a systemd unit and a file of run records.
bool IsJobName(std::string_view name) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  };
  return !name.empty() && name.size() <= kMaxJobNameBytes &&
         std::all_of(name.begin(), name.end(), allowed) && name[0] != '-' && name[0] != '_' &&
         name[0] != '.';
}

// The job `name` from its table, with `defaults` under it.
Job ReadJob(Context& context, std::string_view name, const toml::table& table,
            const Draft& defaults) {
  Draft draft = defaults;
  ReadKeys(context, table, name, draft);
  const Position header = PositionOf(table.source());
  const std::string job = fmt::format("job {}", Quote(name));

  if (ChooseOne(context, draft, {"repository", "server"}, name) == 0) {
    context.problems.Add(header,
                         fmt::format("{} has no repository: give repository (or server), here or "
                                     "in [defaults]",
                                     job));
  }
  DropUnless(context, draft, draft.Has("server"), "tls-ca", "server");
  DropUnless(context, draft, draft.Has("server"), "token-file", "server");
  (void)ChooseOne(context, draft, {"restore-test-files", "restore-test-percent"}, name);

  size_t sources = ChooseOne(context, draft, {"paths", "command", "import"}, name);
  if (sources == 0) {
    context.problems.Add(
        header, fmt::format("{} has nothing to back up: give paths, command or import", job));
  }
  Job& result = draft.job;
  result.name = std::string(name);
  result.source = draft.Has("command")  ? SourceKind::kCommand
                  : draft.Has("import") ? SourceKind::kImport
                                        : SourceKind::kPaths;
  if (sources == 1) {
    bool paths = result.source == SourceKind::kPaths;
    for (std::string_view key : {"exclude", "exclude-file", "one-file-system", "image"}) {
      DropUnless(context, draft, paths, key, "paths");
    }
    DropUnless(context, draft, result.source == SourceKind::kCommand, "stdin-name", "command");
  }
  return std::move(draft.job);
}

// The jobs and defaults of a parsed file; problems go to `context`.
JobFile ReadRoot(Context& context, const toml::table& root) {
  Draft defaults;
  if (const toml::node* node = root.get("defaults")) {
    if (const toml::table* table = node->as_table()) {
      ReadKeys(context, *table, {}, defaults);
      (void)ChooseOne(context, defaults, {"repository", "server"}, {});
      (void)ChooseOne(context, defaults, {"restore-test-files", "restore-test-percent"}, {});
    } else {
      context.Add(*node,
                  fmt::format("defaults must be a table ([defaults]), not {}", Describe(*node)));
    }
  }

  std::vector<std::pair<Position, Job>> jobs;
  for (const auto& [key, node] : root) {
    if (key.str() == "defaults") continue;
    if (key.str() != "jobs") {
      std::string hint = Suggestion(key.str(), {"jobs", "defaults"});
      context.problems.Add(
          PositionOf(key.source()),
          node.is_table()
              ? fmt::format("unknown table {}{}: a jobs file holds [jobs.NAME] tables "
                            "and [defaults]",
                            Quote(key.str()), hint)
              : fmt::format("unknown key {} at the top level{}: keys go in a [jobs.NAME] "
                            "table or in [defaults]",
                            Quote(key.str()), hint));
      continue;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      context.Add(node, fmt::format("jobs must hold one table for each job ([jobs.NAME]), not {}",
                                    Describe(node)));
      continue;
    }
    for (const auto& [name, job] : *table) {
      if (!IsJobName(name.str())) {
        context.problems.Add(
            PositionOf(name.source()),
            fmt::format("bad job name {}: use up to {} letters, digits, '-', '_' and '.', "
                        "starting with a letter or a digit",
                        Quote(name.str()), kMaxJobNameBytes));
      }
      const toml::table* job_table = job.as_table();
      if (job_table == nullptr) {
        context.Add(job, fmt::format("job {} must be a table ([jobs.{}]), not {}",
                                     Quote(name.str()), OneLine(name.str()), Describe(job)));
        continue;
      }
      jobs.emplace_back(PositionOf(job_table->source()),
                        ReadJob(context, name.str(), *job_table, defaults));
    }
  }

  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  JobFile file;
  for (auto& [at, job] : jobs) file.jobs.push_back(std::move(job));
  return file;
}

// toml++ 3.3 (Debian 12's) reaches __builtin_unreachable() when it asks
// whether some non-ASCII characters (U+00A1..U+0499, U+2C6E..U+3067,
// U+FC06..U+FEFE: é, ü, ß, Greek, Cyrillic...) are whitespace (its issues
// 190 and 295, fixed after 3.3). It asks of every character outside string
// values: in keys, quoted or not, in bare values (numbers, dates, booleans),
// which it reads up to the next space, comma, bracket or '#' (quotes
// included), and where a multi-line basic string goes on after a '\'.
// Undefined behaviour is no answer to a typo, so this scanner follows
// TOML's structure closely enough to find such a character before toml++
// sees it. Where it is unsure it refuses, but only text that is not valid
// TOML anyway: non-ASCII text stays free in string values and comments, the
// only places a jobs file needs it (no key of a jobs file is non-ASCII).
class MisreadScanner {
 public:
  using Problem = std::pair<Position, std::string>;

  explicit MisreadScanner(std::string_view text) : text_(text) {}

  // The first such character and what is wrong there, if any.
  std::optional<Problem> Find() {
    if (text_.starts_with("\xef\xbb\xbf")) Step(3);  // a byte order mark, which toml++ skips
    while (!AtEnd() && !problem_) {
      const char c = Peek();
      if (c == '\n') {
        NewLine();
      } else if (c == ' ' || c == '\t' || c == '\r') {
        Step();
      } else if (c == '#') {
        while (!AtEnd() && Peek() != '\n') Step();
      } else if (state_ == State::kKey) {
        Key(c);
      } else if (state_ == State::kValue) {
        Value(c);
      } else {
        AfterValue(c);
      }
    }
    return problem_;
  }

 private:
  // What TOML expects next: a key (or a table header), a value, or what may
  // follow a value (a comma, a closing bracket, the end of the line).
  enum class State { kKey, kValue, kAfterValue };

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool NonAscii() const { return !AtEnd() && static_cast<unsigned char>(Peek()) >= 0x80; }
  bool IsQuote(char c) const { return c == '"' || c == '\''; }
  char Open() const { return open_.empty() ? '\0' : open_.back(); }

  // Moves past `n` bytes; columns count characters, as toml++'s do.
  void Step(size_t n = 1) {
    for (; n > 0 && !AtEnd(); --n) {
      const auto byte = static_cast<unsigned char>(text_[pos_++]);
      if (byte == '\n') {
        ++here_.line;
        here_.column = 1;
      } else if (!AtEnd() && (static_cast<unsigned char>(text_[pos_]) & 0xc0) != 0x80) {
        ++here_.column;
      }
    }
  }

  void Refuse(std::string what) {
    if (!problem_) problem_ = Problem{here_, std::move(what)};
  }

  void NewLine() {
    Step();
    line_start_ = true;
    in_header_ = false;
    // Arrays go on over lines; anything else starts again with a key.
    if (Open() != '[') {
      open_.clear();
      state_ = State::kKey;
    }
  }

  void Key(char c) {
    if (NonAscii())
      return Refuse("a key with a non-ASCII character: the keys of a jobs file are ASCII");
    const bool at_line_start = line_start_;
    line_start_ = false;
    if (IsQuote(c)) {
      ScanString(/*key=*/true);
    } else if (c == '[' && at_line_start && open_.empty()) {
      in_header_ = true;
      Step();
      if (Peek() == '[') Step();
    } else if (c == ']' && in_header_) {
      in_header_ = false;
      Step();
      if (Peek() == ']') Step();
    } else if (c == '=') {
      state_ = State::kValue;
      Step();
    } else if (c == '}' && Open() == '{') {  // an empty inline table
      open_.pop_back();
      state_ = State::kAfterValue;
      Step();
    } else {
      Step();
    }
  }

  void Value(char c) {
    line_start_ = false;
    if (IsQuote(c)) {
      ScanString(/*key=*/false);
      state_ = State::kAfterValue;
    } else if (c == '[') {
      open_.push_back('[');
      Step();
    } else if (c == '{') {
      open_.push_back('{');
      state_ = State::kKey;
      Step();
    } else if (c == ']' && Open() == '[') {  // an empty array, or one ending in a comma
      open_.pop_back();
      state_ = State::kAfterValue;
      Step();
    } else {
      // A bare value: toml++ reads it, whatever it holds, up to a terminator.
      while (!AtEnd() && !problem_ && !IsTerminator(Peek())) {
        if (NonAscii()) Refuse("a non-ASCII character outside a string or comment");
        Step();
      }
      state_ = State::kAfterValue;
    }
  }

  void AfterValue(char c) {
    line_start_ = false;
    if (c == ',') {
      state_ = Open() == '{' ? State::kKey : State::kValue;
    } else if ((c == ']' && Open() == '[') || (c == '}' && Open() == '{')) {
      open_.pop_back();
    } else if (NonAscii()) {
      // Not valid here in any case; toml++ may read on as if in a bare value.
      return Refuse("a non-ASCII character outside a string or comment");
    }
    Step();
  }

  static bool IsTerminator(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ']' || c == '}' ||
           c == '#';
  }
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

  // Moves past a run of `quote` that closes a multi-line string: three to
  // five of them (the last three close it; toml++ refuses a longer run).
  bool CloseMultiLine(char quote) {
    if (Peek() != quote || Peek(1) != quote || Peek(2) != quote) return false;
    while (Peek() == quote) Step();
    return true;
  }

  // A string from its opening quote; toml++ reads a key's characters as it
  // reads text outside strings.
  void ScanString(bool key) {
    const char quote = Peek();
    const bool multi_line = Peek(1) == quote && Peek(2) == quote;
    Step(multi_line ? 3 : 1);
    while (!AtEnd() && !problem_) {
      if (multi_line && CloseMultiLine(quote)) return;
      const char c = Peek();
      if (!multi_line && (c == quote || c == '\n')) {
        if (c == quote) Step();
        return;
      }
      if (key && NonAscii()) {
        return Refuse("a key with a non-ASCII character: the keys of a jobs file are ASCII");
      }
      Step();
      if (c != '\\' || quote != '"') continue;
      // An escape: toml++ asks whether the character after a '\' in a
      // multi-line string is whitespace, and after a line-ending '\' the
      // first one that is not.
      if (multi_line && NonAscii())
        return Refuse("'\\' followed by a non-ASCII character is no escape");
      if (multi_line && IsSpace(Peek())) {
        while (IsSpace(Peek())) Step();
        if (NonAscii()) {
          Refuse(
              "a line continued with '\\' must go on with an ASCII character (write others as "
              "\\uXXXX)");
        }
        continue;
      }
      if (!AtEnd() && Peek() != '\n' && !NonAscii()) Step();  // the escaped character, e.g. '"'
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  Position here_;
  State state_ = State::kKey;
  bool line_start_ = true;
  bool in_header_ = false;
  std::vector<char> open_;  // the arrays ('[') and inline tables ('{') open here
  std::optional<Problem> problem_;
};

}  // namespace

const Job* JobFile::Find(std::string_view name) const {
  for (const Job& job : jobs) {
    if (job.name == name) return &job;
  }
  return nullptr;
}

Result<JobFile> ParseJobFile(std::string_view text, std::string_view file_name,
                             const JobFileValidators& validators) {
  if (!validators.schedule || !validators.duration) {
    return Status::FailedPrecondition("ParseJobFile needs a schedule and a duration validator");
  }
  Problems problems;
  if (auto misread = MisreadScanner(text).Find()) {
    problems.Add(misread->first, misread->second);
    return problems.ToStatus(file_name);
  }
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& error) {
    problems.Add(PositionOf(error.source()), std::string(error.description()));
    return problems.ToStatus(file_name);
  }
  Context context{problems, validators};
  JobFile file = ReadRoot(context, root);
  if (!problems.empty()) return problems.ToStatus(file_name);
  return file;
}

Result<JobFile> ReadJobFile(const std::filesystem::path& path,
                            const JobFileValidators& validators) {
  const std::string name = path.string();
  UniqueFd fd(open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return Status::FromErrno(errno, name);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, name);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(name + ": not a regular file");
  // Its hooks and commands run as this process, often root: a file others
  // may change would let them run anything as this user.
  if (st.st_uid != 0 && st.st_uid != geteuid()) {
    return Status::PermissionDenied(
        fmt::format("{}: owned by user {}, not by root or this user ({}); its "
                    "commands would run as this user",
                    name, st.st_uid, geteuid()));
  }
  if ((st.st_mode & S_IWOTH) != 0) {
    return Status::PermissionDenied(name +
                                    ": every user may write it, and its commands would run as this "
                                    "user; chmod o-w " +
                                    name);
  }
  if (static_cast<uintmax_t>(st.st_size) > kMaxFileBytes) {
    return Status::InvalidArgument(
        fmt::format("{}: {} bytes; a jobs file has at most {}", name, st.st_size, kMaxFileBytes));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = read(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, name);
    if (n == 0) break;  // shorter than it was a moment ago
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return ParseJobFile(text, name, validators);
}

}  // namespace coffer::jobs
