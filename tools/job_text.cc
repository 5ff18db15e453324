#include "tools/job_text.h"

#include <time.h>

#include <cstdio>
#include <string_view>

#include <fmt/format.h>

#include "tools/exit_codes.h"

namespace coffer::tools {

LocalText FormatLocal(jobs::TimePoint time) {
  const time_t seconds = time.time_since_epoch().count();
  struct tm local {};
  localtime_r(&seconds, &local);
  char shown[64], stamp[32], zone[8];
  strftime(shown, sizeof shown, "%a %Y-%m-%d %H:%M:%S %Z", &local);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &local);
  strftime(zone, sizeof zone, "%z", &local);  // +0200
  // +02:00; built from its parts (GCC 12 warns of std::string::insert here).
  const std::string_view z = zone;
  const std::string offset = z.size() == 5 ? std::string(z.substr(0, 3)) + ":" + std::string(z.substr(3))
                                           : std::string(z);
  return {shown, std::string(stamp) + offset};
}

std::string LocalShort(jobs::TimePoint time) {
  const time_t seconds = time.time_since_epoch().count();
  struct tm local {};
  localtime_r(&seconds, &local);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

int FailJobsFile(const Status& status) {
  fmt::print(stderr, "{}\n", status.message());
  return kExitUsage;
}

Result<std::vector<const jobs::Job*>> ChooseJobs(const jobs::JobFile& file, const std::string& name) {
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
