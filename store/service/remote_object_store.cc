#include "store/service/remote_object_store.h"

#include <algorithm>
#include <functional>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <cstring>

#include "store/service/auth.h"
#include "store/service/grpc_status.h"
#include "store/service/limits.h"
#include "store/service/service.grpc.pb.h"

namespace coffer::service {
namespace {

// Batches queued or in flight at once; Put() waits beyond that.
constexpr size_t kMaxOutstandingBatches = 2;
constexpr int kSenderThreads = 2;

Status CheckStoredKind(ObjectKind kind) {
  if (kind == ObjectKind::kChunk || kind == ObjectKind::kTree || kind == ObjectKind::kNeeds) {
    return Status::Ok();
  }
  return Status::InvalidArgument("objects of kind " + std::string(KindName(kind)) +
                                 " are not stored by id; use the snapshot index");
}

void SetRef(const coffer::SnapshotRef& ref, SnapshotRefMsg* out) {
  out->set_group(ref.group);
  out->set_time_ns(ref.time_ns);
  out->set_id(ref.id.bytes.data(), ref.id.bytes.size());
}

// gRPC's sync server refuses a call with RESOURCE_EXHAUSTED ("Server
// Threadpool Exhausted") when all its threads are busy; its handler never
// ran, so the call is retried. A message too large is not retried.
// The wire form of a request's ids (the server's ParseIds reads it back):
// `n` ids, 32 bytes each, back to back; `id_at(j)` is the j-th.
template <typename IdAt>
void PackIds(size_t n, IdAt&& id_at, std::string* raw) {
  raw->resize(n * ObjectId::kSize);
  for (size_t j = 0; j < n; ++j) {
    std::memcpy(raw->data() + j * ObjectId::kSize, id_at(j).bytes.data(), ObjectId::kSize);
  }
}

bool ServerWasBusy(const grpc::Status& status) {
  return IsTransportStatus(status) && status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
         status.error_message().find("larger than max") == std::string::npos;
}

// A server that stops (a command that hosted the database and ended, a
// server exiting when idle) refuses new connections (UNAVAILABLE) and cancels
// the calls that reached it after it began to stop (CANCELLED). This client
// never cancels a call of its own, so either means the server is gone.
bool ServerStopped(const grpc::Status& status) {
  return IsTransportStatus(status) && (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                                       status.error_code() == grpc::StatusCode::CANCELLED);
}

// Runs `call` with a fresh context until the server had a thread for it
// (backing off up to 100 ms between tries, for at most a minute). If the
// server is gone and `restart` is set (a server started on demand), starts a
// new one once and runs the call again: objects, snapshots and meta live in
// the database, not in the server, so every call may be repeated.
template <typename Call>
grpc::Status WithRetry(const std::function<Status()>& restart, Call&& call) {
  auto delay = std::chrono::milliseconds(1);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  bool restarted = false;
  for (;;) {
    grpc::ClientContext ctx;
    if (restarted) {
      // The channel reconnects on its own; wait for it rather than fail fast.
      ctx.set_wait_for_ready(true);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    }
    grpc::Status status = call(ctx);
    if (restart && !restarted && ServerStopped(status)) {
      restarted = true;
      if (!restart().ok()) return status;
      continue;
    }
    if (!ServerWasBusy(status) || std::chrono::steady_clock::now() > give_up) return status;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
}

coffer::StoredSnapshot FromMsg(const StoredSnapshotMsg& s, Status* bad_reply) {
  auto id = ObjectId::FromBytes(AsBytes(s.ref().id()));
  if (!id && bad_reply->ok()) *bad_reply = Status::IoError("object service: bad snapshot id");
  coffer::StoredSnapshot o;
  o.ref = {s.ref().group(), s.ref().time_ns(), id.value_or(ObjectId{})};
  o.sealed.assign(s.sealed().begin(), s.sealed().end());
  o.is_protected = s.is_protected();
  o.sealed_note.assign(s.sealed_note().begin(), s.sealed_note().end());
  if (!s.needs().empty()) {
    o.needs = ObjectId::FromBytes(AsBytes(s.needs()));
    if (!o.needs && bad_reply->ok()) *bad_reply = Status::IoError("object service: bad needs id");
  }
  return o;
}

}  // namespace

struct RemoteObjectStore::Rpc {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ObjectService::Stub> stub;
};

RemoteObjectStore::RemoteObjectStore() : batch_(std::make_unique<PutObjectsRequest>()) {}

Result<std::unique_ptr<RemoteObjectStore>> RemoteObjectStore::Connect(
    const std::string& address, const ConnectOptions& options) {
  COFFER_ASSIGN_OR_RETURN(ServiceAddress parsed, ParseServiceAddress(address));
  bool tcp = parsed.kind == ServiceAddress::Kind::kTcp;
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (tcp) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_ca_pem;
    creds = grpc::SslCredentials(ssl);
    if (!options.token.empty()) {
      COFFER_RETURN_IF_ERROR(ParseToken(options.token, "the client options").status());
      creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(options.token));
    }
  }
  std::unique_ptr<RemoteObjectStore> store(new RemoteObjectStore());
  store->address_ = parsed;
  store->restart_server_ = options.restart_server;
  store->protocol_version_ = options.protocol_version ? options.protocol_version : kProtocolVersion;

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(kMaxMessageBytes));
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kHttp2MaxFrameBytes);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kHttp2WindowBytes);
  args.SetInt(GRPC_ARG_TCP_READ_CHUNK_SIZE, kSocketReadBytes);
  args.SetInt(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, kSocketReadBytes);
  args.SetInt(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE, kSocketReadBytes);
  // A connection of our own: a subchannel shared with an earlier failed
  // attempt would still be backing off when a freshly started server is up.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // gRPC also takes this as the shortest time a connection attempt may take
  // (the deadline for connect, TLS handshake and the first SETTINGS frame);
  // 100 ms failed TLS handshakes on a busy machine. Retries after a refused
  // connection still come after the initial backoff above.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  store->rpc_ = std::make_unique<Rpc>();
  COFFER_ASSIGN_OR_RETURN(std::string target, parsed.ResolvedGrpcTarget());
  store->rpc_->channel = grpc::CreateCustomChannel(target, creds, args);
  store->rpc_->stub = ObjectService::NewStub(store->rpc_->channel);

  HelloRequest req;
  req.set_protocol_version(store->protocol_version_);
  req.set_client(options.client_name);
  HelloResponse resp;
  auto deadline = std::chrono::system_clock::now() + options.timeout;
  grpc::Status st = WithRetry({}, [&](grpc::ClientContext& ctx) {
    ctx.set_deadline(deadline);
    return store->rpc_->stub->Hello(&ctx, req, &resp);
  });
  if (!st.ok()) {
    if (tcp && IsTransportStatus(st) && st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      return Status::Unauthenticated(std::string(kTokenRefused) + " at " + parsed.ToString() +
                                     (options.token.empty() ? " (none was given)" : ""));
    }
    if (tcp && IsTransportStatus(st) && st.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return Status::IoError("cannot reach the server at " + parsed.ToString() +
                             " (is it running, and is its certificate signed by the given CA?): " +
                             st.error_message());
    }
    if (ServerStopped(st)) {
      return Status::NotFound("no server at " + parsed.ToString() + " (" + st.error_message() +
                              ")");
    }
    if (IsTransportStatus(st) && st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return Status::IoError("the server at " + parsed.ToString() + " did not answer within " +
                             std::to_string(options.timeout.count()) + " ms");
    }
    return FromGrpcStatus(st).WithContext(parsed.ToString());
  }
  if (resp.protocol_version() != store->protocol_version_) {
    return Status::Unsupported("the server at " + parsed.ToString() + " speaks object protocol " +
                               std::to_string(resp.protocol_version()) + ", this client " +
                               std::to_string(store->protocol_version_) +
                               ": run the same coffer version on both sides");
  }
  store->repository_format_ = resp.repository_format();
  store->server_idle_exit_ = std::chrono::milliseconds(resp.idle_exit_ms());

  RemoteObjectStore* self = store.get();
  for (int i = 0; i < kSenderThreads; ++i) {
    store->senders_.emplace_back([self] { self->SenderLoop(); });
  }
  // Writer registrations lapse after GcCoordinator::kWriterLapse (10 min)
  // without a refresh: once a minute is plenty.
  std::chrono::milliseconds interval = std::chrono::minutes(1);
  if (store->server_idle_exit_.count() > 0) {
    interval =
        std::min(interval, std::max(store->server_idle_exit_ / 3, std::chrono::milliseconds(10)));
  }
  store->keep_alive_ = std::thread([self, interval] { self->KeepAliveLoop(interval); });
  return store;
}

