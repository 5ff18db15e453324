// What an S3 server answers (store/s3/s3_responses.h) and what the AWS files
// and an s3:// address say (store/s3/s3_settings.h): text from the network
// or a person, read before any request is signed.
//
// Input: [mode] then text. Mode % 5: 0 a ListObjectsV2 page, 1 an error
// body, 2 an AWS INI file, 3 an s3:// address, 4 the settings from an
// environment of lines "NAME=VALUE" (no files: HOME and the file variables
// are never set).
#include <algorithm>
#include <map>

#include "fuzz/fuzz_util.h"
#include "store/s3/s3_responses.h"
#include "store/s3/s3_settings.h"

using namespace coffer;
using namespace coffer::s3;

namespace {

bool Trimmed(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  return s.empty() || (!space(s.front()) && !space(s.back()));
}

void FuzzListPage(std::string_view xml) {
  Result<ListPage> page = ParseListPage(xml);
  if (!page.ok()) {
    if (page.status().code() != Code::kCorruption) fuzz::Fail("ParseListPage: not kCorruption");
    return;
  }
  if (page->next_token && page->next_token->empty()) fuzz::Fail("ParseListPage: an empty token");
}

void FuzzErrorBody(std::string_view xml) {
  std::optional<ErrorBody> error = ParseErrorBody(xml);
  // What is no listing page may be an error, and the other way round, but
  // never both: they have different roots.
  if (error && ParseListPage(xml).ok()) fuzz::Fail("both a listing and an error");
}

// The file written back as text: it reads to the same sections and entries.
std::string Serialize(const IniFile& file) {
  std::string text;
  for (const auto& [section, entries] : file) {
    text += "[" + section + "]\n";
    for (const auto& [key, value] : entries) text += key + " = " + value + "\n";
  }
  return text;
}

void FuzzIni(std::string_view text) {
  Result<IniFile> file = ParseIni(text);
  if (!file.ok()) {
    const Status& status = file.status();
    if (status.code() != Code::kInvalidArgument) fuzz::Fail("ParseIni: not kInvalidArgument");
    // "line N: ...", N within the text.
    const std::string& message = status.message();
    size_t line = 0;
    size_t at = 5;
    if (message.rfind("line ", 0) != 0) fuzz::Fail("ParseIni: an error without a line");
    while (at < message.size() && message[at] >= '0' && message[at] <= '9') {
      line = line * 10 + static_cast<size_t>(message[at++] - '0');
    }
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    if (line == 0 || line > lines || message.compare(at, 2, ": ") != 0) {
      fuzz::Fail("ParseIni: an error naming no line of the text: " + message);
    }
    return;
  }
  for (const auto& [section, entries] : *file) {
    if (section.empty() || !Trimmed(section) || section.find('\n') != std::string::npos) {
      fuzz::Fail("ParseIni: a bad section name");
    }
    for (const auto& [key, value] : entries) {
      if (key.empty() || !Trimmed(key) || !Trimmed(value) || key.find('\n') != std::string::npos ||
          value.find('\n') != std::string::npos) {
        fuzz::Fail("ParseIni: a bad entry");
      }
    }
  }
  Result<IniFile> again = ParseIni(Serialize(*file));
  if (!again.ok() || *again != *file) fuzz::Fail("ParseIni: the file written back reads otherwise");
}

bool BucketCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

void FuzzAddress(std::string_view address) {
  Result<S3Location> location = ParseS3Address(address);
  if (!location.ok()) {
    if (location.status().code() != Code::kInvalidArgument) {
      fuzz::Fail("ParseS3Address: not kInvalidArgument");
    }
    return;
  }
  const std::string& bucket = location->bucket;
  const std::string& prefix = location->prefix;
  if (bucket.size() < 3 || bucket.size() > 63 ||
      !std::all_of(bucket.begin(), bucket.end(), BucketCharacter)) {
    fuzz::Fail("ParseS3Address: a bad bucket");
  }
  auto prefix_character = [](char c) { return BucketCharacter(c) || c == '/'; };
  if (!std::all_of(prefix.begin(), prefix.end(), prefix_character) ||
      prefix.find("//") != std::string::npos ||
      (!prefix.empty() && (prefix.front() == '/' || prefix.back() == '/'))) {
    fuzz::Fail("ParseS3Address: a bad prefix");
  }
  // The location written as an address reads back to itself.
  Result<S3Location> again =
      ParseS3Address("s3://" + bucket + (prefix.empty() ? "" : "/" + prefix));
  if (!again.ok() || again->bucket != bucket || again->prefix != prefix) {
    fuzz::Fail("ParseS3Address: the location does not round-trip");
  }
}

void FuzzSettings(std::string_view text) {
  std::map<std::string, std::string, std::less<>> env;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string name(line.substr(0, equals));
    // Only what needs no file: the file variables and HOME would read the disk.
    if (name == "HOME" || name == "AWS_SHARED_CREDENTIALS_FILE" || name == "AWS_CONFIG_FILE") {
      continue;
    }
    env[name] = std::string(line.substr(equals + 1));
  }
  Result<S3Settings> settings = LoadS3Settings([&](const char* name) -> std::optional<std::string> {
    auto it = env.find(std::string_view(name));
    if (it == env.end() || it->second.empty()) return std::nullopt;
    return it->second;
  });
  if (!settings.ok()) {
    if (settings.status().code() != Code::kInvalidArgument) {
      fuzz::Fail("LoadS3Settings: not kInvalidArgument");
    }
    return;
  }
  const std::string& endpoint = settings->endpoint;
  if ((endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) ||
      endpoint.back() == '/') {
    fuzz::Fail("LoadS3Settings: a bad endpoint");
  }
  if (settings->access_key_id.empty() || settings->secret_access_key.empty()) {
    fuzz::Fail("LoadS3Settings: settings without credentials");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text = AsChars({data + 1, size - 1});
  switch (data[0] % 5) {
    case 0: FuzzListPage(text); break;
    case 1: FuzzErrorBody(text); break;
    case 2: FuzzIni(text); break;
    case 3: FuzzAddress(text); break;
    default: FuzzSettings(text); break;
  }
  return 0;
}
