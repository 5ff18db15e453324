#include "tests/testing/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>
#include <system_error>
#include <utility>

#include "tests/testing/sigv4_check.h"

namespace coffer::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A peer that sends or takes nothing for this long is given up on, so that
// no connection thread can hang a test for ever.
constexpr auto kIdleTimeout = std::chrono::seconds(60);
// After a full answer the proxy waits this long at most for the client to
// close first, so that the answer is not lost to a reset.
constexpr auto kLingerTimeout = std::chrono::seconds(5);
constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kReadChunk = 64 * 1024;

// Owns a socket descriptor.
class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string XmlEscape(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

// The head of a request or response: its first line and its header fields.
struct Head {
  std::string first_line;
  std::vector<std::pair<std::string, std::string>> fields;  // name as sent, value trimmed

  const std::string* Find(std::string_view lower_name) const {
    for (const auto& [name, value] : fields) {
      if (Lower(name) == lower_name) return &value;
    }
    return nullptr;
  }

  // The same head without hop-by-hop fields that would keep a connection
  // open or wait for a 100, and with "Connection: close".
  std::string WithConnectionClose() const {
    std::string text = first_line + "\r\n";
    for (const auto& [name, value] : fields) {
      const std::string lower = Lower(name);
      if (lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
          lower == "expect") {
        continue;
      }
      text += name + ": " + value + "\r\n";
    }
    return text + "Connection: close\r\n\r\n";
  }
};

// Parses `text`, a head up to and including its empty line.
bool ParseHead(std::string_view text, Head* head) {
  size_t end = text.find("\r\n");
  if (end == std::string_view::npos || end == 0) return false;
  head->first_line = std::string(text.substr(0, end));
  text.remove_prefix(end + 2);
  while ((end = text.find("\r\n")) != 0) {
    if (end == std::string_view::npos) return false;
    const std::string_view line = text.substr(0, end);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    head->fields.emplace_back(std::string(line.substr(0, colon)),
                              std::string(Trim(line.substr(colon + 1))));
    text.remove_prefix(end + 2);
  }
  return true;
}

bool ParseContentLength(const std::string& value, size_t* length) {
  if (value.empty() || value.size() > 15) return false;
  size_t parsed = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    parsed = parsed * 10 + static_cast<size_t>(c - '0');
  }
  *length = parsed;
  return true;
}

// One connection's blocking-style I/O over non-blocking sockets: each wait
// also watches the proxy's stop event and gives up after kIdleTimeout.
class Io {
 public:
  explicit Io(int stop_fd) : stop_fd_(stop_fd) {}