RemoteObjectStore::~RemoteObjectStore() {
  {
    std::lock_guard lock(mu_);
    if (batch_->objects_size() > 0) {
      uint64_t seq = next_seq_++;
      outstanding_.insert(seq);
      queue_.emplace_back(seq, std::move(batch_));
    }
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : senders_) t.join();
  if (keep_alive_.joinable()) keep_alive_.join();
}

void RemoteObjectStore::SenderLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is sent
    auto [seq, batch] = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    bool failed = !sticky_error_.ok();
    lock.unlock();
    Status status = failed ? Status::Ok() : SendBatch(*batch);
    lock.lock();
    --in_flight_;
    outstanding_.erase(seq);
    for (const SealedObject& o : batch->objects()) {
      PendingKey key{static_cast<ObjectKind>(o.kind()), {}};
      std::memcpy(key.id.bytes.data(), o.id().data(), ObjectId::kSize);
      auto it = pending_.find(key);
      if (it != pending_.end() && --it->second == 0) pending_.erase(it);
    }
    if (!status.ok() && sticky_error_.ok()) {
      sticky_error_ = status.WithContext("storing a batch of " +
                                         std::to_string(batch->objects_size()) + " objects");
    }
    // Not reused: a cleared request keeps every element's string capacity,
    // and slots that once held 4 MiB chunks held 100 MB of a client's memory.
    changed_.notify_all();
  }
}

