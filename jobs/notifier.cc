#include "jobs/notifier.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "jobs/process.h"
#include "store/base/unique_fd.h"

namespace coffer::jobs {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// How much of a child's standard error is kept: its end, where the reason is.
constexpr size_t kErrorOutputKept = 64 * 1024;
// A message quotes at most this much of a child's or a server's words.
constexpr size_t kQuotedBytes = 300;

// `text` made printable for a one-line message: control characters become
// spaces, and it is cut at kQuotedBytes.
std::string Quote(std::string_view text) {
  std::string out(text.substr(0, kQuotedBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  size_t newline = text.rfind('\n');
  if (newline != std::string_view::npos) text.remove_prefix(newline + 1);
  return Quote(text);
}

std::string FirstLine(std::string_view text) {
  size_t newline = text.find('\n');
  return Quote(text.substr(0, newline));
}

// ---- Child processes -------------------------------------------------------

struct ChildOutcome {
  bool timed_out = false;
  int wait_status = 0;
  std::string error_output;  // the end of its standard error
};

// Blocks SIGPIPE in this thread while it writes to a child that may have
// closed its standard input, so that the write fails with EPIPE instead of
// killing the whole process; discards the SIGPIPE it caused on the way out.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old_);
    already_blocked_ = sigismember(&old_, SIGPIPE) == 1;
  }
  ~SigpipeBlocked() {
    if (already_blocked_) return;  // a pending SIGPIPE is not ours to take
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    struct timespec zero {};
    while (sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t old_;
  bool already_blocked_ = false;
};

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return fmt::format("exited with status {}", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return fmt::format("was killed by signal {}", WTERMSIG(wait_status));
  }
  return "ended abnormally";
}

// Runs `argv` in a process group of its own with `input` on its standard
// input, standard output on /dev/null, and this process's environment less
// its secrets (ChildEnvironment, as a hook gets it) with `environment` (NAME,
// value) set over it. Kills the group after `timeout`.
Result<ChildOutcome> RunChild(const std::vector<std::string>& argv,
                              const std::vector<std::pair<std::string, std::string>>& environment,
                              std::string_view input, milliseconds timeout) {
  if (argv.empty() || argv[0].empty()) return Status::InvalidArgument("no command to run");
  const std::vector<std::string> env_strings = ChildEnvironment(environment);

  int in_fds[2], err_fds[2];
  if (pipe2(in_fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd in_read(in_fds[0]), in_write(in_fds[1]);
  if (pipe2(err_fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd err_read(err_fds[0]), err_write(err_fds[1]);

  // Started as hooks are (jobs/process.h): posix_spawn, safe in a threaded
  // runner, in a process group of its own so a timeout kills it as one.
  UniqueFd null_output(open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (!null_output.valid()) return Status::FromErrno(errno, "open /dev/null");
  COFFER_ASSIGN_OR_RETURN(
      pid_t pid, StartProcess(argv, env_strings, in_read.get(), null_output.get(), err_write.get(),
                              /*own_process_group=*/true));
  in_read.reset();
  err_write.reset();

  fcntl(in_write.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
  // Readable when the child ends; without it (kernels before 5.3) the loop
  // looks at the child every 100 ms.
  UniqueFd pid_fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (input.empty()) in_write.reset();

  ChildOutcome outcome;
  SigpipeBlocked sigpipe_blocked;
  const auto deadline = SteadyClock::now() + timeout;
  size_t written = 0;
  auto read_errors = [&] {
    char buffer[4096];
    while (err_read.valid()) {
      ssize_t n = read(err_read.get(), buffer, sizeof buffer);
      if (n > 0) {
        outcome.error_output.append(buffer, static_cast<size_t>(n));
        if (outcome.error_output.size() > kErrorOutputKept) {
          outcome.error_output.erase(0, outcome.error_output.size() - kErrorOutputKept);
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      err_read.reset();  // end of file, or an error that will not pass
    }
  };

  while (true) {
    pid_t done = waitpid(pid, &outcome.wait_status, WNOHANG);
    if (done == pid) {
      // What it wrote before it ended is in the pipe; a child it left behind
      // may keep the pipe open, so read what is there and no more.
      read_errors();
      return outcome;
    }
    auto remaining = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    if (remaining <= milliseconds(0)) {
      kill(-pid, SIGKILL);  // the group: the command and whatever it started
      while (waitpid(pid, &outcome.wait_status, 0) < 0 && errno == EINTR) {
      }
      read_errors();
      outcome.timed_out = true;
      return outcome;
    }
    pollfd fds[3];
    nfds_t count = 0;
    int in_index = -1, err_index = -1;
    if (in_write.valid()) {
      in_index = static_cast<int>(count);
      fds[count++] = {in_write.get(), POLLOUT, 0};
    }
    if (err_read.valid()) {
      err_index = static_cast<int>(count);
      fds[count++] = {err_read.get(), POLLIN, 0};
    }
    if (pid_fd.valid()) fds[count++] = {pid_fd.get(), POLLIN, 0};
    milliseconds wait = pid_fd.valid() ? remaining : std::min(remaining, milliseconds(100));
    int ready = poll(fds, count, static_cast<int>(std::min<int64_t>(wait.count() + 1, 1 << 30)));
    if (ready < 0 && errno != EINTR) return Status::FromErrno(errno, "poll");
    if (ready <= 0) continue;
    if (in_index >= 0 && fds[in_index].revents != 0) {
      ssize_t n = write(in_write.get(), input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      // EPIPE: the command does not read its input, which is its choice.
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        in_write.reset();
      }
    }
    if (err_index >= 0 && fds[err_index].revents != 0) read_errors();
  }
}

// The Status of a child that ran: OK when it exited with 0.
Status ChildStatus(const std::string& what, const ChildOutcome& outcome, milliseconds timeout) {
  if (outcome.timed_out) {
    return Status::Aborted(
        fmt::format("{} did not finish within {} ms and was killed", what, timeout.count()));
  }
  if (WIFEXITED(outcome.wait_status) && WEXITSTATUS(outcome.wait_status) == 0) return Status::Ok();
  std::string message = fmt::format("{} {}", what, DescribeWaitStatus(outcome.wait_status));
  std::string last = LastLine(outcome.error_output);
  if (!last.empty()) message += ": " + last;
  return Status::Aborted(std::move(message));
}

// ---- Webhooks --------------------------------------------------------------

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The parts of a URL a message may show, parsed by libcurl (Coffer parses
// nothing that comes from outside itself).
struct UrlParts {
  bool valid = false;
  std::string scheme;  // lower case
  std::string origin;  // scheme://host[:port]
};

UrlParts ParseUrl(const std::string& url) {
  UrlParts parts;
  InitCurlOnce();
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), curl_url_cleanup);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return parts;
  }
  auto get = [&](CURLUPart part) -> std::string {
    char* value = nullptr;
    if (curl_url_get(handle.get(), part, &value, 0) != CURLUE_OK || value == nullptr) return "";
    std::string copy(value);
    curl_free(value);
    return copy;
  };
  parts.scheme = get(CURLUPART_SCHEME);
  std::string host = get(CURLUPART_HOST);
  std::string port = get(CURLUPART_PORT);
  if (parts.scheme.empty() || host.empty()) return parts;
  parts.valid = true;
  parts.origin = parts.scheme + "://" + host + (port.empty() ? "" : ":" + port);
  return parts;
}

size_t KeepBodyStart(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t bytes = size * count;
  if (body->size() < 4096) body->append(data, std::min(bytes, 4096 - body->size()));
  return bytes;
}

bool RetryableCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return true;
    default: return false;
  }
}

struct Attempt {
  Status status;
  bool retryable = false;
};

// ---- Mail ------------------------------------------------------------------

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    auto at = [&](size_t k) -> uint32_t {
      return k < bytes.size() ? static_cast<unsigned char>(bytes[k]) : 0;
    };
    uint32_t n = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// A header value that is UTF-8 on one line, as RFC 2047 encoded words when it
// is not plain ASCII: each word at most 75 characters and whole characters,
// words on folded lines.
std::string EncodeHeaderValue(std::string_view value) {
  bool ascii = std::all_of(value.begin(), value.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F;
  });
  if (ascii && value.size() <= 900) return std::string(value);
  constexpr size_t kBytesPerWord = 45;  // 60 characters of base64 + 12 around them
  std::string out;
  while (!value.empty()) {
    size_t take = std::min(kBytesPerWord, value.size());
    while (take < value.size() && take > 0 &&
           (static_cast<unsigned char>(value[take]) & 0xC0) == 0x80) {
      --take;  // never split a character between words
    }
    if (take == 0) take = std::min(kBytesPerWord, value.size());
    if (!out.empty()) out += "\n ";
    out += "=?UTF-8?B?" + Base64(value.substr(0, take)) + "?=";
    value.remove_prefix(take);
  }
  return out;
}

// "Tue, 05 Mar 2024 03:00:00 +0100" in local time (RFC 5322 3.3), with English
// names whatever the locale.
std::string MailDate(TimePoint time) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = static_cast<time_t>(time.time_since_epoch().count());
  struct tm tm {};
  localtime_r(&t, &tm);
  long offset_minutes = tm.tm_gmtoff / 60;
  char sign = offset_minutes < 0 ? '-' : '+';
  offset_minutes = std::labs(offset_minutes);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}", kDays[tm.tm_wday % 7],
                     tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, sign, offset_minutes / 60, offset_minutes % 60);
}

// The host as the domain of the From: address: letters, digits, '-' and '.'.
std::string MailDomain(std::string_view host) {
  std::string domain;
  for (char c : host) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.') {
      domain += c;
    }
  }
  return domain.empty() ? "localhost" : domain;
}

