// The S3 test fixtures tested on their own: S3rver (a real s3rver: buckets,
// objects, its one access key, stop and restart) and FaultProxy in front of
// it, each fault seen from libcurl as an S3 client sees it. Skipped where
// s3rver is not installed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <gtest/gtest.h>

#include "tests/testing/fault_proxy.h"
#include "tests/testing/fs_fixtures.h"
#include "tests/testing/s3rver.h"

namespace coffer::testing {
namespace {

using Fault = FaultProxy::Fault;

constexpr const char* kBucket = "selftest";

class CurlEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK); }
  void TearDown() override { curl_global_cleanup(); }
};
[[maybe_unused]] auto* const curl_environment =
    ::testing::AddGlobalTestEnvironment(new CurlEnvironment);

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr), 1);
  std::string hex;
  char two[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(two, sizeof(two), "%02x", digest[i]);
    hex += two;
  }
  return hex;
}

struct HttpResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string error;  // curl's own words when code is not CURLE_OK
};

std::ostream& operator<<(std::ostream& out, const HttpResult& result) {
  return out << "curl " << result.code << " (" << result.error << "), HTTP " << result.status
             << ", " << result.body.size() << " body bytes: " << result.body.substr(0, 300);
}

struct Upload {
  std::string_view data;
  size_t sent = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data.size() - upload->sent);
  std::memcpy(buffer, upload->data.data() + upload->sent, n);
  upload->sent += n;
  return n;
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// One signed S3 request as a client makes it: SigV4 and the payload hash
// s3rver insists on.
HttpResult S3Call(const std::string& method, const std::string& url, std::string_view body = {},
                  const std::string& access_key = S3rver::kAccessKey) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  if (!curl) {
    result.code = CURLE_FAILED_INIT;
    return result;
  }
  char error[CURL_ERROR_SIZE] = "";
  const std::string credentials = access_key + ":" + S3rver::kSecretKey;
  curl_slist* headers =
      curl_slist_append(nullptr, ("x-amz-content-sha256: " + Sha256Hex(body)).c_str());
  Upload upload{body};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
  curl_easy_setopt(curl, CURLOPT_USERPWD, credentials.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  if (method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  result.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  result.error = error[0] ? error : curl_easy_strerror(result.code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

// Deterministic bytes with no period that a cut could hide in.
std::string Payload(size_t size, unsigned seed) {
  std::string data(size, '\0');
  uint32_t state = seed * 2654435761u + 1;
  for (char& c : data) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return data;
}

// A plain TCP connection to a loopback port, for what curl cannot show.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    timeval timeout{10, 0};  // bounds every read of the test
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `wanted` bytes came, the peer closed, or 10 s of silence.
  std::string Receive(size_t wanted) {
    std::string data;
    char buffer[4096];
    while (data.size() < wanted) {
      const ssize_t n = recv(fd_, buffer, std::min(sizeof(buffer), wanted - data.size()), 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<size_t>(n));
    }
    return data;
  }

 private:
  int fd_;
  bool connected_ = false;
};

class S3FixturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (S3rver::Binary().empty()) {
      GTEST_SKIP() << "s3rver is not installed (" << S3rver::kDefaultBinary
                   << ", or $COFFER_S3RVER): npm install s3rver@3.7.1";
    }
    std::string why_not;
    server_ = S3rver::Start(temp_ / "s3", {kBucket, "second-bucket"}, &why_not);
    ASSERT_NE(server_, nullptr) << why_not;
    proxy_ = FaultProxy::Start(server_->port(), &why_not);
    ASSERT_NE(proxy_, nullptr) << why_not;
  }

  std::string Direct(const std::string& key) const {
    return server_->endpoint() + "/" + kBucket + "/" + key;
  }
  std::string Proxied(const std::string& key) const {
    return proxy_->endpoint() + "/" + kBucket + "/" + key;
  }

  TempDir temp_;
  std::unique_ptr<S3rver> server_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(S3FixturesTest, ServerHasItsBucketsAndKeepsObjects) {
  EXPECT_EQ(server_->endpoint(), "http://127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(S3Call("HEAD", server_->endpoint() + "/second-bucket").status, 200);
  EXPECT_EQ(S3Call("HEAD", server_->endpoint() + "/no-such-bucket").status, 404);

  const HttpResult put = S3Call("PUT", Direct("dir/object"), "hello, s3");
  ASSERT_EQ(put.code, CURLE_OK) << put;
  ASSERT_EQ(put.status, 200) << put;
  const HttpResult get = S3Call("GET", Direct("dir/object"));
  EXPECT_EQ(get.status, 200) << get;
  EXPECT_EQ(get.body, "hello, s3");
  EXPECT_EQ(S3Call("GET", Direct("absent")).status, 404);
}

TEST_F(S3FixturesTest, ServerTakesOnlyItsAccessKey) {
  const HttpResult wrong_key = S3Call("GET", Direct("any"), {}, "SOMEONE-ELSE");
  EXPECT_EQ(wrong_key.status, 403) << wrong_key;
  EXPECT_NE(wrong_key.body.find("InvalidAccessKeyId"), std::string::npos) << wrong_key;
}

TEST_F(S3FixturesTest, ForwardPassesRequestsAndAnswersThrough) {
  const std::string small = "small object";
  // Over 1 MiB: libcurl sends "Expect: 100-continue", which the proxy answers.
  const std::string large = Payload(3 * 1024 * 1024 + 17, 1);
  EXPECT_EQ(proxy_->endpoint(), "http://127.0.0.1:" + std::to_string(proxy_->port()));

  const HttpResult put_small = S3Call("PUT", Proxied("small"), small);
  EXPECT_EQ(put_small.status, 200) << put_small;
  const HttpResult put_large = S3Call("PUT", Proxied("large"), large);
  EXPECT_EQ(put_large.status, 200) << put_large;
  const HttpResult get_small = S3Call("GET", Proxied("small"));
  EXPECT_EQ(get_small.status, 200) << get_small;
  EXPECT_EQ(get_small.body, small);
  const HttpResult get_large = S3Call("GET", Proxied("large"));
  EXPECT_EQ(get_large.status, 200) << get_large;
  EXPECT_TRUE(get_large.body == large) << get_large.body.size() << " bytes back";
  // An upstream error answer is relayed as it is.
  const HttpResult missing = S3Call("GET", Proxied("missing"));
  EXPECT_EQ(missing.code, CURLE_OK) << missing;
  EXPECT_EQ(missing.status, 404) << missing;
  EXPECT_NE(missing.body.find("NoSuchKey"), std::string::npos) << missing;
  EXPECT_EQ(S3Call("HEAD", Proxied("small")).status, 200);

  EXPECT_EQ(proxy_->requests(), 6);
  const std::vector<FaultProxy::LoggedRequest> log = proxy_->log();
  ASSERT_EQ(log.size(), 6u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"PUT", "/selftest/small"}, {"PUT", "/selftest/large"},   {"GET", "/selftest/small"},
      {"GET", "/selftest/large"}, {"GET", "/selftest/missing"}, {"HEAD", "/selftest/small"}};
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].number, static_cast<int>(i));
    EXPECT_EQ(log[i].method, expected[i].first);
    EXPECT_EQ(log[i].target, expected[i].second);
    EXPECT_EQ(log[i].fault, Fault::kForward);
    EXPECT_FALSE(log[i].upstream_unreachable);
  }
}

