// Notices and their notifiers: the JSON contract field by field, the text of
// a mail, and each notifier against a real counterpart: commands and a
// stand-in sendmail written here as shell scripts, webhooks against an HTTP
// server on 127.0.0.1 that each test starts on an ephemeral port. Nothing
// waits by sleeping: children are waited for through their pipes and pidfds,
// and the webhook's retry delay is injected.
#include "jobs/notice.h"
#include "jobs/notifier.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/testing/fs_fixtures.h"

namespace coffer::jobs {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr TimePoint kStarted{std::chrono::seconds(1709604000)};  // 2024-03-05T02:00:00Z

Notice SampleNotice() {
  Notice n;
  n.job = "web";
  n.host = "web1";
  n.outcome = Outcome::kFailure;
  n.reason = "pre-hook exited with status 1";
  n.started = kStarted;
  n.duration = 73s;
  n.snapshot = "host/web1/2024-03-05T02:00:00Z";
  n.bytes_added = 12345;
  n.log_tail = {"starting pre-hook", "pg_dump: error: connection refused"};
  n.last_success = kStarted - std::chrono::hours(72);
  return n;
}

void WriteScript(const std::string& path, const std::string& body) {
  WriteFile(path, "#!/bin/sh\n" + body);
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
}

bool Exists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;
}

// ---- The notice ------------------------------------------------------------

TEST(NoticeJson, FieldNamesAndValuesAreTheDocumentedOnes) {
  EXPECT_EQ(NoticeJson(SampleNotice()),
            R"({"version":1,"job":"web","host":"web1","outcome":"failure",)"
            R"("reason":"pre-hook exited with status 1","started":"2024-03-05T02:00:00Z",)"
            R"("duration_seconds":73,"snapshot":"host/web1/2024-03-05T02:00:00Z",)"
            R"("bytes_added":12345,"log_tail":["starting pre-hook",)"
            R"("pg_dump: error: connection refused"],"last_success":"2024-03-02T02:00:00Z",)"
            R"("kind":"backup"})");
}

TEST(NoticeJson, ACheckSaysWhichInItsKindAndSubject) {
  Notice n = SampleNotice();
  n.kind = "restore-test";
  EXPECT_EQ(json::parse(NoticeJson(n))["kind"], "restore-test");
  EXPECT_TRUE(NoticeSubject(n).starts_with("[coffer] web restore-test on web1: failed"))
      << NoticeSubject(n);
  EXPECT_NE(NoticeText(n, kStarted).find("Run:          restore-test\n"), std::string::npos)
      << NoticeText(n, kStarted);
}

TEST(NoticeJson, AbsentSnapshotAndLastSuccessAreNull) {
  Notice n = SampleNotice();
  n.snapshot.clear();
  n.last_success.reset();
  n.outcome = Outcome::kWarning;
  json j = json::parse(NoticeJson(n));
  EXPECT_TRUE(j["snapshot"].is_null());
  EXPECT_TRUE(j["last_success"].is_null());
  EXPECT_EQ(j["outcome"], "warning");
}

TEST(NoticeJson, ReasonIsOneLineAndBytesThatAreNotUtf8AreReplaced) {
  Notice n = SampleNotice();
  n.reason = "first\nsecond";
  n.log_tail = {"file \xff\xfe name"};
  json j = json::parse(NoticeJson(n));
  EXPECT_EQ(j["reason"], "first second");
  EXPECT_EQ(j["log_tail"][0], "file \xEF\xBF\xBD\xEF\xBF\xBD name");
}

TEST(LogTail, KeepsTheLastThirtyLinesWithinEightKiB) {
  std::string log;
  for (int i = 0; i < 100; ++i) log += "line " + std::to_string(i) + "\n";
  std::vector<std::string> tail = LogTail(log);
  ASSERT_EQ(tail.size(), kLogTailLines);
  EXPECT_EQ(tail.front(), "line 70");
  EXPECT_EQ(tail.back(), "line 99");

  std::vector<std::string> long_lines(10, std::string(1000, 'x'));
  long_lines.back() = "the end";
  tail = LogTail(long_lines);
  size_t bytes = 0;
  for (const std::string& line : tail) bytes += line.size();
  EXPECT_LE(bytes, kLogTailBytes);
  EXPECT_EQ(tail.size(), 9u);  // 8 lines of 1000 bytes and "the end"
  EXPECT_EQ(tail.back(), "the end");

  tail = LogTail(std::vector<std::string>{std::string(20000, 'a') + "the error"});
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].size(), kLogTailBytes);
  EXPECT_TRUE(tail[0].ends_with("the error"));

  EXPECT_EQ(LogTail(std::string_view("a\r\n\nb")), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_TRUE(LogTail(std::string_view("")).empty());
}

