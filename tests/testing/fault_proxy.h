// FaultProxy: an HTTP/1.1 proxy on a loopback port in front of an upstream
// server (S3rver), that fails chosen requests: an S3 error reply, a dropped
// connection before the answer, or one cut in the middle of the answer.
//
// Every request gets a connection of its own: the proxy answers each with
// "Connection: close" and closes the client connection after it, and
// forwards each on a new upstream connection. So the fault chosen for a
// request touches that request alone, and a client that reuses connections
// still sees one request per connection.
//
// Supports requests whose body has a Content-Length (or none); Expect:
// 100-continue is answered by the proxy itself. A chunked request gets 501.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace coffer::testing {

class FaultProxy {
 public:
  enum class Fault {
    kForward,          // passed to the upstream and its answer relayed
    kReply500,         // 500 InternalError from the proxy; upstream never sees it
    kReply503,         // 503 SlowDown from the proxy; upstream never sees it
    kDropBeforeReply,  // connection closed without an answer; upstream never sees it
    kDropMidReply,     // upstream does it, the client gets the head and about half
                       // of the body, then the connection closes; an answer with
                       // no body (a PUT's, a HEAD's) is cut in its status line
  };

  struct Request {
    int number;          // 0, 1, 2, ... over every request the proxy has read
    std::string method;  // "GET", "PUT", ...
    std::string target;  // as sent: "/bucket/key?query"
  };

  struct LoggedRequest {
    int number;
    std::string method;
    std::string target;
    Fault fault;
    // kForward or kDropMidReply found no upstream listening: the client
    // connection was closed without an answer.
    bool upstream_unreachable = false;
  };

  // Chooses the fault for each request. Called one request at a time, in
  // the order of the numbers, so it may keep plain state. It may call
  // requests() and log() (which show the requests before this one), but
  // not SetPolicy.
  using Policy = std::function<Fault(const Request&)>;

  // Listens on a free port of 127.0.0.1 and forwards to 127.0.0.1:upstream_port.
  // Forwards everything until SetPolicy. nullptr, with *why_not, on failure.
  static std::unique_ptr<FaultProxy> Start(int upstream_port, std::string* why_not);

  // Stops listening, ends every open connection and joins every thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  std::string endpoint() const;  // "http://127.0.0.1:PORT"

  // Applies from the next request read on. nullptr forwards everything.
  void SetPolicy(Policy policy);

  // From the next request on, checks each request's AWS Signature V4 with
  // `secret_key` (sigv4_check.h) before anything else, and answers one that
  // fails 403 SignatureDoesNotMatch, saying why on stderr.
  void RequireSignature(std::string secret_key);
  // Requests refused so far for their signature.
  int bad_signatures() const;

  // Requests read in full so far (each logged before it is acted on, so a
  // request the client has an answer or an error for is already counted).
  int requests() const;
  std::vector<LoggedRequest> log() const;

  // Policies. Forwards every request.
  static Policy ForwardAll();
  // The next requests, from the first one after SetPolicy, get `faults` in
  // order; the ones after them are forwarded.
  static Policy Sequence(std::vector<Fault> faults);
  // Requests with these numbers (as in Request::number) get the fault
  // given; all others are forwarded.
  static Policy ByNumber(std::map<int, Fault> faults);
  // Requests whose method is `method` get `fault`; all others are forwarded.
  static Policy ForMethod(std::string method, Fault fault);

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> finished{false};
  };
  struct Decision {
    int number;
    Fault fault;
  };

  FaultProxy(int upstream_port, int listen_fd, int stop_fd, int port);
  void AcceptLoop();
  void ReapFinishedWorkers();
  void Serve(int client_fd);
  Decision Decide(const std::string& method, const std::string& target);
  void MarkUpstreamUnreachable(int number);

  const int upstream_port_;
  const int listen_fd_;
  const int stop_fd_;  // an eventfd, readable once the proxy stops; every wait polls it
  const int port_;

  // Held while a request is numbered and its policy called: one at a time.
  std::mutex policy_mutex_;
  Policy policy_;
  std::string secret_key_;  // guarded by policy_mutex_; "" checks no signature
  std::atomic<int> bad_signatures_{0};
  int next_number_ = 0;
  mutable std::mutex log_mutex_;
  std::vector<LoggedRequest> log_;

  std::list<Worker> workers_;  // the accept thread's (and the destructor's once it has joined it)
  std::thread acceptor_;
};

const char* FaultName(FaultProxy::Fault fault);
std::ostream& operator<<(std::ostream& out, FaultProxy::Fault fault);

}  // namespace coffer::testing
