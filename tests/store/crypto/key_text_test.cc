#include "store/crypto/key_text.h"

#include <gtest/gtest.h>

#include <string>

namespace coffer::crypto {
namespace {

Bytes Record(size_t size) {
  Bytes record(size);
  for (size_t i = 0; i < size; ++i) record[i] = static_cast<uint8_t>(i * 37 + 11);
  return record;
}

TEST(KeyTextTest, BothKindsRoundTripWithTheirHeaders) {
  for (KeyTextKind kind : {KeyTextKind::kExported, KeyTextKind::kWrapped}) {
    for (size_t size : {1u, 81u, 121u, 200u}) {
      KeyText key{kind, std::string(64, 'a'), "2026-12-06", Record(size)};
      const std::string text = FormatKeyText(key);
      for (std::string_view line : {std::string_view(text)}) {
        EXPECT_NE(line.find("Repository: " + std::string(64, 'a')), std::string::npos);
      }
      auto parsed = ParseKeyText(text);
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      EXPECT_EQ(parsed->kind, kind);
      EXPECT_EQ(parsed->record, key.record);
      EXPECT_EQ(parsed->repository_id, key.repository_id);
      EXPECT_EQ(parsed->date, "2026-12-06");
    }
  }
}

TEST(KeyTextTest, ToleratesWhatMailAndEditorsDoToText) {
  KeyText key{KeyTextKind::kExported, "ab", "", Record(81)};
  std::string text = FormatKeyText(key);
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  auto parsed = ParseKeyText("Here is the key:\n\n  " + crlf + "\n-- \nregards\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->record, key.record);
}

TEST(KeyTextTest, RefusesWhatIsNotOneWholeKey) {
  const std::string good = FormatKeyText({KeyTextKind::kExported, "ab", "", Record(81)});
  auto message = [](const Result<KeyText>& r) {
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_NE(message(ParseKeyText("hello")).find("not a Coffer key file"), std::string::npos);
  EXPECT_NE(message(ParseKeyText(good.substr(0, good.size() - 26))).find("ends before"),
            std::string::npos);
  EXPECT_NE(message(ParseKeyText(good + good)).find("more than one key"), std::string::npos);
  std::string bad = good;
  bad[bad.find("\n\n") + 5] = '*';
  EXPECT_NE(message(ParseKeyText(bad)).find("not valid base64"), std::string::npos);
  const std::string empty = "-----BEGIN COFFER KEY-----\n-----END COFFER KEY-----\n";
  EXPECT_NE(message(ParseKeyText(empty)).find("holds no key"), std::string::npos);
  // Found by fuzzing: characters base64 decodes to nothing are no key either.
  const std::string nothing = std::string("-----BEGIN COFFER KEY-----\n") + std::string(4, '\0') +
                              "\n-----END COFFER KEY-----\n";
  EXPECT_NE(message(ParseKeyText(nothing)).find("holds no key"), std::string::npos);
  const std::string mixed = "-----BEGIN COFFER KEY-----\nAAAA\n-----END COFFER WRAPPED KEY-----\n";
  EXPECT_FALSE(ParseKeyText(mixed).ok()) << "an END of the other kind does not close it";
  for (const auto& r : {ParseKeyText("hello"), ParseKeyText(bad)}) {
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace coffer::crypto
