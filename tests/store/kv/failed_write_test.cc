// A write that fails mid-session (a bad disk) may leave table or blob files
// the MANIFEST never got to list. The in-use marker must then stay, so that
// the next open deletes them as a crash's debris instead of refusing the
// database as damaged, and nothing acknowledged is lost.
//
// COFFER_IO_FAULT is read once per process, so ctest runs this binary once
// per fault position (tests/store/kv/CMakeLists.txt); each position makes a
// different step of a flush fail: a table append or sync, a blob file, the
// MANIFEST.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "store/kv/database.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::kv {
namespace {

namespace fs = std::filesystem;

std::string Key(int i) {
  return "key-" + std::to_string(1000 + i);
}
// Large enough for a blob file, different for every key.
Bytes Value(int i) {
  return Bytes(6000 + i, static_cast<uint8_t>(i));
}

TEST(FailedWriteTest, KeepsTheInUseMarkerAndTheNextOpenKeepsEveryAcknowledgedWrite) {
  const char* fault = std::getenv("COFFER_IO_FAULT");
  ASSERT_TRUE(fault != nullptr && std::string(fault).starts_with("write-eio:"))
      << "run by ctest, which sets COFFER_IO_FAULT to one write fault";
  testing::TempDir dir;
  const std::string db_dir = dir / "db";
  const std::string marker = db_dir + "/COFFER-IN-USE";

  std::vector<int> acknowledged;
  bool failed = false;
  {
    auto db = Database::Create(db_dir);
    ASSERT_TRUE(db.ok()) << db.status().ToString() << " (the fault hit the create: move it later)";
    for (int i = 0; i < 200 && !failed; ++i) {
      Status s = (*db)->Put(Column::kChunks, Key(i), Value(i), Durability::kBuffered);
      if (s.ok()) s = (*db)->Flush({Column::kChunks});
      if (s.ok()) {
        acknowledged.push_back(i);
      } else {
        failed = true;
      }
    }
    ASSERT_TRUE(failed) << "the fault was never reached: move it earlier";
  }
  EXPECT_TRUE(fs::exists(marker)) << "a session with a failed write must not pass as a clean close";

  // The single fault is spent: this open sees a healthy disk.
  auto db = Database::Open(db_dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  for (int i : acknowledged) {
    auto value = (*db)->Get(Column::kChunks, Key(i));
    ASSERT_TRUE(value.ok()) << Key(i) << ": " << value.status().ToString();
    EXPECT_EQ(*value, Value(i)) << Key(i);
  }
  ASSERT_TRUE((*db)->Put(Column::kChunks, Key(999), Value(999), Durability::kSynced).ok());
}

}  // namespace
}  // namespace coffer::kv