void RemoteObjectStore::KeepAliveLoop(std::chrono::milliseconds interval) {
  std::unique_lock lock(mu_);
  while (!changed_.wait_for(lock, interval, [&] { return stop_; })) {
    std::vector<WriteId> writers(writers_.begin(), writers_.end());
    lock.unlock();
    (void)SendHello(writers);  // a lost server shows on the next real call
    lock.lock();
  }
}

Status RemoteObjectStore::SendHello(std::span<const WriteId> writers) {
  HelloRequest req;
  req.set_protocol_version(version());
  req.set_client("keep-alive");
  for (WriteId w : writers) req.add_writers(w);
  HelloResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return FromGrpcStatus(rpc_->stub->Hello(&ctx, req, &resp));
}

Status RemoteObjectStore::SendBatch(const PutObjectsRequest& batch) {
  PutObjectsResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->PutObjects(&ctx, batch, &resp);
  }));
}

void RemoteObjectStore::EnqueueLocked(std::unique_lock<std::mutex>& lock) {
  if (batch_->objects_size() == 0) return;
  changed_.wait(
      lock, [&] { return outstanding_.size() < kMaxOutstandingBatches || !sticky_error_.ok(); });
  uint64_t seq = next_seq_++;
  outstanding_.insert(seq);
  queue_.emplace_back(seq, std::move(batch_));
  batch_ = std::make_unique<PutObjectsRequest>();
  batch_->set_protocol_version(version());
  batch_bytes_ = 0;
  changed_.notify_all();
}

