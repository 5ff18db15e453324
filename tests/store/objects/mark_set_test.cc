#include "store/objects/mark_set.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace coffer {
namespace {

// The process's peak resident memory (VmHWM), in bytes.
uint64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

TEST(MarkSetTest, FindsExactlyWhatWasAppendedAcrossManyBatches) {
  MarkSet marks;
  std::mt19937_64 random(1);
  std::set<uint64_t> expected;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<uint64_t> prefixes(5000);
    for (uint64_t& p : prefixes) p = random() | 1;  // odd: the even ones stay absent
    prefixes.push_back(prefixes.front());           // a repeat
    marks.Append(prefixes);
    expected.insert(prefixes.begin(), prefixes.end());
  }
  marks.Append({});
  EXPECT_EQ(marks.size(), 40u * 5001);
  marks.SortUnique();
  EXPECT_EQ(marks.size(), expected.size());
  for (uint64_t p : expected) ASSERT_TRUE(marks.Contains(p)) << p;
  for (uint64_t p : expected) EXPECT_FALSE(marks.Contains(p - 1));
}

TEST(MarkSetTest, MovesAndClears) {
  MarkSet marks;
  const uint64_t some[] = {7, 3, 7, 1};
  marks.Append(some);
  MarkSet moved = std::move(marks);
  EXPECT_EQ(marks.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  moved.SortUnique();
  EXPECT_EQ(moved.size(), 3u);
  EXPECT_TRUE(moved.Contains(3));
  moved.Clear();
  EXPECT_EQ(moved.size(), 0u);
  EXPECT_FALSE(moved.Contains(3));
  moved.Append(some);  // usable again after Clear
  EXPECT_EQ(moved.size(), 4u);
}

// AddressSanitizer's allocator keeps freed blocks in quarantine and maps its
// shadow memory as the heap grows, so a process's peak RSS under it says
// nothing about what the MarkSet itself holds.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAddressSanitizer = true;
#else
constexpr bool kUnderAddressSanitizer = false;
#endif
#else
constexpr bool kUnderAddressSanitizer = false;
#endif

// Growing never holds the marks twice: eight bytes per mark at the peak,
// where a std::vector would reach 16 to 24 while it reallocates.
TEST(MarkSetTest, PeakMemoryIsEightBytesPerMark) {
  if (kUnderAddressSanitizer) {
    GTEST_SKIP() << "peak RSS under AddressSanitizer measures its allocator, not the MarkSet";
  }
  constexpr size_t kMarks = 8 << 20;  // 64 MiB of marks
  // Start the peak from here: earlier tests in this process may have used more.
  std::ofstream("/proc/self/clear_refs") << "5";
  const uint64_t before = PeakRss();
  MarkSet marks;
  std::vector<uint64_t> batch(1 << 16);
  for (size_t added = 0; added < kMarks; added += batch.size()) {
    for (size_t i = 0; i < batch.size(); ++i) batch[i] = (added + i) * 0x9e3779b97f4a7c15ull;
    marks.Append(batch);
  }
  marks.SortUnique();
  EXPECT_EQ(marks.size(), kMarks);
  const uint64_t grown = PeakRss() - before;
  EXPECT_GE(grown, kMarks * 8 * 9 / 10);  // the marks are really held
  EXPECT_LE(grown, kMarks * 8 + (4u << 20)) << "peak grew by " << grown << " bytes";
}

}  // namespace
}  // namespace coffer
