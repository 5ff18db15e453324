// Delivering notices (DESIGN.md, "Jobs": notifiers behind one small
// interface): a command, a webhook or mail, each a Notifier whose Send tells
// one Notice (jobs/notice.h) to one place.
//
// The contract every notifier keeps:
//   - Send blocks until the notice is delivered or given up, within a bound
//     of time (the timeouts below), and says which as a Status: kInvalidArgument
//     for a setting that cannot work (a mail address starting with '-'),
//     kAborted for a command or sendmail that failed, was killed or timed out,
//     kIoError for what the network or the system refused (HTTP status
//     included), kNotFound for a command that does not exist.
//   - Messages are one line and never contain a webhook's path or query,
//     which often holds its secret (Slack- and Discord-style hooks): only its
//     scheme, host and port (Describe, and every error of WebhookNotifier).
//   - A notice that cannot be delivered never changes the job's result: the
//     runner calls SendNotices, which logs each failure and returns a Status
//     for its own report only.
//
// CommandNotifier runs argv (no shell; a job's string command is already
// {"/bin/sh", "-c", TEXT}) in a process group of its own, with NoticeJson and
// a '\n' on its standard input, standard output on /dev/null, the runner's
// environment plus COFFER_JOB=<job> and COFFER_OUTCOME=success|warning|failure.
// It fails when the command exits other than 0 (the message has the last line
// of its standard error) or runs past its timeout (60 s), when the whole process
// group is killed with SIGKILL: a notice has no state worth a graceful stop,
// and a hung notifier must not hold up the next one.
//
// WebhookNotifier POSTs NoticeJson with "Content-Type: application/json" to
// an http:// or https:// URL with libcurl: connect timeout 10 s, whole request
// 30 s; redirects are followed (at most 5, the POST kept) only within the URL's
// own scheme, so https never turns into http; proxies from https_proxy,
// http_proxy and no_proxy as libcurl reads them. Any 2xx is delivered. A
// connection error (refused, unresolved, timed out, reset) or a 5xx is tried
// again twice, after 2 s and then 10 s (the wait is injectable); anything else
// (3xx beyond the redirects, 4xx, a TLS certificate error) fails at once with
// the status code and the first line of the response's body.
//
// MailNotifier pipes one RFC 5322 message to `SENDMAIL -oi -t` (addresses in
// the To: header only, never on the command line, so none is read as an
// option): From: coffer@HOST, To:, Subject: NoticeSubject (RFC 2047-encoded
// when not ASCII), Date: (local time), MIME-Version, Content-Type: text/plain;
// charset=utf-8, Content-Transfer-Encoding: 8bit, Auto-Submitted:
// auto-generated (RFC 3834, so that vacation replies stay away), and
// NoticeText as the body. Addresses starting with '-' or holding a control
// character (line breaks) are refused before anything runs. Sendmail runs as
// the command does (its own process group, a 60 s timeout).
//
// Thread safety: a notifier is used by one thread at a time; different
// notifiers may Send at once. Sending spawns processes with posix_spawn,
// which is safe in threaded programs, and blocks SIGPIPE in the calling thread
// only while it writes to a child.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/clock.h"
#include "jobs/job_file.h"
#include "jobs/notice.h"
#include "store/base/status.h"

namespace coffer::jobs {

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Delivers `notice` or says why not (the contract above).
  virtual Status Send(const Notice& notice) = 0;
  // What the notifier is, for log lines: "command /usr/local/bin/page-me",
  // "webhook https://hooks.example.org", "mail to root@localhost".
  virtual std::string Describe() const = 0;
};

inline constexpr std::chrono::milliseconds kNotifyCommandTimeout = std::chrono::seconds(60);

class CommandNotifier final : public Notifier {
 public:
  explicit CommandNotifier(std::vector<std::string> argv,
                           std::chrono::milliseconds timeout = kNotifyCommandTimeout);
  Status Send(const Notice& notice) override;
  std::string Describe() const override;

 private:
  std::vector<std::string> argv_;
  std::chrono::milliseconds timeout_;
};

class WebhookNotifier final : public Notifier {
 public:
  // Waits before a retry; the tests pass one that returns at once.
  using Wait = std::function<void(std::chrono::milliseconds)>;
  struct Options {
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds total_timeout = std::chrono::seconds(30);
    // One wait before each retry: two retries.
    std::vector<std::chrono::milliseconds> retry_delays = {std::chrono::seconds(2),
                                                           std::chrono::seconds(10)};
    Wait wait;  // empty: std::this_thread::sleep_for
  };

  explicit WebhookNotifier(std::string url);
  WebhookNotifier(std::string url, Options options);
  Status Send(const Notice& notice) override;
  std::string Describe() const override;

 private:
  std::string url_;
  Options options_;
};

class MailNotifier final : public Notifier {
 public:
  struct Options {
    std::string sendmail = "/usr/sbin/sendmail";
    std::chrono::milliseconds timeout = kNotifyCommandTimeout;
    // Dates the message and says how long ago the last success was; null:
    // the system clock. Not owned; must outlive the notifier.
    const Clock* clock = nullptr;
  };

  explicit MailNotifier(std::vector<std::string> addresses);
  MailNotifier(std::vector<std::string> addresses, Options options);
  Status Send(const Notice& notice) override;
  std::string Describe() const override;

  // The whole message Send pipes to sendmail, lines ending in '\n' (sendmail
  // makes them CRLF), or why it cannot be sent. Public for tests and previews.
  Result<std::string> Message(const Notice& notice) const;

 private:
  std::vector<std::string> addresses_;
  Options options_;
};

// Where SendNotices writes a notice it could not deliver: one line, without
// its line end. Empty: standard error.
using LogSink = std::function<void(std::string_view line)>;

// Sends `notice` through every notifier in turn; one failing does not stop
// the next. Each failure is logged as
//   "coffer: job JOB: notice by DESCRIBE not delivered: MESSAGE"
// OK when all were delivered; otherwise kIoError naming how many failed and
// the first failure, for the caller's report only: it must not change the
// job's outcome or exit status.
Status SendNotices(const Notice& notice, const std::vector<std::unique_ptr<Notifier>>& notifiers,
                   const LogSink& log = {});

// The settings NotifiersFor hands to each notifier; the defaults are the
// production ones.
struct NotifierSettings {
  std::chrono::milliseconds command_timeout = kNotifyCommandTimeout;
  WebhookNotifier::Options webhook;
  MailNotifier::Options mail;
};

// The notifiers a job names, in this order: notify-command, notify-webhook,
// notify-mail (one MailNotifier for all its addresses). Empty when it names
// none. Whether to send at all is ShouldNotify's question, not this one's.
std::vector<std::unique_ptr<Notifier>> NotifiersFor(const Job& job,
                                                    const NotifierSettings& settings = {});

}  // namespace coffer::jobs