Status RemoteObjectStore::FlushLocked(std::unique_lock<std::mutex>& lock) {
  EnqueueLocked(lock);
  uint64_t last = next_seq_ - 1;  // every batch up to this one holds an earlier Put()
  changed_.wait(lock, [&] { return outstanding_.empty() || *outstanding_.begin() > last; });
  return sticky_error_;
}

Status RemoteObjectStore::Flush() {
  std::unique_lock lock(mu_);
  return FlushLocked(lock);
}

Status RemoteObjectStore::Put(ObjectKind kind, const ObjectId& id, ByteView sealed) {
  COFFER_RETURN_IF_ERROR(CheckStoredKind(kind));
  if (sealed.size() > kMaxObjectBytes) {
    return Status::InvalidArgument(
        "object " + id.short_hex() + " is " + std::to_string(sealed.size()) +
        " bytes; the server takes at most " + std::to_string(kMaxObjectBytes));
  }
  std::unique_lock lock(mu_);
  if (!sticky_error_.ok()) return sticky_error_;
  if (batch_->objects_size() > 0 && batch_bytes_ + sealed.size() > kBatchBytes) {
    EnqueueLocked(lock);
  }
  if (batch_->objects_size() == 0) batch_->set_protocol_version(version());
  SealedObject* o = batch_->add_objects();
  o->set_kind(static_cast<uint32_t>(kind));
  o->set_id(id.bytes.data(), id.bytes.size());
  o->set_sealed(sealed.data(), sealed.size());
  batch_bytes_ += sealed.size() + ObjectId::kSize + 8;
  ++pending_[PendingKey{kind, id}];
  if (batch_bytes_ >= kBatchBytes || static_cast<size_t>(batch_->objects_size()) >= kBatchObjects) {
    EnqueueLocked(lock);
  }
  return Status::Ok();
}

Result<std::vector<bool>> RemoteObjectStore::Contains(ObjectKind kind,
                                                      std::span<const ObjectId> ids) {
  COFFER_RETURN_IF_ERROR(CheckStoredKind(kind));
  std::vector<bool> present(ids.size(), false);
  std::vector<size_t> ask;  // indexes of the ids to ask the server about
  ask.reserve(ids.size());
  {
    std::lock_guard lock(mu_);
    if (!sticky_error_.ok()) return sticky_error_;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!pending_.empty() && pending_.count(PendingKey{kind, ids[i]})) {
        present[i] = true;
      } else {
        ask.push_back(i);
      }
    }
  }
  for (size_t begin = 0; begin < ask.size(); begin += kMaxContainsIds) {
    size_t n = std::min(kMaxContainsIds, ask.size() - begin);
    ContainsRequest req;
    req.set_protocol_version(version());
    req.set_kind(static_cast<uint32_t>(kind));
    PackIds(
        n, [&](size_t j) -> const ObjectId& { return ids[ask[begin + j]]; }, req.mutable_ids());
    ContainsResponse resp;
    COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
      return rpc_->stub->Contains(&ctx, req, &resp);
    })));
    if (resp.present().size() != n) {
      return Status::IoError("object service: Contains answered " +
                             std::to_string(resp.present().size()) + " of " + std::to_string(n));
    }
    for (size_t j = 0; j < n; ++j) {
      if (resp.present()[j] != 0) present[ask[begin + j]] = true;
    }
  }
  return present;
}

Result<Bytes> RemoteObjectStore::Get(ObjectKind kind, const ObjectId& id) {
  COFFER_RETURN_IF_ERROR(Flush());
  GetRequest req;
  req.set_protocol_version(version());
  req.set_kind(static_cast<uint32_t>(kind));
  req.set_id(id.bytes.data(), id.bytes.size());
  GetResponse resp;
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->Get(&ctx, req, &resp);
  })));
  const std::string& s = resp.sealed();
  return Bytes(s.begin(), s.end());
}

Status RemoteObjectStore::GetMany(ObjectKind kind, std::span<const ObjectId> ids,
                                  const SealedVisitor& use) {
  return GetObjects(kind, ids, use, /*checked=*/false);
}