  // Ready for `events` (or failed, which the next call reports). False when
  // the proxy stops or `timeout` passes.
  bool WaitFor(int fd, short events, Clock::duration timeout = kIdleTimeout) const {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      pollfd fds[2] = {{fd, events, 0}, {stop_fd_, POLLIN, 0}};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      const int ready = poll(fds, 2, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0 || fds[1].revents != 0) return false;
      return true;
    }
  }

  // Bytes read (appended to `buffer`), 0 at the end of the stream, -1 on failure.
  ssize_t ReadSome(int fd, std::string* buffer) const {
    char chunk[kReadChunk];
    for (;;) {
      const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n > 0) buffer->append(chunk, static_cast<size_t>(n));
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitFor(fd, POLLIN)) continue;
      return -1;
    }
  }

  // Reads into `buffer` until it holds a whole head; *head_end is where the
  // bytes after it start. False if the stream ends or fails first.
  bool ReadHead(int fd, std::string* buffer, size_t* head_end) const {
    size_t searched = 0;
    for (;;) {
      const size_t found = buffer->find("\r\n\r\n", searched);
      if (found != std::string::npos) {
        *head_end = found + 4;
        return true;
      }
      if (buffer->size() > kMaxHeadBytes) return false;
      searched = buffer->size() >= 3 ? buffer->size() - 3 : 0;
      if (ReadSome(fd, buffer) <= 0) return false;
    }
  }

  bool SendAll(int fd, std::string_view data) const {
    while (!data.empty()) {
      // MSG_NOSIGNAL: a client that went away is an error here, not SIGPIPE.
      const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && WaitFor(fd, POLLOUT)) continue;
      return false;
    }
    return true;
  }

  // A new connection to 127.0.0.1:port; an invalid Socket if none.
  Socket Connect(int port) const {
    Socket upstream(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!upstream.valid()) return Socket();
    const sockaddr_in address = Loopback(port);
    if (connect(upstream.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      if (errno != EINPROGRESS && errno != EINTR) return Socket();
      if (!WaitFor(upstream.fd(), POLLOUT)) return Socket();
      int error = 0;
      socklen_t length = sizeof(error);
      if (getsockopt(upstream.fd(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
        return Socket();
      }
    }
    const int one = 1;
    setsockopt(upstream.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return upstream;
  }

  // Ends a connection whose answer is complete: tells the client, then
  // waits (bounded) for it to close first. Closing with unread bytes, or
  // before the client has read, could turn into a reset that loses the answer.
  void CloseGracefully(int fd) const {
    shutdown(fd, SHUT_WR);
    const auto deadline = Clock::now() + kLingerTimeout;
    std::string discarded;
    while (Clock::now() < deadline) {
      if (!WaitFor(fd, POLLIN, deadline - Clock::now())) return;
      discarded.clear();
      if (ReadSome(fd, &discarded) <= 0) return;
    }
  }

 private:
  const int stop_fd_;
};

std::string ErrorReply(int status, std::string_view reason, std::string_view code,
                       std::string_view message, const std::string& target, int number,
                       bool head_only) {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
      "</Code><Message>" + std::string(message) + "</Message><Resource>" + XmlEscape(target) +
      "</Resource><RequestId>fault-proxy" + (number >= 0 ? "-" + std::to_string(number) : "") +
      "</RequestId></Error>";
  std::string reply =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
      "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  // A HEAD answer has the length of the body it would have, and no body.
  return head_only ? reply : reply + body;
}

}  // namespace

const char* FaultName(FaultProxy::Fault fault) {
  switch (fault) {
    case FaultProxy::Fault::kForward: return "kForward";
    case FaultProxy::Fault::kReply500: return "kReply500";
    case FaultProxy::Fault::kReply503: return "kReply503";
    case FaultProxy::Fault::kDropBeforeReply: return "kDropBeforeReply";
    case FaultProxy::Fault::kDropMidReply: return "kDropMidReply";
  }
  return "unknown fault";
}

std::ostream& operator<<(std::ostream& out, FaultProxy::Fault fault) {
  return out << FaultName(fault);
}

FaultProxy::Policy FaultProxy::ForwardAll() {
  return [](const Request&) { return Fault::kForward; };
}

FaultProxy::Policy FaultProxy::Sequence(std::vector<Fault> faults) {
  // Calls come one at a time (see Policy), so a plain counter is enough.
  return [faults = std::move(faults), next = size_t{0}](const Request&) mutable {
    return next < faults.size() ? faults[next++] : Fault::kForward;
  };
}

FaultProxy::Policy FaultProxy::ByNumber(std::map<int, Fault> faults) {
  return [faults = std::move(faults)](const Request& request) {
    const auto found = faults.find(request.number);
    return found == faults.end() ? Fault::kForward : found->second;
  };
}

FaultProxy::Policy FaultProxy::ForMethod(std::string method, Fault fault) {
  return [method = std::move(method), fault](const Request& request) {
    return request.method == method ? fault : Fault::kForward;
  };
}

std::unique_ptr<FaultProxy> FaultProxy::Start(int upstream_port, std::string* why_not) {
  std::string ignored;
  if (!why_not) why_not = &ignored;
  auto fail = [why_not](const std::string& what, int fd_to_close = -1) {
    *why_not = "FaultProxy: " + what + ": " + std::strerror(errno);
    if (fd_to_close >= 0) close(fd_to_close);
    return nullptr;
  };
  const int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return fail("socket");
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return fail("bind 127.0.0.1:0", listen_fd);
  }
  if (listen(listen_fd, SOMAXCONN) != 0) return fail("listen", listen_fd);
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return fail("getsockname", listen_fd);
  }
  const int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) return fail("eventfd", listen_fd);
  std::unique_ptr<FaultProxy> proxy;
  try {
    proxy.reset(new FaultProxy(upstream_port, listen_fd, stop_fd, ntohs(address.sin_port)));
  } catch (const std::system_error& error) {  // no thread could be started
    *why_not = std::string("FaultProxy: ") + error.what();
    close(listen_fd);
    close(stop_fd);
    return nullptr;
  }
  return proxy;
}

