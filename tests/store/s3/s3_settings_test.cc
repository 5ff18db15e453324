#include "store/s3/s3_settings.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "tests/testing/fs_fixtures.h"

namespace coffer::s3 {
namespace {

namespace fs = std::filesystem;

// Writes `text` to NAME in `dir` (making its folders) and returns its path.
std::string WriteIn(const coffer::testing::TempDir& dir, const std::string& name,
                    std::string_view text) {
  const fs::path path = dir / name;
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return path.string();
}

void ExpectInvalid(const Status& status, std::string_view says) {
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(says), std::string::npos)
      << "'" << status.message() << "' does not say '" << says << "'";
}

// ---- s3:// addresses ----

TEST(S3AddressTest, AnAddressNamesABucketAndAFolderInIt) {
  struct Case {
    std::string address, bucket, prefix;
  };
  for (const Case& c :
       {Case{"s3://bkt", "bkt", ""}, Case{"s3://bkt/", "bkt", ""},
        Case{"s3://bkt/a/b/", "bkt", "a/b"}, Case{"s3://bkt/a/b//", "bkt", "a/b"},
        Case{"s3://my.bucket-1_x/backups/host-1.v2", "my.bucket-1_x", "backups/host-1.v2"},
        Case{"s3://" + std::string(63, 'b'), std::string(63, 'b'), ""}}) {
    SCOPED_TRACE(c.address);
    EXPECT_TRUE(IsS3Address(c.address));
    Result<S3Location> location = ParseS3Address(c.address);
    ASSERT_TRUE(location.ok()) << location.status().ToString();
    EXPECT_EQ(location->bucket, c.bucket);
    EXPECT_EQ(location->prefix, c.prefix);
  }
}

TEST(S3AddressTest, ABadAddressIsRefusedSayingWhatIsExpected) {
  for (std::string_view address : {
           "bkt/a",  // no scheme
           "S3://bkt",
           "https://bkt/a",
           "s3:/bkt",
           "s3://",
           "s3://ab",    // a bucket of two characters
           "s3:///bkt",  // an empty bucket, "bkt" as the folder
           "s3://bk t/a",
           "s3://bkt:9000/a",
           "s3://bkt/a//b",  // an empty folder name
           "s3://bkt//a",    // a folder starting with '/'
           "s3://bkt/a b",
           "s3://bkt/a%2Fb",
           "s3://bkt/a?x=1",
           "s3://bkt/caf\xc3\xa9",
       }) {
    SCOPED_TRACE(address);
    Result<S3Location> location = ParseS3Address(address);
    ASSERT_FALSE(location.ok()) << location->bucket << " " << location->prefix;
    ExpectInvalid(location.status(), "s3://BUCKET/PREFIX");
  }
  ExpectInvalid(ParseS3Address("s3://" + std::string(64, 'b')).status(), "bucket");
  ExpectInvalid(ParseS3Address("bkt").status(), "s3://");
}

// ---- INI files ----

TEST(IniTest, SectionsHoldTrimmedEntriesAndCommentsAreSkipped) {
  Result<IniFile> file = ParseIni(
      "# the AWS CLI's file\n"
      "; another comment\n"
      "\n"
      "[default]\n"
      "aws_access_key_id = AKIAEXAMPLE\n"
      "aws_secret_access_key=se=cret\r\n"
      "  # an indented comment\n"
      "[ profile dev ]\n"
      "\tregion\t=\teu-central-1  \n"
      "[empty]\n");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const IniFile expected = {
      {"default", {{"aws_access_key_id", "AKIAEXAMPLE"}, {"aws_secret_access_key", "se=cret"}}},
      {"profile dev", {{"region", "eu-central-1"}}},
      {"empty", {}},
  };
  EXPECT_EQ(*file, expected);
}

TEST(IniTest, ANestedBlockGivesDottedKeys) {
  Result<IniFile> file = ParseIni(
      "[profile minio]\n"
      "region = us-east-1\n"
      "s3 =\n"
      "    endpoint_url = http://10.0.0.5:9000\n"
      "\taddressing_style = path\n"
      "output = json\n"
      "  indented = not in a block\n"
      "[other]\n"
      "  endpoint_url = https://plain.example\n");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const IniFile expected = {
      {"profile minio",
       {{"region", "us-east-1"},
        {"s3", ""},
        {"s3.endpoint_url", "http://10.0.0.5:9000"},
        {"s3.addressing_style", "path"},
        {"output", "json"},
        {"indented", "not in a block"}}},
      // A block ends with its section.
      {"other", {{"endpoint_url", "https://plain.example"}}},
  };
  EXPECT_EQ(*file, expected);
}

TEST(IniTest, ALaterValueReplacesAnEarlierOne) {
  Result<IniFile> file = ParseIni("[a]\nk = 1\n[b]\nk = 2\n[a]\nk = 3\n");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->at("a").at("k"), "3");
  EXPECT_EQ(file->at("b").at("k"), "2");
}

