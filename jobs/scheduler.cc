#include "jobs/scheduler.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "jobs/local_time.h"
#include "jobs/run_record.h"

namespace coffer::jobs {
namespace {

// When nothing is planned, the loop still wakes now and then (a reload may
// bring jobs; a real sleeper wakes on signals anyway).
constexpr std::chrono::hours kIdleWake{24};

}  // namespace

std::string TaskName(const Task& task) {
  if (task.kind == RunKind::kBackup) return task.job;
  return task.job + " " + std::string(RunKindName(task.kind));
}

LastRuns ReadLastRuns(const std::filesystem::path& state_dir, const JobFile& file,
                      const std::function<void(std::string_view)>& log) {
  LastRuns last;
  for (const Job& job : file.jobs) {
    auto history = ReadRunRecords(RunRecordPath(state_dir, job.name));
    if (!history.ok()) {
      if (log)
        log(fmt::format("{}: cannot read the record of runs: {}", job.name,
                        history.status().message()));
      continue;
    }
    if (log) {
      for (const auto& warning : history->warnings) log(warning);
    }
    for (const RunRecord& run : history->runs) {
      auto [it, added] = last.emplace(Task{job.name, run.kind}, run.start);
      if (!added && it->second < run.start) it->second = run.start;
    }
  }
  return last;
}

Scheduler::Scheduler(JobFile file, LastRuns last_runs, Clock& clock, Sleeper& sleeper,
                     JobStarter& starter, SchedulerOptions options)
    : clock_(clock),
      sleeper_(sleeper),
      starter_(starter),
      options_(std::move(options)),
      random_(options_.seed ? *options_.seed : std::random_device{}()),
      last_runs_(std::move(last_runs)) {
  entries_ = MakeEntries(file);
}

void Scheduler::Log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

std::vector<Scheduler::Entry> Scheduler::MakeEntries(const JobFile& file) const {
  std::vector<Entry> entries;
  for (const Job& job : file.jobs) {
    const std::pair<RunKind, const std::string*> schedules[] = {
        {RunKind::kBackup, &job.schedule},
        {RunKind::kVerify, &job.verify},
        {RunKind::kRestoreTest, &job.restore_test}};
    for (const auto& [kind, text] : schedules) {
      if (text->empty()) continue;
      auto schedule = ParseSchedule(*text);
      if (!schedule.ok()) {
        Log(fmt::format("{}: not scheduled: schedule \"{}\": {}", TaskName({job.name, kind}), *text,
                        schedule.status().message()));
        continue;
      }
      entries.push_back(Entry{job, kind, *text, *schedule, std::nullopt});
    }
  }
  return entries;
}

std::string Scheduler::When(TimePoint t) const {
  return FormatLocalTime(t, "%a %Y-%m-%d %H:%M:%S %z");
}

std::chrono::seconds Scheduler::Delay(const Job& job) {
  if (job.random_delay.count() <= 0) return std::chrono::seconds(0);
  std::uniform_int_distribution<int64_t> pick(0, job.random_delay.count());
  return std::chrono::seconds(pick(random_));
}

void Scheduler::NoteRun(const Task& task, TimePoint start) {
  auto [it, added] = last_runs_.emplace(task, start);
  if (!added && it->second < start) it->second = start;
}

void Scheduler::PlanNext(Entry& entry, TimePoint after) {
  const std::optional<TimePoint> slot = entry.schedule.NextAfter(after);
  if (!slot) {
    entry.next.reset();
    Log(fmt::format("{}: its schedule \"{}\" never fires again", entry.name(),
                    entry.schedule_text));
    return;
  }
  const std::chrono::seconds delay = Delay(entry.job);
  entry.next = Due{entry.job.name, *slot + delay, false, *slot, entry.kind};
  if (delay.count() > 0) {
    Log(fmt::format("{}: next run {} ({} with a random delay of {}s)", entry.name(),
                    When(entry.next->at), When(*slot), delay.count()));
  } else {
    Log(fmt::format("{}: next run {}", entry.name(), When(entry.next->at)));
  }
}

void Scheduler::PlanStart() {
  const TimePoint now = clock_.Now();
  for (Entry& entry : entries_) {
    const auto last = last_runs_.find(entry.task());
    if (last != last_runs_.end() && entry.job.catch_up) {
      if (auto missed = MissedRun(entry.schedule, last->second, now)) {
        const std::chrono::seconds delay = Delay(entry.job);
        entry.next = Due{entry.job.name, now + delay, true, *missed, entry.kind};
        Log(fmt::format("{}: missed its run of {} (last run {}); catching up, next run {}",
                        entry.name(), When(*missed), When(last->second), When(entry.next->at)));
        continue;
      }
    }
    const TimePoint after = last != last_runs_.end() ? std::max(now, last->second) : now;
    PlanNext(entry, after);
  }
}

std::optional<size_t> Scheduler::Soonest() const {
  std::optional<size_t> best;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].next) continue;
    if (!best || entries_[i].next->at < entries_[*best].next->at) best = i;
  }
  return best;
}

