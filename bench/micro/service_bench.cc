// How fast the service stores objects and answers Contains, against the
// in-process store. Not a test: it asserts nothing about speed (see
// bench/micro/CMakeLists.txt).
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tests/store/objects/test_objects.h"
#include "tests/store/service/store_envs.h"
#include "tests/testing/stub_object_store.h"

namespace coffer::service {
namespace {

using coffer::testing::LocalEnv;
using coffer::testing::RemoteEnv;
using coffer::testing::TestId;
using coffer::testing::TestValue;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// CPU seconds used by this process (client and, for the remote store, the
// server too): a fairer figure than wall time on a shared machine.
double CpuSeconds() {
  rusage usage;
  ::getrusage(RUSAGE_SELF, &usage);
  auto s = [](const timeval& t) { return double(t.tv_sec) + t.tv_usec / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

struct Timing {
  double wall = 0;
  double cpu = 0;
};

// A store that keeps nothing: measures the transport alone.
class NullStore final : public testing::StubObjectStore {};

class NullRemoteEnv {
 public:
  ObjectStore& store() { return *remote_; }

 private:
  coffer::testing::TempDir tmp_;
  NullStore null_;
  coffer::testing::ServedStore served_{tmp_.path(), &null_};
  std::unique_ptr<RemoteObjectStore> remote_ = served_.Connect();
};

// Puts 1 GiB of 1 MiB random objects from `threads` threads, then commits.
template <typename Env>
Timing PutGibibyte(int threads) {
  Env env;
  double cpu = CpuSeconds();
  constexpr uint32_t kObjects = 1024;
  const Bytes random = TestValue(7, 1 << 20);
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Bytes value = random;
      for (uint32_t n = t; n < kObjects; n += threads) {
        std::memcpy(value.data(), &n, sizeof n);  // distinct objects
        Status s = env.store().Put(ObjectKind::kChunk, TestId(n), value);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& w : workers) w.join();
  Status s = env.store().CommitSnapshot({"host/bench", 1, TestId(1u << 30)}, TestValue(1, 100),
                                        kNoWriter, std::nullopt);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return {Seconds(start), CpuSeconds() - cpu};
}

template <typename Env>
double ContainsAbsent(uint32_t count) {
  Env env;
  std::vector<ObjectId> ids;
  for (uint32_t n = 0; n < count; ++n) ids.push_back(TestId(n + 10'000'000));
  auto start = Clock::now();
  auto present = env.store().Contains(ObjectKind::kChunk, ids);
  double seconds = Seconds(start);
  EXPECT_TRUE(present.ok());
  return seconds;
}

TEST(ServiceBench, PutGibibyteLocalVersusRemote) {
  for (int threads : {1, 4}) {
    for (int round = 0; round < 2; ++round) {
      Timing local = PutGibibyte<LocalEnv>(threads);
      Timing remote = PutGibibyte<RemoteEnv>(threads);
      Timing transport = PutGibibyte<NullRemoteEnv>(threads);
      std::printf(
          "1 GiB of 1 MiB objects + commit, %d thread(s): local %.2f s (%.0f MiB/s, "
          "cpu %.2f s), remote %.2f s (%.0f MiB/s, cpu %.2f s), remote/local %.2f; "
          "transport alone %.2f s (cpu %.2f s)\n",
          threads, local.wall, 1024 / local.wall, local.cpu, remote.wall, 1024 / remote.wall,
          remote.cpu, remote.wall / local.wall, transport.wall, transport.cpu);
    }
  }
}

TEST(ServiceBench, ContainsOfHundredThousandAbsentIds) {
  for (int round = 0; round < 2; ++round) {
    double local = ContainsAbsent<LocalEnv>(100'000);
    double remote = ContainsAbsent<RemoteEnv>(100'000);
    std::printf("Contains of 100k absent ids: local %.1f ms, remote %.1f ms\n", local * 1e3,
                remote * 1e3);
  }
}

}  // namespace
}  // namespace coffer::service
