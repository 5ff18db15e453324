// RemoteObjectStore: the ObjectStore of a client process, talking to the
// ObjectServer (`coffer serve`) that owns the repository's database. It
// behaves like LocalObjectStore, down to the Status codes (the typed suite in
// tests/store/service proves it); commands cannot tell the two apart.
//
// Batching: Put() checks its arguments at once (kind chunk, tree or needs list, at most
// kMaxObjectBytes), then buffers the object; a batch of kBatchBytes or
// kBatchObjects (limits.h) goes to the server in one PutObjects call, sent by
// a background thread while the caller goes on (at most two batches in
// flight; Put() waits beyond that). Flush(), Get(), GetMany(), CommitSnapshot(),
// ListSnapshots(), DeleteSnapshot(), BeginGc() and FinishGc() first send the pending batch and wait
// for it (and for every batch before it), so the server sees every earlier
// Put() before them: CommitSnapshot() keeps the durability contract.
// Contains() does not wait: ids still on their way count as present
// (read-your-writes without breaking batches).
//
// Errors: a failed background batch is never lost. Its Status becomes this
// store's sticky error, which every later call returns; connect again to
// start over.
//
// Keep-alive: while this object exists, it calls Hello every third of the
// server's idle-exit period (at least once a minute), so the server does not
// exit under it and the writers it registered do not lapse.
//
// Thread-safety: every method may be called concurrently from many threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/objects/folder_copy.h"
#include "store/objects/object_store.h"
#include "store/service/address.h"

namespace coffer::service {

class PutObjectsRequest;  // generated from service.proto

struct ConnectOptions {
  // Shown in the server's logs.
  std::string client_name = "coffer";
  // How long Connect() waits for the Hello answer.
  std::chrono::milliseconds timeout{10'000};
  // For tests of the version check only.
  uint32_t protocol_version = 0;  // 0: limits.h's kProtocolVersion
  // For tcp:// only (unix sockets ignore them). The certificate (PEM) of
  // the CA that signed the server's certificate, or the server's own
  // self-signed one; empty: the system's CAs. The server's certificate must
  // name the HOST of the address (DNS or IP subjectAltName).
  std::string tls_ca_pem;
  // Sent with every call as "authorization: Bearer TOKEN"; empty: none.
  std::string token;
  // For a server started on demand: starts a new one when the server went
  // away (killed, crashed) under a long-lived client such as a mount; the
  // failed call then runs again. Empty: such a call fails.
  std::function<Status()> restart_server;
};

class RemoteObjectStore final : public ObjectStore, public FolderCopySource {
 public:
  // Connects to the server at `address` (address.h) and says Hello.
  // kNotFound "no server at ADDRESS" when nothing listens there (no socket
  // file, or a stale one): the caller may start a server and retry.
  // kUnsupported when the server speaks another protocol version.
  // kInvalidArgument for a bad address. For tcp://: kIoError when there is
  // no server or the TLS handshake fails (e.g. a certificate not signed by
  // tls_ca_pem), kUnauthenticated "the server refused the token".
  static Result<std::unique_ptr<RemoteObjectStore>> Connect(const std::string& address,
                                                            const ConnectOptions& options = {});
  // Sends what is still buffered (errors are dropped: call Flush() first to
  // see them), then stops the background threads.
  ~RemoteObjectStore() override;

  Result<std::optional<Bytes>> GetMeta(std::string_view key) override;
  Status PutMeta(std::string_view key, ByteView value) override;
  Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) override;
  Status RemoveKeySlot(std::string_view name) override;
  Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) override;
  Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) override;
  Result<Bytes> Get(ObjectKind kind, const ObjectId& id) override;
  // GetObjects calls of at most kMaxGetObjectsIds ids each, asking again for
  // what a reply had no room for.
  Status GetMany(ObjectKind kind, std::span<const ObjectId> ids, const SealedVisitor& use) override;
  Status GetManyChecked(ObjectKind kind, std::span<const ObjectId> ids,
                        const SealedVisitor& use) override;
  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>& parent) override;
  Status EndWrite(WriteId writer) override;
  // Sends a Hello now, naming `writers` (the keep-alive names every writer
  // this store registered anyway).
  Status RefreshWriters(std::span<const WriteId> writers) override;
  Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record, WriteId writer,
                        const std::optional<ObjectId>& needs) override;
  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) override;
  Status DeleteSnapshot(const SnapshotRef& ref) override;
  Status SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) override;
  Status SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) override;
  Status SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) override;
  Result<GcStart> BeginGc() override;
  Status AddGcMarks(uint64_t gc_id, std::span<const uint64_t> id_prefixes) override;
  Result<GcResult> FinishGc(uint64_t gc_id) override;
  Status AbortGc(uint64_t gc_id) override;
  // Asks the server to copy its repository's files (a CopyRepository call).
  // Only a server on this host's unix socket does; over tcp:// the server
  // refuses (kPermissionDenied), and one of a version without the call
  // answers kUnsupported. Not repeated after the server is restarted: the
  // folder would no longer be empty.
  Result<FolderCopyReport> CopyRepositoryTo(const std::string& dir) override;

  // Sends every buffered object and waits until the server has them (stored
  // like Put(): durable only after the next commit). Returns the sticky error.
  Status Flush();

  // What the server said in Hello.
  uint32_t repository_format() const { return repository_format_; }
  std::chrono::milliseconds server_idle_exit() const { return server_idle_exit_; }
  const ServiceAddress& address() const { return address_; }

 private:
  Status GetObjects(ObjectKind kind, std::span<const ObjectId> ids, const SealedVisitor& use,
                    bool checked);
  struct PendingKey {
    ObjectKind kind;
    ObjectId id;
    bool operator==(const PendingKey&) const = default;
  };
  struct PendingKeyHash {
    size_t operator()(const PendingKey& k) const {
      return ObjectIdHash()(k.id) ^ static_cast<size_t>(k.kind);
    }
  };

  struct Rpc;  // the gRPC channel and stub
  RemoteObjectStore();
  // Moves the current batch to the send queue; waits while two are in flight.
  void EnqueueLocked(std::unique_lock<std::mutex>& lock);
  Status FlushLocked(std::unique_lock<std::mutex>& lock);
  void SenderLoop();
  void KeepAliveLoop(std::chrono::milliseconds interval);
  Status SendHello(std::span<const WriteId> writers);
  Status SendBatch(const PutObjectsRequest& batch);
  uint32_t version() const { return protocol_version_; }

  ServiceAddress address_;
  uint32_t protocol_version_ = 0;
  uint32_t repository_format_ = 0;
  std::chrono::milliseconds server_idle_exit_{0};
  std::unique_ptr<Rpc> rpc_;
  std::function<Status()> restart_server_;

  std::mutex mu_;
  std::condition_variable changed_;           // queue, in-flight count, stop_
  std::unique_ptr<PutObjectsRequest> batch_;  // being filled; never null
  size_t batch_bytes_ = 0;
  std::deque<std::pair<uint64_t, std::unique_ptr<PutObjectsRequest>>> queue_;  // not yet sent
  int in_flight_ = 0;
  // Sequence numbers of the batches queued or in flight.
  uint64_t next_seq_ = 1;
  std::set<uint64_t> outstanding_;
  // Objects put but not yet acknowledged by the server, with their count.
  std::unordered_map<PendingKey, int, PendingKeyHash> pending_;
  Status sticky_error_;
  bool stop_ = false;
  std::vector<std::thread> senders_;
  std::set<WriteId> writers_;  // registered here and not yet ended: kept alive
  std::thread keep_alive_;
};

}  // namespace coffer::service