std::vector<Due> Scheduler::Planned() const {
  std::vector<std::pair<size_t, Due>> planned;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].next) planned.emplace_back(i, *entries_[i].next);
  }
  std::stable_sort(planned.begin(), planned.end(),
                   [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
  std::vector<Due> out;
  for (auto& [index, due] : planned) out.push_back(std::move(due));
  return out;
}

RunOutcome Scheduler::RunEntry(Entry& entry) {
  const Due due = *entry.next;
  const TimePoint start = clock_.Now();
  Log(fmt::format("{}: starting the run of {}{}", entry.name(), When(due.slot),
                  due.catch_up ? " (catching up)" : ""));
  RunOutcome outcome = starter_.Run(entry.job, entry.kind);
  const TimePoint end = clock_.Now();
  if (outcome.already_running) {
    Log(fmt::format("{}: already running{}; the run of {} is skipped", entry.name(),
                    outcome.reason.empty() ? "" : " (" + outcome.reason + ")", When(due.slot)));
  } else {
    NoteRun(entry.task(), start);
    Log(fmt::format("{}: {}{}", entry.name(), OutcomeName(outcome.outcome),
                    outcome.reason.empty() ? "" : ": " + outcome.reason));
  }
  // The times the schedule had while the job ran are not started twice.
  if (auto skipped = MissedRun(entry.schedule, std::max(start, due.slot), end)) {
    Log(fmt::format("{}: still running at {}; that run is skipped", entry.name(), When(*skipped)));
  }
  PlanNext(entry, std::max(end, due.slot));
  return outcome;
}

void Scheduler::Reload(JobFile file, const LastRuns& last_runs) {
  for (const auto& [task, start] : last_runs) NoteRun(task, start);
  std::vector<Entry> fresh = MakeEntries(file);
  const TimePoint now = clock_.Now();
  for (Entry& entry : fresh) {
    auto old = std::find_if(entries_.begin(), entries_.end(),
                            [&](const Entry& e) { return e.task() == entry.task(); });
    if (old != entries_.end() && old->schedule_text == entry.schedule_text &&
        old->job.random_delay == entry.job.random_delay) {
      entry.next = old->next;
      continue;
    }
    const auto last = last_runs_.find(entry.task());
    PlanNext(entry, last != last_runs_.end() ? std::max(now, last->second) : now);
  }
  entries_ = std::move(fresh);
  Log(fmt::format("reloaded the jobs file: {} schedule{}", entries_.size(),
                  entries_.size() == 1 ? "" : "s"));
}

void Scheduler::Run() {
  Log(fmt::format("started: {} schedule{}", entries_.size(), entries_.size() == 1 ? "" : "s"));
  PlanStart();
  for (;;) {
    const std::optional<size_t> soonest = Soonest();
    const TimePoint until = soonest ? entries_[*soonest].next->at : clock_.Now() + kIdleWake;
    const Wake wake = sleeper_.SleepUntil(until);
    if (wake == Wake::kStop) {
      Log("stopping");
      return;
    }
    if (wake == Wake::kReload) {
      if (!options_.read_jobs) continue;
      Result<JobFile> file = options_.read_jobs();
      if (!file.ok()) {
        Log("the jobs file cannot be used; keeping the jobs read before:");
        const std::string message = file.status().message();
        size_t from = 0;
        while (from <= message.size()) {
          const size_t to = std::min(message.find('\n', from), message.size());
          if (to > from) Log(fmt::format("  {}", message.substr(from, to - from)));
          from = to + 1;
        }
        continue;
      }
      Reload(*file, options_.read_last_runs ? options_.read_last_runs(*file) : LastRuns{});
      continue;
    }
    // One run, then back to the sleeper: it reports a stop or a reload that
    // came meanwhile before the next due job starts.
    if (soonest && entries_[*soonest].next->at <= clock_.Now()) RunEntry(entries_[*soonest]);
  }
}

OnceSummary Scheduler::RunOnce() {
  const TimePoint now = clock_.Now();
  std::vector<std::pair<size_t, Due>> due;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& entry = entries_[i];
    const auto last = last_runs_.find(entry.task());
    if (last != last_runs_.end() && entry.job.catch_up) {
      if (auto missed = MissedRun(entry.schedule, last->second, now)) {
        due.emplace_back(i, Due{entry.job.name, now + Delay(entry.job), true, *missed, entry.kind});
        Log(fmt::format("{}: missed its run of {} (last run {}); catching up, run at {}",
                        entry.name(), When(*missed), When(last->second),
                        When(due.back().second.at)));
        continue;
      }
    }
    TimePoint from = now - kOnceWindow;
    if (last != last_runs_.end()) from = std::max(from, last->second);
    if (auto slot = MissedRun(entry.schedule, from, now)) {
      due.emplace_back(i, Due{entry.job.name, now + Delay(entry.job), false, *slot, entry.kind});
    }
  }
  std::stable_sort(due.begin(), due.end(),
                   [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
  OnceSummary summary;
  if (due.empty()) Log("nothing is due");
  for (auto& [index, run] : due) {
    Wake wake;
    while ((wake = sleeper_.SleepUntil(run.at)) == Wake::kReload) {
    }
    if (wake == Wake::kStop) {
      Log("stopping");
      break;
    }
    entries_[index].next = run;
    const RunOutcome outcome = RunEntry(entries_[index]);
    if (outcome.already_running) {
      ++summary.already_running;
      continue;
    }
    ++summary.runs;
    if (outcome.outcome == Outcome::kWarning) ++summary.warnings;
    if (outcome.outcome == Outcome::kFailure) ++summary.failures;
  }
  return summary;
}

}  // namespace coffer::jobs
