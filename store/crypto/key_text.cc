#include "store/crypto/key_text.h"

#include <sodium.h>

#include <vector>

#include "store/crypto/sodium_init.h"

namespace coffer::crypto {
namespace {

constexpr std::string_view kExportedLabel = "COFFER KEY";
constexpr std::string_view kWrappedLabel = "COFFER WRAPPED KEY";
constexpr std::string_view kRepositoryField = "Repository:";
constexpr std::string_view kDateField = "Date:";
constexpr size_t kBase64LineLength = 64;
constexpr size_t kMaxRecordBytes = 4096;

std::string_view LabelOf(KeyTextKind kind) {
  return kind == KeyTextKind::kExported ? kExportedLabel : kWrappedLabel;
}

std::string_view Trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    lines.push_back(Trimmed(text.substr(0, end)));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string Boundary(std::string_view which, std::string_view label) {
  return "-----" + std::string(which) + " " + std::string(label) + "-----";
}

}  // namespace

std::string FormatKeyText(const KeyText& key) {
  EnsureSodium();
  const std::string_view label = LabelOf(key.kind);
  std::string out = Boundary("BEGIN", label) + "\n";
  out += std::string(kRepositoryField) + " " + key.repository_id + "\n";
  if (!key.date.empty()) out += std::string(kDateField) + " " + key.date + "\n";
  out += "\n";
  std::string base64(sodium_base64_ENCODED_LEN(key.record.size(), sodium_base64_VARIANT_ORIGINAL),
                     '\0');
  sodium_bin2base64(base64.data(), base64.size(), key.record.data(), key.record.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  base64.resize(base64.find('\0'));
  for (size_t at = 0; at < base64.size(); at += kBase64LineLength) {
    out += base64.substr(at, kBase64LineLength) + "\n";
  }
  out += Boundary("END", label) + "\n";
  return out;
}

Result<KeyText> ParseKeyText(std::string_view text) {
  EnsureSodium();
  const std::vector<std::string_view> lines = Lines(text);
  KeyText key;
  size_t begin = lines.size();
  for (size_t i = 0; i < lines.size() && begin == lines.size(); ++i) {
    for (KeyTextKind kind : {KeyTextKind::kExported, KeyTextKind::kWrapped}) {
      if (lines[i] == Boundary("BEGIN", LabelOf(kind))) {
        begin = i;
        key.kind = kind;
      }
    }
  }
  if (begin == lines.size()) {
    return Status::InvalidArgument("this is not a Coffer key file: it has no line '" +
                                   Boundary("BEGIN", kExportedLabel) + "'");
  }
  const std::string end_line = Boundary("END", LabelOf(key.kind));
  std::string base64;
  size_t i = begin + 1;
  for (; i < lines.size() && lines[i] != end_line; ++i) {
    std::string_view line = lines[i];
    if (line.starts_with(kRepositoryField)) {
      key.repository_id = std::string(Trimmed(line.substr(kRepositoryField.size())));
    } else if (line.starts_with(kDateField)) {
      key.date = std::string(Trimmed(line.substr(kDateField.size())));
    } else if (line.starts_with("-----")) {
      return Status::InvalidArgument("the key file's line " + std::to_string(i + 1) +
                                     " starts another block before '" + end_line + "'");
    } else {
      base64 += line;
    }
    if (base64.size() > 2 * kMaxRecordBytes) {
      return Status::InvalidArgument("the key in the key file is too long");
    }
  }
  if (i == lines.size()) {
    return Status::InvalidArgument("the key file ends before its line '" + end_line + "'");
  }
  for (size_t j = i + 1; j < lines.size(); ++j) {
    if (lines[j].starts_with("-----BEGIN COFFER")) {
      return Status::InvalidArgument("the key file holds more than one key (line " +
                                     std::to_string(j + 1) + ")");
    }
  }
  if (base64.empty()) return Status::InvalidArgument("the key file holds no key");
  key.record.resize(base64.size());
  size_t length = 0;
  const char* stopped = nullptr;
  if (sodium_base642bin(key.record.data(), key.record.size(), base64.data(), base64.size(), " \t",
                        &length, &stopped, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      stopped != base64.data() + base64.size()) {
    return Status::InvalidArgument("the key in the key file is not valid base64");
  }
  key.record.resize(length);
  if (key.record.empty()) return Status::InvalidArgument("the key file holds no key");
  if (key.record.size() > kMaxRecordBytes) {
    return Status::InvalidArgument("the key in the key file is too long");
  }
  return key;
}

}  // namespace coffer::crypto