Status CheckAddress(std::string_view address) {
  if (address.empty()) return Status::InvalidArgument("an empty mail address");
  // sendmail would read it as an option (-t keeps addresses off the command
  // line, but a header is not the place for one either).
  if (address.front() == '-') {
    return Status::InvalidArgument(
        fmt::format("mail address '{}' starts with '-'", Quote(address)));
  }
  for (char c : address) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return Status::InvalidArgument(fmt::format(
          "mail address '{}' holds a line break or a control character", Quote(address)));
    }
  }
  return Status::Ok();
}

}  // namespace

// ---- CommandNotifier -------------------------------------------------------

CommandNotifier::CommandNotifier(std::vector<std::string> argv, milliseconds timeout)
    : argv_(std::move(argv)), timeout_(timeout) {}

std::string CommandNotifier::Describe() const {
  if (argv_.empty()) return "command (none)";
  // `/bin/sh -c TEXT` is how a job's string command arrives: show the text.
  if (argv_.size() == 3 && argv_[0] == "/bin/sh" && argv_[1] == "-c") {
    return "command " + Quote(argv_[2]);
  }
  return "command " + Quote(argv_[0]);
}

Status CommandNotifier::Send(const Notice& notice) {
  const std::vector<std::pair<std::string, std::string>> environment = {
      {"COFFER_JOB", notice.job},
      {"COFFER_OUTCOME", std::string(OutcomeName(notice.outcome))},
  };
  COFFER_ASSIGN_OR_RETURN(ChildOutcome outcome,
                          RunChild(argv_, environment, NoticeJson(notice) + "\n", timeout_));
  return ChildStatus("notify command " + Quote(argv_[0]), outcome, timeout_);
}

