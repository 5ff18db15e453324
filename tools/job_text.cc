#include "tools/job_text.h"

#include <cstdio>
#include <string_view>

#include <fmt/format.h>

#include "jobs/local_time.h"
#include "tools/exit_codes.h"

namespace coffer::tools {

LocalText FormatLocal(jobs::TimePoint time) {
  const std::string zone = jobs::FormatLocalTime(time, "%z");  // +0200
  // +02:00; built from its parts (GCC 12 warns of std::string::insert here).
  const std::string offset = zone.size() == 5 ? zone.substr(0, 3) + ":" + zone.substr(3) : zone;
  return {jobs::FormatLocalTime(time, "%a %Y-%m-%d %H:%M:%S %Z"),
          jobs::FormatLocalTime(time, "%Y-%m-%dT%H:%M:%S") + offset};
}

std::string LocalShort(jobs::TimePoint time) {
  return jobs::FormatLocalTime(time, "%Y-%m-%d %H:%M:%S");
}

int FailJobsFile(const Status& status) {
  fmt::print(stderr, "{}\n", status.message());
  return kExitUsage;
}

Result<std::vector<const jobs::Job*>> ChooseJobs(const jobs::JobFile& file,
                                                 const std::string& name) {
  std::vector<const jobs::Job*> chosen;
  for (const jobs::Job& job : file.jobs) {
    if (name.empty() || job.name == name) chosen.push_back(&job);
  }
  if (!name.empty() && chosen.empty()) {
    return Status::InvalidArgument("no job " + name + " in the jobs file");
  }
  return chosen;
}

}  // namespace coffer::tools