TEST(NoticeText, SaysWhatFailedWhyAndHowLongAgoTheLastSuccessWas) {
  std::string text = NoticeText(SampleNotice(), kStarted + 10min);
  EXPECT_TRUE(text.starts_with(
      "[coffer] web on web1: failed \xE2\x80\x94 pre-hook exited with status 1\n\n"))
      << text;
  EXPECT_NE(text.find("3 days ago"), std::string::npos) << text;
  EXPECT_NE(text.find("1m13s"), std::string::npos) << text;
  EXPECT_NE(text.find("  pg_dump: error: connection refused\n"), std::string::npos) << text;

  Notice never = SampleNotice();
  never.last_success.reset();
  never.outcome = Outcome::kSuccess;
  never.reason.clear();
  text = NoticeText(never, kStarted);
  EXPECT_TRUE(text.starts_with("[coffer] web on web1: succeeded\n")) << text;
  EXPECT_NE(text.find("Last success: never"), std::string::npos) << text;
}

TEST(FormatAgo, ChoosesAUnitPeopleRead) {
  EXPECT_EQ(FormatAgo(-5s), "just now");
  EXPECT_EQ(FormatAgo(59s), "just now");
  EXPECT_EQ(FormatAgo(60s), "1 minute ago");
  EXPECT_EQ(FormatAgo(90min), "90 minutes ago");
  EXPECT_EQ(FormatAgo(5h), "5 hours ago");
  EXPECT_EQ(FormatAgo(std::chrono::hours(72)), "3 days ago");
}

TEST(ShouldNotify, FollowsNotifyOn) {
  NotifyOn defaults;  // failure only
  EXPECT_TRUE(ShouldNotify(defaults, Outcome::kFailure));
  EXPECT_FALSE(ShouldNotify(defaults, Outcome::kWarning));
  EXPECT_FALSE(ShouldNotify(defaults, Outcome::kSuccess));
  NotifyOn all{.failure = false, .warning = true, .success = true};
  EXPECT_FALSE(ShouldNotify(all, Outcome::kFailure));
  EXPECT_TRUE(ShouldNotify(all, Outcome::kWarning));
  EXPECT_TRUE(ShouldNotify(all, Outcome::kSuccess));
}

// ---- CommandNotifier -------------------------------------------------------

TEST(CommandNotifier, GivesTheCommandTheJsonOnItsStandardInputAndItsEnvironment) {
  TempDir dir;
  WriteScript(dir / "notify", "cat > '" + (dir / "stdin") + "'\n" +
                                  "printf '%s %s' \"$COFFER_JOB\" \"$COFFER_OUTCOME\" > '" +
                                  (dir / "env") + "'\n");
  CommandNotifier notifier({dir / "notify"});
  ASSERT_TRUE(notifier.Send(SampleNotice()).ok());
  std::string received = ReadFile(dir / "stdin");
  EXPECT_EQ(received, NoticeJson(SampleNotice()) + "\n");
  json j = json::parse(received);
  EXPECT_EQ(j["job"], "web");
  EXPECT_EQ(j["host"], "web1");
  EXPECT_EQ(j["outcome"], "failure");
  EXPECT_EQ(j["reason"], "pre-hook exited with status 1");
  EXPECT_EQ(j["started"], "2024-03-05T02:00:00Z");
  EXPECT_EQ(j["duration_seconds"], 73);
  EXPECT_EQ(j["snapshot"], "host/web1/2024-03-05T02:00:00Z");
  EXPECT_EQ(j["bytes_added"], 12345);
  EXPECT_EQ(j["log_tail"].size(), 2u);
  EXPECT_EQ(j["last_success"], "2024-03-02T02:00:00Z");
  EXPECT_EQ(ReadFile(dir / "env"), "web failure");
}