TEST_F(S3FixturesTest, ReplyFaultsAnswerS3ErrorsWithoutForwarding) {
  proxy_->SetPolicy(FaultProxy::Sequence({Fault::kReply500, Fault::kReply503, Fault::kReply500}));

  const HttpResult internal_error = S3Call("PUT", Proxied("a"), "never stored");
  EXPECT_EQ(internal_error.code, CURLE_OK) << internal_error;
  EXPECT_EQ(internal_error.status, 500) << internal_error;
  EXPECT_NE(internal_error.body.find("<Code>InternalError</Code>"), std::string::npos);
  EXPECT_NE(internal_error.body.find("<Resource>/selftest/a</Resource>"), std::string::npos);

  const HttpResult slow_down = S3Call("GET", Proxied("a"));
  EXPECT_EQ(slow_down.code, CURLE_OK) << slow_down;
  EXPECT_EQ(slow_down.status, 503) << slow_down;
  EXPECT_NE(slow_down.body.find("<Code>SlowDown</Code>"), std::string::npos);

  // HEAD: the status and no body, as a server answers it.
  const HttpResult head = S3Call("HEAD", Proxied("a"));
  EXPECT_EQ(head.code, CURLE_OK) << head;
  EXPECT_EQ(head.status, 500) << head;

  // The upstream never saw the PUT; the sequence is used up, so this is forwarded.
  EXPECT_EQ(S3Call("GET", Direct("a")).status, 404);
  EXPECT_EQ(S3Call("GET", Proxied("a")).status, 404);
  const std::vector<FaultProxy::LoggedRequest> log = proxy_->log();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].fault, Fault::kReply500);
  EXPECT_EQ(log[1].fault, Fault::kReply503);
  EXPECT_EQ(log[2].fault, Fault::kReply500);
  EXPECT_EQ(log[3].fault, Fault::kForward);
}

