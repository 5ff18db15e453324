#include "store/s3/s3_settings.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace coffer::s3 {
namespace {

constexpr std::string_view kScheme = "s3://";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Bucket names as S3 allows them (3-63 of lower-case letters, digits, '.'
// and '-'), a little wider: some servers allow upper case and '_'.
bool ValidBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
      return false;
  }
  return true;
}

// Folder names Coffer can put in a URL path without escaping.
bool ValidPrefix(std::string_view prefix) {
  for (char c : prefix) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != '/')
      return false;
  }
  return prefix.find("//") == std::string_view::npos && prefix.rfind('/', 0) != 0;
}

// The file's text; nullopt if it does not exist.
Result<std::optional<std::string>> ReadOptionalFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return std::optional<std::string>(text.str());
}

Result<IniFile> ReadIni(const EnvironmentLookup& env, const char* variable,
                        const char* default_name) {
  std::string path;
  if (auto set = env(variable)) {
    path = *set;
  } else if (auto home = env("HOME")) {
    path = *home + "/.aws/" + default_name;
  } else {
    return IniFile();
  }
  COFFER_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadOptionalFile(path));
  if (!text) return IniFile();
  Result<IniFile> parsed = ParseIni(*text);
  if (!parsed.ok()) return parsed.status().WithContext(path);
  return parsed;
}

std::optional<std::string> Entry(const IniFile& file, const std::string& section,
                                 const std::string& key) {
  auto s = file.find(section);
  if (s == file.end()) return std::nullopt;
  auto k = s->second.find(key);
  if (k == s->second.end() || k->second.empty()) return std::nullopt;
  return k->second;
}

}  // namespace

bool IsS3Address(std::string_view address) {
  return address.rfind(kScheme, 0) == 0;
}

Result<S3Location> ParseS3Address(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad object storage address '" + std::string(address) +
                                   "': " + std::string(why) + " (expected s3://BUCKET/PREFIX)");
  };
  if (!IsS3Address(address)) return bad("it does not start with s3://");
  std::string_view rest = address.substr(kScheme.size());
  const size_t slash = rest.find('/');
  S3Location location;
  location.bucket = std::string(rest.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  location.prefix = std::string(prefix);
  if (!ValidBucket(location.bucket)) return bad("no valid bucket name");
  if (!ValidPrefix(location.prefix)) {
    return bad("a prefix uses letters, digits, '.', '-', '_' and single '/'");
  }
  return location;
}

EnvironmentLookup ProcessEnvironment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Result<IniFile> ParseIni(std::string_view text) {
  IniFile file;
  std::string section;
  bool in_section = false;
  std::string block;  // the key of an open nested block ("s3")
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument("line " + std::to_string(line_number) + ": " +
                                     std::string(why));
    };
    if (line.front() == '[') {
      if (line.back() != ']') return bad("a section header without ']'");
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      if (section.empty()) return bad("an empty section name");
      in_section = true;
      block.clear();
      file[section];
      continue;
    }
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) return bad("expected KEY = VALUE");
    if (!in_section) return bad("an entry before any [section]");
    const std::string key(Trim(line.substr(0, equals)));
    const std::string value(Trim(line.substr(equals + 1)));
    if (key.empty()) return bad("an entry without a key");
    if (indented && !block.empty()) {
      file[section][block + "." + key] = value;
      continue;
    }
    block = value.empty() ? key : std::string();
    file[section][key] = value;
  }
  return file;
}

Result<S3Settings> LoadS3Settings(const EnvironmentLookup& env) {
  S3Settings settings;
  const std::string profile = env("AWS_PROFILE").value_or("default");
  COFFER_ASSIGN_OR_RETURN(IniFile credentials,
                          ReadIni(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials"));
  COFFER_ASSIGN_OR_RETURN(IniFile config, ReadIni(env, "AWS_CONFIG_FILE", "config"));
  // The config file names profiles "[profile NAME]", except the default.
  const std::string config_section = profile == "default" ? profile : "profile " + profile;

  auto key_id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (key_id && secret) {
    settings.access_key_id = *key_id;
    settings.secret_access_key = *secret;
    settings.session_token = env("AWS_SESSION_TOKEN").value_or("");
  } else {
    key_id = Entry(credentials, profile, "aws_access_key_id");
    secret = Entry(credentials, profile, "aws_secret_access_key");
    if (!key_id || !secret) {
      return Status::InvalidArgument(
          "no object storage credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
          "write aws_access_key_id and aws_secret_access_key under [" +
          profile + "] in ~/.aws/credentials");
    }
    settings.access_key_id = *key_id;
    settings.secret_access_key = *secret;
    settings.session_token = Entry(credentials, profile, "aws_session_token").value_or("");
  }

  if (auto region = env("AWS_REGION")) {
    settings.region = *region;
  } else if (auto default_region = env("AWS_DEFAULT_REGION")) {
    settings.region = *default_region;
  } else if (auto configured = Entry(config, config_section, "region")) {
    settings.region = *configured;
  }

  std::optional<std::string> endpoint = env("AWS_ENDPOINT_URL_S3");
  if (!endpoint) endpoint = env("AWS_ENDPOINT_URL");
  if (!endpoint) endpoint = Entry(config, config_section, "s3.endpoint_url");
  if (!endpoint) endpoint = Entry(config, config_section, "endpoint_url");
  settings.path_style = endpoint.has_value();
  settings.endpoint = endpoint.value_or("https://s3." + settings.region + ".amazonaws.com");
  while (!settings.endpoint.empty() && settings.endpoint.back() == '/')
    settings.endpoint.pop_back();
  if (settings.endpoint.rfind("http://", 0) != 0 && settings.endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("object storage endpoint '" + settings.endpoint +
                                   "' is no http:// or https:// address");
  }
  if (auto bundle = env("AWS_CA_BUNDLE")) {
    settings.ca_bundle = *bundle;
  } else if (auto configured_bundle = Entry(config, config_section, "ca_bundle")) {
    settings.ca_bundle = *configured_bundle;
  }
  if (auto style = Entry(config, config_section, "s3.addressing_style")) {
    if (*style == "path") {
      settings.path_style = true;
    } else if (*style == "virtual") {
      settings.path_style = false;
    } else if (*style != "auto") {
      return Status::InvalidArgument("s3 addressing_style '" + *style +
                                     "' in the AWS config: expected path, virtual or auto");
    }
  }
  return settings;
}

}  // namespace coffer::s3