TEST(CommandNotifier, TheCommandIsNotGivenTheRepositorysSecrets) {
  TempDir dir;
  setenv("COFFER_PASSPHRASE", "hunter2", 1);
  setenv("COFFER_TOKEN", "secret-token", 1);
  setenv("COFFER_NOTIFY_TEST_KEPT", "kept", 1);
  WriteScript(dir / "notify", "env > '" + (dir / "env") + "'\n");
  CommandNotifier notifier({dir / "notify"});
  const Status sent = notifier.Send(SampleNotice());
  unsetenv("COFFER_PASSPHRASE");
  unsetenv("COFFER_TOKEN");
  unsetenv("COFFER_NOTIFY_TEST_KEPT");
  ASSERT_TRUE(sent.ok()) << sent.ToString();
  const std::string env = ReadFile(dir / "env");
  EXPECT_EQ(env.find("hunter2"), std::string::npos) << env;
  EXPECT_EQ(env.find("secret-token"), std::string::npos) << env;
  EXPECT_NE(env.find("COFFER_NOTIFY_TEST_KEPT=kept\n"), std::string::npos) << env;
  EXPECT_NE(env.find("COFFER_JOB=web\n"), std::string::npos) << env;
}

TEST(CommandNotifier, AShellCommandAsAJobWritesItWorks) {
  TempDir dir;
  CommandNotifier notifier({"/bin/sh", "-c", "cat > '" + (dir / "out") + "'"});
  ASSERT_TRUE(notifier.Send(SampleNotice()).ok());
  EXPECT_TRUE(json::parse(ReadFile(dir / "out")).is_object());
  EXPECT_EQ(notifier.Describe(), "command cat > '" + (dir / "out") + "'");
}

TEST(CommandNotifier, AFailingCommandIsAnErrorWithTheLastLineOfItsStandardError) {
  CommandNotifier notifier({"/bin/sh", "-c", "echo first >&2; echo 'pager is down' >&2; exit 3"});
  Status sent = notifier.Send(SampleNotice());
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.code(), Code::kAborted);
  EXPECT_NE(sent.message().find("exited with status 3: pager is down"), std::string::npos)
      << sent.message();
  EXPECT_EQ(sent.message().find("first"), std::string::npos) << sent.message();
}

TEST(CommandNotifier, ACommandThatDoesNotReadItsInputStillCounts) {
  // A notice larger than a pipe's buffer, to a command that never reads it.
  Notice big = SampleNotice();
  big.log_tail.assign(30, std::string(270, 'y'));
  CommandNotifier notifier({"/bin/true"});
  EXPECT_TRUE(notifier.Send(big).ok());
}

TEST(CommandNotifier, AMissingCommandIsNotFound) {
  CommandNotifier notifier({"/nonexistent/page-me"});
  Status sent = notifier.Send(SampleNotice());
  EXPECT_EQ(sent.code(), Code::kNotFound) << sent.ToString();
}

// Whether the process `pid` (not a child of this one) ends within `limit`.
bool EndsWithin(pid_t pid, std::chrono::milliseconds limit) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;  // gone already
  pollfd p{fd, POLLIN, 0};
  int ready = poll(&p, 1, static_cast<int>(limit.count()));
  close(fd);
  return ready == 1;
}

TEST(CommandNotifier, AHangingCommandIsKilledAtItsTimeoutWithItsChildren) {
  TempDir dir;
  // The child writes its pid, then the script waits for it forever.
  WriteScript(dir / "hang", "sleep 1000 &\necho $! > '" + (dir / "child.tmp") + "'\nmv '" +
                                (dir / "child.tmp") + "' '" + (dir / "child") + "'\nwait\n");
  CommandNotifier notifier({dir / "hang"}, 1500ms);
  auto start = std::chrono::steady_clock::now();
  Status sent = notifier.Send(SampleNotice());
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.code(), Code::kAborted);
  EXPECT_NE(sent.message().find("did not finish within 1500 ms"), std::string::npos)
      << sent.message();
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 30s);
  ASSERT_TRUE(Exists(dir / "child")) << "the script never started its child";
  pid_t child = std::stoi(ReadFile(dir / "child"));
  EXPECT_TRUE(EndsWithin(child, 10s)) << "sleep " << child << " outlived the timeout";
  kill(child, SIGKILL);  // never leave it behind, whatever the test found
}