Status RemoteObjectStore::GetManyChecked(ObjectKind kind, std::span<const ObjectId> ids,
                                         const SealedVisitor& use) {
  return GetObjects(kind, ids, use, /*checked=*/true);
}

Status RemoteObjectStore::GetObjects(ObjectKind kind, std::span<const ObjectId> ids,
                                     const SealedVisitor& use, bool checked) {
  COFFER_RETURN_IF_ERROR(CheckStoredKind(kind));
  COFFER_RETURN_IF_ERROR(Flush());
  size_t done = 0;  // ids answered so far
  while (done < ids.size()) {
    const size_t n = std::min(kMaxGetObjectsIds, ids.size() - done);
    GetObjectsRequest req;
    req.set_protocol_version(version());
    req.set_kind(static_cast<uint32_t>(kind));
    req.set_checked(checked);
    PackIds(
        n, [&](size_t j) -> const ObjectId& { return ids[done + j]; }, req.mutable_ids());
    GetObjectsResponse resp;
    COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
      return rpc_->stub->GetObjects(&ctx, req, &resp);
    })));
    const size_t answered = static_cast<size_t>(resp.objects_size());
    if (answered == 0 || answered > n) {
      return Status::IoError("object service: GetObjects answered " + std::to_string(answered) +
                             " of " + std::to_string(n));
    }
    auto failure = [](const FetchedObject& object) {
      return Status(static_cast<Code>(object.code()), object.error());
    };
    // Every answer of the reply is checked before any is handed over.
    for (const FetchedObject& object : resp.objects()) {
      if (object.code() != 0 && !IsObjectFailure(failure(object))) {
        return Status::IoError("object service: GetObjects answered code " +
                               std::to_string(object.code()) + " for one object");
      }
    }
    // Views into the reply: the sealed bytes are not copied again.
    for (const FetchedObject& object : resp.objects()) {
      if (object.code() == 0) {
        use(done++, AsBytes(object.sealed()));
      } else {
        use(done++, failure(object));
      }
    }
  }
  return Status::Ok();
}

Result<std::optional<Bytes>> RemoteObjectStore::GetMeta(std::string_view key) {
  {
    std::lock_guard lock(mu_);
    if (!sticky_error_.ok()) return sticky_error_;
  }
  GetMetaRequest req;
  req.set_protocol_version(version());
  req.set_key(std::string(key));
  GetMetaResponse resp;
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->GetMeta(&ctx, req, &resp);
  })));
  if (!resp.found()) return std::optional<Bytes>();
  const std::string& s = resp.value();
  return std::optional<Bytes>(Bytes(s.begin(), s.end()));
}

Status RemoteObjectStore::PutMeta(std::string_view key, ByteView value) {
  {
    std::lock_guard lock(mu_);
    if (!sticky_error_.ok()) return sticky_error_;
  }
  PutMetaRequest req;
  req.set_protocol_version(version());
  req.set_key(std::string(key));
  req.set_value(value.data(), value.size());
  PutMetaResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->PutMeta(&ctx, req, &resp);
  }));
}

Result<std::vector<MetaRecord>> RemoteObjectStore::ListMeta(std::string_view prefix) {
  {
    std::lock_guard lock(mu_);
    if (!sticky_error_.ok()) return sticky_error_;
  }
  ListMetaRequest req;
  req.set_protocol_version(version());
  req.set_prefix(std::string(prefix));
  ListMetaResponse resp;
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->ListMeta(&ctx, req, &resp);
  })));
  std::vector<MetaRecord> records;
  for (const MetaRecordMsg& record : resp.records()) {
    records.push_back({record.key(), Bytes(record.value().begin(), record.value().end())});
  }
  return records;
}

Status RemoteObjectStore::RemoveKeySlot(std::string_view name) {
  {
    std::lock_guard lock(mu_);
    if (!sticky_error_.ok()) return sticky_error_;
  }
  RemoveKeySlotRequest req;
  req.set_protocol_version(version());
  req.set_name(std::string(name));
  RemoveKeySlotResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->RemoveKeySlot(&ctx, req, &resp);
  }));
}