TEST(IniTest, AProblemIsRefusedWithItsLineNumber) {
  struct Case {
    std::string_view text, says;
  };
  for (const Case& c : {
           Case{"# comment\nk = v\n[a]\n", "line 2: an entry before any [section]"},
           Case{"[a]\nk = v\n\n[unterminated\n", "line 4: a section header without ']'"},
           Case{"[a]\n[]\n", "line 2: an empty section name"},
           Case{"[a]\n[  ]\n", "line 2: an empty section name"},
           Case{"[a]\nno equals sign\n", "line 2: expected KEY = VALUE"},
           Case{"[a]\r\n\r\n = value\r\n", "line 3: an entry without a key"},
           Case{"[a]\n[\n", "line 2"},
       }) {
    SCOPED_TRACE(c.text);
    ExpectInvalid(ParseIni(c.text).status(), c.says);
  }
}

TEST(IniTest, AnEmptyFileHasNoSections) {
  for (std::string_view text : {"", "\n\n", "# only a comment", "   \n\t\n"}) {
    Result<IniFile> file = ParseIni(text);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_TRUE(file->empty());
  }
}

// ---- Settings from the environment and the AWS files ----

class S3SettingsTest : public ::testing::Test {
 protected:
  // The environment the settings are read from: unset and empty variables
  // read as nullopt, as the process's do.
  EnvironmentLookup Environment() {
    return [this](const char* name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
  }
  Result<S3Settings> Load() { return LoadS3Settings(Environment()); }

  void SetKeys() {
    env_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
    env_["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  }
  void SetCredentialsFile(std::string_view text) {
    env_["AWS_SHARED_CREDENTIALS_FILE"] = WriteIn(dir_, "credentials", text);
  }
  void SetConfigFile(std::string_view text) {
    env_["AWS_CONFIG_FILE"] = WriteIn(dir_, "config", text);
  }

  coffer::testing::TempDir dir_{"s3-settings"};
  std::map<std::string, std::string> env_;
};

TEST_F(S3SettingsTest, KeysFromTheEnvironmentReachAwsInUsEast1) {
  SetKeys();
  env_["AWS_SESSION_TOKEN"] = "env-token";
  Result<S3Settings> settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIAENV");
  EXPECT_EQ(settings->secret_access_key, "env-secret");
  EXPECT_EQ(settings->session_token, "env-token");
  EXPECT_EQ(settings->region, "us-east-1");
  EXPECT_EQ(settings->endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_FALSE(settings->path_style);
  EXPECT_EQ(settings->ca_bundle, "");
}

TEST_F(S3SettingsTest, KeysFromTheCredentialsFileComeWithTheirToken) {
  SetCredentialsFile(
      "[default]\n"
      "aws_access_key_id = AKIAFILE\n"
      "aws_secret_access_key = file-secret\n"
      "aws_session_token = file-token\n");
  Result<S3Settings> settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIAFILE");
  EXPECT_EQ(settings->secret_access_key, "file-secret");
  EXPECT_EQ(settings->session_token, "file-token");
}

TEST_F(S3SettingsTest, KeysInTheEnvironmentWinOverTheFileAndAreNotMixedWithIt) {
  SetCredentialsFile(
      "[default]\n"
      "aws_access_key_id = AKIAFILE\n"
      "aws_secret_access_key = file-secret\n"
      "aws_session_token = file-token\n");
  SetKeys();
  Result<S3Settings> settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIAENV");
  EXPECT_EQ(settings->secret_access_key, "env-secret");
  // The file's token belongs to the file's keys.
  EXPECT_EQ(settings->session_token, "");

  // A key id alone in the environment is no credential: both come from the file.
  env_.erase("AWS_SECRET_ACCESS_KEY");
  settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIAFILE");
  EXPECT_EQ(settings->secret_access_key, "file-secret");
}

TEST_F(S3SettingsTest, AwsProfileNamesTheSectionsOfBothFiles) {
  SetCredentialsFile(
      "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n"
      "[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = dev-secret\n"
      "[profile dev]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n");
  SetConfigFile(
      "[default]\nregion = eu-west-1\n"
      "[dev]\nregion = wrong-1\n"
      "[profile dev]\nregion = eu-central-1\n"
      "[profile default]\nregion = wrong-2\n");

  Result<S3Settings> settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIADEFAULT");
  EXPECT_EQ(settings->region, "eu-west-1");

  env_["AWS_PROFILE"] = "dev";
  settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIADEV");
  EXPECT_EQ(settings->secret_access_key, "dev-secret");
  EXPECT_EQ(settings->region, "eu-central-1");
  EXPECT_EQ(settings->endpoint, "https://s3.eu-central-1.amazonaws.com");
}

TEST_F(S3SettingsTest, TheRegionComesFromAwsRegionThenAwsDefaultRegionThenTheConfig) {
  SetKeys();
  SetConfigFile("[default]\nregion = eu-west-1\n");
  env_["AWS_DEFAULT_REGION"] = "eu-north-1";
  env_["AWS_REGION"] = "eu-south-1";
  for (std::string_view expected : {"eu-south-1", "eu-north-1", "eu-west-1", "us-east-1"}) {
    Result<S3Settings> settings = Load();
    ASSERT_TRUE(settings.ok()) << settings.status().ToString();
    EXPECT_EQ(settings->region, expected);
    EXPECT_EQ(settings->endpoint, "https://s3." + std::string(expected) + ".amazonaws.com");
    EXPECT_FALSE(settings->path_style);
    // Take away the source just used.
    if (env_.erase("AWS_REGION") == 0 && env_.erase("AWS_DEFAULT_REGION") == 0) SetConfigFile("");
  }
}

TEST_F(S3SettingsTest, TheEndpointComesFromTheMostSpecificSetting) {
  SetKeys();
  SetConfigFile(
      "[default]\n"
      "endpoint_url = http://general-config:1\n"
      "s3 =\n"
      "  endpoint_url = http://s3-config:2\n");
  env_["AWS_ENDPOINT_URL"] = "http://general-env:3";
  env_["AWS_ENDPOINT_URL_S3"] = "http://s3-env:4";
  struct Step {
    std::string_view expected;
    std::function<void()> then;
  };
  const Step steps[] = {
      {"http://s3-env:4", [&] { env_.erase("AWS_ENDPOINT_URL_S3"); }},
      {"http://general-env:3", [&] { env_.erase("AWS_ENDPOINT_URL"); }},
      {"http://s3-config:2",
       [&] { SetConfigFile("[default]\nendpoint_url = http://general-config:1\n"); }},
      {"http://general-config:1", [] {}},
  };
  for (const Step& step : steps) {
    Result<S3Settings> settings = Load();
    ASSERT_TRUE(settings.ok()) << settings.status().ToString();
    EXPECT_EQ(settings->endpoint, step.expected);
    // Any endpoint given is taken to want the bucket in the path.
    EXPECT_TRUE(settings->path_style);
    step.then();
  }
}

TEST_F(S3SettingsTest, TheAddressingStyleOfTheConfigDecidesWhereTheBucketGoes) {
  SetKeys();
  struct Case {
    std::string_view style;
    bool endpoint;
    bool path_style;
  };
  for (const Case& c : {Case{"virtual", true, false}, Case{"path", false, true},
                        Case{"auto", true, true}, Case{"auto", false, false}}) {
    SCOPED_TRACE(std::string(c.style) + (c.endpoint ? " with an endpoint" : ""));
    SetConfigFile("[default]\ns3 =\n  addressing_style = " + std::string(c.style) + "\n" +
                  (c.endpoint ? "  endpoint_url = https://minio.example:9000\n" : ""));
    Result<S3Settings> settings = Load();
    ASSERT_TRUE(settings.ok()) << settings.status().ToString();
    EXPECT_EQ(settings->path_style, c.path_style);
  }
  SetConfigFile("[default]\ns3 =\n  addressing_style = sideways\n");
  ExpectInvalid(Load().status(), "addressing_style 'sideways'");
}

TEST_F(S3SettingsTest, TheCaBundleComesFromTheEnvironmentThenTheConfig) {
  SetKeys();
  SetConfigFile("[default]\nca_bundle = /etc/ssl/config-ca.pem\n");
  env_["AWS_CA_BUNDLE"] = "/etc/ssl/env-ca.pem";
  Result<S3Settings> settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->ca_bundle, "/etc/ssl/env-ca.pem");
  env_.erase("AWS_CA_BUNDLE");
  settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->ca_bundle, "/etc/ssl/config-ca.pem");
}

TEST_F(S3SettingsTest, WithoutCredentialsTheErrorSaysWhatToSet) {
  ExpectInvalid(Load().status(), "AWS_ACCESS_KEY_ID");
  // Half a pair is none.
  env_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  ExpectInvalid(Load().status(), "AWS_SECRET_ACCESS_KEY");
  // Keys of another profile are not used; the error names the profile.
  SetCredentialsFile("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n");
  env_["AWS_PROFILE"] = "backup";
  ExpectInvalid(Load().status(), "[backup]");
  // An empty value is no value.
  env_.erase("AWS_PROFILE");
  SetCredentialsFile("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key =\n");
  ExpectInvalid(Load().status(), "AWS_ACCESS_KEY_ID");
}

TEST_F(S3SettingsTest, MissingFilesAreNoError) {
  SetKeys();
  env_["AWS_SHARED_CREDENTIALS_FILE"] = dir_ / "no-such-credentials";
  env_["AWS_CONFIG_FILE"] = dir_ / "no-such-config";
  env_["HOME"] = dir_ / "no-such-home";
  Result<S3Settings> settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIAENV");
  EXPECT_EQ(settings->endpoint, "https://s3.us-east-1.amazonaws.com");
}

TEST_F(S3SettingsTest, WithoutFileVariablesTheFilesAreReadFromHome) {
  WriteIn(dir_, ".aws/credentials",
          "[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = h\n");
  WriteIn(dir_, ".aws/config", "[default]\nregion = ap-south-1\n");
  env_["HOME"] = dir_ / "";
  Result<S3Settings> settings = Load();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->access_key_id, "AKIAHOME");
  EXPECT_EQ(settings->region, "ap-south-1");
}

TEST_F(S3SettingsTest, AFileThatDoesNotParseIsNamedWithTheLine) {
  SetKeys();
  SetConfigFile("[default]\nregion = eu-west-1\n[broken\n");
  Status status = Load().status();
  ExpectInvalid(status, "line 3");
  ExpectInvalid(status, dir_ / "config");
  SetConfigFile("");
  SetCredentialsFile("aws_access_key_id = AKIAFILE\n");
  status = Load().status();
  ExpectInvalid(status, "line 1");
  ExpectInvalid(status, dir_ / "credentials");
}

TEST_F(S3SettingsTest, AnEndpointIsAnHttpOrHttpsAddressWithoutATrailingSlash) {
  SetKeys();
  for (std::string_view endpoint :
       {"s3.example.com", "ftp://s3.example.com", "http:/x", "https://", "//s3.example.com"}) {
    SCOPED_TRACE(endpoint);
    env_["AWS_ENDPOINT_URL"] = endpoint;
    ExpectInvalid(Load().status(), "http:// or https://");
  }
  struct Case {
    std::string_view given, used;
  };
  for (const Case& c : {Case{"http://10.0.0.5:9000/", "http://10.0.0.5:9000"},
                        Case{"https://minio.example///", "https://minio.example"},
                        Case{"https://minio.example/base/", "https://minio.example/base"},
                        Case{"http://localhost:4568", "http://localhost:4568"}}) {
    env_["AWS_ENDPOINT_URL"] = c.given;
    Result<S3Settings> settings = Load();
    ASSERT_TRUE(settings.ok()) << settings.status().ToString();
    EXPECT_EQ(settings->endpoint, c.used);
  }
}

}  // namespace
}  // namespace coffer::s3