// ---- WebhookNotifier -------------------------------------------------------

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// A minimal HTTP/1.1 server on 127.0.0.1: one request per connection, answered
// with the next status of `statuses` (the last one repeats) and records each
// request. Started by its constructor, stopped by its destructor.
class TestHttpServer {
 public:
  explicit TestHttpServer(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t length = sizeof address;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestHttpServer() {
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(listen_fd_);
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<HttpRequest> Requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    while (true) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      Handle(fd);
      close(fd);
    }
  }

  void Handle(int fd) {
    std::string data;
    char buffer[4096];
    size_t header_end;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) return;
      data.append(buffer, static_cast<size_t>(n));
    }
    HttpRequest request;
    std::string head = data.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t space1 = request_line.find(' ');
    size_t space2 = request_line.find(' ', space1 + 1);
    request.method = request_line.substr(0, space1);
    request.path = request_line.substr(space1 + 1, space2 - space1 - 1);
    size_t at = line_end == std::string::npos ? head.size() : line_end + 2;
    while (at < head.size()) {
      size_t end = head.find("\r\n", at);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(at, end - at);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      request.headers[name] = value;
      at = end + 2;
    }
    size_t length =
        request.headers.count("content-length") ? std::stoul(request.headers["content-length"]) : 0;
    request.body = data.substr(header_end + 4);
    while (request.body.size() < length) {
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      request.body.append(buffer, static_cast<size_t>(n));
    }
    int status;
    {
      std::lock_guard lock(mutex_);
      status = statuses_[std::min(requests_.size(), statuses_.size() - 1)];
      requests_.push_back(request);
    }
    std::string body =
        status < 300 ? "ok\n" : "nope: status " + std::to_string(status) + "\nmore\n";
    std::string response = "HTTP/1.1 " + std::to_string(status) +
                           " X\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body;
    (void)!write(fd, response.data(), response.size());
  }

  std::vector<int> statuses_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<HttpRequest> requests_;
};

// Options whose waits are recorded, not waited.
struct NoWaiting {
  std::vector<std::chrono::milliseconds> waits;
  WebhookNotifier::Options Options() {
    WebhookNotifier::Options options;
    options.wait = [this](std::chrono::milliseconds d) { waits.push_back(d); };
    return options;
  }
};

// Keeps a proxy in the environment from taking the tests' requests elsewhere.
class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("no_proxy", "127.0.0.1", 1); }
};

TEST_F(WebhookTest, PostsTheJsonWithItsContentType) {
  TestHttpServer server({200});
  NoWaiting no_waiting;
  WebhookNotifier notifier(server.Url("/hooks/secret-token?x=1"), no_waiting.Options());
  ASSERT_TRUE(notifier.Send(SampleNotice()).ok());
  std::vector<HttpRequest> requests = server.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/hooks/secret-token?x=1");
  EXPECT_EQ(requests[0].headers["content-type"], "application/json");
  EXPECT_EQ(requests[0].body, NoticeJson(SampleNotice()));
  EXPECT_EQ(json::parse(requests[0].body)["job"], "web");
  EXPECT_TRUE(no_waiting.waits.empty());
  // The path holds the hook's secret: never in a log line.
  EXPECT_EQ(notifier.Describe().find("secret"), std::string::npos);
}

TEST_F(WebhookTest, AServerErrorIsTriedAgainUntilItIsDelivered) {
  TestHttpServer server({500, 500, 200});
  NoWaiting no_waiting;
  WebhookNotifier notifier(server.Url("/hook"), no_waiting.Options());
  Status sent = notifier.Send(SampleNotice());
  ASSERT_TRUE(sent.ok()) << sent.ToString();
  EXPECT_EQ(server.Requests().size(), 3u);
  EXPECT_EQ(no_waiting.waits, (std::vector<std::chrono::milliseconds>{2s, 10s}));
}

TEST_F(WebhookTest, AServerThatAlwaysFailsIsAnErrorNamingItsStatus) {
  TestHttpServer server({500});
  NoWaiting no_waiting;
  WebhookNotifier notifier(server.Url("/hook/secret"), no_waiting.Options());
  Status sent = notifier.Send(SampleNotice());
  ASSERT_FALSE(sent.ok());
  EXPECT_NE(sent.message().find("HTTP 500: nope: status 500"), std::string::npos) << sent.message();
  EXPECT_EQ(sent.message().find("more"), std::string::npos) << sent.message();
  EXPECT_EQ(sent.message().find("secret"), std::string::npos) << sent.message();
  EXPECT_EQ(server.Requests().size(), 3u);  // once and twice again
}