Result<WriteId> RemoteObjectStore::BeginWrite(const std::optional<SnapshotRef>& parent) {
  BeginWriteRequest req;
  req.set_protocol_version(version());
  if (parent) SetRef(*parent, req.mutable_parent());
  BeginWriteResponse resp;
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->BeginWrite(&ctx, req, &resp);
  })));
  std::lock_guard lock(mu_);
  writers_.insert(resp.writer());
  return WriteId{resp.writer()};
}

Status RemoteObjectStore::EndWrite(WriteId writer) {
  {
    std::lock_guard lock(mu_);
    writers_.erase(writer);
  }
  EndWriteRequest req;
  req.set_protocol_version(version());
  req.set_writer(writer);
  EndWriteResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->EndWrite(&ctx, req, &resp);
  }));
}

Status RemoteObjectStore::RefreshWriters(std::span<const WriteId> writers) {
  return SendHello(writers);
}

Status RemoteObjectStore::CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record,
                                         WriteId writer, const std::optional<ObjectId>& needs) {
  COFFER_RETURN_IF_ERROR(Flush());
  CommitSnapshotRequest req;
  req.set_protocol_version(version());
  SetRef(ref, req.mutable_ref());
  req.set_sealed_record(sealed_record.data(), sealed_record.size());
  req.set_writer(writer);
  if (needs) req.set_needs(needs->bytes.data(), needs->bytes.size());
  CommitSnapshotResponse resp;
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->CommitSnapshot(&ctx, req, &resp);
  })));
  std::lock_guard lock(mu_);
  writers_.erase(writer);
  return Status::Ok();
}

Result<std::vector<StoredSnapshot>> RemoteObjectStore::ListSnapshots(std::string_view group) {
  COFFER_RETURN_IF_ERROR(Flush());
  ListSnapshotsRequest req;
  req.set_protocol_version(version());
  req.set_group(std::string(group));
  std::vector<coffer::StoredSnapshot> out;
  Status bad_reply;
  grpc::Status finished = WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    std::unique_ptr<grpc::ClientReader<ListSnapshotsResponse>> reader =
        rpc_->stub->ListSnapshots(&ctx, req);
    out.clear();
    ListSnapshotsResponse page;
    while (reader->Read(&page)) {
      for (const StoredSnapshotMsg& s : page.snapshots()) {
        out.push_back(FromMsg(s, &bad_reply));
      }
    }
    return reader->Finish();
  });
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(finished));
  COFFER_RETURN_IF_ERROR(bad_reply);
  return out;
}

Status RemoteObjectStore::DeleteSnapshot(const SnapshotRef& ref) {
  COFFER_RETURN_IF_ERROR(Flush());
  DeleteSnapshotRequest req;
  req.set_protocol_version(version());
  SetRef(ref, req.mutable_ref());
  DeleteSnapshotResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->DeleteSnapshot(&ctx, req, &resp);
  }));
}

Status RemoteObjectStore::SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) {
  SetSnapshotProtectedRequest req;
  req.set_protocol_version(version());
  SetRef(ref, req.mutable_ref());
  req.set_is_protected(is_protected);
  SetSnapshotProtectedResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->SetSnapshotProtected(&ctx, req, &resp);
  }));
}

Status RemoteObjectStore::SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) {
  SetSnapshotNoteRequest req;
  req.set_protocol_version(version());
  SetRef(ref, req.mutable_ref());
  req.set_sealed_note(sealed_note.data(), sealed_note.size());
  SetSnapshotNoteResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->SetSnapshotNote(&ctx, req, &resp);
  }));
}

