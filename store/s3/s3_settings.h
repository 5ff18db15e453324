// Where an object-storage copy lives and how to reach it: the s3:// address
// Coffer is given, and the endpoint, region and credentials read as the AWS
// tools read them (environment first, then ~/.aws/credentials and
// ~/.aws/config), so that one setup serves the aws CLI, rclone and Coffer.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "store/base/status.h"

namespace coffer::s3 {

// s3://BUCKET/PREFIX: the bucket, and the folder in it the copy lives under
// ("" for the whole bucket; otherwise without leading or trailing '/').
struct S3Location {
  std::string bucket;
  std::string prefix;
};

bool IsS3Address(std::string_view address);
// kInvalidArgument saying what is wrong with `address`.
Result<S3Location> ParseS3Address(std::string_view address);

struct S3Settings {
  std::string endpoint;  // "https://s3.eu-central-1.amazonaws.com", "http://10.0.0.5:9000"
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only
  std::string ca_bundle;      // AWS_CA_BUNDLE: the CAs of an https endpoint; empty: the system's
  // BUCKET in the path (MinIO, Ceph RGW, any endpoint given) rather than in
  // the host name (AWS's default).
  bool path_style = true;
};

// Reads one environment variable; nullopt when unset or empty.
using EnvironmentLookup = std::function<std::optional<std::string>(const char* name)>;
EnvironmentLookup ProcessEnvironment();

// The settings from the environment and the AWS files:
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, else the
//     profile's entries in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials);
//   AWS_PROFILE (default "default") names the profile;
//   AWS_REGION, AWS_DEFAULT_REGION, else the profile's `region` in
//     AWS_CONFIG_FILE (~/.aws/config), else us-east-1;
//   AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else the profile's `s3 =
//     endpoint_url` or `endpoint_url`, else AWS in the region;
//   AWS_CA_BUNDLE, else the profile's `ca_bundle`;
//   the profile's `s3 = addressing_style` (path or virtual; path when an
//     endpoint is given, virtual for AWS otherwise).
// kInvalidArgument when no credentials are found or a file cannot be parsed.
Result<S3Settings> LoadS3Settings(const EnvironmentLookup& environment);

// An AWS-style INI file: "[section]" lines, "key = value" lines, '#' or ';'
// comments. A key whose value is empty opens a nested block: the indented
// "key = value" lines after it are stored as "key.subkey" (the config
// file's "s3 =" block). Keys are kept as written, values trimmed.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
Result<IniFile> ParseIni(std::string_view text);

}  // namespace coffer::s3