FaultProxy::FaultProxy(int upstream_port, int listen_fd, int stop_fd, int port)
    : upstream_port_(upstream_port), listen_fd_(listen_fd), stop_fd_(stop_fd), port_(port) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  // The event stays readable: every wait of every thread sees it and returns.
  const uint64_t one = 1;
  while (write(stop_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  acceptor_.join();
  for (Worker& worker : workers_) worker.thread.join();
  close(listen_fd_);
  close(stop_fd_);
}

std::string FaultProxy::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FaultProxy::RequireSignature(std::string secret_key) {
  std::lock_guard lock(policy_mutex_);
  secret_key_ = std::move(secret_key);
}

int FaultProxy::bad_signatures() const {
  return bad_signatures_.load();
}

void FaultProxy::SetPolicy(Policy policy) {
  std::lock_guard lock(policy_mutex_);
  policy_ = std::move(policy);
}

int FaultProxy::requests() const {
  std::lock_guard lock(log_mutex_);
  return static_cast<int>(log_.size());
}

std::vector<FaultProxy::LoggedRequest> FaultProxy::log() const {
  std::lock_guard lock(log_mutex_);
  return log_;
}

FaultProxy::Decision FaultProxy::Decide(const std::string& method, const std::string& target) {
  std::lock_guard policy_lock(policy_mutex_);
  const Request request{next_number_++, method, target};
  const Fault fault = policy_ ? policy_(request) : Fault::kForward;
  // Still under policy_mutex_: the log stays in the order of the numbers,
  // so log()[n].number == n.
  std::lock_guard log_lock(log_mutex_);
  log_.push_back({request.number, method, target, fault});
  return {request.number, fault};
}

void FaultProxy::MarkUpstreamUnreachable(int number) {
  std::lock_guard lock(log_mutex_);
  log_.at(static_cast<size_t>(number)).upstream_unreachable = true;
}

void FaultProxy::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("FaultProxy: poll");
      return;
    }
    if (fds[1].revents != 0) return;
    const int client_fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client_fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) {
        continue;
      }
      // Out of descriptors or worse: stop accepting, and the test fails
      // with refused connections rather than a busy loop.
      std::perror("FaultProxy: accept");
      return;
    }
    ReapFinishedWorkers();
    Worker& worker = workers_.emplace_back();
    try {
      worker.thread = std::thread([this, client_fd, &worker] {
        Serve(client_fd);
        worker.finished = true;
      });
    } catch (const std::system_error& error) {
      std::fprintf(stderr, "FaultProxy: no thread for a connection: %s\n", error.what());
      close(client_fd);
      workers_.pop_back();
    }
  }
}

void FaultProxy::ReapFinishedWorkers() {
  for (auto worker = workers_.begin(); worker != workers_.end();) {
    if (worker->finished) {
      worker->thread.join();
      worker = workers_.erase(worker);
    } else {
      ++worker;
    }
  }
}