Status RemoteObjectStore::SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) {
  COFFER_RETURN_IF_ERROR(Flush());  // the lists it names are put before
  SetSnapshotNeedsRequest req;
  req.set_protocol_version(version());
  SetRef(ref, req.mutable_ref());
  req.set_needs(needs.bytes.data(), needs.bytes.size());
  SetSnapshotNeedsResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->SetSnapshotNeeds(&ctx, req, &resp);
  }));
}

Result<GcStart> RemoteObjectStore::BeginGc() {
  COFFER_RETURN_IF_ERROR(Flush());
  BeginGcRequest req;
  req.set_protocol_version(version());
  GcStart start;
  Status bad_reply;
  grpc::Status finished = WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    std::unique_ptr<grpc::ClientReader<BeginGcResponse>> reader = rpc_->stub->BeginGc(&ctx, req);
    start = {};
    BeginGcResponse page;
    while (reader->Read(&page)) {
      start.gc_id = page.gc_id();
      for (const StoredSnapshotMsg& s : page.roots()) start.roots.push_back(FromMsg(s, &bad_reply));
    }
    return reader->Finish();
  });
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(finished));
  COFFER_RETURN_IF_ERROR(bad_reply);
  if (start.gc_id == 0) return Status::IoError("object service: BeginGc answered no collection id");
  return start;
}

Status RemoteObjectStore::AddGcMarks(uint64_t gc_id, std::span<const uint64_t> id_prefixes) {
  for (size_t begin = 0; begin < id_prefixes.size() || begin == 0; begin += kMaxGcMarks) {
    size_t n = std::min(kMaxGcMarks, id_prefixes.size() - begin);
    AddGcMarksRequest req;
    req.set_protocol_version(version());
    req.set_gc_id(gc_id);
    std::string* raw = req.mutable_prefixes();
    raw->resize(n * 8);
    for (size_t i = 0; i < n; ++i) {
      uint64_t v = id_prefixes[begin + i];
      for (int b = 7; b >= 0; --b) {
        (*raw)[i * 8 + b] = static_cast<char>(v & 0xff);
        v >>= 8;
      }
    }
    AddGcMarksResponse resp;
    COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
      return rpc_->stub->AddGcMarks(&ctx, req, &resp);
    })));
    if (n == 0) break;
  }
  return Status::Ok();
}

Result<GcResult> RemoteObjectStore::FinishGc(uint64_t gc_id) {
  COFFER_RETURN_IF_ERROR(Flush());
  FinishGcRequest req;
  req.set_protocol_version(version());
  req.set_gc_id(gc_id);
  FinishGcResponse resp;
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->FinishGc(&ctx, req, &resp);
  })));
  GcResult result;
  result.objects_examined = resp.objects_examined();
  result.objects_deleted = resp.objects_deleted();
  result.objects_kept_for_writers = resp.objects_kept_for_writers();
  result.bytes_before = resp.bytes_before();
  result.bytes_after = resp.bytes_after();
  return result;
}

Status RemoteObjectStore::AbortGc(uint64_t gc_id) {
  AbortGcRequest req;
  req.set_protocol_version(version());
  req.set_gc_id(gc_id);
  AbortGcResponse resp;
  return FromGrpcStatus(WithRetry(restart_server_, [&](grpc::ClientContext& ctx) {
    return rpc_->stub->AbortGc(&ctx, req, &resp);
  }));
}

Result<FolderCopyReport> RemoteObjectStore::CopyRepositoryTo(const std::string& dir) {
  CopyRepositoryRequest req;
  req.set_protocol_version(version());
  req.set_destination(dir);
  CopyRepositoryResponse resp;
  COFFER_RETURN_IF_ERROR(FromGrpcStatus(WithRetry(
      {}, [&](grpc::ClientContext& ctx) { return rpc_->stub->CopyRepository(&ctx, req, &resp); })));
  FolderCopyReport report;
  report.files = resp.files();
  report.bytes = resp.bytes();
  report.snapshots = resp.snapshots();
  report.objects = resp.objects();
  report.needs_lists = resp.needs_lists();
  return report;
}

}  // namespace coffer::service