TEST_F(WebhookTest, ANotFoundIsAnErrorAtOnce) {
  TestHttpServer server({404});
  NoWaiting no_waiting;
  WebhookNotifier notifier(server.Url("/wrong"), no_waiting.Options());
  Status sent = notifier.Send(SampleNotice());
  ASSERT_FALSE(sent.ok());
  EXPECT_NE(sent.message().find("HTTP 404"), std::string::npos) << sent.message();
  EXPECT_EQ(server.Requests().size(), 1u);
  EXPECT_TRUE(no_waiting.waits.empty());
}

TEST_F(WebhookTest, NothingListeningIsAnErrorSoon) {
  // A port that was free a moment ago, with nobody listening on it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  NoWaiting no_waiting;
  WebhookNotifier notifier("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/",
                           no_waiting.Options());
  auto start = std::chrono::steady_clock::now();
  Status sent = notifier.Send(SampleNotice());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.code(), Code::kIoError);
  EXPECT_EQ(no_waiting.waits.size(), 2u) << "a refused connection is tried again";
}

TEST_F(WebhookTest, OnlyHttpAndHttpsUrls) {
  WebhookNotifier notifier("file:///etc/passwd");
  EXPECT_EQ(notifier.Send(SampleNotice()).code(), Code::kInvalidArgument);
}

// ---- MailNotifier ----------------------------------------------------------

// The message sendmail received, read by Python's email package: an
// independent reader of RFC 5322 and RFC 2047.
json ParseMail(const std::string& path) {
  std::string out;
  int rc = testing::RunCommand(
      {"python3", "-c",
       "import sys, json, email, email.policy, email.utils\n"
       "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n"
       "print(json.dumps({'from': str(m['From']), 'to': [str(a) for a in m['To'].addresses],\n"
       "  'subject': str(m['Subject']), 'date': email.utils.parsedate_to_datetime(m['Date'])\n"
       "  .timestamp(), 'type': m.get_content_type(), 'charset': m.get_content_charset(),\n"
       "  'auto': str(m['Auto-Submitted']), 'body': m.get_content(), 'defects': "
       "len(m.defects)}))\n",
       path},
      &out);
  EXPECT_EQ(rc, 0) << out;
  return rc == 0 ? json::parse(out) : json();
}