void FaultProxy::Serve(int client_fd) try {
  const Socket client(client_fd);
  const int one = 1;
  setsockopt(client.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const Io io(stop_fd_);

  // The request: head, then as many body bytes as Content-Length says.
  std::string received;
  size_t head_end = 0;
  if (!io.ReadHead(client.fd(), &received, &head_end)) return;  // closed, or idle: no request
  Head request;
  size_t content_length = 0;
  const std::string* length_field = nullptr;
  std::string method, target;
  if (ParseHead(std::string_view(received).substr(0, head_end), &request)) {
    const size_t first_space = request.first_line.find(' ');
    const size_t second_space = request.first_line.find(' ', first_space + 1);
    if (first_space != std::string::npos && second_space != std::string::npos) {
      method = request.first_line.substr(0, first_space);
      target = request.first_line.substr(first_space + 1, second_space - first_space - 1);
    }
    length_field = request.Find("content-length");
  }
  if (method.empty() || target.empty() ||
      (length_field && !ParseContentLength(*length_field, &content_length))) {
    std::fprintf(stderr, "FaultProxy: a request it cannot parse; answered 400\n");
    io.SendAll(client.fd(),
               ErrorReply(400, "Bad Request", "BadRequest",
                          "The fault proxy could not parse the request.", target, -1, false));
    io.CloseGracefully(client.fd());
    return;
  }
  if (request.Find("transfer-encoding")) {
    std::fprintf(stderr, "FaultProxy: %s %s is chunked, which it does not support; answered 501\n",
                 method.c_str(), target.c_str());
    io.SendAll(client.fd(),
               ErrorReply(501, "Not Implemented", "NotImplemented",
                          "The fault proxy needs a Content-Length body.", target, -1, false));
    io.CloseGracefully(client.fd());
    return;
  }
  const size_t request_end = head_end + content_length;
  const std::string* expect = request.Find("expect");
  if (expect && Lower(*expect) == "100-continue" && received.size() < request_end) {
    // The client waits for this before it sends the body; the upstream never
    // sees the Expect field, so the proxy answers it.
    if (!io.SendAll(client.fd(), "HTTP/1.1 100 Continue\r\n\r\n")) return;
  }
  while (received.size() < request_end) {
    if (io.ReadSome(client.fd(), &received) <= 0) return;  // body cut short: no request
  }
  const std::string_view body = std::string_view(received).substr(head_end, content_length);
  std::string secret_key;
  {
    std::lock_guard lock(policy_mutex_);
    secret_key = secret_key_;
  }
  if (!secret_key.empty()) {
    const std::string why = CheckSigV4({method, target, request.fields, body}, secret_key);
    if (!why.empty()) {
      ++bad_signatures_;
      std::fprintf(stderr, "FaultProxy: %s %s: %s\n", method.c_str(), target.c_str(), why.c_str());
      io.SendAll(client.fd(), ErrorReply(403, "Forbidden", "SignatureDoesNotMatch",
                                         "The request signature we calculated does not match.",
                                         target, -1, method == "HEAD"));
      io.CloseGracefully(client.fd());
      return;
    }
  }

  const Decision decision = Decide(method, target);
  const bool head_only = method == "HEAD";
  switch (decision.fault) {
    case Fault::kReply500:
      io.SendAll(client.fd(), ErrorReply(500, "Internal Server Error", "InternalError",
                                         "We encountered an internal error. Please try again.",
                                         target, decision.number, head_only));
      io.CloseGracefully(client.fd());
      return;
    case Fault::kReply503:
      io.SendAll(client.fd(), ErrorReply(503, "Service Unavailable", "SlowDown",
                                         "Please reduce your request rate.", target,
                                         decision.number, head_only));
      io.CloseGracefully(client.fd());
      return;
    case Fault::kDropBeforeReply: return;  // the Socket closes it
    case Fault::kForward:
    case Fault::kDropMidReply: break;
  }

  // A new upstream connection for this request alone.
  const Socket upstream = io.Connect(upstream_port_);
  if (!upstream.valid()) {
    MarkUpstreamUnreachable(decision.number);
    return;
  }
  std::string upstream_request = request.WithConnectionClose();
  upstream_request.append(body);
  // If this fails, the upstream may have answered early (and closed): the
  // answer, if any, is still read and relayed.
  io.SendAll(upstream.fd(), upstream_request);

  std::string response;
  size_t response_head_end = 0;
  if (!io.ReadHead(upstream.fd(), &response, &response_head_end)) return;
  Head response_head;
  if (!ParseHead(std::string_view(response).substr(0, response_head_end), &response_head)) return;
  const std::string client_head = response_head.WithConnectionClose();

  if (decision.fault == Fault::kDropMidReply) {
    // The whole answer first (upstream closes after it), then half of it.
    while (io.ReadSome(upstream.fd(), &response) > 0) {
    }
    const std::string_view response_body = std::string_view(response).substr(response_head_end);
    if (response_body.empty()) {
      // Nothing to cut but the head, and libcurl takes a head cut anywhere
      // after its status line, at the end of the stream, for a whole answer.
      const std::string& status_line = response_head.first_line;
      io.SendAll(client.fd(), std::string_view(status_line).substr(0, status_line.size() / 2));
    } else {
      io.SendAll(client.fd(), client_head);
      io.SendAll(client.fd(), response_body.substr(0, response_body.size() / 2));
    }
    return;
  }

  // kForward: relay until the upstream closes, which it does after this one
  // answer as the request asked it to.
  if (!io.SendAll(client.fd(), client_head + response.substr(response_head_end))) return;
  for (;;) {
    response.clear();
    const ssize_t n = io.ReadSome(upstream.fd(), &response);
    if (n < 0) return;  // upstream failed mid-answer: the client sees it cut
    if (n == 0) break;
    if (!io.SendAll(client.fd(), response)) return;
  }
  io.CloseGracefully(client.fd());
} catch (const std::exception& error) {
  // The Socket has closed the connection; the client sees it dropped.
  std::fprintf(stderr, "FaultProxy: a connection failed: %s\n", error.what());
}

}  // namespace coffer::testing
