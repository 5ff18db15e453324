// Helpers for tests that need a real repository in a temporary folder.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/repo/local.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::testing {

inline InitOptions CheapInitOptions(bool encrypted = true) {
  InitOptions options;
  options.encrypted = encrypted;
  options.kdf = crypto::KdfParams::Minimum();  // tests need no real Argon2 cost
  return options;
}

inline PassphraseFn Passphrase(std::string p) {
  return [p] { return Result<std::string>(p); };
}

inline std::unique_ptr<Repository> InitAndOpen(const std::string& dir, bool encrypted = true) {
  Status s = InitLocalRepository(dir, CheapInitOptions(encrypted), "correct horse");
  EXPECT_TRUE(s.ok()) << s.ToString();
  LocalOpenOptions open;
  open.allow_unencrypted = !encrypted;
  auto repo = OpenLocalRepository(dir, open, Passphrase("correct horse"));
  EXPECT_TRUE(repo.ok()) << repo.status().ToString();
  return repo.ok() ? std::move(repo).value() : nullptr;
}

}  // namespace coffer::testing