TEST_F(S3FixturesTest, DropBeforeReplyClosesWithoutForwarding) {
  proxy_->SetPolicy(FaultProxy::ForMethod("PUT", Fault::kDropBeforeReply));
  const HttpResult put = S3Call("PUT", Proxied("dropped"), "never stored");
  EXPECT_EQ(put.code, CURLE_GOT_NOTHING) << put;
  EXPECT_NE(put.status, 200) << put;  // 100 at most: the proxy's own "100 Continue"
  const HttpResult get = S3Call("GET", Proxied("dropped"));
  EXPECT_EQ(get.status, 404) << get;  // not stored, and GETs still forwarded
  EXPECT_EQ(proxy_->requests(), 2);
}

TEST_F(S3FixturesTest, DropMidReplyCutsTheAnswerAfterTheUpstreamActed) {
  const std::string object = Payload(100 * 1000, 2);
  ASSERT_EQ(S3Call("PUT", Direct("object"), object).status, 200);
  proxy_->SetPolicy(FaultProxy::Sequence({Fault::kDropMidReply, Fault::kDropMidReply}));

  const HttpResult get = S3Call("GET", Proxied("object"));
  EXPECT_EQ(get.code, CURLE_PARTIAL_FILE) << get;
  EXPECT_EQ(get.status, 200) << get;
  EXPECT_LT(get.body.size(), object.size());
  EXPECT_GT(get.body.size(), 0u) << "about half of the body comes before the cut";
  EXPECT_EQ(get.body, object.substr(0, get.body.size()));

  // A PUT's answer has no body: it is cut in its status line. The upstream has
  // stored the object all the same: the case of a write that succeeded
  // while its client saw an error.
  const HttpResult put = S3Call("PUT", Proxied("put-cut"), "stored anyway");
  EXPECT_EQ(put.code, CURLE_GOT_NOTHING) << put;
  EXPECT_NE(put.status, 200) << put;
  EXPECT_EQ(S3Call("GET", Direct("put-cut")).body, "stored anyway");

  EXPECT_EQ(S3Call("GET", Proxied("object")).body, object);  // then forwarded again
}

TEST_F(S3FixturesTest, PolicySeesNumberMethodAndTarget) {
  std::vector<FaultProxy::Request> seen;
  std::vector<int> counted_before;
  proxy_->SetPolicy([&, this](const FaultProxy::Request& request) {
    seen.push_back(request);
    counted_before.push_back(proxy_->requests());  // a policy may look at the proxy
    return request.number == 1 ? Fault::kReply503 : Fault::kForward;
  });
  EXPECT_EQ(S3Call("PUT", Proxied("k?x-id=PutObject"), "v").status, 200);
  EXPECT_EQ(S3Call("GET", Proxied("k")).status, 503);
  EXPECT_EQ(S3Call("DELETE", Proxied("k")).status, 204);
  proxy_->SetPolicy(nullptr);

  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].number, 0);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].target, "/selftest/k?x-id=PutObject");
  EXPECT_EQ(seen[1].number, 1);
  EXPECT_EQ(seen[1].method, "GET");
  EXPECT_EQ(seen[2].method, "DELETE");
  EXPECT_EQ(counted_before, (std::vector<int>{0, 1, 2}));

  proxy_->SetPolicy(FaultProxy::ByNumber({{4, Fault::kReply500}}));
  EXPECT_EQ(S3Call("GET", Proxied("k")).status, 404);  // number 3
  EXPECT_EQ(S3Call("GET", Proxied("k")).status, 500);  // number 4
  EXPECT_EQ(proxy_->requests(), 5);
}