// ---- WebhookNotifier -------------------------------------------------------

WebhookNotifier::WebhookNotifier(std::string url) : WebhookNotifier(std::move(url), Options{}) {}

WebhookNotifier::WebhookNotifier(std::string url, Options options)
    : url_(std::move(url)), options_(std::move(options)) {}

std::string WebhookNotifier::Describe() const {
  UrlParts parts = ParseUrl(url_);
  return parts.valid ? "webhook " + parts.origin : "webhook (not a valid URL)";
}

Status WebhookNotifier::Send(const Notice& notice) {
  UrlParts parts = ParseUrl(url_);
  if (!parts.valid || (parts.scheme != "http" && parts.scheme != "https")) {
    return Status::InvalidArgument("notify-webhook is not an http:// or https:// URL");
  }
  const std::string what = "webhook " + parts.origin;
  const std::string json = NoticeJson(notice);

  auto post_once = [&]() -> Attempt {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return {Status::IoError(what + ": cannot start libcurl"), false};
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr,
                                                                        curl_slist_free_all);
    for (const char* header : {"Content-Type: application/json", "Expect:"}) {
      curl_slist* appended = curl_slist_append(headers.get(), header);
      if (appended == nullptr) return {Status::IoError(what + ": out of memory"), false};
      headers.release();
      headers.reset(appended);
    }
    std::string body;
    char error[CURL_ERROR_SIZE] = {};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_USERAGENT, "coffer");
    // Threads: no SIGALRM for resolver timeouts.
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, parts.scheme.c_str());
    curl_easy_setopt(c, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, KeepBodyStart);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    CURLcode code = curl_easy_perform(c);
    if (code != CURLE_OK) {
      std::string reason = error[0] != '\0' ? Quote(error) : curl_easy_strerror(code);
      return {Status::IoError(what + ": " + reason), RetryableCurlError(code)};
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return {Status::Ok(), false};
    std::string message = fmt::format("{}: HTTP {}", what, status);
    std::string first = FirstLine(body);
    if (!first.empty()) message += ": " + first;
    return {Status::IoError(std::move(message)), status >= 500};
  };

  Attempt attempt = post_once();
  size_t retries = 0;
  while (!attempt.status.ok() && attempt.retryable && retries < options_.retry_delays.size()) {
    milliseconds delay = options_.retry_delays[retries++];
    if (options_.wait) {
      options_.wait(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
    attempt = post_once();
  }
  if (!attempt.status.ok() && retries > 0) {
    return attempt.status.WithContext(fmt::format("after {} attempts", retries + 1));
  }
  return attempt.status;
}

// ---- MailNotifier ----------------------------------------------------------

MailNotifier::MailNotifier(std::vector<std::string> addresses)
    : MailNotifier(std::move(addresses), Options{}) {}

MailNotifier::MailNotifier(std::vector<std::string> addresses, Options options)
    : addresses_(std::move(addresses)), options_(std::move(options)) {}

std::string MailNotifier::Describe() const {
  std::string list;
  for (const std::string& a : addresses_) list += (list.empty() ? "" : ", ") + Quote(a);
  return "mail to " + (list.empty() ? "(nobody)" : list);
}

Result<std::string> MailNotifier::Message(const Notice& notice) const {
  if (addresses_.empty()) return Status::InvalidArgument("no mail address to send the notice to");
  for (const std::string& a : addresses_) COFFER_RETURN_IF_ERROR(CheckAddress(a));
  SystemClock system_clock;
  const Clock& clock = options_.clock != nullptr ? *options_.clock : system_clock;
  TimePoint now = clock.Now();

  std::string message;
  message += "From: coffer@" + MailDomain(notice.host) + "\n";
  message += "To: ";
  for (size_t i = 0; i < addresses_.size(); ++i) {
    message += (i == 0 ? "" : ",\n ") + addresses_[i];
  }
  message += "\n";
  message += "Subject: " + EncodeHeaderValue(NoticeSubject(notice)) + "\n";
  message += "Date: " + MailDate(now) + "\n";
  message += "MIME-Version: 1.0\n";
  message += "Content-Type: text/plain; charset=utf-8\n";
  message += "Content-Transfer-Encoding: 8bit\n";
  message += "Auto-Submitted: auto-generated\n";
  message += "\n";
  message += NoticeText(notice, now);
  return message;
}

Status MailNotifier::Send(const Notice& notice) {
  COFFER_ASSIGN_OR_RETURN(std::string message, Message(notice));
  // -t: the recipients come from the To: header; -oi: a line with a single
  // '.' (a log line can be one) does not end the message.
  std::vector<std::string> argv = {options_.sendmail, "-oi", "-t"};
  COFFER_ASSIGN_OR_RETURN(ChildOutcome outcome, RunChild(argv, {}, message, options_.timeout));
  return ChildStatus(Quote(options_.sendmail), outcome, options_.timeout);
}

// ---- Sending ---------------------------------------------------------------

Status SendNotices(const Notice& notice, const std::vector<std::unique_ptr<Notifier>>& notifiers,
                   const LogSink& log) {
  size_t failed = 0;
  Status first_failure;
  for (const std::unique_ptr<Notifier>& notifier : notifiers) {
    if (!notifier) continue;
    Status sent = notifier->Send(notice);
    if (sent.ok()) continue;
    std::string line = fmt::format("coffer: job {}: notice by {} not delivered: {}", notice.job,
                                   notifier->Describe(), sent.message());
    if (log) {
      log(line);
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    if (failed++ == 0) first_failure = sent;
  }
  if (failed == 0) return Status::Ok();
  return Status::IoError(fmt::format("{} of {} notices not delivered; the first: {}", failed,
                                     notifiers.size(), first_failure.message()));
}

std::vector<std::unique_ptr<Notifier>> NotifiersFor(const Job& job,
                                                    const NotifierSettings& settings) {
  std::vector<std::unique_ptr<Notifier>> notifiers;
  if (!job.notify_command.empty()) {
    notifiers.push_back(
        std::make_unique<CommandNotifier>(job.notify_command, settings.command_timeout));
  }
  if (!job.notify_webhook.empty()) {
    notifiers.push_back(std::make_unique<WebhookNotifier>(job.notify_webhook, settings.webhook));
  }
  if (!job.notify_mail.empty()) {
    notifiers.push_back(std::make_unique<MailNotifier>(job.notify_mail, settings.mail));
  }
  return notifiers;
}

}  // namespace coffer::jobs