TEST(MailNotifier, PipesAMessageToSendmailWithHeadersSubjectAndLogTail) {
  TempDir dir;
  WriteScript(dir / "sendmail", "printf '%s\\n' \"$@\" > '" + (dir / "argv") + "'\ncat > '" +
                                    (dir / "message") + "'\n");
  FakeClock clock(kStarted + 5min);
  MailNotifier notifier({"root@localhost", "ops@example.org"},
                        {.sendmail = dir / "sendmail", .clock = &clock});
  Notice notice = SampleNotice();
  notice.log_tail.push_back(".");  // alone on a line: -oi keeps it from ending the message
  notice.log_tail.push_back("the last line");
  Status sent = notifier.Send(notice);
  ASSERT_TRUE(sent.ok()) << sent.ToString();
  EXPECT_EQ(ReadFile(dir / "argv"), "-oi\n-t\n");  // no address on the command line

  json mail = ParseMail(dir / "message");
  EXPECT_EQ(mail["from"], "coffer@web1");
  EXPECT_EQ(mail["to"], (json{"root@localhost", "ops@example.org"}));
  EXPECT_EQ(mail["subject"],
            "[coffer] web on web1: failed \xE2\x80\x94 pre-hook exited with status 1");
  EXPECT_EQ(mail["date"], static_cast<double>((kStarted + 5min).time_since_epoch().count()));
  EXPECT_EQ(mail["type"], "text/plain");
  EXPECT_EQ(mail["charset"], "utf-8");
  EXPECT_EQ(mail["auto"], "auto-generated");
  EXPECT_EQ(mail["defects"], 0);
  std::string body = mail["body"];
  EXPECT_EQ(body, NoticeText(notice, clock.Now()));
  EXPECT_NE(body.find("  pg_dump: error: connection refused\n  .\n  the last line\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("3 days ago"), std::string::npos) << body;
}

TEST(MailNotifier, RefusesAddressesThatCouldBeOptionsOrHeaders) {
  TempDir dir;
  WriteScript(dir / "sendmail", "cat > '" + (dir / "message") + "'\n");
  for (std::string address : {"-oQ/tmp/x", "root@localhost\nBcc: everyone@example.org", ""}) {
    MailNotifier notifier({"root@localhost", address}, {.sendmail = dir / "sendmail"});
    Status sent = notifier.Send(SampleNotice());
    EXPECT_EQ(sent.code(), Code::kInvalidArgument) << address;
  }
  EXPECT_FALSE(Exists(dir / "message")) << "sendmail ran";
  EXPECT_EQ(MailNotifier({}).Send(SampleNotice()).code(), Code::kInvalidArgument);
}

TEST(MailNotifier, ASendmailThatFailsIsAnError) {
  TempDir dir;
  WriteScript(dir / "sendmail", "cat > /dev/null\necho 'queue full' >&2\nexit 75\n");
  MailNotifier notifier({"root@localhost"}, {.sendmail = dir / "sendmail"});
  Status sent = notifier.Send(SampleNotice());
  ASSERT_FALSE(sent.ok());
  EXPECT_NE(sent.message().find("exited with status 75: queue full"), std::string::npos)
      << sent.message();
}

// ---- SendNotices and NotifiersFor ------------------------------------------

class ScriptedNotifier final : public Notifier {
 public:
  ScriptedNotifier(std::string name, Status result, std::vector<std::string>* calls)
      : name_(std::move(name)), result_(std::move(result)), calls_(calls) {}
  Status Send(const Notice&) override {
    calls_->push_back(name_);
    return result_;
  }
  std::string Describe() const override { return name_; }

 private:
  std::string name_;
  Status result_;
  std::vector<std::string>* calls_;
};

TEST(SendNotices, OneFailingNotifierDoesNotStopTheNextAndIsLogged) {
  std::vector<std::string> calls, logged;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<ScriptedNotifier>(
      "first", Status::IoError("HTTP 503: down for maintenance"), &calls));
  notifiers.push_back(std::make_unique<ScriptedNotifier>("second", Status::Ok(), &calls));
  Status sent = SendNotices(SampleNotice(), notifiers,
                            [&](std::string_view line) { logged.emplace_back(line); });
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "second"}));
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0],
            "coffer: job web: notice by first not delivered: HTTP 503: down for maintenance");
  EXPECT_FALSE(sent.ok());
  EXPECT_NE(sent.message().find("1 of 2 notices not delivered"), std::string::npos);

  logged.clear();
  notifiers.erase(notifiers.begin());
  EXPECT_TRUE(SendNotices(SampleNotice(), notifiers, [&](std::string_view line) {
                logged.emplace_back(line);
              }).ok());
  EXPECT_TRUE(logged.empty());
}

TEST(SendNotices, RealNotifiersOneFailingOneDelivering) {
  TempDir dir;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<CommandNotifier>(
      std::vector<std::string>{"/bin/sh", "-c", "echo 'no pager' >&2; exit 1"}));
  notifiers.push_back(std::make_unique<CommandNotifier>(
      std::vector<std::string>{"/bin/sh", "-c", "cat > '" + (dir / "delivered") + "'"}));
  std::vector<std::string> logged;
  Status sent = SendNotices(SampleNotice(), notifiers,
                            [&](std::string_view line) { logged.emplace_back(line); });
  EXPECT_FALSE(sent.ok());
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("no pager"), std::string::npos) << logged[0];
  EXPECT_TRUE(Exists(dir / "delivered"));
}

TEST(NotifiersFor, OneNotifierPerKindTheJobNames) {
  Job job;
  job.name = "web";
  EXPECT_TRUE(NotifiersFor(job).empty());
  job.notify_command = {"/bin/sh", "-c", "/usr/local/bin/page-me"};
  job.notify_webhook = "https://hooks.example.org/backup/T0KEN";
  job.notify_mail = {"root@localhost", "ops@example.org"};
  std::vector<std::unique_ptr<Notifier>> notifiers = NotifiersFor(job);
  ASSERT_EQ(notifiers.size(), 3u);
  EXPECT_EQ(notifiers[0]->Describe(), "command /usr/local/bin/page-me");
  EXPECT_EQ(notifiers[1]->Describe(), "webhook https://hooks.example.org");
  EXPECT_EQ(notifiers[2]->Describe(), "mail to root@localhost, ops@example.org");
}

}  // namespace
}  // namespace coffer::jobs
