// ObjectServer: serves one ObjectStore (the repository's LocalObjectStore)
// to client processes over the object service (service.proto). This is the
// core of `coffer serve`: the only process that has the database open.
//
// Life cycle: Start() binds and listens (the caller has already opened the
// store, so it holds the database lock: a second server for the same
// repository fails there, before it could take over the socket); Serve()
// blocks until the server has been idle long enough or Shutdown() is called;
// the destructor stops serving and removes the socket file.
//
// Idle means: no call in flight and none finished for `idle_exit`. Clients
// (RemoteObjectStore) call Hello every third of the idle period while they
// exist, so a server outlives every connected client by about `idle_exit`.
//
// Thread-safety: Shutdown(), IdleFor() and active_calls() may be called from
// any thread; Shutdown() only stores to a lock-free atomic, so it may also be
// called from a signal handler. Serve() is called once, from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/base/status.h"
#include "store/objects/object_store.h"
#include "store/service/address.h"

namespace grpc {
class Server;
}

namespace coffer::service {

class ObjectServiceImpl;
struct WriterGate;

struct ServerOptions {
  // Reported to clients in Hello (store/repo/layout.h's kFormatVersion).
  uint32_t repository_format = 0;
  // Reported to clients in Hello so they keep the server alive; Serve()'s
  // own argument decides when it returns.
  std::chrono::milliseconds idle_exit{0};
  // Most threads serving calls at once (gRPC ResourceQuota).
  int max_threads = 16;
  // For tcp:// only, where the certificate, the key and at least one token
  // are required (unix sockets ignore them): the server's certificate chain
  // and private key (PEM), and the tokens a call may carry as
  // "authorization: Bearer TOKEN" metadata: `token` with full rights, each
  // of `append_only_tokens` to add and read snapshots only (auth.h). No two
  // may be the same. A call without a token, or with another one, is refused
  // with UNAUTHENTICATED before its request is read; a call an append-only
  // token does not allow, with PERMISSION_DENIED (kAppendOnlyRefused)
  // before it changes anything. A connection carries one token: a call with
  // a token of another role than the connection's first is UNAUTHENTICATED.
  // Over a unix socket every caller has full rights.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  std::string token;
  std::vector<std::string> append_only_tokens;
  // If set, called for every object a client puts, before anything of its
  // request is stored; an error refuses the whole request (INVALID_ARGUMENT).
  // `coffer serve` sets it for unencrypted repositories, whose object ids the
  // server can recompute (store/repo/local.h, UnencryptedObjectCheck).
  ObjectCheck check_object;
  // For tcp:// only: also listen on this unix socket address (mode 0600,
  // every caller with full rights), so that commands on the server's own
  // host reach it as they reach a server started on demand, without a
  // token. Empty: TCP alone.
  std::string local_socket;
};

class ObjectServer {
 public:
  // Listens on `address` (see address.h) and serves `store`, which must
  // remain live while the server exists. A unix socket gets mode 0600; a
  // stale socket file at that path is replaced. tcp://HOST:PORT serves TLS
  // with options' certificate and key and checks options' tokens; port 0
  // picks a free port (see address()). kInvalidArgument for a bad address,
  // tcp:// without certificate, key and a token, or a token given twice;
  // kIoError if gRPC cannot bind (or refuses the certificate or key).
  static Result<std::unique_ptr<ObjectServer>> Start(ObjectStore& store, const std::string& address,
                                                     const ServerOptions& options);
  ~ObjectServer();
  ObjectServer(const ObjectServer&) = delete;
  ObjectServer& operator=(const ObjectServer&) = delete;

  // Blocks until no call has been in flight for `idle_exit` (0: never idle
  // out), or until Shutdown(). Then stops accepting calls, lets the calls in
  // flight finish (bounded by a few seconds) and returns OK.
  Status Serve(std::chrono::milliseconds idle_exit);
  // Asks Serve() to return. Async-signal-safe.
  void Shutdown() { shutdown_requested_.store(true, std::memory_order_relaxed); }
  // What Serve() does when it returns, at once, for an owner that serves
  // without calling Serve() (gRPC answers from threads of its own): stops
  // accepting calls and lets the calls in flight finish. Not beside Serve().
  void StopServing();

  // For a command that served its own database and now closes it: if
  // `condition` holds (no writer registered, no collection running), refuses
  // from now on every new BeginWrite and BeginGc as a server that went away
  // would (the client starts a server of its own and repeats the call
  // there) and returns true; else changes nothing and returns false. No
  // registration falls between the check and the refusal.
  bool CloseToNewWritersIf(const std::function<bool()>& condition);

  // Time since the last call ended, or zero while a call is in flight.
  std::chrono::milliseconds IdleFor() const;
  int active_calls() const;
  // Where it listens (for tcp://HOST:0, with the port chosen).
  const ServiceAddress& address() const { return address_; }
  // The unix socket it also listens on (ServerOptions::local_socket), if any.
  const std::optional<ServiceAddress>& local_address() const { return local_address_; }

 private:
  // One address served: its own service, because whether calls carry
  // tokens depends on the address.
  struct Listener {
    std::unique_ptr<ObjectServiceImpl> service;
    std::unique_ptr<grpc::Server> server;
  };

  ObjectServer();

  ServiceAddress address_;
  std::optional<ServiceAddress> local_address_;
  std::unique_ptr<WriterGate> writer_gate_;  // shared by the listeners' services
  std::vector<Listener> listeners_;          // local_address_'s (if any), then address_'s
  std::atomic<bool> shutdown_requested_{false};
  bool stopped_ = false;
  static_assert(std::atomic<bool>::is_always_lock_free);
};

}  // namespace coffer::service