TEST_F(S3FixturesTest, ConcurrentRequestsAreEachServedAndCountedOnce) {
  proxy_->SetPolicy(FaultProxy::ForMethod("HEAD", Fault::kReply503));
  constexpr int kThreads = 4;
  constexpr int kRoundsPerThread = 6;
  std::vector<std::thread> clients;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int round = 0; round < kRoundsPerThread; ++round) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(round);
        const std::string value = Payload(1000 + static_cast<size_t>(round), t * 100 + round);
        if (S3Call("PUT", Proxied(key), value).status != 200) ++failures[t];
        if (S3Call("GET", Proxied(key)).body != value) ++failures[t];
        if (S3Call("HEAD", Proxied(key)).status != 503) ++failures[t];
      }
    });
  }
  for (std::thread& client : clients) client.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "client thread " << t;
  EXPECT_EQ(proxy_->requests(), kThreads * kRoundsPerThread * 3);
  std::vector<bool> numbers_seen(kThreads * kRoundsPerThread * 3, false);
  for (const FaultProxy::LoggedRequest& entry : proxy_->log()) {
    numbers_seen.at(static_cast<size_t>(entry.number)) = true;
    EXPECT_EQ(entry.fault, entry.method == "HEAD" ? Fault::kReply503 : Fault::kForward);
  }
  EXPECT_EQ(std::count(numbers_seen.begin(), numbers_seen.end(), false), 0);
}

TEST_F(S3FixturesTest, ProxyAnswersExpectContinueItself) {
  RawConnection connection(proxy_->port());
  ASSERT_TRUE(connection.connected());
  const std::string head =
      "PUT /selftest/raw HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  ASSERT_TRUE(connection.Send(head));
  const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(connection.Receive(go_on.size()), go_on);  // before any body byte was sent
  ASSERT_TRUE(connection.Send("12345"));
  // Unsigned, so s3rver takes it as anonymous and refuses the write; what
  // matters is that the answer comes back relayed with Connection: close.
  const std::string answer = connection.Receive(64 * 1024);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 ")) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("keep-alive"), std::string::npos) << answer;
  EXPECT_EQ(proxy_->requests(), 1);
}

TEST_F(S3FixturesTest, StopAndRestartKeepPortAndObjects) {
  ASSERT_EQ(S3Call("PUT", Direct("durable"), "still here").status, 200);
  const int port = server_->port();

  EXPECT_TRUE(server_->Stop());
  const HttpResult refused = S3Call("GET", Direct("durable"));
  EXPECT_EQ(refused.code, CURLE_COULDNT_CONNECT) << refused;
  // Through the proxy, a server that is gone is a connection closed unanswered.
  const HttpResult proxied = S3Call("GET", Proxied("durable"));
  EXPECT_NE(proxied.code, CURLE_OK) << proxied;
  ASSERT_EQ(proxy_->requests(), 1);
  EXPECT_TRUE(proxy_->log()[0].upstream_unreachable);

  std::string why_not;
  ASSERT_TRUE(server_->Restart(&why_not)) << why_not;
  EXPECT_EQ(server_->port(), port);
  EXPECT_EQ(S3Call("GET", Direct("durable")).body, "still here");
  EXPECT_EQ(S3Call("GET", Proxied("durable")).body, "still here");
}

TEST_F(S3FixturesTest, DestructorEndsConnectionsThatAreStillOpen) {
  // A client that sent half a head and waits: the proxy's thread for it is
  // blocked reading when the proxy goes.
  RawConnection idle(proxy_->port());
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(idle.Send("GET /selftest/x HTTP/1.1\r\nHost: 127"));
  RawConnection silent(proxy_->port());
  ASSERT_TRUE(silent.connected());

  const auto start = std::chrono::steady_clock::now();
  proxy_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(idle.Receive(1), "");  // closed, not answered
  EXPECT_EQ(silent.Receive(1), "");
}

TEST(S3rverTest, StartSaysWhyNotWhenTheDataFolderIsUnusable) {
  if (S3rver::Binary().empty()) GTEST_SKIP() << "s3rver is not installed";
  std::string why_not;
  // A path under a regular file cannot be made into a folder.
  EXPECT_EQ(S3rver::Start("/dev/null/s3", {"b"}, &why_not), nullptr);
  EXPECT_NE(why_not, "");
}

}  // namespace
}  // namespace coffer::testing
